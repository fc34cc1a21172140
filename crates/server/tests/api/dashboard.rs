//! The web dashboard in a real browser: headless Chromium driven by puppeteer-core
//! (`crates/server/tests/js/dashboard.mjs`), an admin and an operator side by side against a
//! served instance whose simulator answers every call. The script checks what each screen
//! shows; this test then checks that what they did reached the server.
//!
//! Needs Chromium and `npm ci` in `crates/server/tests/js`; without them it prints
//! `SKIPPED: …` and passes, unless CI's `SWITCHBOARD_TEST_REQUIRE_BROWSER=1` and
//! `SWITCHBOARD_TEST_REQUIRE_NODE=1` are set.

use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::calls::both_calls;
use crate::harness::{ADMIN_PASSWORD, TestApp};

both_calls!(admins_and_operators_work_in_the_dashboard);

async fn admins_and_operators_work_in_the_dashboard(app: TestApp) {
    let Some(chromium) = crate::harness::chromium("the dashboard test") else {
        return;
    };
    let Some(js) = crate::harness::js_package("puppeteer-core", "the dashboard test") else {
        return;
    };
    let admin = app.admin().await;
    let (op_id, op_token) = app.user(&admin, "opal", "operator", None).await;
    let lead = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            let (s, v) = app.post("/api/leads", admin, body).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["lead"]["id"].as_i64().unwrap()
        }
    };
    let lead_id =
        lead(json!({"phone": "+14155550123", "name": "Olive Caller", "priority": "urgent"})).await;
    let xss = "<img src=x onerror=\"window.__xss=1\">Eve Quill";
    lead(json!({"phone": "+14155550124", "name": xss, "priority": "low"})).await;
    let (s, list) = app
        .post("/api/lists", &admin, json!({"name": "Dashboard list"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{list}");
    let list_id = list["list"]["id"].as_i64().unwrap();
    for phone in ["+14155550301", "+14155550302"] {
        lead(json!({"phone": phone, "list_id": list_id, "priority": "low"})).await;
    }
    let (_, dash) = app.get("/api/admin/dashboard", &admin).await;
    let pending = dash["dashboard"]["leadStats"]["pendingLeads"]
        .as_i64()
        .unwrap();
    assert_eq!(pending, 4);

    let files = tempfile::tempdir().unwrap();
    let csv = files.path().join("leads.csv");
    std::fs::write(
        &csv,
        "phone,name\n+14155550401,Uma Upload\nnot a phone,Bad Row\n+14155550402,Ugo Upload\n",
    )
    .unwrap();

    let dnc_csv = files.path().join("dnc.csv");
    std::fs::write(
        &dnc_csv,
        "phone,reason\n+14155550998,uploaded\n+14155550999,again\nnope,x\n",
    )
    .unwrap();

    let downloads = files.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();

    let plan = json!({
        "chromium": chromium,
        "profile": files.path().join("profile"),
        "admin": {"login": "admin@example.com", "password": ADMIN_PASSWORD},
        "operator": {"login": "opal", "password": "password-123", "id": op_id},
        "lead": {"id": lead_id, "phone": "+14155550123"},
        "xss": {"search": "Eve Quill", "name": xss, "phone": "+14155550124"},
        "downloads": downloads,
        "dnc": "+14155550999",
        "dncCsv": dnc_csv,
        "dncUploaded": "+14155550998",
        "webhook": "https://hooks.example.com/switchboard",
        "timezone": "America/New_York",
        "pending": pending,
        "notes": "Wants a call back on Friday",
        "csv": csv,
        "badLine": 3,
        "list": {"id": list_id, "phones": ["+14155550301", "+14155550302"]},
        "campaign": "Dashboard campaign",
        "campaignRenamed": "Renamed campaign",
        "newUser": "nia",
        "client": "Acme Dialing",
        "clientAdmin": "acme_admin",
    });
    let (_, served) = run_browser(&app, &js, plan).await;

    // What the people did reached the server.
    // Signing out in the browser ended every session of the admin, this test's token too.
    assert_eq!(
        app.get("/api/auth/me", &admin).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/auth/me", &op_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let admin = app.admin().await;

    let (_, l) = app.get(&format!("/api/leads/{lead_id}"), &admin).await;
    assert_eq!(l["lead"]["assigned_user_id"], op_id, "claimed: {l}");
    let (_, calls) = app.get("/api/calls?limit=100", &admin).await;
    let call = calls["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["leadId"] == lead_id)
        .unwrap_or_else(|| panic!("the operator's call: {calls}"));
    assert_eq!(call["notes"], "Wants a call back on Friday");
    assert_ne!(call["status"], "in-progress", "hung up: {call}");
    assert!(call["endTime"].is_string(), "hung up: {call}");

    // The bulk delete was refused: the call's disposition is final.
    assert_eq!(l["lead"]["disposition"], "CONNECTED", "{l}");
    let (_, found) = app
        .get(
            "/api/leads?search=Upload&sort_by=name&sort_order=asc",
            &admin,
        )
        .await;
    let uploaded = found["leads"].as_array().unwrap();
    let names: Vec<&str> = uploaded
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ugo Upload", "Uma Upload"]);
    for l in uploaded {
        assert_eq!(l["tags"], json!(["spring", "vip"]), "{l}");
    }
    let uma = &uploaded[1];
    assert_eq!(
        (&uma["priority"], &uma["assigned_user_id"], &uma["notes"]),
        (&json!("urgent"), &json!(op_id), &json!("VIP")),
        "edited: {uma}"
    );

    let (_, campaigns) = app.get("/plivo/dashboard/campaigns", &admin).await;
    let c = &campaigns["campaigns"][0];
    assert_eq!(c["campaignName"], "Renamed campaign");
    assert_eq!(c["status"], "paused", "{c}");
    assert_eq!(c["settings"]["maxConcurrentCalls"], 3, "{c}");
    assert_eq!(c["settings"]["machineDetection"], false, "{c}");
    assert_eq!(
        c["settings"]["recordCalls"], true,
        "chosen at creation: {c}"
    );
    assert_eq!(
        c["settings"]["voicemailMessage"], "Hello from Acme, call us back",
        "{c}"
    );
    let change = crate::campaigns::campaign_change(&app, &admin).await;
    assert_eq!(
        change["detail"]["machine_detection"],
        json!([true, false]),
        "created with detection, turned off in the settings: {change}"
    );
    assert_eq!(
        c["settings"]["fromNumber"], "+14155550100",
        "only what was edited: {c}"
    );

    let (_, keys) = app.get("/api/api-keys", &admin).await;
    let key = &keys["keys"][0];
    assert_eq!(
        (key["name"].as_str(), key["kind"].as_str()),
        (Some("Reporting box"), Some("api"))
    );
    assert!(key["revoked_at"].is_string(), "revoked: {key}");
    let (_, dnc) = app.get("/api/dialer/dnc", &admin).await;
    let reasons: Vec<(&str, &str)> = dnc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["phone"].as_str().unwrap(),
                e["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("+14155550998", "uploaded"),
            ("+14155550999", "asked not to be called")
        ],
        "{dnc}"
    );

    // The list made in the page was renamed and deleted: only the test's own is left.
    let (_, lists) = app.get("/api/lists", &admin).await;
    let names: Vec<&str> = lists["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Dashboard list"], "{lists}");
    let (_, audit) = app.get("/api/audit?entity=list", &admin).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    for want in ["create", "update", "delete"] {
        assert!(actions.contains(&want), "the list was {want}d: {audit}");
    }

    // The schedule as the form sent it, once (the refused window saved nothing).
    let (_, s) = app.get("/api/dialer/schedule", &admin).await;
    assert_eq!(
        (
            &s["timezone"],
            &s["holidays"],
            &s["version"],
            &s["number_zones"]
        ),
        (
            &json!("America/New_York"),
            &json!(["2026-12-25"]),
            &json!(2),
            &json!(false)
        ),
        "{s}"
    );
    let days = |d: i64| -> Vec<(String, String)> {
        s["windows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["weekday"] == d)
            .map(|w| (w["start"].to_string(), w["end"].to_string()))
            .collect()
    };
    assert_eq!(days(5), [("\"10:00\"".into(), "\"14:00\"".into())], "{s}");
    assert_eq!(days(2), [("\"09:00\"".into(), "\"17:00\"".into())], "{s}");
    assert!(days(6).is_empty(), "Sunday closed: {s}");
    let (_, r) = app.get("/api/dialer/rules", &admin).await;
    assert_eq!(
        (
            &r["retry"]["busy"]["delay_seconds"],
            &r["max_attempts_per_day"],
            &r["wrapup_seconds"]
        ),
        (&json!(900), &json!(4), &json!(20)),
        "{r}"
    );

    let (_, users) = app.get("/api/users", &admin).await;
    let users = users["users"].as_array().unwrap();
    let nia = users.iter().find(|u| u["username"] == "nia").expect("nia");
    assert_eq!(
        (nia["role"].as_str(), nia["first_name"].as_str()),
        (Some("operator"), Some("Nia"))
    );
    let opal = users.iter().find(|u| u["id"] == op_id).unwrap();
    assert_eq!(opal["is_active"], false);
    let (_, clients) = app.get("/api/clients", &admin).await;
    let acme = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Acme Dialing")
        .unwrap_or_else(|| panic!("{clients}"));
    assert_eq!(acme["max_concurrent_calls"], 7);
    // Times as every answer writes them: to the millisecond, with an explicit offset.
    for t in [
        &acme["created_at"],
        &list["list"]["created_at"],
        &key["created_at"],
        &key["revoked_at"],
    ] {
        let t = t.as_str().unwrap();
        assert!(t.len() == 29 && t.ends_with("+00:00"), "{t}");
    }
    let (_, acme_users) = app
        .get(&format!("/api/users?client_id={}", acme["id"]), &admin)
        .await;
    let acme_users = acme_users["users"].as_array().unwrap();
    // Its admin, and the thirty operators the team's pages were tried with.
    assert_eq!(acme_users.len(), 31, "{acme_users:?}");
    let acme_admin = &acme_users[0];
    assert_eq!(acme_admin["username"], "acme_admin");
    assert!(
        !users.iter().any(|u| u["username"] == "acme_admin"),
        "not in the first client"
    );
    assert_eq!(
        (&acme_admin["client_id"], &acme_admin["role"]),
        (&acme["id"], &json!("admin"))
    );
    assert_eq!(nia["client_id"], app.state.default_client_id);
    served.stop().await;
}

/// A served app, stopped by [`Served::stop`] (stopping closes its database, so the checks after
/// the browser run come first).
struct Served {
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

/// Serve `app`, run `dashboard.mjs` with `plan` (and the server's address) and check that it
/// went to its end; the steps it printed, and the server, still running.
async fn run_browser(app: &TestApp, js: &std::path::Path, mut plan: Value) -> (Vec<Value>, Served) {
    let (addr, stop, server) = app.serve().await;
    plan["url"] = format!("http://{addr}").into();
    let run = tokio::process::Command::new("node")
        .arg(js.join("dashboard.mjs"))
        .env("SB_PLAN", plan.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser run ends within 3 minutes")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let steps: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| json!({"line": l})))
        .collect();
    assert!(
        out.status.success() && steps.last().is_some_and(|s| s["step"] == "done"),
        "the browser run failed ({}):\n{}\n{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    (steps, Served { stop, server })
}

crate::both!(the_call_queue_is_run_from_the_dashboard);

/// Seed 001's call queue, started with a cap and paused again from the Live view, on an
/// install with no leads (nothing is called).
async fn the_call_queue_is_run_from_the_dashboard(app: TestApp) {
    let Some(chromium) = crate::harness::chromium("the dashboard test") else {
        return;
    };
    let Some(js) = crate::harness::js_package("puppeteer-core", "the dashboard test") else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let (steps, served) = run_browser(
        &app,
        &js,
        json!({
            "scenario": "queue",
            "chromium": chromium,
            "profile": profile.path(),
            "admin": {"login": "admin@example.com", "password": ADMIN_PASSWORD},
        }),
    )
    .await;
    assert!(
        steps
            .iter()
            .any(|s| s["step"] == "queue started" && s["isRunning"] == true)
    );
    let admin = app.admin().await;
    let (_, status) = app.get("/api/admin/system-status", &admin).await;
    let queue = &status["systemStatus"]["callQueue"];
    assert_eq!(
        (&queue["isRunning"], &queue["maxConcurrentCalls"]),
        (&json!(false), &json!(3)),
        "{status}"
    );
    served.stop().await;
}

/// The dashboard's scripts' own unit tests (`crates/server/tests/js/units.mjs`), in Node.js.
#[test]
fn the_dashboard_scripts_pass_their_unit_tests() {
    let Some(js) = crate::harness::js_package("puppeteer-core", "the dashboard's script tests")
    else {
        return;
    };
    let out = std::process::Command::new("node")
        .arg(js.join("units.mjs"))
        .output()
        .expect("run node");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
