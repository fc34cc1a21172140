// One lead's calls, newest first, each with its timeline: the admins' lead panel and the
// operators' "History" of a lead of theirs.
import * as api from "./api.js";
import { h, fill, when, clock, duration, badge, table, pager, recording } from "./ui.js";

/**
 * Show `lead`'s calls in `box`, ten to a page. With `explain` (admins: the route is theirs),
 * also whether the dialer may call the lead now, and if not, why and from when.
 */
export async function showHistory(box, lead, { explain = false, page = 1 } = {}) {
  try {
    const [calls, next] = await Promise.all([
      api.get(api.withQuery(`/api/leads/${lead.id}/calls`, { page, limit: 10 })),
      explain ? api.get(`/api/dialer/explain/${lead.id}`) : null,
    ]);
    const steps = (c) => c.events.map((e) => `${e.status} ${clock(new Date(e.at))}`).join(" → ");
    fill(
      box,
      h("h2", {}, explain ? "Calls" : `Calls to ${lead.name ?? lead.phone}`),
      next
        ? h(
            "p",
            { id: "lead-next" },
            next.dialable
              ? "The dialer may call this lead now."
              : [
                  "Not called now: ",
                  next.reasons.map((r) => r.message).join("; "),
                  next.dialable_at ? ` (from ${when(next.dialable_at)})` : "",
                  ".",
                ],
          )
        : null,
      table(
        [
          ["Started", (c) => when(c.started_at)],
          ["Status", (c) => badge(c.status)],
          ["Agent", (c) => c.agent_name ?? "—"],
          ["Talked", (c) => (c.duration === null ? "—" : duration(c.duration))],
          ["By", (c) => c.provider],
          ["Timeline", (c) => h("span", { class: "muted" }, steps(c))],
          ["Notes", (c) => c.notes ?? ""],
          ["", (c) => recording(c.recording_url)],
        ],
        calls.calls,
        { empty: "Never called.", key: (c) => c.id },
      ),
      calls.pagination.pages > 1 ? pager(calls.pagination, (p) => showHistory(box, lead, { explain, page: p })) : null,
    );
  } catch (e) {
    fill(box, h("h2", {}, "Calls"), h("p", { class: "error" }, e.message));
  }
}
