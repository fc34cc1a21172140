import * as api from "./api.js";

/** The call statuses (the core's, as call events carry them) after which a call is over. */
export const FINAL = new Set(["completed", "busy", "no-answer", "failed", "canceled"]);

// Small DOM helpers. Text from the server is only ever set as text (textContent), never parsed
// as HTML, so a lead named "<script>" shows as those characters.

/** An element: h("td", {class: "num"}, "12"); attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace what `el` holds. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A date and time in the browser's zone, or "—". */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/**
 * `url` when it is an absolute http(s) address, else null: a recording's URL comes from a
 * provider's webhook or a bot's log, and a `javascript:` one must never become a link.
 */
export function webAddress(url) {
  if (typeof url !== "string") return null;
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

/** A link to a call's recording, opened apart from this page; nothing for no usable address. */
export function recording(url) {
  const href = webAddress(url);
  return href ? h("a", { href, target: "_blank", rel: "noopener noreferrer", class: "recording" }, "Recording") : "";
}

/** Seconds as m:ss or h:mm:ss. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** A time of day, 24-hour, in the browser's zone. */
export const clock = (d) => d.toLocaleTimeString(undefined, { hour12: false });

export const number = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString());

/** A status word as a coloured badge. */
export function badge(status) {
  const word = status ?? "—";
  return h("span", { class: `badge s-${String(word).toLowerCase().replace(/[^a-z]+/g, "-")}` }, word);
}

/**
 * A table: columns are [title, (row) => cell content]; an empty list shows `empty`.
 * Each row's element gets data-id from `key(row)` when given.
 */
export function table(columns, rows, { empty = "Nothing here yet.", key } = {}) {
  // A column may be left out with null (one shown to some roles only).
  columns = columns.filter(Boolean);
  const head = h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title))));
  const body = h(
    "tbody",
    {},
    rows.length
      ? rows.map((row) =>
          h(
            "tr",
            key ? { "data-id": key(row) } : {},
            columns.map(([, cell]) => h("td", {}, cell(row))),
          ),
        )
      : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty)),
  );
  return h("table", {}, head, body);
}

/** A stat card. */
export function stat(label, value, id) {
  return h("div", { class: "stat", "data-stat": id }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

let toastTimer;
/** A short message at the bottom of the page. */
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), kind === "error" ? 8000 : 4000);
}

/** Run `action` for a button: disabled while it runs, its error shown. */
export async function busy(button, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (e) {
    toast(e.message, "error");
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/**
 * A form's submit handler: `action(form)` runs with the submit button disabled and its error
 * shown; the form is cleared once it succeeds.
 */
export function submitted(action) {
  return (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    return busy(form.querySelector("button[type=submit]"), async () => {
      await action(form);
      form.reset();
    });
  };
}

/** A page switcher: "Previous", "page N of M", "Next". */
export function pager(pagination, go) {
  const { page, pages, total } = pagination;
  return h(
    "div",
    { class: "pager" },
    h("button", { type: "button", disabled: page <= 1, onclick: () => go(page - 1) }, "Previous"),
    h("span", { class: "where" }, `Page ${page} of ${Math.max(pages, 1)} · ${number(total)} in all`),
    h("button", { type: "button", disabled: page >= pages, onclick: () => go(page + 1) }, "Next"),
  );
}

/**
 * Turns for overlapping loads of one view: `const turn = turns()`, then each load takes
 * `const current = turn()` and draws its answer only while `current()` (no later load began).
 */
export function turns() {
  let last = 0;
  return () => {
    const mine = ++last;
    return () => mine === last;
  };
}

/** Call `fn` at most once per `ms`, the last call kept. */
export function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}

export function options(values, selected, blank) {
  return [
    blank ? h("option", { value: "" }, blank) : null,
    ...values.map((v) => {
      const [value, label] = Array.isArray(v) ? v : [v, v];
      return h("option", { value, selected: String(value) === String(selected ?? "") }, label);
    }),
  ];
}

export async function people() {
  const { users } = await api.get("/api/users");
  return new Map(users.map((u) => [u.id, u]));
}

/** An upload's refused rows by line (the first 100), or nothing when none was refused. */
export function refusedRows(bad) {
  return bad?.length
    ? table(
        [
          ["Line", (b) => b.line],
          ["Why", (b) => b.reason],
        ],
        bad.slice(0, 100),
      )
    : null;
}

/** An ISO time as a `datetime-local` input's value, in this browser's time ("" for none). */
export function localInput(iso) {
  if (!iso) return "";
  const t = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}`;
}
