// Unit tests of the dashboard's own scripts that need no browser: the SSE parser and the
// watcher of dropped streams (crates/server/src/dashboard/api.js). Run by
// crates/server/tests/api/dashboard.rs; prints "ok" and exits 0, or throws.
import assert from "node:assert/strict";
import { parseEvents, afterDrops, withQuery } from "../../src/dashboard/api.js";

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
