// The admins' views: live calls, leads, campaigns, call history and the team.
import * as api from "./api.js";
import { h, fill, when, clock, duration, number, badge, table, stat, toast, busy, pager, throttle, options, people, submitted, recording, turns, FINAL } from "./ui.js";
import { showLeads } from "./leads.js";
import { showSettings } from "./settings.js";
import { showTeam } from "./team.js";
import { capacityCard, failuresCard, showCampaign } from "./capacity.js";


// --- Live: stats, the calls in progress, what just happened -------------------------------

function showLive(root, { onEvent }) {
  const stats = h("div", { class: "stats" });
  const calls = h("div", { id: "live-calls" });
  const feed = h("ul", { class: "events", id: "feed" });
  const queue = h("div", { id: "queue" });
  fill(
    root,
    stats,
    h("div", { class: "card" }, h("h2", {}, "Call queue"), queue),
    h(
      "div",
      { class: "grid2" },
      h("div", { class: "card" }, h("h2", {}, "Calls in progress"), calls),
      h("div", { class: "card" }, h("h2", {}, "Just now"), feed),
    ),
  );

  const live = new Map(); // call id -> row
  let staff = new Map();

  const hangUp = (row) => (e) =>
    busy(e.target, async () => {
      await api.post("/api/v1/smartflo/call/hangup", { call_id: String(row.id) });
      toast("Hang-up sent.", "ok");
    });

  function render() {
    const rows = [...live.values()].sort((a, b) => b.id - a.id);
    fill(
      calls,
      table(
        [
          ["Number", (r) => r.number ?? "—"],
          ["Lead", (r) => (r.leadId ? `#${r.leadId}` : "—")],
          ["Agent", (r) => r.agent ?? "—"],
          ["Status", (r) => badge(r.status)],
          ["Started", (r) => r.started],
          ["Provider", (r) => r.provider],
          ["", (r) => h("button", { type: "button", class: "danger", "data-hangup": r.id, onclick: hangUp(r) }, "Hang up")],
        ],
        rows,
        { empty: "No calls right now.", key: (r) => r.id },
      ),
    );
  }

  async function loadStats() {
    const [{ data }, { dashboard }, presence] = await Promise.all([
      api.get("/api/calls/stats"),
      api.get("/api/admin/dashboard"),
      api.get("/api/presence"),
    ]);
    const agentsOnline = presence.online.filter((p) => p.role === "operator").length;
    fill(
      stats,
      stat("Calls today", number(data.todayCalls), "today"),
      stat("In progress", number(live.size), "active"),
      stat("Success rate", `${data.successRate}%`, "success"),
      stat("Average call", duration(data.averageDuration), "average"),
      stat("Leads waiting", number(dashboard.leadStats.pendingLeads), "pending"),
      stat("Agents online", number(agentsOnline), "online"),
      stat("Agents available", number(dashboard.userStats.availableSalespeople), "available"),
    );
  }
  // Calls start and end: the figures and the queue's live calls are read again.
  const refreshStats = throttle(() => Promise.all([loadStats(), loadQueue()]).catch(() => {}), 3000);

  // Seed 001's call queue: the server calls waiting leads and bridges them to agents. It is
  // drawn from answers and from `queue_updated` events (another admin's change): each takes a
  // turn when asked or heard, and draws only if nothing newer was asked or heard since.
  const queueTurn = turns();
  const latest = (draw) => {
    const current = queueTurn();
    return (q) => current() && draw(q);
  };
  const loadQueue = () => {
    const draw = latest(showQueue);
    return api.post("/api/admin/system/control", { action: "get_queue_status" }).then((r) => draw(r.queueStatus));
  };
  // The cap field outlives redraws: what the admin typed (or is typing) stays until the queue
  // starts with it.
  const cap = h("input", { type: "number", name: "cap", min: 1, max: 1000, title: "Calls at once", oninput: () => (cap.dataset.typed = "1") });
  function showQueue(q) {
    if (!cap.dataset.typed && document.activeElement !== cap) cap.value = q.maxConcurrentCalls;
    const control = (action) => (e) =>
      busy(e.target, async () => {
        const body = { action };
        if (action === "resume_queue" && cap.value) body.maxConcurrentCalls = Number(cap.value);
        const draw = latest(showQueue);
        const r = await api.post("/api/admin/system/control", body);
        toast(r.message, "ok");
        delete cap.dataset.typed;
        draw(r.queueStatus);
      });
    fill(
      queue,
      h(
        "div",
        { class: "toolbar" },
        badge(q.isRunning ? "running" : "paused"),
        h("span", { id: "queue-figures" }, `${number(q.activeCalls)} of ${number(q.maxConcurrentCalls)} calls at once · ${number(q.pendingLeads ?? 0)} leads waiting, ${number(q.dueLeads ?? 0)} due now`),
        q.isRunning
          ? h("button", { type: "button", id: "queue-pause", onclick: control("pause_queue") }, "Pause the queue")
          : [h("label", { class: "switch" }, "Calls at once", cap), h("button", { type: "button", id: "queue-resume", onclick: control("resume_queue") }, "Start the queue")],
      ),
    );
  }
  loadQueue().catch((e) => fill(queue, h("p", { class: "error" }, e.message)));

  function note(text) {
    const time = clock(new Date());
    feed.prepend(h("li", {}, h("time", {}, time), text));
    while (feed.children.length > 50) feed.lastChild.remove();
  }

  (async () => {
    try {
      staff = await people();
      const rows = await api.get("/api/v1/smartflo/live-calls");
      for (const c of rows) {
        live.set(c.id, {
          id: c.id,
          number: c.customer_number,
          leadId: c.lead_id,
          agent: c.agent_name,
          status: c.state.toLowerCase(),
          started: c.created_at.slice(11),
          provider: c.provider,
        });
      }
      render();
      await loadStats();
    } catch (e) {
      toast(e.message, "error");
    }
  })();

  return onEvent((name, d) => {
    if (name === "call_initiated" || name === "call_status_updated") {
      const agent = d.userId ? staff.get(d.userId) : null;
      if (FINAL.has(d.status)) {
        live.delete(d.id);
      } else {
        live.set(d.id, {
          id: d.id,
          number: d.phoneNumber,
          leadId: d.leadId,
          agent: agent ? agent.name || agent.username : null,
          status: d.status,
          started: clock(new Date(d.startedAt)),
          provider: d.provider,
        });
      }
      render();
      refreshStats();
      note(
        name === "call_initiated"
          ? `Call to ${d.phoneNumber ?? "?"} started`
          : `Call to ${d.phoneNumber ?? "?"}: ${d.previousStatus} → ${d.status}`,
      );
    } else if (name === "user_online" || name === "user_offline") {
      note(`${d.name || d.username} is ${name === "user_online" ? "online" : "offline"}`);
      refreshStats();
    } else if (name === "callback_due") {
      note(`Call back due: ${d.name ?? d.phoneNumber}`);
    } else if (name === "queue_updated") {
      latest(showQueue)(d.queueStatus);
      note(`The call queue is ${d.queueStatus.isRunning ? "running" : "paused"}`);
    }
  });
}

// --- Campaigns ---------------------------------------------------------------------------

function showCampaigns(root, { onEvent }) {
  const results = h("div", { id: "campaigns" });
  const detail = h("div", { id: "campaign-detail" });
  let open = null; // the campaign shown in detail
  const listSelect = h("select", { name: "listId", required: true }, options([], "", "Choose a list"));

  const act = (path, c) => (e) =>
    busy(e.target, async () => {
      const r = await api.post(path, { campaignId: c.campaignId });
      toast(r.message ?? "Done.", "ok");
      load();
    });

  async function load() {
    try {
      const r = await api.get("/plivo/dashboard/campaigns?limit=100");
      fill(
        results,
        table(
          [
            ["Campaign", (c) => c.campaignName],
            ["Status", (c) => badge(c.status)],
            [
              "Progress",
              (c) =>
                h(
                  "div",
                  {},
                  h("div", { class: "progress" }, h("div", { "data-pct": c.progress.percentage })),
                  `${number(c.progress.processed)} of ${number(c.progress.total)} (${c.progress.percentage}%)`,
                ),
            ],
            ["Connected", (c) => number(c.statistics.connected)],
            ["Failed", (c) => number(c.statistics.failed)],
            ["Dialer", (c) => badge(c.heartbeat)],
            ["Last activity", (c) => when(c.timing.lastActivity)],
            [
              "",
              (c) => [
                h(
                  "button",
                  {
                    type: "button",
                    class: "quiet",
                    "data-details": c.campaignId,
                    onclick: () => {
                      open = c;
                      showCampaign(detail, c, { onSaved: load });
                    },
                  },
                  "Details",
                ),
                c.status === "running"
                  ? h("button", { type: "button", "data-pause": c.campaignId, onclick: act("/plivo/pause-campaign", c) }, "Pause")
                  : c.status === "paused"
                    ? h("button", { type: "button", "data-resume": c.campaignId, onclick: act("/plivo/resume-campaign", c) }, "Resume")
                    : null,
              ],
            ],
          ],
          r.campaigns,
          { empty: "No campaigns yet.", key: (c) => c.campaignId },
        ),
      );
      // Widths are set from script: the page's policy allows no inline style attributes.
      for (const bar of results.querySelectorAll("[data-pct]")) bar.style.width = `${Math.min(100, Number(bar.dataset.pct))}%`;
      if (open) showCampaign(detail, r.campaigns.find((c) => c.campaignId === open.campaignId) ?? open, { onSaved: load });
    } catch (e) {
      fill(results, h("p", { class: "error" }, e.message));
    }
  }

  const create = submitted(async (f) => {
    const body = {
      campaignName: f.campaignName.value.trim(),
      listId: Number(f.listId.value),
      fromNumber: f.fromNumber.value.trim(),
      wssUrl: f.wssUrl.value.trim(),
    };
    if (f.maxConcurrentCalls.value) body.maxConcurrentCalls = Number(f.maxConcurrentCalls.value);
    body.machineDetection = f.machineDetection.checked;
    body.recordCalls = f.recordCalls.checked;
    if (f.voicemailMessage.value.trim()) body.voicemailMessage = f.voicemailMessage.value.trim();
    const r = await api.post("/plivo/create-campaign", body);
    toast(r.message ?? "Campaign created.", "ok");
    load();
  });

  const capacity = capacityCard();
  const failures = failuresCard();
  fill(
    root,
    h("div", { class: "card" }, h("h2", {}, "Campaigns"), results),
    detail,
    // The form above the monitoring cards: their figures arrive later and would move it.
    h(
      "form",
      { class: "card", id: "new-campaign", onsubmit: create },
      h("h2", {}, "New campaign"),
      h(
        "div",
        { class: "inline" },
        h("label", {}, "Name", h("input", { name: "campaignName", required: true, maxlength: 100 })),
        h("label", {}, "Leads from", listSelect),
        h("label", {}, "Caller id", h("input", { name: "fromNumber", required: true, placeholder: "+14155550100" })),
        h("label", {}, "Bot stream (wss://…)", h("input", { name: "wssUrl", required: true, placeholder: "wss://bot.example.com/stream" })),
        h("label", {}, "Calls at once", h("input", { name: "maxConcurrentCalls", type: "number", min: 1, max: 1000 })),
        h("label", { class: "switch" }, h("input", { type: "checkbox", name: "machineDetection" }), "Detect answering machines"),
        h("label", {}, "Message for answering machines", h("input", { name: "voicemailMessage", maxlength: 1000, placeholder: "none: hang up" })),
        h("label", { class: "switch" }, h("input", { type: "checkbox", name: "recordCalls" }), "Record calls"),
        h("button", { type: "submit" }, "Start campaign"),
      ),
    ),
    h("div", { class: "grid2" }, capacity.card, failures.card),
  );
  api
    .get("/api/lists")
    .then(({ lists }) => fill(listSelect, options(lists.map((l) => [l.id, `${l.name} (${number(l.lead_count)})`]), "", "Choose a list")))
    .catch((e) => toast(e.message, "error"));
  load();
  const reload = throttle(() => {
    load();
    capacity.reload();
    failures.reload();
  }, 5000);
  const off = onEvent((name, d) => {
    if (name === "callTerminated" || (name === "call_initiated" && d.campaignId)) reload();
  });
  return off;
}

// --- Call history ------------------------------------------------------------------------

const CALL_STATUSES = ["in-progress", "completed", "failed", "no-answer", "busy", "cancelled"];

function showCalls(root, { onEvent }) {
  const state = { page: 1, limit: 25, status: "" };
  const results = h("div", { id: "calls" });
  const detail = h("div", { id: "call-detail" });
  const status = h("select", { name: "status" }, options(CALL_STATUSES, "", "Any status"));
  let open = null;

  async function showCall(id) {
    try {
      const { data: c } = await api.get(`/api/calls/${encodeURIComponent(id)}`);
      open = c.id;
      fill(
        detail,
        h(
          "div",
          { class: "card" },
          h("h2", {}, `Call ${c.callId}`),
          h("p", {}, `${c.caller ?? "?"} → ${c.receiver ?? "?"} · `, badge(c.status), ` · ${duration(c.duration)} · ${when(c.startTime)} `, recording(c.recordingUrl)),
          c.notes ? h("p", {}, c.notes) : null,
          h("div", { class: "transcript", id: "transcript" }, c.transcript || "No transcript."),
        ),
      );
    } catch (e) {
      toast(e.message, "error");
    }
  }

  const turn = turns();
  async function load() {
    const current = turn();
    try {
      const r = await api.get(api.withQuery("/api/calls", { page: state.page, limit: state.limit, status: state.status }));
      if (!current()) return;
      fill(
        results,
        table(
          [
            ["When", (c) => when(c.startTime)],
            ["From", (c) => c.caller ?? "—"],
            ["To", (c) => c.receiver ?? "—"],
            ["Status", (c) => badge(c.status)],
            ["Length", (c) => duration(c.duration)],
            ["Provider", (c) => c.provider ?? "—"],
            ["", (c) => h("button", { type: "button", class: "quiet", onclick: () => showCall(c.id) }, "Details")],
          ],
          r.data,
          { empty: "No calls yet.", key: (c) => c.id },
        ),
        pager(r.pagination, (p) => {
          state.page = p;
          load();
        }),
      );
    } catch (e) {
      fill(results, h("p", { class: "error" }, e.message));
    }
  }
  status.addEventListener("change", () => {
    state.status = status.value;
    state.page = 1;
    load();
  });

  // The log as a file, with the status chosen (seed 004's export).
  const exportAs = (format) =>
    h(
      "button",
      {
        type: "button",
        class: "quiet",
        "data-export-calls": format,
        onclick: (e) =>
          busy(e.target, async () => {
            const name = await api.download(api.withQuery("/api/calls/export", { format, status: state.status }));
            toast(`Saved ${name}.`, "ok");
          }),
      },
      `Export ${format.toUpperCase()}`,
    );
  fill(root, h("div", { class: "card" }, h("h2", {}, "Calls"), h("div", { class: "toolbar" }, status, exportAs("csv"), exportAs("xlsx")), results), detail);
  load();
  const reload = throttle(load, 5000);
  return onEvent((name, d) => {
    if (name === "transcriptUpdated" && d.id === open && !d.truncated) {
      const t = detail.querySelector("#transcript");
      if (t) t.textContent = d.transcript;
    }
    if (name === "callTerminated" || name === "callStarted") reload();
  });
}

// --- Reports -----------------------------------------------------------------------------

function showReports(root) {
  const day = (d) => d.toISOString().slice(0, 10);
  const today = new Date();
  const from = h("input", { type: "date", name: "startDate", value: day(new Date(today.getTime() - 29 * 86400000)) });
  const to = h("input", { type: "date", name: "endDate", value: day(today) });
  const out = h("div", { id: "report" });

  async function load() {
    try {
      const { performance: p } = await api.get(api.withQuery("/api/admin/reports/performance", { startDate: from.value, endDate: to.value }));
      fill(
        out,
        h(
          "div",
          { class: "card" },
          h("h2", {}, "Agents"),
          table(
            [
              ["Agent", (s) => s.name],
              ["Calls", (s) => number(s.totalCalls)],
              ["Answered", (s) => number(s.answeredCalls)],
              ["Completed", (s) => number(s.completedCalls)],
              ["Talk time", (s) => duration(s.totalDuration)],
              ["Success", (s) => `${s.successRate}%`],
            ],
            p.salespersonStats,
            { empty: "No agent made calls in these days.", key: (s) => s.id },
          ),
        ),
        h(
          "div",
          { class: "grid2" },
          h(
            "div",
            { class: "card" },
            h("h2", {}, "Calls by day"),
            table(
              [
                ["Day", (d) => `${d._id.year}-${String(d._id.month).padStart(2, "0")}-${String(d._id.day).padStart(2, "0")}`],
                ["Calls", (d) => number(d.totalCalls)],
                ["Answered", (d) => number(d.answeredCalls)],
              ],
              p.dailyCalls,
              { empty: "No calls in these days." },
            ),
          ),
          h(
            "div",
            { class: "card" },
            h("h2", {}, "Leads by status"),
            table(
              [
                ["Status", (c) => badge(c._id)],
                ["Leads", (c) => number(c.count)],
              ],
              p.leadConversion,
            ),
          ),
        ),
      );
    } catch (e) {
      fill(out, h("p", { class: "error" }, e.message));
    }
  }
  from.addEventListener("change", load);
  to.addEventListener("change", load);
  fill(root, h("div", { class: "toolbar" }, h("label", { class: "switch" }, "From", from), h("label", { class: "switch" }, "to", to)), out);
  load();
}

export const adminViews = {
  live: { title: "Live", show: showLive },
  leads: { title: "Leads", show: showLeads },
  campaigns: { title: "Campaigns", show: showCampaigns },
  calls: { title: "Calls", show: showCalls },
  reports: { title: "Reports", show: showReports },
  team: { title: "Team", show: showTeam },
  settings: { title: "Settings", show: showSettings },
};
