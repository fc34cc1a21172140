// The operators' view: their call, their leads, the leads waiting, their call backs, their
// recent calls.
import * as api from "./api.js";
import { h, fill, when, duration, number, badge, table, stat, toast, busy, pager, FINAL, localInput } from "./ui.js";
import { showHistory } from "./history.js";


function showWork(root, { user, onEvent }) {
  const stats = h("div", { class: "stats" });
  const callBox = h("div", { id: "my-call" });
  const mine = h("div", { id: "my-leads" });
  const callbacks = h("div", { id: "my-callbacks" });
  const waiting = h("div", { id: "waiting-leads" });
  const history = h("div", { id: "my-history" });
  // A lead's past calls (with the notes left on them), opened from the lead's row.
  const leadCalls = h("div", { class: "card", id: "lead-calls", hidden: true });
  const openCalls = (l) => {
    leadCalls.hidden = false;
    showHistory(leadCalls, l);
    leadCalls.scrollIntoView?.({ block: "nearest" });
  };
  const callsButton = (l) => h("button", { type: "button", class: "quiet", "data-history": l.id, onclick: () => openCalls(l) }, "History");
  // A call back on one of their leads: when (in this browser's time), and whether it is theirs.
  const callbackBox = h("div", { class: "card", id: "set-callback", hidden: true });
  const openCallback = (l) => {
    const form = h(
      "form",
      { class: "inline" },
      h("label", {}, "Call back at", h("input", { name: "at", type: "datetime-local", required: true, value: localInput(l.callback_at) })),
      h("label", {}, h("input", { name: "mine", type: "checkbox", checked: l.callback_for !== "anyone" }), "Only I call back"),
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", class: "quiet", onclick: () => (callbackBox.hidden = true) }, "Cancel"),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      busy(form.querySelector("button[type=submit]"), async () => {
        await api.put(`/api/leads/${l.id}`, {
          callback_at: new Date(form.at.value).toISOString(),
          callback_for: form.mine.checked ? "agent" : "anyone",
          status: "pending",
        });
        toast(`Call back set for ${l.name ?? l.phone}.`, "ok");
        callbackBox.hidden = true;
        loadLeads();
      });
    });
    fill(callbackBox, h("h2", {}, `Call back ${l.name ?? l.phone}`), form);
    callbackBox.hidden = false;
    form.at.focus?.();
  };
  const callbackButton = (l) => h("button", { type: "button", class: "quiet", "data-callback": l.id, onclick: () => openCallback(l) }, "Call back");
  const available = h("input", { type: "checkbox", id: "available" });
  let call = null; // {id, callId, number, status, leadId, notesSaved}
  let waitingPage = 1;
  let callbackPage = 1;

  function renderCall() {
    if (!call) {
      fill(callBox, h("p", { class: "muted" }, "No call. Press Call on a lead to start one."));
      return;
    }
    const ended = FINAL.has(call.status);
    fill(
      callBox,
      h(
        "p",
        {},
        h("strong", {}, call.number ?? "?"),
        call.name ? ` · ${call.name}` : "",
        " · ",
        badge(call.status),
      ),
      ended
        ? h(
            "form",
            {
              class: "inline",
              id: "call-notes",
              onsubmit: (e) => {
                e.preventDefault();
                busy(e.target.querySelector("button"), async () => {
                  await api.put(`/api/operator/calls/${encodeURIComponent(call.id)}/update`, {
                    notes: e.target.notes.value,
                  });
                  toast("Notes saved.", "ok");
                  call = null;
                  renderCall();
                  loadHistory();
                });
              },
            },
            h("label", {}, "Notes on this call", h("input", { name: "notes", maxlength: 2000 })),
            h("button", { type: "submit" }, "Save"),
            h("button", { type: "button", class: "quiet", onclick: () => ((call = null), renderCall()) }, "Dismiss"),
          )
        : h(
            "button",
            {
              type: "button",
              class: "danger",
              id: "hang-up",
              onclick: (e) =>
                busy(e.target, () => api.post("/api/v1/smartflo/call/hangup", { call_id: String(call.callId) })),
            },
            "Hang up",
          ),
    );
  }

  async function dial(lead, button) {
    if (call && !FINAL.has(call.status)) {
      toast("Finish the call in progress first.", "error");
      return;
    }
    await busy(button, async () => {
      const r = await api.post(`/api/v1/leads/${lead.id}/call`);
      // The call's events may arrive before this answer: keep what they said.
      if (!call || call.callId !== r.data.call_id) {
        call = { id: r.data.call_id, callId: r.data.call_id, number: lead.phone, name: lead.name, status: "initiated", leadId: lead.id };
      }
      renderCall();
      loadLeads();
    });
  }

  const leadColumns = (actions) => [
    ["Name", (l) => l.name ?? "—"],
    ["Phone", (l) => l.phone],
    ["Priority", (l) => l.priority],
    ["Status", (l) => badge(l.status)],
    ["", actions],
  ];

  async function loadLeads() {
    try {
      const [{ dashboard }, avail, due] = await Promise.all([
        api.get("/api/operator/dashboard"),
        api.get(api.withQuery("/api/operator/leads/available", { page: waitingPage, limit: 10 })),
        // Their call backs, soonest first.
        api.get(api.withQuery("/api/leads", { callback: true, agent_id: user.id, sort_by: "next_attempt_at", sort_order: "asc", page: callbackPage, limit: 10 })),
      ]);
      // Call backs made or moved since: back to the first page rather than an empty one.
      if (!due.leads.length && callbackPage > 1) {
        callbackPage = 1;
        return loadLeads();
      }
      fill(
        callbacks,
        table(
          [
            ["When", (l) => [when(l.callback_at), new Date(l.callback_at) <= new Date() ? [" ", badge("due")] : null]],
            // Kept for them: no dialer takes it; otherwise the dialers may reach it first.
            ["For", (l) => (l.callback_for === "agent" ? "you only" : "anyone")],
            ["Lead", (l) => l.name ?? "—"],
            ["Phone", (l) => l.phone],
            ["", (l) => [callbackButton(l), " ", h("button", { type: "button", "data-call": l.id, onclick: (e) => dial(l, e.target) }, "Call")]],
          ],
          due.leads,
          { empty: "No call backs set.", key: (l) => l.id },
        ),
        due.pagination.pages > 1
          ? pager(due.pagination, (p) => {
              callbackPage = p;
              loadLeads();
            })
          : null,
      );
      const s = dashboard.personalStats;
      fill(
        stats,
        stat("Calls today", number(s.todayCalls), "today"),
        stat("Answered", number(s.answeredCalls), "answered"),
        stat("Average call", duration(s.averageDuration), "average"),
        stat("Your rank", dashboard.operatorRank ? `#${dashboard.operatorRank}` : "—", "rank"),
      );
      fill(
        mine,
        table(
          leadColumns((l) => [callsButton(l), " ", callbackButton(l), " ", h("button", { type: "button", "data-call": l.id, onclick: (e) => dial(l, e.target) }, "Call")]),
          dashboard.assignedLeads,
          { empty: "No leads are yours yet: claim one below.", key: (l) => l.id },
        ),
      );
      fill(
        waiting,
        table(
          leadColumns((l) => [
            h(
              "button",
              {
                type: "button",
                class: "quiet",
                "data-claim": l.id,
                onclick: (e) =>
                  busy(e.target, async () => {
                    await api.post("/api/operator/leads/claim", { leadId: l.id });
                    toast(`${l.name ?? l.phone} is yours.`, "ok");
                    loadLeads();
                  }),
              },
              "Claim",
            ),
            " ",
            h("button", { type: "button", "data-call": l.id, onclick: (e) => dial(l, e.target) }, "Call"),
          ]),
          // A lead already theirs is listed once, under their leads.
          avail.leads.filter((l) => !dashboard.assignedLeads.some((m) => m.id === l.id)),
          { empty: "No leads are waiting.", key: (l) => l.id },
        ),
        pager(avail.pagination, (p) => {
          waitingPage = p;
          loadLeads();
        }),
      );
    } catch (e) {
      toast(e.message, "error");
    }
  }

  async function loadHistory() {
    try {
      const r = await api.get("/api/operator/calls/history?limit=10");
      fill(
        history,
        table(
          [
            ["When", (c) => when(c.createdAt)],
            ["Lead", (c) => c.lead?.name ?? c.lead?.phone ?? "—"],
            ["Number", (c) => c.lead?.phone ?? "—"],
            ["Status", (c) => badge(c.status)],
            ["Length", (c) => duration(c.duration)],
            ["Notes", (c) => c.notes ?? ""],
            ["", (c) => (c.lead?.id ? callsButton(c.lead) : null)],
          ],
          r.calls,
          { empty: "No calls yet.", key: (c) => c.id },
        ),
      );
    } catch (e) {
      toast(e.message, "error");
    }
  }

  available.checked = Boolean(user.is_available);
  available.addEventListener("change", async () => {
    try {
      const r = await api.put("/api/operator/profile/availability", { isAvailable: available.checked });
      available.checked = r.is_available ?? r.isAvailable ?? available.checked;
      toast(available.checked ? "You take calls." : "You are away.", "ok");
    } catch (e) {
      available.checked = !available.checked;
      toast(e.message, "error");
    }
  });

  fill(
    root,
    h("div", { class: "toolbar" }, h("label", { class: "switch" }, available, "I take calls")),
    stats,
    h("div", { class: "card" }, h("h2", {}, "Your call"), callBox),
    h("div", { class: "grid2" },
      h("div", { class: "card" }, h("h2", {}, "Leads waiting"), waiting),
      h("div", { class: "card" }, h("h2", {}, "Your leads"), mine),
    ),
    leadCalls,
    callbackBox,
    h("div", { class: "card" }, h("h2", {}, "Your call backs"), callbacks),
    h("div", { class: "card" }, h("h2", {}, "Your recent calls"), history),
  );
  renderCall();
  loadLeads();
  loadHistory();

  return onEvent((name, d) => {
    if ((name === "call_initiated" || name === "call_status_updated") && d.userId === user.id) {
      if (!call || call.callId === d.callId || call.id === d.id || FINAL.has(call.status)) {
        call = { ...(call ?? {}), id: d.id, callId: d.callId, number: d.phoneNumber, status: d.status, leadId: d.leadId };
        renderCall();
      }
      if (FINAL.has(d.status)) {
        loadHistory();
        loadLeads();
      }
    } else if (name === "lead_assigned") {
      toast(`${d.name ?? d.phoneNumber} was given to you.`, "ok");
      loadLeads();
    } else if (name === "callback_due") {
      loadLeads();
    }
  });
}

export const agentViews = {
  work: { title: "My work", show: showWork },
};
