// Unit tests of the dashboard's own scripts that need no browser: the SSE parser and the
// watcher of dropped streams (crates/server/src/dashboard/api.js). Run by
// crates/server/tests/api/dashboard.rs; prints "ok" and exits 0, or throws.
import assert from "node:assert/strict";
import { parseEvents, afterDrops, withQuery } from "../../src/dashboard/api.js";
import { webAddress, turns } from "../../src/dashboard/ui.js";

// Overlapping loads: only the latest may draw.
{
  const turn = turns();
  const first = turn();
  assert.equal(first(), true, "alone, the first is current");
  const second = turn();
  assert.equal(first(), false, "a later load began");
  assert.equal(second(), true);
  const other = turns()();
  assert.equal(other(), true, "each view has its own turns");
  assert.equal(second(), true);
}
import { parseWindows, formatWindows, parseHolidays } from "../../src/dashboard/dialing.js";

// A day's windows as typed, and back; holidays as typed.
{
  assert.deepEqual(parseWindows(5, " 9:00-12:00, 13:30 – 24:00 "), [
    { weekday: 5, start: "09:00", end: "12:00" },
    { weekday: 5, start: "13:30", end: "24:00" },
  ]);
  assert.deepEqual(parseWindows(0, "  "), [], "an empty day is closed");
  assert.throws(() => parseWindows(2, "9-5"), /Wednesday: "9-5"/);
  assert.throws(() => parseWindows(0, "09:00-12:00; 13:00-14:00"), /Monday/);
  const week = [...parseWindows(0, "09:00-17:00"), ...parseWindows(6, "10:00-12:00, 14:00-16:00")];
  assert.equal(formatWindows(week, 6), "10:00-12:00, 14:00-16:00");
  assert.equal(formatWindows(week, 3), "");
  assert.deepEqual(parseHolidays("2027-01-01, 2026-12-25\n2026-12-25 "), ["2026-12-25", "2027-01-01"]);
  assert.deepEqual(parseHolidays(""), []);
  assert.throws(() => parseHolidays("25/12/2026"), /25\/12\/2026/);
}

// Only http(s) addresses become links (a recording URL is written by webhooks and bots).
{
  assert.equal(webAddress("https://rec.example.com/a.mp3"), "https://rec.example.com/a.mp3");
  assert.equal(webAddress("http://rec.example.com/a b.mp3"), "http://rec.example.com/a%20b.mp3");
  for (const bad of ["javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "data:text/html,x", "//rec.example.com/a", "rec.mp3", "", null, 42]) {
    assert.equal(webAddress(bad), null, String(bad));
  }
}

// Whole events, a comment, CRLF line ends, several data lines, and a partial event kept.
{
  const { events, rest } = parseEvents(
    'event: authenticated\ndata: {"id":1}\n\n:\n\nevent: note\r\ndata: one\r\ndata: two\r\n\r\nevent: callUpdated\ndata: {"a"',
  );
  assert.deepEqual(events, [
    { event: "authenticated", data: { id: 1 } },
    { event: "note", data: "one\ntwo" },
  ]);
  assert.equal(rest, 'event: callUpdated\ndata: {"a"');
  const more = parseEvents(rest + ':1}\n\n');
  assert.deepEqual(more.events, [{ event: "callUpdated", data: { a: 1 } }]);
  assert.equal(more.rest, "");
}

// A stream's first opening is not a return; each return after a drop is, once.
{
  let backs = 0;
  const watch = afterDrops(() => backs++);
  watch("live");
  assert.equal(backs, 0, "first opening");
  watch("reconnecting");
  watch("reconnecting");
  assert.equal(backs, 0, "still away");
  watch("live");
  assert.equal(backs, 1, "back once");
  watch("live");
  assert.equal(backs, 1);
  const never = afterDrops(() => backs++);
  never("reconnecting");
  never("live");
  assert.equal(backs, 1, "a stream that was never live has nothing to catch up on");
}

assert.equal(withQuery("/api/leads", { page: 2, search: "", status: null, q: "a b" }), "/api/leads?page=2&q=a+b");
console.log("ok");
