// The admins' outbound webhooks: the client's events POSTed, signed, to their own URLs; each
// webhook's latest deliveries and how they went.
import * as api from "./api.js";
import { h, fill, when, badge, table, toast, busy, submitted } from "./ui.js";

export function webhooksCard() {
  const list = h("div", { id: "webhooks" });
  const shown = h("div", { id: "new-webhook" });
  const deliveries = h("div", { id: "webhook-deliveries" });
  const choices = h("fieldset", { class: "inline", id: "webhook-events" });
  let names = [];

  async function showDeliveries(w) {
    const r = await api.get(`/api/webhooks/${w.id}/deliveries?limit=20`);
    fill(
      deliveries,
      h("h3", {}, `Latest deliveries to ${w.url}`),
      table(
        [
          ["When", (d) => when(d.created_at)],
          ["Event", (d) => d.event],
          ["State", (d) => badge(d.status)],
          ["Attempts", (d) => d.attempts],
          ["Last answer", (d) => (d.last_status ? `HTTP ${d.last_status}` : d.last_error ?? "—")],
          ["Next attempt", (d) => (d.next_attempt_at && d.status === "pending" ? when(d.next_attempt_at) : "—")],
          [
            "",
            (d) =>
              d.status === "delivered"
                ? null
                : h(
                    "button",
                    {
                      type: "button",
                      class: "quiet",
                      "data-resend": d.id,
                      onclick: (e) =>
                        busy(e.target, async () => {
                          await api.post(`/api/webhooks/${w.id}/deliveries/${d.id}/retry`, {});
                          toast("Sent again.", "ok");
                          await showDeliveries(w);
                        }),
                    },
                    "Send again",
                  ),
          ],
        ],
        r.deliveries,
        { empty: "No deliveries yet.", key: (d) => d.id },
      ),
    );
  }

  async function load() {
    try {
      const r = await api.get("/api/webhooks");
      if (names.length === 0) {
        names = r.events;
        fill(
          choices,
          h("legend", {}, "Events (none ticked: all of them)"),
          ...names.map((n) => h("label", { class: "switch" }, h("input", { type: "checkbox", name: "event", value: n }), n)),
        );
      }
      fill(
        list,
        table(
          [
            ["URL", (w) => h("code", {}, w.url)],
            ["Events", (w) => (w.events.includes("*") ? "all" : w.events.join(", "))],
            ["About", (w) => w.description ?? "—"],
            ["Created", (w) => when(w.created_at)],
            [
              "",
              (w) =>
                h(
                  "span",
                  { class: "inline" },
                  h("button", { type: "button", class: "quiet", "data-deliveries": w.id, onclick: (e) => busy(e.target, () => showDeliveries(w)) }, "Deliveries"),
                  h(
                    "button",
                    {
                      type: "button",
                      class: "quiet",
                      "data-ping": w.id,
                      onclick: (e) =>
                        busy(e.target, async () => {
                          await api.post(`/api/webhooks/${w.id}/ping`, {});
                          toast("Ping queued: see its delivery below.", "ok");
                          await showDeliveries(w);
                        }),
                    },
                    "Send a ping",
                  ),
                  h(
                    "button",
                    {
                      type: "button",
                      class: "quiet",
                      "data-rotate": w.id,
                      onclick: (e) =>
                        confirm(`Give ${w.url} a new signing secret? Its receiver must check the new one from now on.`) &&
                        busy(e.target, async () => {
                          const r = await api.post(`/api/webhooks/${w.id}/secret`, {});
                          fill(shown, h("p", {}, "The new signing secret, shown only this once:"), h("code", { class: "secret" }, r.secret));
                        }),
                    },
                    "New secret",
                  ),
                  h(
                    "button",
                    {
                      type: "button",
                      class: "quiet",
                      "data-delete-webhook": w.id,
                      onclick: (e) =>
                        confirm(`Stop sending events to ${w.url}? What it is still owed is dropped.`) &&
                        busy(e.target, async () => {
                          await api.del(`/api/webhooks/${w.id}`);
                          toast("Webhook deleted.", "ok");
                          fill(deliveries);
                          load();
                        }),
                    },
                    "Delete",
                  ),
                ),
            ],
          ],
          r.webhooks,
          { empty: "No webhooks.", key: (w) => w.id },
        ),
      );
    } catch (e) {
      fill(list, h("p", { class: "error" }, e.message));
    }
  }

  const create = submitted(async (f) => {
    const picked = [...f.querySelectorAll("input[name=event]:checked")].map((i) => i.value);
    const field = (name) => f.elements.namedItem(name).value.trim();
    const body = { url: field("url"), events: picked.length ? picked : ["*"] };
    const about = field("description");
    if (about) body.description = about;
    const r = await api.post("/api/webhooks", body);
    fill(
      shown,
      h("p", {}, "The signing secret, shown only this once: store it where the receiver checks signatures."),
      h("code", { class: "secret" }, r.secret),
    );
    f.reset();
    load();
  });

  load();
  return h(
    "div",
    { class: "card" },
    h("h2", {}, "Webhooks"),
    h(
      "p",
      { class: "muted" },
      "Your events POSTed as JSON to your own URLs (a CRM, a warehouse), signed in Switchboard-Signature and retried until taken.",
    ),
    list,
    h(
      "form",
      { id: "new-webhook-form", onsubmit: create },
      h(
        "div",
        { class: "inline" },
        h("label", {}, "URL", h("input", { name: "url", type: "url", required: true, maxlength: 2000, placeholder: "https://crm.example.com/switchboard" })),
        h("label", {}, "About", h("input", { name: "description", maxlength: 200, placeholder: "What receives it" })),
      ),
      choices,
      h("button", { type: "submit" }, "Add webhook"),
    ),
    shown,
    deliveries,
  );
}
