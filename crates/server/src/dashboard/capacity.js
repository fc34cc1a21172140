// Seed 003's monitoring in the Campaigns view: how much of the concurrency the calls use now,
// and why calls failed lately, each with the server's recommendations.
import * as api from "./api.js";
import { h, fill, when, duration, number, badge, table, toast, busy } from "./ui.js";

const advice = (items) =>
  items?.length
    ? h(
        "ul",
        { class: "advice" },
        items.map((r) => h("li", {}, badge(r.priority ?? "info"), " ", r.message ?? r.description ?? "")),
      )
    : null;

/** The capacity card and its reload (campaigns start and end: the view calls it). */
export function capacityCard() {
  const box = h("div", { id: "capacity" }, h("p", { class: "muted" }, "Loading…"));
  async function load() {
    try {
      const r = await api.get("/plivo/monitoring/utilization");
      const u = r.utilization;
      const bar = h("div", { class: "progress" }, h("div", {}));
      bar.firstChild.style.width = `${Math.min(100, Number(u.concurrency.percentage) || 0)}%`;
      fill(
        box,
        h(
          "div",
          { class: "toolbar" },
          badge(u.systemStatus),
          h("span", { id: "capacity-calls" }, `${number(u.concurrency.active)} of ${number(u.concurrency.max)} calls at once (${u.concurrency.percentage}%)`),
          bar,
          h("span", {}, `${number(u.campaigns.running)} campaigns running, ${number(u.campaigns.paused)} paused`),
          h("span", {}, `${number(u.callRate.ratePerMinute)} calls a minute lately`),
        ),
        advice(r.recommendations),
      );
    } catch (e) {
      fill(box, h("p", { class: "error" }, e.message));
    }
  }
  load();
  return { card: h("div", { class: "card" }, h("h2", {}, "Capacity"), box), reload: load };
}

/**
 * Why calls failed over the last `days` days (seed 003's failed-calls analysis): all calls, or
 * one campaign's.
 */
export function failuresCard({ days = 7, campaignId, id = "failures" } = {}) {
  const box = h("div", { id }, h("p", { class: "muted" }, "Loading…"));
  async function load() {
    try {
      const { analysis: a } = await api.get(api.withQuery("/plivo/dashboard/failed-calls", { days, campaignId }));
      fill(
        box,
        h("p", { class: "failures-total" }, `${number(a.totalFailed)} calls failed in the last ${days} days.`),
        table(
          [
            ["Why", (f) => f.reason],
            ["Calls", (f) => number(f.count)],
            ["Share", (f) => `${f.percentage}%`],
          ],
          a.failureReasons,
          { empty: "No call failed." },
        ),
        advice(a.recommendations),
      );
    } catch (e) {
      fill(box, h("p", { class: "error" }, e.message));
    }
  }
  load();
  return { card: h("div", { class: "card" }, h("h2", {}, "Why calls failed"), box), box, reload: load };
}

/** One campaign's progress, figures and timing (seed 003's campaign-progress), in `box`. */
/** A campaign's settings, changed in place: only what was edited is sent. */
function settingsForm(campaign, onSaved) {
  const s = campaign.settings ?? {};
  const ended = ["completed", "cancelled", "failed"].includes(campaign.status);
  const field = (label, name, value, attrs = {}) =>
    h("label", {}, label, h("input", { name, value: value ?? "", disabled: ended && name !== "campaignName", ...attrs }));
  const form = h(
    "form",
    { class: "inline", id: "campaign-settings", "data-campaign": campaign.campaignId },
    field("Name", "campaignName", campaign.campaignName, { required: true, maxlength: 100 }),
    field("Calls at once", "maxConcurrentCalls", s.maxConcurrentCalls, { type: "number", min: 1, max: 100000, required: true }),
    field("Caller id", "fromNumber", s.fromNumber, { type: "tel", required: true }),
    field("Voice bot (ws:// or wss://)", "wssUrl", s.wssUrl, { required: true, maxlength: 2000 }),
    h("label", { class: "switch" }, h("input", { type: "checkbox", name: "machineDetection", checked: Boolean(s.machineDetection), disabled: ended }), "Detect answering machines"),
    field("Message for answering machines (none: hang up)", "voicemailMessage", s.voicemailMessage, { maxlength: 1000 }),
    h("label", { class: "switch" }, h("input", { type: "checkbox", name: "recordCalls", checked: Boolean(s.recordCalls), disabled: ended }), "Record calls"),
    h("button", { type: "submit" }, "Save"),
  );
  form.addEventListener("input", () => (form.dataset.dirty = "1"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { campaignId: campaign.campaignId };
    const now = {
      campaignName: form.campaignName.value.trim(),
      maxConcurrentCalls: Number(form.maxConcurrentCalls.value),
      fromNumber: form.fromNumber.value.trim(),
      wssUrl: form.wssUrl.value.trim(),
      machineDetection: form.machineDetection.checked,
      voicemailMessage: form.voicemailMessage.value.trim(),
      recordCalls: form.recordCalls.checked,
    };
    const was = { campaignName: campaign.campaignName, ...s, voicemailMessage: s.voicemailMessage ?? "" };
    for (const [k, v] of Object.entries(now)) if (!(ended && k !== "campaignName") && v !== was[k]) body[k] = v;
    if (Object.keys(body).length === 1) return toast("Nothing changed.");
    return busy(form.querySelector("button[type=submit]"), async () => {
      const r = await api.post("/plivo/update-campaign", body);
      Object.assign(campaign, { campaignName: r.data.campaignName, settings: { fromNumber: r.data.fromNumber, wssUrl: r.data.wssUrl, maxConcurrentCalls: r.data.maxConcurrentCalls, machineDetection: r.data.machineDetection, voicemailMessage: r.data.voicemailMessage, recordCalls: r.data.recordCalls } });
      toast(`${r.data.campaignName} saved.`, "ok");
      delete form.dataset.dirty;
      document.activeElement?.blur();
      onSaved?.();
    });
  });
  return form;
}

export async function showCampaign(box, campaign, { onSaved } = {}) {
  try {
    const r = await api.get(`/plivo/campaign-progress/${encodeURIComponent(campaign.campaignId)}`);
    const p = r.progress;
    const s = r.statistics;
    const t = r.timing;
    const row = (label, value) => h("tr", {}, h("th", {}, label), h("td", {}, value));
    const failures = failuresCard({ campaignId: campaign.campaignId, id: "campaign-failures" });
    // The view redraws the details as it refreshes: a settings form being edited stays as it is.
    const editing = box.querySelector(`#campaign-settings[data-campaign="${campaign.campaignId}"]`);
    const keep = editing && (editing.contains(document.activeElement) || editing.dataset.dirty);
    if (keep) {
      const facts = box.querySelector("#campaign-facts");
      facts?.closest(".card")?.querySelector("h2")?.replaceChildren(campaign.campaignName);
    }
    if (keep) return;
    const form = settingsForm(campaign, onSaved);
    fill(
      box,
      h(
        "div",
        { class: "card" },
        h("h2", {}, campaign.campaignName),
        h(
          "div",
          { class: "grid2" },
          h(
            "table",
            { class: "facts", id: "campaign-facts" },
            h(
              "tbody",
              {},
              row("Status", badge(p.status)),
              row("Called", `${number(p.processedContacts)} of ${number(p.totalContacts)} (${p.progressPercentage}%), ${number(p.remainingContacts)} left`),
              row("Connected", number(s.connectedCalls)),
              row("Failed", number(s.failedCalls)),
              row("Attempts", number(s.totalCallsAttempted)),
              row("Average call", duration(s.avgCallDuration)),
              row("Started", when(t.startTime)),
              row("Paused", when(t.pausedAt)),
              row("Resumed", when(t.resumedAt)),
              row("Last activity", when(t.lastActivity)),
              row("Done by about", when(t.estimatedCompletion)),
              row("Dialed by", [badge(r.container.heartbeatStatus), ` ${r.container.containerId ?? "—"} · ${when(r.container.heartbeat)}`]),
            ),
          ),
          h("div", {}, h("h3", {}, "Why its calls failed"), failures.box),
        ),
        h("h3", {}, "Settings"),
        form,
      ),
    );
  } catch (e) {
    fill(box, h("p", { class: "error" }, e.message));
  }
}
