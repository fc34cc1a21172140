// The dashboard's shell: sign-in, the navigation by role, the live event stream, and the views.
import * as api from "./api.js";
import { h, fill, toast } from "./ui.js";
import { adminViews } from "./admin.js";
import { agentViews } from "./agent.js";

const $ = (id) => document.getElementById(id);

/** Views hear events through this while they are shown. */
const listeners = new Set();
export function onEvent(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let stopEvents = () => {};
let leaveView = () => {};
let views = {};

function isAdmin(user) {
  return user && (user.role === "admin" || user.role === "super_admin");
}

function showSignIn(message) {
  stopEvents();
  leaveView();
  leaveView = () => {};
  listeners.clear();
  $("shell").hidden = true;
  $("signin").hidden = false;
  const err = $("signin-error");
  err.textContent = message ?? "";
  err.hidden = !message;
  $("signin-form").password.value = "";
  document.title = "Switchboard";
}

function ended(message) {
  api.forget();
  showSignIn(message || "Your session has ended. Sign in again.");
}

async function signIn(event) {
  event.preventDefault();
  const form = event.target;
  const login = form.login.value.trim();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const body = { password: form.password.value };
    body[login.includes("@") ? "email" : "username"] = login;
    const answer = await api.request("POST", "/api/auth/login", body);
    api.remember(answer.token, answer.user);
    if (!location.hash) location.hash = isAdmin(answer.user) ? "#/live" : "#/work";
    start();
  } catch (e) {
    const err = $("signin-error");
    err.textContent = e.status === 429 ? `Too many attempts. ${e.message}` : e.message;
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  try {
    await api.post("/api/auth/logout");
  } catch {
    // Signed out here whatever the server says.
  }
  api.forget();
  location.hash = "";
  showSignIn();
}

// Back after a drop, what happened meanwhile was not heard: the view loads afresh.
let backAfterDrop = api.afterDrops(() => route());
function setLive(state) {
  const el = $("live");
  el.textContent = state === "live" ? "live" : "reconnecting…";
  el.classList.toggle("on", state === "live");
  backAfterDrop(state);
}

function route() {
  const signed = api.current();
  if (!signed || !Object.keys(views).length) return;
  const name = location.hash.replace(/^#\//, "").split("?")[0];
  const fallback = Object.keys(views)[0];
  const view = views[name] ? name : fallback;
  if (view !== name) {
    location.replace(`#/${view}`);
    return;
  }
  for (const a of $("nav").querySelectorAll("a")) a.classList.toggle("here", a.dataset.view === view);
  leaveView();
  const root = fill($("view"));
  document.title = `${views[view].title} · Switchboard`;
  leaveView = views[view].show(root, { user: signed.user, onEvent }) ?? (() => {});
}

async function start() {
  const signed = api.current();
  // The stored person may be stale (role changed, deactivated): ask who the token is.
  let user;
  try {
    const me = await api.get("/api/auth/me");
    user = me.user ?? me;
  } catch (e) {
    if (e.status !== 401) showSignIn(e.message);
    return;
  }
  api.remember(signed.token, user);
  views = isAdmin(user) ? adminViews : agentViews;
  fill(
    $("nav"),
    Object.entries(views).map(([name, v]) => h("a", { href: `#/${name}`, "data-view": name }, v.title)),
  );
  fill($("who"), `${user.name || user.username} · ${user.role.replace("_", " ")}`);
  $("signin").hidden = true;
  $("shell").hidden = false;
  stopEvents();
  backAfterDrop = api.afterDrops(() => route());
  stopEvents = api.listen((name, data) => {
    if (name === "session_ended") {
      ended(data?.message);
      return;
    }
    if (name === "callback_due") {
      // Whatever the view: the agent's (or, for a lead nobody has, the admins') reminder.
      const who = data.name ? `${data.name} (${data.phoneNumber})` : data.phoneNumber;
      toast(`Call back due: ${who}.`, "ok");
    }
    for (const fn of [...listeners]) {
      try {
        fn(name, data);
      } catch (e) {
        console.error(e);
      }
    }
  }, setLive);
  route();
}

api.onSessionEnded(ended);
addEventListener("hashchange", route);
addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  if (api.current()) start();
  else showSignIn();
});
// Errors no view caught still reach the person.
addEventListener("unhandledrejection", (e) => toast(e.reason?.message ?? String(e.reason), "error"));
