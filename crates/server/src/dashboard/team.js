// The admins' team: who is online, people added, edited (names, contact, role, password),
// deactivated and brought back.
import * as api from "./api.js";
import { h, fill, badge, table, toast, busy, throttle, options, submitted, turns, pager } from "./ui.js";

/** People per page. */
const PAGE = 25;

export function showTeam(root, { user: me, onEvent }) {
  const results = h("div", { id: "team" });
  const editor = h("div", { id: "user-edit" });
  const online = new Set();
  let page = 1;
  // Found by the server as typed (name, username or email), by role and by account state, a
  // page at a time: a large team is never loaded whole.
  const find = h("input", { type: "search", id: "team-search", placeholder: "Name, username or email" });
  const role = h("select", { id: "team-role" }, options([["operator", "operators"], ["admin", "admins"], ["super_admin", "super admins"]], "", "Everyone"));
  const state = h("select", { id: "team-active" }, options([["true", "active"], ["false", "deactivated"]], "", "Any account"));
  const again = () => {
    page = 1;
    load();
  };
  let typing = null;
  find.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(again, 250);
  });
  role.addEventListener("change", again);
  state.addEventListener("change", again);
  const roles = me.role === "super_admin" ? ["operator", "admin", "super_admin"] : ["operator", "admin"];

  function edit(u) {
    const field = (label, input) => h("label", {}, label, input);
    const save = submitted(async (f) => {
      const value = (name) => f.elements.namedItem(name).value.trim();
      const body = {
        first_name: value("first_name"),
        last_name: value("last_name"),
        email: value("email") || null,
        phone_number: value("phone_number") || null,
        agent_id: value("agent_id") || null,
        role: f.role.value,
        is_active: f.is_active.checked,
      };
      // A password only when one is typed: it ends the person's sessions.
      if (f.password.value) body.password = f.password.value;
      await api.put(`/api/users/${u.id}`, body);
      toast(`${u.username} saved.`, "ok");
      fill(editor);
      load();
    });
    fill(
      editor,
      h(
        "form",
        { class: "card", id: "user-form", onsubmit: save },
        h("h2", {}, `${u.username}`),
        h(
          "div",
          { class: "inline" },
          field("First name", h("input", { name: "first_name", value: u.first_name, maxlength: 100 })),
          field("Last name", h("input", { name: "last_name", value: u.last_name, maxlength: 100 })),
          field("Email", h("input", { name: "email", type: "email", value: u.email ?? "" })),
          field("Phone (calls are bridged to it)", h("input", { name: "phone_number", type: "tel", value: u.phone_number ?? "" })),
          field("Agent id at the provider", h("input", { name: "agent_id", value: u.agent_id ?? "", maxlength: 100 })),
          field("Role", h("select", { name: "role", disabled: u.id === me.id }, options(roles.includes(u.role) ? roles : [u.role, ...roles], u.role))),
          field("New password", h("input", { name: "password", type: "password", minlength: 8, autocomplete: "new-password", placeholder: "unchanged" })),
          h("label", { class: "switch" }, h("input", { type: "checkbox", name: "is_active", checked: u.is_active, disabled: u.id === me.id }), "Active"),
        ),
        h(
          "div",
          { class: "inline" },
          h("button", { type: "submit" }, "Save"),
          h("button", { type: "button", class: "quiet", onclick: () => fill(editor) }, "Cancel"),
        ),
      ),
    );
    editor.scrollIntoView?.({ block: "nearest" });
  }
  // Super admins see and add the people of any client.
  const client = h("select", { name: "client_id", id: "team-client" }, options([[me.client_id, "This client"]], me.client_id));
  client.addEventListener("change", () => {
    fill(editor);
    again();
  });
  if (me.role === "super_admin") {
    api
      .get("/api/clients")
      .then(({ clients }) => fill(client, options(clients.map((c) => [c.id, c.name]), client.value)))
      .catch((e) => toast(e.message, "error"));
  }

  // Switching clients while a list loads: only the latest list is drawn.
  const turn = turns();
  async function load() {
    const current = turn();
    const q = new URLSearchParams({ page, limit: PAGE });
    if (me.role === "super_admin") q.set("client_id", Number(client.value));
    if (find.value.trim()) q.set("search", find.value.trim());
    if (role.value) q.set("role", role.value);
    if (state.value) q.set("is_active", state.value);
    try {
      const [answer, presence] = await Promise.all([api.get(`/api/users?${q}`), api.get("/api/presence")]);
      if (!current()) return;
      online.clear();
      for (const p of presence.online) online.add(p.userId);
      draw(answer, Boolean(find.value.trim() || role.value || state.value));
    } catch (e) {
      fill(results, h("p", { class: "error" }, e.message));
    }
  }

  function draw({ users, pagination }, filtered) {
    fill(
      results,
      table(
        [
          ["Name", (u) => u.name || "—"],
          ["Username", (u) => u.username],
          ["Email", (u) => u.email ?? "—"],
          ["Role", (u) => u.role.replace("_", " ")],
          ["Account", (u) => badge(u.is_active ? "active" : "inactive")],
          ["Takes calls", (u) => (u.role === "operator" ? badge(u.is_available ? "available" : "away") : "—")],
          ["Now", (u) => (online.has(u.id) ? badge("online") : "—")],
          [
            "",
            (u) => [
              h("button", { type: "button", class: "quiet", "data-edit-user": u.id, onclick: () => edit(u) }, "Edit"),
              u.is_active && u.id !== me.id
                ? h(
                    "button",
                    {
                      type: "button",
                      class: "quiet",
                      "data-deactivate": u.id,
                      onclick: (e) =>
                        confirm(`Deactivate ${u.username}? Their sessions end at once.`) &&
                        busy(e.target, async () => {
                          await api.del(`/api/users/${u.id}`);
                          toast(`${u.username} deactivated.`, "ok");
                          load();
                        }),
                    },
                    "Deactivate",
                  )
                : null,
            ],
          ],
        ],
        users,
        { key: (u) => u.id, empty: filtered ? "Nobody matches." : "Nothing here yet." },
      ),
      pagination.pages > 1
        ? pager(pagination, (p) => {
            page = p;
            load();
          })
        : null,
    );
  }

  const create = submitted(async (f) => {
    const body = {
      username: f.username.value.trim(),
      password: f.password.value,
      role: f.role.value,
      first_name: f.first_name.value.trim() || undefined,
      last_name: f.last_name.value.trim() || undefined,
      email: f.email.value.trim() || undefined,
      phone_number: f.phone_number.value.trim() || undefined,
      client_id: me.role === "super_admin" ? Number(client.value) : undefined,
    };
    await api.post("/api/users", body);
    toast(`${body.username} added.`, "ok");
    load();
  });

  fill(
    root,
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Team"),
      h("div", { class: "toolbar" }, me.role === "super_admin" ? h("label", { class: "switch" }, "Client", client) : null, find, role, state),
      results,
    ),
    editor,
    h(
      "form",
      { class: "card", id: "new-user", onsubmit: create },
      h("h2", {}, "Add a person"),
      h(
        "div",
        { class: "inline" },
        h("label", {}, "Username", h("input", { name: "username", required: true, pattern: "[A-Za-z0-9._\\-]{2,64}" })),
        h("label", {}, "Password", h("input", { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" })),
        h("label", {}, "Role", h("select", { name: "role" }, options([["operator", "operator"], ["admin", "admin"]], "operator"))),
        h("label", {}, "First name", h("input", { name: "first_name" })),
        h("label", {}, "Last name", h("input", { name: "last_name" })),
        h("label", {}, "Email", h("input", { name: "email", type: "email" })),
        h("label", {}, "Phone", h("input", { name: "phone_number", type: "tel" })),
        h("button", { type: "submit" }, "Add"),
      ),
    ),
  );
  load();
  const reload = throttle(load, 1000);
  return onEvent((name) => {
    if (name === "user_online" || name === "user_offline") reload();
  });
}

