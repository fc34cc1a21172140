// The admins' leads: find, page through, edit, act on many at once, upload, export.
import * as api from "./api.js";
import { listsCard } from "./lists.js";
import { showHistory } from "./history.js";
import { h, fill, when, number, badge, table, toast, busy, pager, options, people, turns, refusedRows, localInput } from "./ui.js";

const LEAD_STATUSES = ["pending", "claimed", "calling", "answered", "transferred", "failed"];
const PRIORITIES = ["urgent", "high", "medium", "low"];
/** The dispositions people may set (seed 002); the others come from calls only. */
const SETTABLE_DISPOSITIONS = ["IN_QUEUE", "MISSED", "BUSY", "POWER_OFF", "BANNED"];

export function showLeads(root) {
  const state = { page: 1, limit: 25, search: "", status: "", priority: "", list: "", callback: "" };
  const selected = new Set();
  let staff = new Map();
  let shown = [];
  const results = h("div", { id: "leads" });
  const editor = h("div", { id: "lead-edit" });
  const bulkReport = h("div", { id: "bulk-report" });
  const count = h("span", { class: "muted", id: "selected-count" }, "None selected");
  const bulkAction = h(
    "select",
    { name: "action" },
    options(
      [
        ["update_priority", "Set priority"],
        ["update_status", "Set status"],
        ["add_tags", "Add tags"],
        ["delete", "Delete"],
      ],
      "update_priority",
    ),
  );
  const bulkPriority = h("select", { name: "priority" }, options(PRIORITIES, "high"));
  const bulkStatus = h("select", { name: "status", hidden: true }, options([...LEAD_STATUSES, ...SETTABLE_DISPOSITIONS], "pending"));
  const bulkTags = h("input", { name: "tags", placeholder: "tag, another", hidden: true });
  bulkAction.addEventListener("change", () => {
    bulkPriority.hidden = bulkAction.value !== "update_priority";
    bulkStatus.hidden = bulkAction.value !== "update_status";
    bulkTags.hidden = bulkAction.value !== "add_tags";
  });
  const showCount = () => (count.textContent = selected.size ? `${selected.size} selected` : "None selected");

  async function bulk(e) {
    e.preventDefault();
    if (!selected.size) {
      toast("Select leads first.", "error");
      return;
    }
    const action = bulkAction.value;
    if (action === "delete" && !confirm(`Delete ${selected.size} leads?`)) return;
    const data =
      action === "update_priority"
        ? { priority: bulkPriority.value }
        : action === "update_status"
          ? { status: bulkStatus.value }
          : action === "add_tags"
            ? { tags: bulkTags.value.split(",").map((t) => t.trim()).filter(Boolean) }
            : {};
    await busy(e.target.querySelector("button"), async () => {
      const r = await api.post("/api/admin/leads/bulk-action", { action, leadIds: [...selected], data });
      const refused = r.results.refused;
      fill(
        bulkReport,
        h("p", { class: "summary" }, `${r.results.updated.length} changed, ${refused.length} left as they were.`),
        refused.length
          ? table(
              [
                ["Lead", (x) => `#${x.leadId}`],
                ["Why", (x) => x.reason],
              ],
              refused,
            )
          : null,
      );
      selected.clear();
      showCount();
      load();
    });
  }

  function edit(lead) {
    const field = (label, el) => h("label", {}, label, el);
    const form = h(
      "form",
      { class: "card", id: "lead-form" },
      h("h2", {}, `Lead #${lead.id} · ${lead.phone}`),
      h(
        "div",
        { class: "inline" },
        field("Name", h("input", { name: "name", value: lead.name ?? "", maxlength: 200 })),
        field("Email", h("input", { name: "email", type: "email", value: lead.email ?? "" })),
        field("Priority", h("select", { name: "priority" }, options(PRIORITIES, lead.priority))),
        field("Status", h("select", { name: "status" }, options(LEAD_STATUSES, lead.status))),
        field(
          "Disposition",
          h(
            "select",
            { name: "disposition" },
            options(
              SETTABLE_DISPOSITIONS.includes(lead.disposition) || !lead.disposition
                ? SETTABLE_DISPOSITIONS
                : [lead.disposition, ...SETTABLE_DISPOSITIONS],
              lead.disposition ?? "",
              "None",
            ),
          ),
        ),
        field(
          "Assigned to",
          h(
            "select",
            { name: "assigned" },
            options(
              [...staff.values()].filter((u) => u.role === "operator" && u.is_active).map((u) => [u.id, u.name || u.username]),
              lead.assigned_user_id ?? "",
              "Nobody",
            ),
          ),
        ),
      ),
      h(
        "div",
        { class: "inline" },
        field("Notes", h("input", { name: "notes", value: lead.notes ?? "", maxlength: 2000 })),
        // In this browser's time; the dialer calls no sooner, and only inside the calling window.
        field("Call back at", h("input", { name: "callback", type: "datetime-local", value: localInput(lead.callback_at) })),
        // Kept for the agent: no dialer takes it; the call queue bridges it to them alone.
        field(
          "Who calls back",
          h("select", { name: "callbackFor" }, options([["anyone", "Anyone (the dialers)"], ["agent", "Only the lead's agent"]], lead.callback_for ?? "anyone")),
        ),
      ),
      h(
        "div",
        { class: "inline" },
        h("button", { type: "submit" }, "Save"),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            "data-delete": lead.id,
            onclick: (e) =>
              confirm(`Delete lead ${lead.phone}?`) &&
              busy(e.target, async () => {
                await api.del(`/api/leads/${lead.id}`);
                toast("Lead deleted.", "ok");
                fill(editor);
                load();
              }),
          },
          "Delete",
        ),
        h("button", { type: "button", class: "quiet", onclick: () => fill(editor) }, "Close"),
      ),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const f = e.target;
      busy(f.querySelector("button[type=submit]"), async () => {
        const body = {
          name: f.name.value.trim() || null,
          email: f.email.value.trim() || null,
          priority: f.priority.value,
          status: f.status.value,
          assigned_user_id: f.assigned.value ? Number(f.assigned.value) : null,
          notes: f.notes.value.trim() || null,
        };
        // An unchanged disposition is not sent: one set by a call may not be set by people.
        if ((f.disposition.value || null) !== (lead.disposition ?? null)) body.disposition = f.disposition.value || null;
        // A call back puts the lead back in the queue for that time; cleared, it is dropped.
        if (f.callback.value && f.callback.value !== localInput(lead.callback_at)) {
          body.callback_at = new Date(f.callback.value).toISOString();
          body.callback_for = f.callbackFor.value;
          body.status = "pending";
        } else if (!f.callback.value && lead.callback_at) {
          body.callback_at = null;
        } else if (f.callback.value && f.callbackFor.value !== lead.callback_for) {
          body.callback_for = f.callbackFor.value;
        }
        await api.put(`/api/leads/${lead.id}`, body);
        toast("Lead saved.", "ok");
        fill(editor);
        load();
      });
    });
    const history = h("div", { class: "card", id: "lead-history" }, h("h2", {}, "Calls"), h("p", { class: "muted" }, "Loading…"));
    fill(editor, form, history);
    showHistory(history, lead, { explain: true });
    form.scrollIntoView?.({ block: "nearest" });
  }

  const search = h("input", { type: "search", name: "search", id: "leads-search", placeholder: "Name, phone or email" });
  const status = h("select", { name: "status" }, options(LEAD_STATUSES, "", "Any status"));
  const priority = h("select", { name: "priority" }, options(PRIORITIES, "", "Any priority"));
  const list = h("select", { name: "list", id: "leads-list" }, options([], "", "Any list"));
  // Leads a call back holds, soonest first: the overdue ones (agents' missed call backs) on top.
  const callbacks = h("select", { name: "callback", id: "leads-callbacks" }, options([["true", "Call backs, soonest first"]], "", "With or without call backs"));
  const uploadList = h("select", { name: "listId" }, options([], "", "No list (or the file's list column)"));
  const file = h("input", { type: "file", name: "csvFile", accept: ".csv,text/csv", required: true });
  const report = h("div", { id: "upload-report" });
  const exportAs = (format) =>
    h(
      "button",
      {
        type: "button",
        class: "quiet",
        "data-export": format,
        onclick: (e) =>
          busy(e.target, async () => {
            const name = await api.download("/api/numbers/export", {
              select_all: true,
              format,
              search: state.search || undefined,
              status: state.status || undefined,
              priority: state.priority || undefined,
              list_id: state.list ? Number(state.list) : undefined,
              callback: state.callback ? true : undefined,
              sort_by: state.callback ? "next_attempt_at" : undefined,
              sort_order: state.callback ? "asc" : undefined,
            });
            toast(`Saved ${name}.`, "ok");
          }),
      },
      `Export ${format.toUpperCase()}`,
    );

  // Searches overlap as people type and click: only the answer to the latest one is drawn.
  const turn = turns();
  async function load() {
    const current = turn();
    fill(results, h("p", { class: "muted" }, "Loading…"));
    try {
      const answer = await api.get(
        api.withQuery("/api/leads", {
          page: state.page,
          limit: state.limit,
          search: state.search,
          status: state.status,
          priority: state.priority,
          list_id: state.list,
          callback: state.callback || undefined,
          sort_by: state.callback ? "next_attempt_at" : undefined,
          sort_order: state.callback ? "asc" : undefined,
        }),
      );
      if (!current()) return;
      shown = answer.leads;
      const pick = (l) =>
        h("input", {
          type: "checkbox",
          "data-select": l.id,
          checked: selected.has(l.id),
          onchange: (e) => {
            if (e.target.checked) selected.add(l.id);
            else selected.delete(l.id);
            showCount();
          },
        });
      const all = h("input", {
        type: "checkbox",
        id: "select-page",
        title: "Select this page",
        onchange: (e) => {
          for (const l of shown) e.target.checked ? selected.add(l.id) : selected.delete(l.id);
          for (const box of results.querySelectorAll("[data-select]")) box.checked = e.target.checked;
          showCount();
        },
      });
      fill(
        results,
        table(
          [
            [all, pick],
            ["Name", (l) => l.name ?? "—"],
            ["Phone", (l) => l.phone],
            ["Email", (l) => l.email ?? "—"],
            ["Status", (l) => badge(l.status)],
            ["Disposition", (l) => l.disposition ?? "—"],
            ["Priority", (l) => l.priority],
            ["Attempts", (l) => number(l.attempts)],
            ["Assigned", (l) => (l.assigned_user_id ? (staff.get(l.assigned_user_id)?.name ?? `#${l.assigned_user_id}`) : "—")],
            [
              "Call back",
              (l) =>
                l.callback_at
                  ? [when(l.callback_at), new Date(l.callback_at) <= new Date() ? [" ", badge("due")] : null, l.callback_for === "agent" ? " · agent only" : ""]
                  : "—",
            ],
            ["Updated", (l) => when(l.updated_at)],
            ["", (l) => h("button", { type: "button", class: "quiet", "data-edit": l.id, onclick: () => edit(l) }, "Edit")],
          ],
          answer.leads,
          { empty: "No leads match.", key: (l) => l.id },
        ),
        pager(answer.pagination, (p) => {
          state.page = p;
          load();
        }),
      );
    } catch (e) {
      if (current()) fill(results, h("p", { class: "error" }, e.message));
    }
  }

  let typing;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      state.search = search.value.trim();
      state.page = 1;
      load();
    }, 300);
  });
  for (const [el, key] of [[status, "status"], [priority, "priority"], [list, "list"], [callbacks, "callback"]]) {
    el.addEventListener("change", () => {
      state[key] = el.value;
      state.page = 1;
      load();
    });
  }

  async function upload(e) {
    e.preventDefault();
    const form = e.target;
    if (!file.files.length) return;
    const body = new FormData();
    body.append("csvFile", file.files[0]);
    if (uploadList.value) body.append("listId", uploadList.value);
    await busy(form.querySelector("button"), async () => {
      const r = await api.request("POST", "/api/leads/upload-csv", body);
      const s = r.summary;
      fill(
        report,
        h(
          "p",
          { class: "summary" },
          `${r.message} ${number(s.successCount)} imported, ${number(s.duplicateCount)} duplicates, ${number(s.errorCount)} with errors, of ${number(s.totalProcessed)} rows.`,
        ),
        refusedRows(r.errors),
      );
      form.reset();
      state.page = 1;
      load();
      // The lists' counts changed with the upload.
      lists.reload();
    });
  }

  // The lists card keeps the list pickers current, and shows one list's leads on request.
  const lists = listsCard({
    onChange(all) {
      const named = all.map((l) => [l.id, `${l.name} (${number(l.lead_count)})`]);
      const keep = [list.value, uploadList.value];
      fill(list, options(named, "", "Any list"));
      fill(uploadList, options(named, "", "No list (or the file's list column)"));
      [list.value, uploadList.value] = keep.map((v) => (all.some((l) => String(l.id) === v) ? v : ""));
      if (state.list && !list.value) {
        state.list = "";
        load();
      }
    },
    // A list's leads, all of them: the other filters are cleared.
    show(l) {
      list.value = String(l.id);
      search.value = status.value = priority.value = callbacks.value = "";
      Object.assign(state, { list: list.value, search: "", status: "", priority: "", callback: "", page: 1 });
      load();
      results.scrollIntoView?.({ block: "nearest" });
    },
  });

  fill(
    root,
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Leads"),
      h("div", { class: "toolbar" }, search, status, priority, list, callbacks, exportAs("csv"), exportAs("xlsx")),
      results,
      h("form", { class: "toolbar", id: "bulk", onsubmit: bulk }, count, bulkAction, bulkPriority, bulkStatus, bulkTags, h("button", { type: "submit" }, "Apply to selected")),
      bulkReport,
    ),
    editor,
    h(
      "form",
      { class: "card", id: "upload", onsubmit: upload },
      h("h2", {}, "Upload leads (CSV)"),
      h("p", { class: "muted" }, "A header row naming phone (or mobile), name, email, priority, tags and list columns; comma or semicolon separated."),
      h("div", { class: "inline" }, file, uploadList, h("button", { type: "submit" }, "Upload")),
      report,
    ),
    lists.card,
  );
  // Names of the people leads are assigned to, then the first page.
  people()
    .then((m) => (staff = m))
    .catch((e) => toast(e.message, "error"))
    .finally(load);
}
