// The admins' dialing settings: the calling schedule (when the dialer, campaigns and batches may
// call) and the retry rules (when a lead is called again after each outcome).
import * as api from "./api.js";
import { h, fill, when, toast, submitted } from "./ui.js";

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/** A day's windows as typed: "09:00-12:00, 13:00-20:00" (an en dash too); empty: closed. */
export function parseWindows(weekday, text) {
  const windows = [];
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$/.exec(part);
    if (!m) throw new Error(`${DAYS[weekday]}: "${part}" is not a window like 09:00-17:00`);
    const pad = (t) => t.padStart(5, "0");
    windows.push({ weekday, start: pad(m[1]), end: pad(m[2]) });
  }
  return windows;
}

/** A day's windows written as the form shows them. */
export function formatWindows(windows, weekday) {
  return windows
    .filter((w) => w.weekday === weekday)
    .map((w) => `${w.start}-${w.end}`)
    .join(", ");
}

/** Holidays as typed: dates apart by commas, spaces or lines. */
export function parseHolidays(text) {
  const days = text.split(/[\s,]+/).filter(Boolean);
  for (const d of days) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new Error(`"${d}" is not a date like 2026-12-25`);
  }
  return [...new Set(days)].sort();
}

export function scheduleCard() {
  const box = h("div", { id: "schedule" }, h("p", { class: "muted" }, "Loading…"));
  // Every zone the browser knows, offered as the admin types (any IANA name is accepted).
  const zones = h(
    "datalist",
    { id: "zones" },
    (Intl.supportedValuesOf?.("timeZone") ?? []).map((z) => h("option", { value: z })),
  );

  function show(s) {
    const days = DAYS.map((name, i) =>
      h(
        "label",
        { class: "day" },
        name,
        h("input", { name: `day${i}`, value: formatWindows(s.windows, i), placeholder: "closed", "data-day": i }),
      ),
    );
    const save = submitted(async (f) => {
      const windows = DAYS.flatMap((_, i) => parseWindows(i, f.elements.namedItem(`day${i}`).value));
      const body = {
        timezone: f.timezone.value.trim(),
        windows,
        holidays: parseHolidays(f.holidays.value),
        enabled: f.enabled.checked,
        number_zones: f.number_zones.checked,
      };
      const saved = await api.put("/api/dialer/schedule", body);
      toast(`Schedule saved (version ${saved.version}).`, "ok");
      show(saved);
    });
    fill(
      box,
      h(
        "form",
        { id: "schedule-form", onsubmit: save },
        h(
          "div",
          { class: "inline" },
          h("label", {}, "Time zone", h("input", { name: "timezone", value: s.timezone, list: "zones", required: true })),
          h("label", { class: "switch" }, h("input", { type: "checkbox", name: "enabled", checked: s.enabled }), "Calls allowed"),
          h(
            "label",
            { class: "switch", title: "A lead without a time zone of its own is called in its number's: the area code's in North America, the country's elsewhere (when it keeps one time)" },
            h("input", { type: "checkbox", name: "number_zones", checked: s.number_zones !== false }),
            "Leads' hours from their numbers",
          ),
        ),
        h("div", { class: "days" }, days),
        h("label", {}, "Closed days", h("textarea", { name: "holidays", rows: 2, placeholder: "2026-12-25, 2027-01-01" }, s.holidays.join(", "))),
        h(
          "div",
          { class: "inline" },
          h("button", { type: "submit" }, "Save schedule"),
          h("span", { class: "muted", id: "schedule-version" }, `Version ${s.version}${s.updated_at ? ` · changed ${when(s.updated_at)}` : " · as installed"}`),
        ),
      ),
      zones,
    );
  }

  api
    .get("/api/dialer/schedule")
    .then(show)
    .catch((e) => fill(box, h("p", { class: "error" }, e.message)));
  return h(
    "div",
    { class: "card" },
    h("h2", {}, "Calling schedule"),
    h(
      "p",
      { class: "muted" },
      "When the call queue, campaigns and external dialers may call, in the schedule's zone or each lead's own. Windows like 09:00-12:00, 13:00-20:00; an empty day is closed.",
    ),
    box,
  );
}

const OUTCOMES = [
  ["busy", "Busy"],
  ["no-answer", "No answer"],
  ["power-off", "Switched off"],
  ["failed", "Failed"],
];

export function rulesCard() {
  const box = h("div", { id: "rules" }, h("p", { class: "muted" }, "Loading…"));

  function show(r) {
    const row = ([key, label]) =>
      h(
        "tr",
        { "data-outcome": key },
        h("td", {}, label),
        h("td", {}, h("input", { type: "number", name: `${key}-delay`, min: 0, max: 43200, step: "any", required: true, value: r.retry[key].delay_seconds / 60 })),
        h("td", {}, h("input", { type: "number", name: `${key}-max`, min: 1, max: 100, required: true, value: r.retry[key].max_attempts })),
      );
    const save = submitted(async (f) => {
      const field = (name) => Number(f.elements.namedItem(name).value);
      const retry = Object.fromEntries(
        OUTCOMES.map(([key]) => [key, { delay_seconds: Math.round(field(`${key}-delay`) * 60), max_attempts: field(`${key}-max`) }]),
      );
      const saved = await api.put("/api/dialer/rules", { retry, max_attempts_per_day: field("per-day"), wrapup_seconds: field("wrapup") });
      toast("Retry rules saved.", "ok");
      show(saved);
    });
    fill(
      box,
      h(
        "form",
        { id: "rules-form", onsubmit: save },
        h(
          "table",
          {},
          h("thead", {}, h("tr", {}, h("th", {}, "After"), h("th", {}, "Call again after (minutes)"), h("th", {}, "Give up after (attempts)"))),
          h("tbody", {}, OUTCOMES.map(row)),
        ),
        h(
          "div",
          { class: "inline" },
          h("label", {}, "Attempts per lead per day", h("input", { type: "number", name: "per-day", min: 1, max: 1000, required: true, value: r.max_attempts_per_day })),
          h(
            "label",
            { title: "Seconds an agent has after a call for notes before the call queue bridges them the next" },
            "Wrap-up after a call (seconds)",
            h("input", { type: "number", name: "wrapup", min: 0, max: 3600, required: true, value: r.wrapup_seconds ?? 0 }),
          ),
          h("button", { type: "submit" }, "Save rules"),
        ),
      ),
    );
  }

  api
    .get("/api/dialer/rules")
    .then(show)
    .catch((e) => fill(box, h("p", { class: "error" }, e.message)));
  return h(
    "div",
    { class: "card" },
    h("h2", {}, "Retry rules"),
    h("p", { class: "muted" }, "When a lead that was not reached is called again, and after how many attempts it is given up."),
    box,
  );
}
