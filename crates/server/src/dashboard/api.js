// The API client of the dashboard: the session's token, requests, and the live event stream.
// The page is served by the server it talks to, so every path is relative to it.

const KEY = "switchboard.session";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let session;
let ended = () => {};

/** The signed-in person ({token, user}) or null. */
export function current() {
  if (session === undefined) {
    try {
      session = JSON.parse(localStorage.getItem(KEY));
    } catch {
      session = null;
    }
  }
  return session;
}

export function remember(token, user) {
  session = { token, user };
  localStorage.setItem(KEY, JSON.stringify(session));
}

export function forget() {
  session = null;
  localStorage.removeItem(KEY);
}

/** What to do when the server says the session is over (401 on a signed-in request). */
export function onSessionEnded(fn) {
  ended = fn;
}

/**
 * One request. `body` is sent as JSON, or as it is when it is FormData (uploads). Answers the
 * parsed JSON; a refusal throws an ApiError with the server's message, in whichever of the
 * contracts' error shapes the route answers ({error, message} or {success: false, message}).
 */
export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const signed = current();
  if (signed) headers.Authorization = `Bearer ${signed.token}`;
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check the connection and try again.");
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const message =
      (data && typeof data === "object" && (data.message || data.error)) ||
      `${res.status} ${res.statusText}`;
    if (res.status === 401 && signed && path !== "/api/auth/login") ended(message);
    throw new ApiError(res.status, message, data);
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body ?? {});
export const put = (path, body) => request("PUT", path, body ?? {});
export const del = (path) => request("DELETE", path);

/**
 * POST `body` to `path` (without a body: GET it) and save the file the server answers with,
 * under the name its Content-Disposition gives (exports).
 */
export async function download(path, body) {
  const signed = current();
  let res;
  try {
    res = await fetch(
      path,
      body === undefined
        ? { headers: { Authorization: `Bearer ${signed?.token}` } }
        : {
            method: "POST",
            headers: { Authorization: `Bearer ${signed?.token}`, "Content-Type": "application/json" },
            body: JSON.stringify(body),
          },
    );
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check the connection and try again.");
  }
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    const message = data.message || `${res.status} ${res.statusText}`;
    if (res.status === 401) ended(message);
    throw new ApiError(res.status, message, data);
  }
  const named = /filename="?([^";]+)"?/.exec(res.headers.get("Content-Disposition") ?? "");
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = named ? named[1] : "export";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return a.download;
}

/** `path` with the query's set values (null, undefined and "" are left out). */
export function withQuery(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== null && v !== undefined && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** The blocks of a text/event-stream, each as {event, data} (data parsed as JSON). */
export function parseEvents(buffer) {
  const events = [];
  let rest = buffer.replace(/\r\n/g, "\n");
  let end;
  while ((end = rest.indexOf("\n\n")) >= 0) {
    const block = rest.slice(0, end);
    rest = rest.slice(end + 2);
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) continue;
    let parsed = data.join("\n");
    try {
      parsed = JSON.parse(parsed);
    } catch {
      // A plain text event stays text.
    }
    events.push({ event, data: parsed });
  }
  return { events, rest };
}

/**
 * A watcher of the stream's states ("live", "reconnecting") that calls `back` each time the
 * stream is live again after having been live and dropped (not when it first opens).
 */
export function afterDrops(back) {
  let wasLive = false;
  let dropped = false;
  return (state) => {
    if (state !== "live" && wasLive) dropped = true;
    if (state === "live" && dropped) {
      dropped = false;
      back();
    }
    wasLive = state === "live";
  };
}

/**
 * Hear the signed-in person's events at /api/events until stopped. EventSource cannot send an
 * Authorization header (and a token in the URL would land in access logs), so the stream is
 * read with fetch. A dropped stream is opened again after 1 s, doubling up to 30 s;
 * `onState` hears "live" and "reconnecting". Returns the function that stops it.
 */
export function listen(onEvent, onState) {
  let stopped = false;
  let controller = null;
  let delay = 1000;
  (async () => {
    while (!stopped) {
      const signed = current();
      if (!signed) return;
      controller = new AbortController();
      try {
        const res = await fetch("/api/events", {
          headers: { Authorization: `Bearer ${signed.token}`, Accept: "text/event-stream" },
          signal: controller.signal,
        });
        if (res.status === 401) {
          const body = await res.json().catch(() => ({}));
          ended(body.message || "Your session has ended. Sign in again.");
          return;
        }
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        onState("live");
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const parsed = parseEvents(buffer + value);
          buffer = parsed.rest;
          for (const e of parsed.events) onEvent(e.event, e.data);
        }
      } catch {
        // Dropped, refused or stopped: try again below unless stopped.
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
