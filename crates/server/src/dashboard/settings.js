// The admins' settings: API keys, the do-not-call list, webhooks, the calling schedule and retry
// rules.
import * as api from "./api.js";
import { h, fill, when, number, badge, table, toast, busy, pager, options, submitted, turns, refusedRows } from "./ui.js";
import { scheduleCard, rulesCard } from "./dialing.js";
import { webhooksCard } from "./webhooks.js";

// --- Settings ---------------------------------------------------------------------------------

/** Super admins: the clients (tenants) of the installation. */
function clientsCard() {
  const list = h("div", { id: "clients" });
  async function load() {
    try {
      const r = await api.get("/api/clients");
      fill(
        list,
        table(
          [
            ["Client", (c) => c.name],
            ["Calls at once", (c) => number(c.max_concurrent_calls)],
            ["Time zone", (c) => c.timezone],
            ["State", (c) => badge(c.is_active ? "active" : "inactive")],
            ["Since", (c) => when(c.created_at)],
          ],
          r.clients,
          { key: (c) => c.id },
        ),
      );
    } catch (e) {
      fill(list, h("p", { class: "error" }, e.message));
    }
  }
  const create = submitted(async (f) => {
    const body = { name: f.elements.namedItem("name").value.trim() };
    if (f.cap.value) body.max_concurrent_calls = Number(f.cap.value);
    if (f.timezone.value.trim()) body.timezone = f.timezone.value.trim();
    await api.post("/api/clients", body);
    toast(`${body.name} added. Add its people under Team, choosing the client there.`, "ok");
    load();
  });
  load();
  return h(
    "div",
    { class: "card" },
    h("h2", {}, "Clients"),
    h("p", { class: "muted" }, "Each client's people, leads, calls and campaigns are its own."),
    list,
    h(
      "form",
      { class: "inline", id: "new-client", onsubmit: create },
      h("label", {}, "Name", h("input", { name: "name", required: true, maxlength: 100 })),
      h("label", {}, "Calls at once", h("input", { name: "cap", type: "number", min: 0, max: 100000 })),
      h("label", {}, "Time zone", h("input", { name: "timezone", placeholder: "UTC" })),
      h("button", { type: "submit" }, "Add client"),
    ),
  );
}

export function showSettings(root, { user }) {
  const keys = h("div", { id: "keys" });
  const shown = h("div", { id: "new-key" });
  const dnc = h("div", { id: "dnc" });
  const dncReport = h("div", { id: "dnc-upload-report" });
  const dncSearch = h("input", { type: "search", id: "dnc-search", name: "search", placeholder: "Find a number", "aria-label": "Find a number" });
  let dncPage = 1;
  // Searches overlap as people type: only the answer to the latest one is drawn.
  const dncTurn = turns();
  let dncTimer;
  dncSearch.addEventListener("input", () => {
    clearTimeout(dncTimer);
    dncTimer = setTimeout(() => {
      dncPage = 1;
      loadDnc();
    }, 250);
  });

  async function loadKeys() {
    try {
      const r = await api.get("/api/api-keys");
      fill(
        keys,
        table(
          [
            ["Name", (k) => k.name ?? "—"],
            ["For", (k) => k.kind],
            ["Starts with", (k) => h("code", {}, k.prefix)],
            ["Created", (k) => when(k.created_at)],
            ["State", (k) => badge(k.revoked_at ? "revoked" : "active")],
            [
              "",
              (k) =>
                k.revoked_at
                  ? null
                  : h(
                      "button",
                      {
                        type: "button",
                        class: "quiet",
                        "data-revoke": k.id,
                        onclick: (e) =>
                          confirm(`Revoke ${k.name ?? k.prefix}? Whatever uses it stops working at once.`) &&
                          busy(e.target, async () => {
                            await api.del(`/api/api-keys/${k.id}`);
                            toast("Key revoked.", "ok");
                            loadKeys();
                          }),
                      },
                      "Revoke",
                    ),
            ],
          ],
          r.keys,
          { empty: "No API keys.", key: (k) => k.id },
        ),
      );
    } catch (e) {
      fill(keys, h("p", { class: "error" }, e.message));
    }
  }

  async function loadDnc() {
    try {
      const current = dncTurn();
      const search = dncSearch.value.replace(/\D/g, "");
      const r = await api.get(api.withQuery("/api/dialer/dnc", { page: dncPage, limit: 20, search: search || undefined }));
      if (!current()) return;
      fill(
        dnc,
        table(
          [
            ["Number", (d) => d.phone],
            ["Why", (d) => d.reason ?? "—"],
            ["Added", (d) => when(d.created_at)],
            [
              "",
              (d) =>
                d.global
                  ? "every client"
                  : h(
                      "button",
                      {
                        type: "button",
                        class: "quiet",
                        "data-unblock": d.id,
                        onclick: (e) =>
                          busy(e.target, async () => {
                            await api.del(`/api/dialer/dnc/${d.id}`);
                            toast(`${d.phone} may be called again.`, "ok");
                            loadDnc();
                          }),
                      },
                      "Remove",
                    ),
            ],
          ],
          r.entries,
          { empty: "Nobody is on the list.", key: (d) => d.id },
        ),
        pager(r.pagination, (p) => {
          dncPage = p;
          loadDnc();
        }),
      );
    } catch (e) {
      fill(dnc, h("p", { class: "error" }, e.message));
    }
  }

  const createKey = submitted(async (f) => {
    const r = await api.post("/api/api-keys", { name: f.elements.namedItem("name").value.trim(), kind: f.kind.value });
    fill(shown, h("p", {}, "The new key, shown only this once: store it now."), h("code", { class: "secret" }, r.key));
    loadKeys();
  });

  const block = submitted(async (f) => {
    const r = await api.post("/api/dialer/dnc", { phone: f.phone.value.trim(), reason: f.reason.value.trim() || undefined });
    toast(`${r.phone} will not be called.`, "ok");
    dncPage = 1;
    loadDnc();
  });

  const dncUpload = submitted(async (f) => {
    const file = f.elements.namedItem("csvFile");
    if (!file.files.length) return;
    const body = new FormData();
    body.append("csvFile", file.files[0]);
    if (f.elements.namedItem("global")?.checked) body.append("global", "true");
    const r = await api.request("POST", "/api/dialer/dnc/upload-csv", body);
    fill(
      dncReport,
      h(
        "p",
        { class: "summary" },
        `${number(r.added)} added, ${number(r.duplicates)} listed already, ${number(r.errorCount)} refused.`,
      ),
      refusedRows(r.errors),
    );
    dncPage = 1;
    loadDnc();
  });

  fill(
    root,
    h(
      "div",
      { class: "card" },
      h("h2", {}, "API keys"),
      h("p", { class: "muted" }, "For machines: x-api-key callers, external dialers, voice bots. Keys are stored hashed: a key is shown once, when it is made."),
      keys,
      h(
        "form",
        { class: "inline", id: "new-key-form", onsubmit: createKey },
        h("label", {}, "Name", h("input", { name: "name", required: true, maxlength: 100, placeholder: "What uses it" })),
        h(
          "label",
          {},
          "For",
          h(
            "select",
            { name: "kind" },
            options(
              [
                ["api", "the API (x-api-key)"],
                ["dialer", "an external dialer (bearer token)"],
                ["bot", "a voice bot's call log"],
              ],
              "api",
            ),
          ),
        ),
        h("button", { type: "submit" }, "Create key"),
      ),
      shown,
    ),
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Do not call"),
      h("p", { class: "muted" }, "Numbers the dialer, campaigns and click-to-call never call."),
      h("div", { class: "inline" }, dncSearch),
      dnc,
      h(
        "form",
        { class: "inline", id: "dnc-form", onsubmit: block },
        h("label", {}, "Number", h("input", { name: "phone", type: "tel", required: true })),
        h("label", {}, "Why", h("input", { name: "reason", maxlength: 500 })),
        h("button", { type: "submit" }, "Add"),
      ),
      h(
        "form",
        { class: "inline", id: "dnc-upload", onsubmit: dncUpload },
        h(
          "label",
          {},
          "A file of numbers (CSV with a phone column, and a reason column if you like)",
          h("input", { type: "file", name: "csvFile", accept: ".csv,text/csv", required: true }),
        ),
        user.role === "super_admin" ? h("label", { class: "switch" }, h("input", { type: "checkbox", name: "global" }), "For every client") : null,
        h("button", { type: "submit" }, "Upload"),
      ),
      dncReport,
    ),
  );
  root.append(webhooksCard(), scheduleCard(), rulesCard());
  if (user.role === "super_admin") root.append(clientsCard());
  loadKeys();
  loadDnc();
}
