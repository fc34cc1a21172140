// Drives the web dashboard in headless Chromium (puppeteer-core, no browser download) the way an
// admin and an operator use it, side by side, against a served test instance. The plan comes as
// JSON in SB_PLAN (see crates/server/tests/api/dashboard.rs); each step done is printed as one
// JSON line, and the first failure ends the run with {"error"} and exit code 1.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const plan = JSON.parse(process.env.SB_PLAN);
const base = plan.url;
const WAIT = 15000;
const say = (step, extra = {}) => process.stdout.write(JSON.stringify({ step, ...extra }) + "\n");

const problems = [];
const foreign = [];
// What each page asked and was answered, and what its event stream did: printed when a run
// fails, to tell a slow answer from a redraw from a dropped stream.
const trails = new Map();

const browser = await puppeteer.launch({
  executablePath: plan.chromium,
  headless: true,
  userDataDir: plan.profile,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    // No host but this one resolves: anything fetched from the internet fails.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
  ],
});

/** A page in a browser context of its own (its own storage: one person each). */
async function person(label) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("console", (m) => {
    // A refused request logs "Failed to load resource" (the wrong password's 401): expected.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      problems.push(`${label} console: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`${label} page error: ${e.message}`));
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith("data:")) foreign.push(u);
  });
  page.on("dialog", (d) => d.accept());
  const trail = [];
  trails.set(label, { page, trail });
  const at = () => new Date().toISOString().slice(11, 23);
  const path = (u) => u.slice(base.length);
  page.on("request", (r) => trail.push(`${at()} → ${r.method()} ${path(r.url())} ${r.postData() ?? ""}`.trim()));
  page.on("response", (r) => trail.push(`${at()} ← ${r.status()} ${path(r.url())}`));
  page.on("requestfailed", (r) => trail.push(`${at()} ✗ ${path(r.url())} ${r.failure()?.errorText ?? ""}`));
  return page;
}

const text = (page, sel) => page.$eval(sel, (el) => el.textContent.trim());

/** Wait until the element `sel` exists and its text contains `want`. */
async function waitText(page, sel, want) {
  try {
    return await waitTextRaw(page, sel, want);
  } catch (e) {
    throw new Error(`waiting for "${want}" in ${sel}: ${e.message}`);
  }
}

function waitTextRaw(page, sel, want) {
  return page.waitForFunction(
    (s, w) => {
      const el = document.querySelector(s);
      return el && el.textContent.includes(w);
    },
    { timeout: WAIT },
    sel,
    want,
  );
}

/** Wait until `handle` stays put for 50 ms (content loading above it moves it). */
async function settled(handle) {
  let last = null;
  for (let i = 0; i < 40; i++) {
    const box = await handle.boundingBox();
    const where = box && `${box.x},${box.y},${box.width},${box.height}`;
    if (where && where === last) return;
    last = where;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Click `sel` like a person, once it stays where it is. Tables are drawn again when events
 * arrive, so the button found may be replaced before the click lands: then find it again.
 */
async function press(page, sel) {
  for (let attempt = 1; ; attempt++) {
    try {
      const button = await page.waitForSelector(sel, { visible: true });
      await settled(button);
      await button.click();
      return;
    } catch (e) {
      const redrawn = /detached|not clickable|no node/i.test(e.message);
      if (!redrawn || attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function signIn(page, login, password) {
  await page.$eval("#signin-form [name=login]", (el) => (el.value = ""));
  await page.$eval("#signin-form [name=password]", (el) => (el.value = ""));
  await page.type("#signin-form [name=login]", login);
  await page.type("#signin-form [name=password]", password);
  await press(page, "#signin-form button[type=submit]");
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** The call queue from the Live view, on an install with nothing to call. */
async function queueScenario() {
  const admin = await person("admin");
  await admin.goto(base + "/", { waitUntil: "load" });
  await admin.waitForSelector("#signin-form", { visible: true });
  await signIn(admin, plan.admin.login, plan.admin.password);
  await admin.waitForSelector("#live.on");
  await admin.waitForSelector("#queue-resume");
  // A second screen (another tab, its own storage) sees what the first one does, unasked.
  const other = await person("second screen");
  await other.goto(base + "/", { waitUntil: "load" });
  await other.waitForSelector("#signin-form", { visible: true });
  await signIn(other, plan.admin.login, plan.admin.password);
  await other.waitForSelector("#live.on");
  await other.waitForSelector("#queue-resume");
  // As a person does: into the field, all of it selected, typed over.
  await admin.focus("#queue [name=cap]");
  await admin.keyboard.down("Control");
  await admin.keyboard.press("KeyA");
  await admin.keyboard.up("Control");
  await admin.type("#queue [name=cap]", "3");
  await press(admin, "#queue-resume");
  await admin.waitForSelector("#queue-pause");
  await waitText(admin, "#queue-figures", "of 3 calls at once");
  const running = await admin.evaluate(async () => {
    const { token } = JSON.parse(localStorage.getItem("switchboard.session"));
    const r = await fetch("/api/admin/system-status", { headers: { Authorization: `Bearer ${token}` } });
    return (await r.json()).systemStatus.callQueue;
  });
  check(running.isRunning && running.maxConcurrentCalls === 3, `the queue runs: ${JSON.stringify(running)}`);
  say("queue started", running);
  await other.waitForSelector("#queue-pause");
  await waitText(other, "#queue-figures", "of 3 calls at once");
  await waitText(other, "#feed", "The call queue is running");
  say("the second screen shows it running");
  await press(admin, "#queue-pause");
  await admin.waitForSelector("#queue-resume");
  await other.waitForSelector("#queue-resume");
  say("queue paused, on both screens");

  // Reports: the agents' table over the chosen days.
  await admin.evaluate(() => (location.hash = "#/reports"));
  await waitText(admin, "#report", "Agents");
  say("reports shown");

}

try {
  if (plan.scenario === "queue") {
    await queueScenario();
    check(foreign.length === 0, `requests left this server: ${foreign.join(", ")}`);
    check(problems.length === 0, `errors in the page: ${problems.join(" | ")}`);
    say("done");
    await browser.close();
    process.exit(0);
  }
  // --- The admin signs in (a wrong password first) ---------------------------------------
  const admin = await person("admin");
  const res = await admin.goto(base + "/", { waitUntil: "load" });
  check(res.headers()["content-security-policy"]?.includes("script-src 'self'"), "the page has its policy");
  await admin.waitForSelector("#signin-form", { visible: true });
  check(await admin.$eval("#shell", (el) => el.hidden), "signed out: no shell");
  await signIn(admin, plan.admin.login, "not-the-password");
  await admin.waitForSelector("#signin-error", { visible: true });
  check((await text(admin, "#signin-error")).length > 0, "a wrong password is told");
  check(await admin.$eval("#shell", (el) => el.hidden), "a wrong password opens nothing");
  say("wrong password refused", { message: await text(admin, "#signin-error") });

  await signIn(admin, plan.admin.login, plan.admin.password);
  await admin.waitForSelector("#shell", { visible: true });
  await admin.waitForSelector("#live.on");
  const nav = await admin.$$eval("#nav a", (as) => as.map((a) => a.textContent));
  check(JSON.stringify(nav) === JSON.stringify(["Live", "Leads", "Campaigns", "Calls", "Reports", "Team", "Settings"]), `admin nav: ${nav}`);
  check((await admin.evaluate(() => location.hash)) === "#/live", "admins start on Live");
  await waitText(admin, '[data-stat="pending"] .value', String(plan.pending));
  await waitText(admin, "#live-calls", "No calls right now.");
  say("admin signed in", { nav });

  // --- The operator signs in, claims a lead and calls it ---------------------------------
  const op = await person("operator");
  await op.goto(base + "/", { waitUntil: "load" });
  await op.waitForSelector("#signin-form", { visible: true });
  await signIn(op, plan.operator.login, plan.operator.password);
  await op.waitForSelector("#shell", { visible: true });
  await op.waitForSelector("#live.on");
  const opNav = await op.$$eval("#nav a", (as) => as.map((a) => a.textContent));
  check(JSON.stringify(opNav) === JSON.stringify(["My work"]), `operator nav: ${opNav}`);
  const lead = plan.lead;
  await op.waitForSelector(`#waiting-leads tr[data-id="${lead.id}"]`);
  // The admin's Live view hears the operator come online.
  await waitText(admin, '[data-stat="online"] .value', "1");
  await waitText(admin, "#feed", `${plan.operator.login} is online`);
  await press(op, `#waiting-leads [data-claim="${lead.id}"]`);
  await op.waitForSelector(`#my-leads tr[data-id="${lead.id}"]`);
  say("lead claimed");

  await press(op, `#my-leads [data-call="${lead.id}"]`);
  await waitText(op, "#my-call", lead.phone);
  await waitText(op, "#my-call .badge", "answered");
  say("operator's call answered");

  // The admin's live view hears it without a reload, and hangs it up.
  const row = `#live-calls tr[data-id]`;
  await admin.waitForFunction(
    (sel, phone) => [...document.querySelectorAll(sel)].some((r) => r.textContent.includes(phone) && r.textContent.includes("answered")),
    { timeout: WAIT },
    row,
    lead.phone,
  );
  await waitText(admin, '[data-stat="active"] .value', "1");
  await waitText(admin, "#feed", `Call to ${lead.phone}`);
  await press(admin, "#live-calls [data-hangup]");
  await waitText(admin, "#live-calls", "No calls right now.");
  say("admin hung up");

  // The operator's call ends there too; notes on it land in the history.
  await op.waitForFunction(() => {
    const b = document.querySelector("#my-call .badge");
    return b && ["completed", "canceled", "failed"].includes(b.textContent);
  }, { timeout: WAIT });
  await op.type("#call-notes [name=notes]", plan.notes);
  await press(op, "#call-notes button[type=submit]");
  await waitText(op, "#my-history", plan.notes);
  say("notes saved", { status: await text(op, "#my-history .badge") });
  // The lead's own history, opened from the call: the call with its timeline and the notes.
  await press(op, `#my-history [data-history="${lead.id}"]`);
  await op.waitForSelector("#lead-calls tbody tr[data-id]");
  const opHistory = await op.$$eval("#lead-calls tbody tr[data-id]", (rs) => rs.map((r) => r.textContent));
  check(opHistory.length === 1 && opHistory[0].includes(plan.notes) && opHistory[0].includes("answered"), `the operator's view of the lead's calls: ${opHistory}`);
  check((await op.$("#lead-next")) === null, "operators are not shown the dialer's reasons (an admin route)");
  say("operator read the lead's history");

  // --- Leads: text from the database stays text; a CSV upload reports its rows ------------
  await admin.evaluate(() => (location.hash = "#/leads"));
  await admin.waitForSelector("#leads table");
  await admin.type("#leads-search", plan.xss.search);
  // The search runs once typing stops: until then the table holds every lead.
  await admin.waitForFunction(
    (name) => {
      const rows = document.querySelectorAll("#leads tbody tr");
      return rows.length === 1 && rows[0].textContent.includes(name);
    },
    { timeout: WAIT },
    plan.xss.name,
  );
  check((await admin.$("#leads img")) === null, "a lead's name is not parsed as HTML");
  check((await admin.evaluate(() => window.__xss)) === undefined, "no script from a lead's name ran");
  say("search shows text as text");

  // Export what the search shows: the file lands in the downloads folder.
  const cdp = await admin.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", {
    behavior: "allow",
    downloadPath: plan.downloads,
    browserContextId: admin.browserContext().id,
  });
  await press(admin, '[data-export="csv"]');
  let saved;
  for (let i = 0; i < 100 && !saved; i++) {
    saved = readdirSync(plan.downloads).find((f) => f.endsWith(".csv"));
    if (!saved) await new Promise((r) => setTimeout(r, 100));
  }
  check(saved, "the export was saved");
  const exported = readFileSync(join(plan.downloads, saved), "utf8").trim().split(/\r?\n/);
  check(exported.length === 2 && exported[1].includes(plan.xss.phone), `the export holds the one lead found: ${exported}`);
  say("export saved", { file: saved });

  const input = await admin.$("#upload input[type=file]");
  await input.uploadFile(plan.csv);
  await press(admin, "#upload button[type=submit]");
  await waitText(admin, "#upload-report .summary", "2 imported");
  const summary = await text(admin, "#upload-report .summary");
  check(summary.includes("1 with errors"), `upload summary: ${summary}`);
  const bad = await admin.$$eval("#upload-report tbody tr", (rs) => rs.map((r) => r.firstChild.textContent));
  check(JSON.stringify(bad) === JSON.stringify([String(plan.badLine)]), `bad lines: ${bad}`);
  say("csv uploaded", { summary });

  // Find leads again: the search box, cleared and typed anew.
  async function find(term, rows) {
    await admin.$eval("#leads-search", (el) => (el.value = ""));
    await admin.type("#leads-search", term);
    await admin.waitForFunction(
      (t, n) => {
        const trs = [...document.querySelectorAll("#leads tbody tr[data-id]")];
        return trs.length === n && trs.every((r) => r.textContent.includes(t));
      },
      { timeout: WAIT },
      term,
      rows,
    );
  }

  // The called lead's history: the operator's call with its timeline and notes, and why the
  // dialer leaves the lead alone now.
  await find(lead.phone, 1);
  await press(admin, "#leads [data-edit]");
  await admin.waitForSelector("#lead-history tbody tr[data-id]");
  const history = await admin.$$eval("#lead-history tbody tr[data-id]", (rs) => rs.map((r) => r.textContent));
  check(history.length === 1 && history[0].includes(plan.notes), `the lead's one call, with its notes: ${history}`);
  check(/answered \d/.test(history[0]) && history[0].includes("→"), `the call's timeline: ${history[0]}`);
  await waitText(admin, "#lead-next", "Not called now");
  say("lead history shown", { call: history[0], next: await text(admin, "#lead-next") });

  // Edit one: priority, the operator it is given to, a note.
  await find("Uma Upload", 1);
  await press(admin, "#leads [data-edit]");
  await admin.waitForSelector("#lead-form");
  await admin.select("#lead-form [name=priority]", "urgent");
  await admin.select("#lead-form [name=assigned]", String(plan.operator.id));
  await admin.type("#lead-form [name=notes]", "VIP");
  // A call back in two days, typed in the browser's own time.
  await admin.$eval("#lead-form [name=callback]", (el) => {
    const t = new Date(Date.now() + 2 * 86400e3);
    const pad = (n) => String(n).padStart(2, "0");
    el.value = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T10:30`;
  });
  // Kept for the operator: no dialer takes it.
  await admin.select("#lead-form [name=callbackFor]", "agent");
  await press(admin, "#lead-form button[type=submit]");
  await admin.waitForFunction(() => !document.querySelector("#lead-form"), { timeout: WAIT });
  await waitText(admin, "#leads tbody", plan.operator.login);
  await press(admin, "#leads [data-edit]");
  await waitText(admin, "#lead-next", "a call back is scheduled");
  await waitText(admin, "#lead-next", "kept for the lead's agent");
  check((await admin.$eval("#lead-form [name=callback]", (el) => el.value)).endsWith("T10:30"), "the call back is shown in the form");
  check((await admin.$eval("#lead-form [name=callbackFor]", (el) => el.value)) === "agent", "whose call back it is is shown in the form");
  say("lead edited", { next: await text(admin, "#lead-next") });
  // Of the two uploaded leads, the call backs view shows the one a call back holds.
  await find("Upload", 2);
  await admin.select("#leads-callbacks", "true");
  await admin.waitForFunction(
    () => {
      const trs = [...document.querySelectorAll("#leads tbody tr[data-id]")];
      return trs.length === 1 && trs[0].textContent.includes("Uma Upload") && trs[0].textContent.includes("agent only");
    },
    { timeout: WAIT },
  );
  say("the call backs view", { row: await text(admin, "#leads tbody") });
  await admin.select("#leads-callbacks", "");
  await admin.waitForFunction(() => document.querySelectorAll("#leads tbody tr[data-id]").length === 2, { timeout: WAIT });
  // The operator it was given to sees the call back among theirs.
  await waitText(op, "#my-callbacks tbody", "Uma Upload");
  await waitText(op, "#my-callbacks tbody", "you only");
  say("the operator's call backs", { row: await text(op, "#my-callbacks tbody") });
  // Moved to a few seconds from now, it comes due: the operator is told, and the row says so.
  const callbackLead = await op.$eval("#my-callbacks tbody tr[data-id]", (r) => r.dataset.id);
  await admin.evaluate(async (id) => {
    const { token } = JSON.parse(localStorage.getItem("switchboard.session"));
    const r = await fetch(`/api/leads/${id}`, {
      method: "PATCH",
      headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ callback_at: new Date(Date.now() + 3000).toISOString() }),
    });
    if (!r.ok) throw new Error(`the call back was refused: ${await r.text()}`);
  }, callbackLead);
  await waitText(op, "#toast", "Call back due: Uma Upload");
  await op.waitForSelector("#my-callbacks .badge.s-due", { timeout: WAIT });
  say("the operator is told the call back is due", { row: await text(op, "#my-callbacks tbody") });
  // The operator moves it to tomorrow, for anyone to make: no longer due, no longer theirs alone.
  await press(op, `#my-callbacks [data-callback="${callbackLead}"]`);
  await op.waitForSelector("#set-callback form", { visible: true });
  check(await op.$eval("#set-callback [name=mine]", (el) => el.checked), "a call back kept for them is shown as theirs");
  await op.$eval("#set-callback [name=at]", (el) => {
    const t = new Date(Date.now() + 86400e3);
    const pad = (n) => String(n).padStart(2, "0");
    el.value = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T09:15`;
  });
  await op.$eval("#set-callback [name=mine]", (el) => (el.checked = false));
  await press(op, "#set-callback button[type=submit]");
  await waitText(op, "#toast", "Call back set for Uma Upload");
  await waitText(op, "#my-callbacks tbody", "anyone");
  check((await op.$("#my-callbacks .badge.s-due")) === null, "the moved call back is not due");
  check(await op.$eval("#set-callback", (el) => el.hidden), "the form closes");
  say("the operator moved the call back", { row: await text(op, "#my-callbacks tbody") });
  // Eleven more call backs: ten a page, the soonest first, the rest on the next page.
  const more = await admin.evaluate(async (agent) => {
    const { token } = JSON.parse(localStorage.getItem("switchboard.session"));
    const ids = [];
    for (let i = 0; i < 11; i++) {
      const r = await fetch("/api/leads", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ phone: `+1415555${String(7100 + i)}`, name: `Later ${i}`, assigned_user_id: agent, callback_at: new Date(Date.now() + (i + 2) * 86400e3).toISOString() }),
      });
      if (!r.ok) throw new Error(`a call back was refused: ${await r.text()}`);
      ids.push((await r.json()).lead.id);
    }
    return ids;
  }, plan.operator.id);
  await waitText(op, "#my-callbacks .pager", "Page 1 of 2 · 12 in all");
  check((await op.$$("#my-callbacks tbody tr[data-id]")).length === 10, "ten call backs a page");
  check((await text(op, "#my-callbacks tbody")).includes("Uma Upload"), "the soonest call back first");
  await press(op, "#my-callbacks .pager button:last-child");
  await waitText(op, "#my-callbacks .pager", "Page 2 of 2");
  check((await text(op, "#my-callbacks tbody")).includes("Later 10"), "the latest on the second page");
  say("the operator's call backs, two pages", { page2: await text(op, "#my-callbacks tbody") });
  await admin.evaluate(async (ids) => {
    const { token } = JSON.parse(localStorage.getItem("switchboard.session"));
    for (const id of ids) await fetch(`/api/leads/${id}`, { method: "DELETE", headers: { Authorization: `Bearer ${token}` } });
  }, more);

  // Act on many: tags on both uploaded leads; a delete the rules refuse is reported, not done.
  await find("Upload", 2);
  await press(admin, "#select-page");
  await waitText(admin, "#selected-count", "2 selected");
  await admin.select("#bulk [name=action]", "add_tags");
  await admin.type("#bulk [name=tags]", "spring, vip");
  // Submitted as the button would, without a click: the list's reload after the deletes above
  // may move the button under the pointer (a click once landed beside it).
  await admin.$eval("#bulk", (f) => f.requestSubmit());
  await waitText(admin, "#bulk-report .summary", "2 changed, 0 left");
  await find("Olive Caller", 1);
  await press(admin, "#leads [data-select]");
  await admin.select("#bulk [name=action]", "delete");
  await press(admin, "#bulk button[type=submit]");
  await waitText(admin, "#bulk-report .summary", "0 changed, 1 left as they were");
  await waitText(admin, "#bulk-report tbody", "CONNECTED");
  say("bulk actions", { report: await text(admin, "#bulk-report") });

  // Lists: one list's leads shown; a list made, offered to uploads, renamed, deleted.
  await waitText(admin, "#lists tbody", "Dashboard list");
  await press(admin, `[data-show-list="${plan.list.id}"]`);
  await admin.waitForFunction(
    (phones) => {
      const rows = [...document.querySelectorAll("#leads tbody tr[data-id]")].map((r) => r.textContent);
      return rows.length === phones.length && phones.every((p) => rows.some((r) => r.includes(p)));
    },
    { timeout: WAIT },
    plan.list.phones,
  );
  check((await admin.$eval("#leads-list", (el) => el.value)) === String(plan.list.id), "the list filter shows the list");
  await admin.type("#new-list [name=name]", "Spring callbacks");
  await admin.type("#new-list [name=description]", "asked to be called in spring");
  await press(admin, "#new-list button[type=submit]");
  const made = await admin.waitForFunction(
    () => [...document.querySelectorAll("#lists tbody tr[data-id]")].find((r) => r.textContent.includes("Spring callbacks"))?.dataset.id,
    { timeout: WAIT },
  );
  const listId = await made.jsonValue();
  await admin.waitForSelector(`#upload [name=listId] option[value="${listId}"]`);
  await press(admin, `[data-edit-list="${listId}"]`);
  await admin.$eval("#list-form [name=name]", (el) => (el.value = ""));
  await admin.type("#list-form [name=name]", "Spring follow-ups");
  await press(admin, "#list-form button[type=submit]");
  await waitText(admin, `#lists tr[data-id="${listId}"]`, "Spring follow-ups");
  await press(admin, `[data-delete-list="${listId}"]`);
  await admin.waitForFunction((id) => !document.querySelector(`#lists tr[data-id="${id}"]`), { timeout: WAIT }, listId);
  check(!(await admin.$(`#upload [name=listId] option[value="${listId}"]`)), "a deleted list is no longer offered");
  say("lists made, renamed, deleted", { listId });

  // --- Calls: the log holds the operator's call with its notes; the log saved as CSV ---------
  await admin.evaluate(() => (location.hash = "#/calls"));
  const callRow = await admin.waitForFunction(
    (phone) => [...document.querySelectorAll("#calls tbody tr[data-id]")].find((r) => r.textContent.includes(phone))?.dataset.id,
    { timeout: WAIT },
    lead.phone,
  );
  await press(admin, `#calls tr[data-id="${await callRow.jsonValue()}"] button`);
  await waitText(admin, "#call-detail", plan.notes);
  await waitText(admin, "#transcript", "No transcript.");
  const downloaded = new Set(readdirSync(plan.downloads));
  await press(admin, '[data-export-calls="csv"]');
  let log;
  for (let i = 0; i < 100 && !log; i++) {
    log = readdirSync(plan.downloads).find((f) => !downloaded.has(f) && f.endsWith(".csv"));
    if (!log) await new Promise((r) => setTimeout(r, 100));
  }
  check(log, "the call log was saved");
  const logLines = readFileSync(join(plan.downloads, log), "utf8").trim().split(/\r?\n/);
  check(logLines.length >= 2 && logLines.some((l) => l.includes(lead.phone)), `the saved log holds the call: ${logLines}`);
  say("call log read and saved", { file: log, rows: logLines.length - 1 });

  // --- Campaigns: start one over a list, pause it -----------------------------------------
  await admin.evaluate(() => (location.hash = "#/campaigns"));
  // Everything the view loads is in before the form is used: a card filled while a click is
  // on its way moves what is under the pointer.
  await waitText(admin, "#capacity-calls", "calls at once");
  await waitText(admin, "#failures .failures-total", "calls failed in the last 7 days");
  await waitText(admin, "#campaigns", "No campaigns yet.");
  await admin.waitForSelector(`#new-campaign [name=listId] option[value="${plan.list.id}"]`);
  await admin.type("#new-campaign [name=campaignName]", plan.campaign);
  await admin.select("#new-campaign [name=listId]", String(plan.list.id));
  await admin.type("#new-campaign [name=fromNumber]", "+14155550100");
  await admin.type("#new-campaign [name=wssUrl]", "wss://bot.example.com/stream");
  await admin.type("#new-campaign [name=maxConcurrentCalls]", "2");
  await press(admin, "#new-campaign [name=machineDetection]");
  await admin.type("#new-campaign [name=voicemailMessage]", "Hello from Acme, call us back");
  await press(admin, "#new-campaign [name=recordCalls]");
  await press(admin, "#new-campaign button[type=submit]");
  await waitText(admin, "#campaigns tbody", plan.campaign);
  const campaignId = await admin.$eval("#campaigns tbody tr[data-id]", (r) => r.dataset.id);
  await admin.waitForSelector(`[data-pause="${campaignId}"]`);
  await press(admin, `[data-pause="${campaignId}"]`);
  await admin.waitForSelector(`[data-resume="${campaignId}"]`);
  say("campaign created and paused", { campaignId });
  // Seed 003's monitoring beside it: the capacity in use, and why calls failed.
  const health = await text(admin, "#capacity .badge");
  check(["healthy", "warning", "critical"].includes(health), `the system's status: ${health}`);
  await waitText(admin, "#failures .failures-total", "calls failed in the last 7 days");
  say("capacity and failures shown", { capacity: await text(admin, "#capacity"), failures: await text(admin, "#failures .failures-total") });
  // One campaign's details: its progress, figures and timing, and its own failures.
  await press(admin, `[data-details="${campaignId}"]`);
  await waitText(admin, "#campaign-facts", "paused");
  const facts = await text(admin, "#campaign-facts");
  check(facts.includes(`of ${plan.list.phones.length}`) && facts.includes("Paused"), `the campaign's facts: ${facts}`);
  await waitText(admin, "#campaign-failures .failures-total", "calls failed");
  say("campaign details", { facts });
  // Its settings changed in place: a new name and cap; the view's refreshes leave the form
  // alone while it is being typed in.
  async function typeOver(page, sel, value) {
    await page.focus(sel);
    await page.keyboard.down("Control");
    await page.keyboard.press("KeyA");
    await page.keyboard.up("Control");
    await page.type(sel, value);
  }
  await typeOver(admin, "#campaign-settings [name=campaignName]", plan.campaignRenamed);
  await typeOver(admin, "#campaign-settings [name=maxConcurrentCalls]", "3");
  // Created hanging up on answering machines; no longer.
  check(await admin.$eval("#campaign-settings [name=machineDetection]", (i) => i.checked), "machine detection shown as chosen at creation");
  check((await admin.$eval("#campaign-settings [name=voicemailMessage]", (i) => i.value)) === "Hello from Acme, call us back", "the message shown");
  await press(admin, "#campaign-settings [name=machineDetection]");
  // Recorded as created, and it stays so.
  check(await admin.$eval("#campaign-settings [name=recordCalls]", (i) => i.checked), "recording shown as chosen at creation");
  await press(admin, "#campaign-settings button[type=submit]");
  await waitText(admin, "#toast", `${plan.campaignRenamed} saved.`);
  await waitText(admin, "#campaigns tbody", plan.campaignRenamed);
  check((await admin.$eval("#campaign-settings [name=maxConcurrentCalls]", (i) => i.value)) === "3", "the cap shown is the one saved");
  say("campaign settings saved");

  // --- Settings: an API key shown once, working, then revoked; a number not to call --------
  await admin.evaluate(() => (location.hash = "#/settings"));
  await admin.waitForSelector("#keys table");
  await admin.type("#new-key-form [name=name]", "Reporting box");
  await press(admin, "#new-key-form button[type=submit]");
  await admin.waitForSelector("#new-key code.secret");
  const key = await text(admin, "#new-key code.secret");
  const stats = () => fetch(`${base}/plivo/dashboard/stats`, { headers: { "x-api-key": key } }).then((r) => r.status);
  check((await stats()) === 200, "the new key works");
  const keyRow = await admin.waitForFunction(
    () => [...document.querySelectorAll("#keys tbody tr")].find((r) => r.textContent.includes("Reporting box") && r.querySelector("[data-revoke]")),
    { timeout: WAIT },
  );
  const keyId = await keyRow.evaluate((r) => r.dataset.id);
  await press(admin, `[data-revoke="${keyId}"]`);
  await admin.waitForFunction((id) => document.querySelector(`#keys tr[data-id="${id}"]`)?.textContent.includes("revoked"), { timeout: WAIT }, keyId);
  check((await stats()) === 401, "the revoked key is refused");
  say("api key made and revoked", { keyId });

  await admin.type("#dnc-form [name=phone]", plan.dnc);
  await admin.type("#dnc-form [name=reason]", "asked not to be called");
  await press(admin, "#dnc-form button[type=submit]");
  await waitText(admin, "#dnc tbody", plan.dnc);
  say("number blocked");
  // A file of numbers: one new, one listed already, one refused (by line). (A super admin may
  // also send one for every client; left unchecked here.)
  check(await admin.$("#dnc-upload [name=global]:not(:checked)"), "a super admin's upload offers every client");
  const dncFile = await admin.$("#dnc-upload input[type=file]");
  await dncFile.uploadFile(plan.dncCsv);
  await press(admin, "#dnc-upload button[type=submit]");
  await waitText(admin, "#dnc-upload-report .summary", "1 added");
  const dncSummary = await text(admin, "#dnc-upload-report .summary");
  check(dncSummary.includes("1 listed already") && dncSummary.includes("1 refused"), `do-not-call upload: ${dncSummary}`);
  const dncBad = await admin.$$eval("#dnc-upload-report tbody tr", (rs) => rs.map((r) => r.firstChild.textContent));
  check(JSON.stringify(dncBad) === JSON.stringify(["4"]), `the refused row's line: ${dncBad}`);
  await waitText(admin, "#dnc tbody", plan.dncUploaded);
  await admin.type("#dnc-search", plan.dncUploaded.slice(-4));
  await admin.waitForFunction(
    (phone) => {
      const rows = [...document.querySelectorAll("#dnc tbody tr")];
      return rows.length === 1 && rows[0].textContent.includes(phone);
    },
    { timeout: WAIT },
    plan.dncUploaded,
  );
  say("numbers uploaded and found");

  // Webhooks: an address inside the server's network is refused; one added for two events
  // (its secret shown once), its deliveries opened, then deleted.
  await admin.waitForSelector("#webhooks table");
  await admin.waitForSelector('#webhook-events input[value="callTerminated"]');
  await admin.type("#new-webhook-form [name=url]", "http://127.0.0.1:9/hook");
  await press(admin, "#new-webhook-form button[type=submit]");
  await waitText(admin, "#toast", "internal address");
  await admin.$eval("#new-webhook-form [name=url]", (el) => (el.value = ""));
  await admin.type("#new-webhook-form [name=url]", plan.webhook);
  await admin.type("#new-webhook-form [name=description]", "CRM");
  await press(admin, '#webhook-events input[value="callTerminated"]');
  await press(admin, '#webhook-events input[value="lead_assigned"]');
  await press(admin, "#new-webhook-form button[type=submit]");
  await admin.waitForSelector("#new-webhook code.secret");
  check((await text(admin, "#new-webhook code.secret")).startsWith("whsec_"), "the webhook's secret is shown once");
  await waitText(admin, "#webhooks tbody", plan.webhook);
  await waitText(admin, "#webhooks tbody", "callTerminated, lead_assigned");
  const hookId = await admin.$eval("#webhooks [data-deliveries]", (b) => b.dataset.deliveries);
  await press(admin, `[data-deliveries="${hookId}"]`);
  await waitText(admin, "#webhook-deliveries", "No deliveries yet.");
  await press(admin, `[data-ping="${hookId}"]`);
  await waitText(admin, "#toast", "Ping queued");
  await waitText(admin, "#webhook-deliveries tbody", "ping");
  // Its host does not resolve here: the ping waits for a retry, and may be sent again now.
  await admin.waitForSelector("#webhook-deliveries [data-resend]");
  const firstSecret = await text(admin, "#new-webhook code.secret");
  await press(admin, `[data-rotate="${hookId}"]`);
  await admin.waitForFunction((s) => document.querySelector("#new-webhook code.secret")?.textContent !== s, { timeout: WAIT }, firstSecret);
  await press(admin, "#webhook-deliveries [data-resend]");
  await waitText(admin, "#toast", "Sent again.");
  await press(admin, `[data-delete-webhook="${hookId}"]`);
  await waitText(admin, "#webhooks", "No webhooks.");
  say("webhook added and deleted", { hookId });

  // The calling schedule: a window typed wrong is refused and saves nothing; then Saturday
  // opens late, Sunday closes, a holiday and another zone.
  async function retype(sel, value) {
    await admin.$eval(sel, (el) => (el.value = ""));
    if (value) await admin.type(sel, value);
  }
  await admin.waitForSelector("#schedule-form");
  const before = await text(admin, "#schedule-version");
  await retype("#schedule-form [name=day2]", "9-5");
  await press(admin, "#schedule-form button[type=submit]");
  await waitText(admin, "#toast", 'Wednesday: "9-5"');
  check((await text(admin, "#schedule-version")) === before, "a bad window saves nothing");
  await retype("#schedule-form [name=day2]", "09:00-17:00");
  await retype("#schedule-form [name=day5]", "10:00-14:00");
  await retype("#schedule-form [name=day6]", "");
  await retype("#schedule-form [name=holidays]", "2026-12-25");
  await retype("#schedule-form [name=timezone]", plan.timezone);
  // Every lead in the schedule's zone: their numbers' zones not used.
  check(await admin.$eval("#schedule-form [name=number_zones]", (el) => el.checked), "numbers' zones are used by default");
  await admin.$eval("#schedule-form [name=number_zones]", (el) => (el.checked = false));
  await press(admin, "#schedule-form button[type=submit]");
  await waitText(admin, "#schedule-version", "Version 2");
  check(!(await admin.$eval("#schedule-form [name=number_zones]", (el) => el.checked)), "the saved choice is shown");
  check((await admin.$eval("#schedule-form [name=day5]", (el) => el.value)) === "10:00-14:00", "the saved week is shown");
  say("schedule saved", { version: await text(admin, "#schedule-version") });

  // Retry rules: busy lines are tried again after 15 minutes; four attempts a day at most.
  await admin.waitForSelector("#rules-form");
  await retype("#rules-form [name=busy-delay]", "15");
  await retype("#rules-form [name=per-day]", "4");
  await retype("#rules-form [name=wrapup]", "20");
  await press(admin, "#rules-form button[type=submit]");
  await waitText(admin, "#toast", "Retry rules saved.");
  check((await admin.$eval("#rules-form [name=busy-delay]", (el) => el.value)) === "15", "the saved rules are shown");
  say("retry rules saved");

  // A super admin adds a client.
  await admin.type("#new-client [name=name]", plan.client);
  await admin.type("#new-client [name=cap]", "7");
  await press(admin, "#new-client button[type=submit]");
  await waitText(admin, "#clients tbody", plan.client);
  say("client added");

  // --- Reports: the operator's call is counted --------------------------------------------
  await admin.evaluate(() => (location.hash = "#/reports"));
  await admin.waitForFunction(
    (login) => [...document.querySelectorAll("#report tbody tr")].some((r) => r.textContent.includes(login) && r.children[1].textContent === "1"),
    { timeout: WAIT },
    plan.operator.login,
  );
  say("report counts the call");

  // --- Team: add a person; deactivating one ends their session on their screen ------------
  await admin.evaluate(() => (location.hash = "#/team"));
  await admin.waitForSelector("#team table");
  await admin.type("#new-user [name=username]", plan.newUser);
  await admin.type("#new-user [name=password]", "a-new-password-1");
  await admin.type("#new-user [name=first_name]", "Nia");
  await press(admin, "#new-user button[type=submit]");
  await waitText(admin, "#team tbody", plan.newUser);
  // Found by name; edited: a last name and the phone calls are bridged to.
  await admin.type("#team-search", "nia");
  await admin.waitForFunction(
    (who) => {
      const rows = [...document.querySelectorAll("#team tbody tr[data-id]")];
      return rows.length === 1 && rows[0].textContent.includes(who);
    },
    { timeout: WAIT },
    plan.newUser,
  );
  await press(admin, "#team [data-edit-user]");
  await admin.type("#user-form [name=last_name]", "Okafor");
  await admin.type("#user-form [name=phone_number]", "(415) 555-0777");
  await press(admin, "#user-form button[type=submit]");
  await waitText(admin, "#team tbody", "Nia Okafor");
  await admin.$eval("#team-search", (el) => {
    el.value = "";
    el.dispatchEvent(new Event("input"));
  });
  await waitText(admin, "#team tbody", plan.operator.login);
  say("person found and edited");
  // And an admin for the new client, in its own list.
  const clientId = await admin.waitForFunction(
    (name) => [...document.querySelectorAll("#team-client option")].find((o) => o.textContent === name)?.value,
    { timeout: WAIT },
    plan.client,
  );
  const ownClient = await admin.$eval("#team-client", (s) => s.value);
  await admin.select("#team-client", await clientId.jsonValue());
  await waitText(admin, "#team", "Nothing here yet.");
  await admin.type("#new-user [name=username]", plan.clientAdmin);
  await admin.type("#new-user [name=password]", "a-new-password-2");
  await admin.select("#new-user [name=role]", "admin");
  await press(admin, "#new-user button[type=submit]");
  await waitText(admin, "#team tbody", plan.clientAdmin);
  check(!(await text(admin, "#team tbody")).includes(plan.newUser), "another client's list holds only its people");
  // A team larger than a page is paged by the server, and the filters ask it too.
  await admin.evaluate(async (client) => {
    const { token } = JSON.parse(localStorage.getItem("switchboard.session"));
    for (let i = 0; i < 30; i++) {
      const r = await fetch("/api/users", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ username: `acme_op${String(i).padStart(2, "0")}`, password: "a-new-password-3", role: "operator", client_id: Number(client) }),
      });
      if (!r.ok) throw new Error(`an operator was refused: ${await r.text()}`);
    }
  }, await clientId.jsonValue());
  await admin.select("#team-role", "operator");
  await waitText(admin, "#team .pager", "Page 1 of 2 · 30 in all");
  check((await admin.$$("#team tbody tr[data-id]")).length === 25, "a page holds 25");
  await press(admin, "#team .pager button:last-child");
  await waitText(admin, "#team .pager", "Page 2 of 2");
  check((await admin.$$("#team tbody tr[data-id]")).length === 5, "the rest on the second page");
  await admin.select("#team-role", "admin");
  await admin.waitForFunction(
    (who) => {
      const rows = [...document.querySelectorAll("#team tbody tr[data-id]")];
      return rows.length === 1 && rows[0].textContent.includes(who) && !document.querySelector("#team .pager");
    },
    { timeout: WAIT },
    plan.clientAdmin,
  );
  await admin.select("#team-role", "");
  await admin.select("#team-active", "false");
  await waitText(admin, "#team", "Nobody matches.");
  await admin.select("#team-active", "");
  await waitText(admin, "#team .pager", "Page 1 of 2 · 31 in all");
  say("a large team paged", { pager: await text(admin, "#team .pager") });
  await admin.select("#team-client", ownClient);
  await waitText(admin, "#team tbody", plan.newUser);
  say("person added");

  // Who is online: the operator's open page counts.
  const nowOf = (id) => admin.$eval(`#team tr[data-id="${id}"]`, (r) => r.lastChild.previousSibling.textContent);
  await admin.waitForFunction((id) => document.querySelector(`#team tr[data-id="${id}"]`)?.textContent.includes("online"), { timeout: WAIT }, plan.operator.id);
  check((await nowOf(plan.operator.id)) === "online", "the operator is online");
  await press(admin, `[data-deactivate="${plan.operator.id}"]`);
  await op.waitForSelector("#signin-form", { visible: true });
  await op.waitForSelector("#signin-error", { visible: true });
  check(await op.$eval("#shell", (el) => el.hidden), "the ended session's screen is closed");
  check((await op.evaluate(() => localStorage.getItem("switchboard.session"))) === null, "the token is forgotten");
  // Their page closed its stream: the admin sees them go.
  await admin.waitForFunction(
    (id) => {
      const r = document.querySelector(`#team tr[data-id="${id}"]`);
      return r && !r.textContent.includes("online") && r.textContent.includes("inactive");
    },
    { timeout: WAIT },
    plan.operator.id,
  );
  say("deactivated operator signed out", { message: await text(op, "#signin-error") });

  // --- Sign-out ---------------------------------------------------------------------------
  await press(admin, "#signout");
  await admin.waitForSelector("#signin-form", { visible: true });
  check((await admin.evaluate(() => localStorage.getItem("switchboard.session"))) === null, "sign-out forgets the token");
  await admin.reload({ waitUntil: "load" });
  await admin.waitForSelector("#signin-form", { visible: true });
  say("signed out");

  check(foreign.length === 0, `requests left this server: ${foreign.join(", ")}`);
  check(problems.length === 0, `errors in the page: ${problems.join(" | ")}`);
  say("done");
  await browser.close();
  process.exit(0);
} catch (e) {
  const pages = {};
  for (const [label, { page, trail }] of trails) {
    const shown = await page
      .evaluate(() => ({
        live: document.getElementById("live")?.textContent,
        toast: document.getElementById("toast")?.hidden ? null : document.getElementById("toast")?.textContent,
        view: document.getElementById("view")?.innerText.slice(0, 600),
      }))
      .catch((err) => ({ unreadable: err.message }));
    pages[label] = { ...shown, trail: trail.slice(-30) };
  }
  process.stdout.write(JSON.stringify({ error: e.message, problems, foreign, pages }) + "\n");
  await browser.close().catch(() => {});
  process.exit(1);
}
