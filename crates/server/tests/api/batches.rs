//! Seed 002: batches for external dialers (`next-batch`), their results (`report-result`), the
//! retry rules and `explain`.

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::harness::{TestApp, test_config};
use crate::{both, both_configured};

both!(
    next_batch_answers_the_contract_shape,
    urgent_leads_go_first,
    a_closed_schedule_says_why_and_when,
    dnc_numbers_are_never_handed_out,
    report_result_updates_the_number,
    report_result_refuses_bad_input,
    concurrent_reports_each_get_their_own_answer,
    call_allowed_false_switches_dialing_off,
    a_reported_number_leaves_its_batch,
    retry_rules_defaults_updates_and_validation,
    custom_retry_rules_are_honoured,
    explain_says_why_a_lead_is_not_next,
    a_call_back_holds_a_lead_until_its_time,
    a_call_back_for_the_agent_is_kept_for_them,
    leads_are_called_in_their_numbers_zone,
);

both_configured!(
    batch_size_is_capped_by_config => small_batches,
    a_number_is_in_one_live_batch_until_its_lease_ends => short_leases,
);

fn small_batches() -> switchboard_server::Config {
    let mut c = test_config();
    c.dialer.batch_size = 2;
    c.dialer.max_batch_size = 3;
    c
}

fn short_leases() -> switchboard_server::Config {
    let mut c = test_config();
    c.dialer.lease_secs = 5;
    c
}

// ---- helpers ----

/// A fixed-offset zone where it is now between 12:00 and 13:00, so "today" and whole-day windows
/// are far from midnight whatever the hour in UTC.
fn noon_zone() -> Tz {
    let offset = 12 - Utc::now().hour() as i32;
    let name = match offset {
        0 => "Etc/GMT".to_string(),
        // The Etc zones' signs are inverted: Etc/GMT-3 is UTC+3.
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    name.parse().expect("an Etc zone")
}

/// The local date in `tz` now, and its weekday (0 = Monday).
fn today_in(tz: Tz) -> (chrono::NaiveDate, u32) {
    let d = Utc::now().with_timezone(&tz).date_naive();
    (d, d.weekday().num_days_from_monday())
}

/// `hh:mm` on local `date` in `tz`, as UTC.
fn local(tz: Tz, date: chrono::NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    tz.from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap()))
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn all_day() -> Value {
    json!(
        (0..7)
            .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
            .collect::<Vec<_>>()
    )
}

async fn put_schedule(app: &TestApp, admin: &str, body: Value) -> Value {
    let (s, v) = app
        .call(Method::PUT, "/api/dialer/schedule", Some(admin), Some(body))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Open all day, every day, in a zone where it is midday now. Returns the zone.
pub(crate) async fn open_now(app: &TestApp, admin: &str) -> Tz {
    let tz = noon_zone();
    put_schedule(
        app,
        admin,
        json!({"timezone": tz.name(), "windows": all_day(), "holidays": [], "enabled": true}),
    )
    .await;
    tz
}

pub(crate) async fn dialer_key(app: &TestApp, admin: &str) -> String {
    let (s, v) = app
        .post(
            "/api/api-keys",
            admin,
            json!({"name": "call center", "kind": "dialer"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["key"].as_str().unwrap().to_string()
}

async fn lead_with(app: &TestApp, admin: &str, phone: &str, priority: &str) -> i64 {
    let (s, v) = app
        .post(
            "/api/leads",
            admin,
            json!({"phone": phone, "priority": priority}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "create lead: {v}");
    v["lead"]["id"].as_i64().unwrap()
}

pub(crate) async fn next_batch(app: &TestApp, key: &str, query: &str) -> Value {
    let (s, v) = app
        .get(&format!("/api/dialer/next-batch{query}"), key)
        .await;
    assert_eq!(s, StatusCode::OK, "next-batch{query}: {v}");
    v
}

/// The ids of a batch, in the order given.
pub(crate) fn ids(v: &Value) -> Vec<i64> {
    assert_eq!(v["call_allowed"], true, "{v}");
    v["batch"]["numbers"]
        .as_array()
        .unwrap_or_else(|| panic!("no numbers: {v}"))
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect()
}

async fn report(app: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    app.post("/api/dialer/report-result", key, body).await
}

pub(crate) async fn report_ok(app: &TestApp, key: &str, body: Value) -> Value {
    let (s, v) = report(app, key, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body} -> {v}");
    assert_eq!(v["success"], true, "{v}");
    v
}

async fn get_lead(app: &TestApp, admin: &str, id: i64) -> Value {
    let (s, v) = app.get(&format!("/api/leads/{id}"), admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["lead"].clone()
}

async fn explain(app: &TestApp, admin: &str, id: i64) -> Value {
    let (s, v) = app.get(&format!("/api/dialer/explain/{id}"), admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("not ISO 8601 ({e}): {v}"))
        .with_timezone(&Utc)
}

/// Now, to the whole second (the precision reports are compared at).
fn now_s() -> DateTime<Utc> {
    let t = Utc::now();
    t - Duration::nanoseconds(t.nanosecond() as i64)
}

/// `t` written in Tehran's offset, as a dialer in seed 002 would.
fn iso(t: DateTime<Utc>) -> String {
    t.with_timezone(&FixedOffset::east_opt(3 * 3600 + 1800).unwrap())
        .to_rfc3339()
}

fn codes(explained: &Value) -> Vec<String> {
    explained["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

fn reason<'a>(explained: &'a Value, code: &str) -> &'a Value {
    explained["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("no '{code}' reason: {explained}"))
}

fn close(a: DateTime<Utc>, b: DateTime<Utc>, secs: i64) -> bool {
    (a - b).num_milliseconds().abs() <= secs * 1000
}

// ---- next-batch ----

async fn next_batch_answers_the_contract_shape(app: TestApp) {
    let admin = app.admin().await;
    let tz = open_now(&app, &admin).await;
    let (s, v) = app
        .post(
            "/api/users",
            &admin,
            json!({"username": "ali", "password": "password-123", "role": "operator",
                   "first_name": "Ali", "last_name": "Ahmadi", "phone_number": "+14155550190"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ali = v["user"]["id"].as_i64().unwrap();
    let (bob, _) = app.user(&admin, "bob", "operator", None).await;
    let a = app.lead(&admin, "+14155550101").await;
    let b = app.lead(&admin, "+14155550102").await;
    let key = dialer_key(&app, &admin).await;

    let before = Utc::now();
    let v = next_batch(&app, &key, "?size=5").await;
    assert_eq!(v["call_allowed"], true, "{v}");
    assert_eq!(v["timezone"], tz.name());
    assert!(close(time(&v["server_time"]), before, 5), "server_time {v}");
    assert_eq!(v["schedule_version"], 2, "the PUT made version 2");
    assert!(v.get("reason").is_none() && v.get("retry_after_seconds").is_none());
    // Active operators, the admin not among them; a user without a phone has none.
    assert_eq!(
        v["active_agents"],
        json!([
            {"id": ali, "full_name": "Ali Ahmadi", "phone_number": "+14155550190"},
            {"id": bob, "full_name": "bob", "phone_number": null},
        ])
    );
    let batch = &v["batch"];
    let batch_id = batch["batch_id"].as_str().unwrap();
    let parsed = uuid::Uuid::parse_str(batch_id).expect("batch_id is a uuid");
    assert_eq!(parsed.hyphenated().to_string(), batch_id);
    assert_eq!(
        (
            batch["size_requested"].as_i64(),
            batch["size_returned"].as_i64()
        ),
        (Some(5), Some(2))
    );
    assert_eq!(
        batch["numbers"],
        json!([
            {"id": a, "phone_number": "+14155550101"},
            {"id": b, "phone_number": "+14155550102"},
        ])
    );
    // Everything is leased now: nothing more to give, under a new batch id.
    let again = next_batch(&app, &key, "").await;
    assert_eq!(again["batch"]["size_returned"], 0);
    assert_eq!(again["batch"]["numbers"], json!([]));
    assert_ne!(again["batch"]["batch_id"], batch["batch_id"]);
    // An unavailable operator is not active.
    let (s, v) = app
        .patch(
            &format!("/api/users/{bob}"),
            &admin,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let v = next_batch(&app, &key, "?size=0").await;
    assert_eq!(
        v["active_agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [ali]
    );
}

async fn batch_size_is_capped_by_config(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let mut all = Vec::new();
    for i in 0..8 {
        all.push(app.lead(&admin, &format!("+1415555011{i}")).await);
    }
    let key = dialer_key(&app, &admin).await;

    // No size: the configured default.
    let v = next_batch(&app, &key, "").await;
    assert_eq!(
        (
            v["batch"]["size_requested"].as_i64(),
            v["batch"]["size_returned"].as_i64()
        ),
        (Some(2), Some(2)),
        "{v}"
    );
    let mut got = ids(&v);
    // More than the cap: the cap.
    let v = next_batch(&app, &key, "?size=10").await;
    assert_eq!(
        (
            v["batch"]["size_requested"].as_i64(),
            v["batch"]["size_returned"].as_i64()
        ),
        (Some(10), Some(3)),
        "{v}"
    );
    got.extend(ids(&v));
    // Zero: none, and nothing is leased.
    let v = next_batch(&app, &key, "?size=0").await;
    assert_eq!(v["call_allowed"], true);
    assert_eq!(
        (
            v["batch"]["size_requested"].as_i64(),
            v["batch"]["size_returned"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(v["batch"]["numbers"], json!([]));
    let v = next_batch(&app, &key, "?size=3").await;
    got.extend(ids(&v));
    assert_eq!(got, all, "every lead once, in order");
    assert_eq!(
        next_batch(&app, &key, "?size=3").await["batch"]["numbers"],
        json!([])
    );

    for bad in ["abc", "-1", "1.5", "1e3", "99999999999999999999"] {
        let (s, v) = app
            .get(&format!("/api/dialer/next-batch?size={bad}"), &key)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "size={bad}: {v}");
        assert!(v["message"].as_str().unwrap().contains("size"), "{v}");
    }

    // Who may ask.
    let (s, _) = app
        .call(Method::GET, "/api/dialer/next-batch", None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    for wrong in ["not-a-key".to_string(), format!("{key}x"), admin.clone()] {
        let (s, v) = app.get("/api/dialer/next-batch", &wrong).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{wrong}: {v}");
    }
    let (_, api) = app
        .post(
            "/api/api-keys",
            &admin,
            json!({"name": "crm", "kind": "api"}),
        )
        .await;
    let (_, bot) = app
        .post(
            "/api/api-keys",
            &admin,
            json!({"name": "bot", "kind": "bot"}),
        )
        .await;
    for k in [&api["key"], &bot["key"]] {
        let (s, v) = app.get("/api/dialer/next-batch", k.as_str().unwrap()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "another kind of key: {v}");
    }
    let (s, _) = report(
        &app,
        "not-a-key",
        json!({"number_id": all[0], "status": "BUSY"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A revoked dialer key stops working.
    let (_, k) = app
        .post(
            "/api/api-keys",
            &admin,
            json!({"name": "old", "kind": "dialer"}),
        )
        .await;
    let secret = k["key"].as_str().unwrap();
    assert_eq!(
        app.get("/api/dialer/next-batch?size=0", secret).await.0,
        StatusCode::OK
    );
    let id = k["apiKey"]["id"].as_i64().unwrap();
    assert_eq!(
        app.delete(&format!("/api/api-keys/{id}"), &admin).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/dialer/next-batch?size=0", secret).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn a_number_is_in_one_live_batch_until_its_lease_ends(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let mut all = Vec::new();
    for i in 0..4 {
        all.push(app.lead(&admin, &format!("+1415555012{i}")).await);
    }
    let key = dialer_key(&app, &admin).await;
    let first = next_batch(&app, &key, "?size=2").await;
    let second = next_batch(&app, &key, "?size=2").await;
    assert_ne!(first["batch"]["batch_id"], second["batch"]["batch_id"]);
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(a, all[..2], "{first}");
    assert_eq!(b, all[2..], "disjoint: {second}");
    assert_eq!(
        next_batch(&app, &key, "?size=10").await["batch"]["numbers"],
        json!([]),
        "all four are leased"
    );
    let lead = get_lead(&app, &admin, a[0]).await;
    assert_eq!(lead["status"], "calling");
    let e = explain(&app, &admin, b[1]).await;
    assert_eq!(e["batch_id"], second["batch"]["batch_id"]);
    let until = time(&reason(&e, "claimed")["until"]);
    assert!(
        close(
            until,
            time(&second["server_time"]) + Duration::seconds(5),
            2
        ),
        "leased for lease_secs: {e}"
    );

    // One is reported (final), one goes on the do-not-call list; the lease then runs out.
    report_ok(
        &app,
        &key,
        json!({"number_id": a[0], "status": "CONNECTED"}),
    )
    .await;
    let (s, v) = app
        .post("/api/dialer/dnc", &admin, json!({"phone": "+14155550123"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    tokio::time::sleep(std::time::Duration::from_millis(6000)).await;
    let e = explain(&app, &admin, a[1]).await;
    assert!(
        !codes(&e).contains(&"claimed".to_string()),
        "lease over: {e}"
    );
    let third = next_batch(&app, &key, "?size=10").await;
    assert_eq!(
        ids(&third),
        [a[1], b[0]],
        "the unreported numbers come back, not the reported or blocked ones: {third}"
    );
    assert_eq!(get_lead(&app, &admin, a[0]).await["status"], "answered");
    assert_eq!(get_lead(&app, &admin, b[1]).await["status"], "pending");
    assert_eq!(
        next_batch(&app, &key, "?size=10").await["batch"]["numbers"],
        json!([])
    );
}

async fn urgent_leads_go_first(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let low = lead_with(&app, &admin, "+14155550130", "low").await;
    let medium = lead_with(&app, &admin, "+14155550131", "medium").await;
    let high = lead_with(&app, &admin, "+14155550132", "high").await;
    let urgent = lead_with(&app, &admin, "+14155550133", "urgent").await;
    let medium2 = lead_with(&app, &admin, "+14155550134", "medium").await;
    assert_eq!(get_lead(&app, &admin, urgent).await["priority"], "urgent");
    let key = dialer_key(&app, &admin).await;
    assert_eq!(ids(&next_batch(&app, &key, "?size=1").await), [urgent]);
    assert_eq!(ids(&next_batch(&app, &key, "?size=1").await), [high]);
    assert_eq!(
        ids(&next_batch(&app, &key, "?size=10").await),
        [medium, medium2, low],
        "low only when nothing else waits"
    );

    // Asked all at once, a second set comes in the same order.
    let low = lead_with(&app, &admin, "+14155550135", "low").await;
    let urgent2 = lead_with(&app, &admin, "+14155550136", "urgent").await;
    let medium = lead_with(&app, &admin, "+14155550137", "medium").await;
    let high = lead_with(&app, &admin, "+14155550138", "high").await;
    let urgent = lead_with(&app, &admin, "+14155550139", "urgent").await;
    let v = next_batch(&app, &key, "?size=10").await;
    assert_eq!(ids(&v), [urgent2, urgent, high, medium, low], "{v}");
    // Only some room: the low one waits.
    let more_low = lead_with(&app, &admin, "+14155550145", "low").await;
    let more_medium = lead_with(&app, &admin, "+14155550146", "medium").await;
    assert_eq!(ids(&next_batch(&app, &key, "?size=1").await), [more_medium]);
    assert_eq!(ids(&next_batch(&app, &key, "?size=1").await), [more_low]);

    // A backlog: a medium lead waiting for an hour is overdue and goes before a fresh high one,
    // but never before an urgent one.
    let high = lead_with(&app, &admin, "+14155550147", "high").await;
    let old_medium = lead_with(&app, &admin, "+14155550148", "medium").await;
    let urgent = lead_with(&app, &admin, "+14155550149", "urgent").await;
    switchboard_store::sql("UPDATE leads SET created_at = $1 WHERE id = $2")
        .arg(chrono::Utc::now() - chrono::Duration::hours(1))
        .arg(old_medium)
        .execute(&mut app.state.db.write().await.unwrap())
        .await
        .unwrap();
    let v = next_batch(&app, &key, "?size=10").await;
    assert_eq!(ids(&v), [urgent, old_medium, high], "{v}");
}

async fn a_closed_schedule_says_why_and_when(app: TestApp) {
    let admin = app.admin().await;
    let lead = app.lead(&admin, "+14155550140").await;
    let key = dialer_key(&app, &admin).await;
    let tz = noon_zone();
    let (today, weekday) = today_in(tz);
    let tomorrow = today.succ_opt().unwrap();
    let closed = |v: &Value, why: &str, version: i64| {
        assert_eq!(v["call_allowed"], false, "{v}");
        assert_eq!(v["reason"], why, "{v}");
        assert_eq!(v["timezone"], tz.name());
        assert_eq!(v["schedule_version"], version, "{v}");
        assert!(v.get("batch").is_none(), "no batch when closed: {v}");
        time(&v["server_time"]);
        v["retry_after_seconds"]
            .as_i64()
            .expect("retry_after_seconds")
    };
    let retry_matches = |v: &Value, opens: DateTime<Utc>| {
        let expected = (opens - time(&v["server_time"])).num_seconds();
        let got = v["retry_after_seconds"].as_i64().unwrap();
        assert!(
            (got - expected).abs() <= 2,
            "retry_after_seconds {got}, expected {expected}: {v}"
        );
    };

    // Switched off.
    let s = put_schedule(
        &app,
        &admin,
        json!({"timezone": tz.name(), "windows": all_day(), "holidays": [], "enabled": false}),
    )
    .await;
    let v = next_batch(&app, &key, "?size=5").await;
    assert_eq!(closed(&v, "disabled", s["version"].as_i64().unwrap()), 600);

    // No window today (only tomorrow, 10:00-11:00).
    let s = put_schedule(
        &app,
        &admin,
        json!({"timezone": tz.name(), "windows": [{"weekday": (weekday + 1) % 7, "start": "10:00", "end": "11:00"}], "holidays": [], "enabled": true}),
    )
    .await;
    let v = next_batch(&app, &key, "?size=5").await;
    closed(&v, "no_window", s["version"].as_i64().unwrap());
    retry_matches(&v, local(tz, tomorrow, 10, 0));

    // A holiday today: open again at tomorrow's midnight.
    let s = put_schedule(
        &app,
        &admin,
        json!({"timezone": tz.name(), "windows": all_day(), "holidays": [today.to_string()], "enabled": true}),
    )
    .await;
    let v = next_batch(&app, &key, "?size=5").await;
    closed(&v, "holiday", s["version"].as_i64().unwrap());
    retry_matches(&v, local(tz, tomorrow, 0, 0));

    // A window later today (it is 12:xx there now).
    let s = put_schedule(
        &app,
        &admin,
        json!({"timezone": tz.name(), "windows": [{"weekday": weekday, "start": "14:00", "end": "15:00"}], "holidays": [], "enabled": true}),
    )
    .await;
    let v = next_batch(&app, &key, "?size=5").await;
    closed(
        &v,
        "outside_allowed_time_window",
        s["version"].as_i64().unwrap(),
    );
    retry_matches(&v, local(tz, today, 14, 0));
    // A window that closed earlier today, with the next one tomorrow morning.
    let s = put_schedule(
        &app,
        &admin,
        json!({"timezone": tz.name(), "windows": [{"weekday": weekday, "start": "08:00", "end": "09:00"}, {"weekday": (weekday + 1) % 7, "start": "08:30", "end": "09:00"}], "holidays": [], "enabled": true}),
    )
    .await;
    let v = next_batch(&app, &key, "?size=5").await;
    closed(
        &v,
        "outside_allowed_time_window",
        s["version"].as_i64().unwrap(),
    );
    retry_matches(&v, local(tz, tomorrow, 8, 30));

    // Nothing was leased while closed: opening hands the lead out.
    assert_eq!(get_lead(&app, &admin, lead).await["status"], "pending");
    open_now(&app, &admin).await;
    assert_eq!(ids(&next_batch(&app, &key, "?size=5").await), [lead]);
}

async fn dnc_numbers_are_never_handed_out(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let a = app.lead(&admin, "+14155550150").await;
    let b = app.lead(&admin, "+14155550151").await;
    let c = app.lead(&admin, "+14155550152").await;
    let d = app.lead(&admin, "+14155550153").await;
    // The client's own list (written another way) and a global entry.
    let (s, v) = app
        .post(
            "/api/dialer/dnc",
            &admin,
            json!({"phone": "(415) 555-0151"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/dialer/dnc",
            &admin,
            json!({"phone": "+14155550153", "global": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = dialer_key(&app, &admin).await;
    let v = next_batch(&app, &key, "?size=10").await;
    assert_eq!(ids(&v), [a, c], "{v}");
    assert_eq!(v["batch"]["size_returned"], 2);
    assert_eq!(
        next_batch(&app, &key, "?size=10").await["batch"]["numbers"],
        json!([])
    );
    for blocked in [b, d] {
        let l = get_lead(&app, &admin, blocked).await;
        assert_eq!(
            (l["status"].as_str(), l["attempts"].as_i64()),
            (Some("pending"), Some(0))
        );
    }
    // Off the list, it is handed out.
    let (_, list) = app.get("/api/dialer/dnc?search=5550151", &admin).await;
    let entry = list["entries"][0]["id"].as_i64().unwrap();
    assert_eq!(
        app.delete(&format!("/api/dialer/dnc/{entry}"), &admin)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(ids(&next_batch(&app, &key, "?size=10").await), [b]);
}

// ---- report-result ----

/// Reports sent at the same moment each get their own answer, and the end state is what they
/// would leave one after the other: two reports on one number count two attempts, a repeated
/// report is a duplicate exactly once, an unknown number is a 404 that fails no other.
async fn concurrent_reports_each_get_their_own_answer(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let mut leads = Vec::new();
    for i in 0..12 {
        leads.push(app.lead(&admin, &format!("+141555502{i:02}")).await);
    }
    let key = dialer_key(&app, &admin).await;
    let batch = next_batch(&app, &key, "?size=12").await;
    assert_eq!(ids(&batch).len(), 12);
    let t = now_s() - Duration::seconds(60);
    let mut bodies = Vec::new();
    // One final report per number: half by id, half by phone.
    for (i, id) in leads.iter().enumerate() {
        bodies.push(if i % 2 == 0 {
            json!({"number_id": id, "status": "NOT_INTERESTED", "attempted_at": iso(t),
                   "user_message": format!("note {i}")})
        } else {
            json!({"phone_number": format!("+141555502{i:02}"), "status": "NOT_INTERESTED",
                   "attempted_at": iso(t)})
        });
    }
    // The first number again, later: a second attempt; and the same report once more.
    let second = json!({"number_id": leads[0], "status": "BUSY", "attempted_at": iso(t + Duration::seconds(5))});
    bodies.push(second.clone());
    bodies.push(second);
    bodies.push(json!({"number_id": 999_999_999, "status": "BUSY"}));
    let answers = futures_util::future::join_all(
        bodies
            .iter()
            .map(|b| app.post("/api/dialer/report-result", &key, b.clone())),
    )
    .await;
    let (unknown_status, unknown) = &answers[14];
    assert_eq!(*unknown_status, StatusCode::NOT_FOUND, "{unknown}");
    for (i, (s, v)) in answers[..12].iter().enumerate() {
        assert_eq!(*s, StatusCode::OK, "{v}");
        assert_eq!(v["number"]["id"].as_i64(), Some(leads[i]), "{v}");
        if i > 0 {
            assert_eq!(
                (
                    v["duplicate"].as_bool(),
                    v["number"]["status"].as_str(),
                    v["number"]["attempts"].as_i64()
                ),
                (Some(false), Some("NOT_INTERESTED"), Some(1)),
                "{v}"
            );
        }
        if i % 2 == 0 {
            assert_eq!(v["number"]["last_user_message"], format!("note {i}"), "{v}");
        }
    }
    // Of the two identical reports, exactly one is the attempt and the other its duplicate.
    let dup: Vec<bool> = answers[12..14]
        .iter()
        .map(|(s, v)| {
            assert_eq!(*s, StatusCode::OK, "{v}");
            v["duplicate"].as_bool().unwrap()
        })
        .collect();
    assert_eq!(dup.iter().filter(|d| **d).count(), 1, "{answers:?}");
    let first = get_lead(&app, &admin, leads[0]).await;
    assert_eq!(first["attempts"], 2, "{first}");
    for (i, id) in leads.iter().enumerate().skip(1) {
        let l = get_lead(&app, &admin, *id).await;
        assert_eq!(
            (l["attempts"].as_i64(), l["status"].as_str()),
            (Some(1), Some("answered")),
            "lead {i}: {l}"
        );
    }
    // Every attempt is in the call log once: 11 + 2.
    let (n,): (i64,) = app
        .state
        .db
        .fetch_one(switchboard_store::sql(
            "SELECT COUNT(*) FROM calls WHERE provider = 'dialer'",
        ))
        .await
        .unwrap();
    assert_eq!(n, 13);
}

async fn report_result_updates_the_number(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let (s, v) = app
        .post(
            "/api/users",
            &admin,
            json!({"username": "ali", "password": "password-123", "role": "operator",
                   "first_name": "Ali", "last_name": "Ahmadi", "phone_number": "+14155550190"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ali = v["user"]["id"].as_i64().unwrap();
    let (s, v) = app
        .post(
            "/api/users",
            &admin,
            json!({"username": "sara", "password": "password-123", "role": "operator",
                   "phone_number": "+14155550191"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sara = v["user"]["id"].as_i64().unwrap();
    let lead = app.lead(&admin, "+14155550160").await;
    let other = app.lead(&admin, "+14155550161").await;
    let key = dialer_key(&app, &admin).await;
    let batch = next_batch(&app, &key, "?size=1").await;
    assert_eq!(ids(&batch), [lead]);
    let batch_id = batch["batch"]["batch_id"].as_str().unwrap().to_string();

    // BUSY by id, with an agent, a reason and the customer's words.
    let t = now_s() - Duration::seconds(30);
    let busy = json!({
        "number_id": lead, "phone_number": "+14155550160", "status": "BUSY", "reason": "line busy",
        "attempted_at": iso(t), "agent_id": ali, "user_message": "call me after five",
    });
    let v = report_ok(&app, &key, busy.clone()).await;
    assert_eq!(v["duplicate"], false);
    let n = &v["number"];
    assert_eq!(
        (
            n["id"].as_i64(),
            n["phone_number"].as_str(),
            n["status"].as_str(),
            n["lead_status"].as_str(),
            n["attempts"].as_i64(),
            n["assigned_user_id"].as_i64(),
            n["last_user_message"].as_str()
        ),
        (
            Some(lead),
            Some("+14155550160"),
            Some("BUSY"),
            Some("pending"),
            Some(1),
            Some(ali),
            Some("call me after five")
        ),
        "{v}"
    );
    assert_eq!(
        time(&n["next_attempt_at"]),
        t + Duration::seconds(300),
        "{v}"
    );
    assert_eq!(v["call_allowed"], true);
    assert_eq!(v["schedule_version"], 2);
    let l = get_lead(&app, &admin, lead).await;
    assert_eq!(
        (
            l["status"].as_str(),
            l["disposition"].as_str(),
            l["attempts"].as_i64(),
            l["assigned_user_id"].as_i64(),
            l["notes"].as_str()
        ),
        (
            Some("pending"),
            Some("BUSY"),
            Some(1),
            Some(ali),
            Some("call me after five")
        ),
        "{l}"
    );
    assert_eq!(time(&l["last_attempt_at"]), t);
    assert_eq!(time(&l["next_attempt_at"]), t + Duration::seconds(300));
    // The attempt is in the call log, with its batch, reason, message and agent.
    let (s, log) = app.get("/api/calls?search=4155550160", &admin).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    assert_eq!(log["pagination"]["total"], 1, "{log}");
    let call = &log["data"][0];
    assert_eq!(call["leadId"], lead);
    assert_eq!(call["receiver"], "+14155550160");
    assert_eq!(call["notes"], "call me after five");
    assert_eq!(time(&call["startTime"]), t);
    let m = &call["metadata"];
    assert_eq!(
        (
            m["disposition"].as_str(),
            m["reason"].as_str(),
            m["user_message"].as_str(),
            m["batch_id"].as_str()
        ),
        (
            Some("BUSY"),
            Some("line busy"),
            Some("call me after five"),
            Some(batch_id.as_str())
        ),
        "{call}"
    );
    // It left its batch.
    let e = explain(&app, &admin, lead).await;
    assert_eq!(e["batch_id"], Value::Null, "{e}");
    assert!(!codes(&e).contains(&"claimed".to_string()), "{e}");

    // The same report again is recognised and changes nothing.
    let v = report_ok(&app, &key, busy.clone()).await;
    assert_eq!(v["duplicate"], true, "{v}");
    assert_eq!(v["number"]["attempts"], 1);
    assert_eq!(
        app.get("/api/calls?search=4155550160", &admin).await.1["pagination"]["total"],
        1
    );
    // The same instant written in UTC is the same report.
    let v = report_ok(
        &app,
        &key,
        json!({"number_id": lead, "status": "BUSY", "attempted_at": t.to_rfc3339()}),
    )
    .await;
    assert_eq!(
        (v["duplicate"].as_bool(), v["number"]["attempts"].as_i64()),
        (Some(true), Some(1))
    );

    // The second BUSY by phone only, the agent by phone; no message keeps the last note.
    let t2 = t + Duration::seconds(400);
    let v = report_ok(
        &app,
        &key,
        json!({"phone_number": "(415) 555-0160", "status": "busy", "attempted_at": iso(t2), "agent_phone": "415-555-0191"}),
    )
    .await;
    let n = &v["number"];
    assert_eq!(
        (
            n["attempts"].as_i64(),
            n["lead_status"].as_str(),
            n["assigned_user_id"].as_i64(),
            n["last_user_message"].as_str()
        ),
        (
            Some(2),
            Some("pending"),
            Some(sara),
            Some("call me after five")
        ),
        "{v}"
    );
    assert_eq!(time(&n["next_attempt_at"]), t2 + Duration::seconds(300));
    // The third fails the lead (three attempts for busy by default).
    let v = report_ok(
        &app,
        &key,
        json!({"number_id": lead, "phone_number": "+14155550160", "status": "BUSY", "attempted_at": iso(t2 + Duration::seconds(400))}),
    )
    .await;
    let n = &v["number"];
    assert_eq!(
        (
            n["attempts"].as_i64(),
            n["lead_status"].as_str(),
            n["status"].as_str(),
            n["next_attempt_at"].clone()
        ),
        (Some(3), Some("failed"), Some("BUSY"), Value::Null),
        "{v}"
    );
    let e = explain(&app, &admin, lead).await;
    assert!(codes(&e).contains(&"max_attempts".to_string()), "{e}");
    assert_eq!(e["dialable_at"], Value::Null);
    assert_eq!(
        app.get("/api/calls?search=4155550160", &admin).await.1["pagination"]["total"],
        3
    );

    // A conversation, by phone only and without a time: answered, once.
    let before = Utc::now();
    let v = report_ok(
        &app,
        &key,
        json!({"phone_number": "+14155550161", "status": "CONNECTED", "user_message": "wants the premium plan"}),
    )
    .await;
    let n = &v["number"];
    assert_eq!(
        (
            n["id"].as_i64(),
            n["lead_status"].as_str(),
            n["status"].as_str(),
            n["attempts"].as_i64(),
            n["assigned_user_id"].as_i64()
        ),
        (
            Some(other),
            Some("answered"),
            Some("CONNECTED"),
            Some(1),
            None
        ),
        "{v}"
    );
    let l = get_lead(&app, &admin, other).await;
    assert_eq!(l["notes"], "wants the premium plan");
    assert!(close(time(&l["last_attempt_at"]), before, 5), "{l}");
    assert_eq!(
        ids(&next_batch(&app, &key, "?size=10").await),
        Vec::<i64>::new(),
        "neither a failed nor an answered lead is dialed again"
    );
}

async fn report_result_refuses_bad_input(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let lead = app.lead(&admin, "+14155550170").await;
    let key = dialer_key(&app, &admin).await;
    // Another client's lead is not a number this key may report.
    let other_admin = app
        .in_another_client(&admin, "Other", "otheradmin", "admin")
        .await;
    let theirs = app.lead(&other_admin, "+14155550171").await;
    let neighbour = app.lead(&admin, "+14155550172").await;

    let cases: Vec<(Value, StatusCode)> = vec![
        // The id and the phone name two different numbers: nothing is written to either.
        (
            json!({"number_id": lead, "phone_number": "+14155550172", "status": "BUSY"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"number_id": neighbour, "phone_number": "+14155550170", "status": "BUSY"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"number_id": lead, "phone_number": "not a phone", "status": "BUSY"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": lead, "status": "RINGING"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": lead, "status": ""}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"number_id": lead}), StatusCode::BAD_REQUEST),
        (
            json!({"number_id": lead, "status": 3}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"status": "BUSY"}), StatusCode::BAD_REQUEST),
        (
            json!({"phone_number": "  ", "status": "BUSY"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"phone_number": "not a phone", "status": "BUSY"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": "abc", "status": "BUSY"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": -4, "status": "BUSY"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": lead, "status": "BUSY", "attempted_at": "yesterday"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": lead, "status": "BUSY", "attempted_at": "2026-01-01T10:00:00"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": lead, "status": "BUSY", "agent_id": 99999}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": lead, "status": "BUSY", "agent_phone": "+14155559999"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": lead, "status": "BUSY", "call_allowed": "no"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": lead, "status": "BUSY", "user_message": "x".repeat(5001)}),
            StatusCode::BAD_REQUEST,
        ),
        // PostgreSQL stores no NUL: refused before it could fail a whole written batch.
        (
            json!({"number_id": lead, "status": "BUSY", "user_message": "a\u{0}b"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"number_id": 999999, "phone_number": "+14155550170", "status": "BUSY"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"phone_number": "+14155559998", "status": "BUSY"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"number_id": theirs, "status": "BUSY"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"phone_number": "+14155550171", "status": "BUSY"}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (body, want) in cases {
        let (s, v) = report(&app, &key, body.clone()).await;
        assert_eq!(s, want, "{body} -> {v}");
        assert!(v["message"].is_string(), "{body} -> {v}");
    }
    for raw in [&b"{\"number_id\": 1, \"status\": "[..], b"not json", b"[]"] {
        let (s, v) = app
            .send_bytes(
                Method::POST,
                "/api/dialer/report-result",
                Some(&key),
                "application/json",
                raw.to_vec(),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{} -> {v}",
            String::from_utf8_lossy(raw)
        );
    }
    let (s, _) = app
        .call(
            Method::POST,
            "/api/dialer/report-result",
            None,
            Some(json!({"number_id": lead, "status": "BUSY"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // An admin's session is not a dialer token.
    assert_eq!(
        report(&app, &admin, json!({"number_id": lead, "status": "BUSY"}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Nothing was written.
    let l = get_lead(&app, &admin, lead).await;
    assert_eq!(
        (
            l["status"].as_str(),
            l["disposition"].as_str(),
            l["attempts"].as_i64(),
            l["assigned_user_id"].clone()
        ),
        (Some("pending"), Some("IN_QUEUE"), Some(0), Value::Null),
        "{l}"
    );
    let t = get_lead(&app, &other_admin, theirs).await;
    assert_eq!(t["attempts"], 0);
    assert_eq!(get_lead(&app, &admin, neighbour).await["attempts"], 0);
    assert_eq!(
        app.get("/api/calls", &admin).await.1["pagination"]["total"],
        0
    );
    assert_eq!(
        app.get("/api/calls", &other_admin).await.1["pagination"]["total"],
        0
    );
    // ISO 8601 without seconds is a time too; the phone may be written in any form of it.
    let (s, v) = report(
        &app,
        &key,
        json!({"number_id": lead, "phone_number": "(415) 555-0170", "status": "BUSY", "attempted_at": "2026-01-10T16:47+03:30"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        get_lead(&app, &admin, lead).await["last_attempt_at"],
        "2026-01-10T13:17:00.000+00:00"
    );
    // `+` and digits that are not the stored form (a trunk 1 after the country code) still
    // name the number once normalized.
    let (s, v) = report(
        &app,
        &key,
        json!({"number_id": lead, "phone_number": "+114155550170", "status": "BUSY", "attempted_at": "2026-01-10T16:48+03:30"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(get_lead(&app, &admin, lead).await["attempts"], 2);
}

async fn call_allowed_false_switches_dialing_off(app: TestApp) {
    let admin = app.admin().await;
    let tz = open_now(&app, &admin).await;
    let a = app.lead(&admin, "+14155550180").await;
    let b = app.lead(&admin, "+14155550181").await;
    let key = dialer_key(&app, &admin).await;
    let t = now_s();
    let off =
        json!({"number_id": a, "status": "MISSED", "attempted_at": iso(t), "call_allowed": false});
    let v = report_ok(&app, &key, off.clone()).await;
    assert_eq!(
        (
            v["call_allowed"].as_bool(),
            v["schedule_version"].as_i64(),
            v["number"]["attempts"].as_i64()
        ),
        (Some(false), Some(3), Some(1)),
        "{v}"
    );
    let (_, s) = app.get("/api/dialer/schedule", &admin).await;
    assert_eq!(
        (
            s["enabled"].as_bool(),
            s["version"].as_i64(),
            s["timezone"].as_str()
        ),
        (Some(false), Some(3), Some(tz.name())),
        "{s}"
    );
    assert_eq!(s["windows"], all_day(), "only the switch changed");
    let v = next_batch(&app, &key, "?size=5").await;
    assert_eq!(
        (
            v["call_allowed"].as_bool(),
            v["reason"].as_str(),
            v["schedule_version"].as_i64()
        ),
        (Some(false), Some("disabled"), Some(3)),
        "{v}"
    );
    assert!(v["retry_after_seconds"].as_i64().unwrap() > 0);
    // The same report retried is still a duplicate; the switch stays off.
    let (st, v) = report(&app, &key, off.clone()).await;
    assert_eq!(st, StatusCode::OK, "a retried report: {v}");
    assert_eq!(
        (
            v["duplicate"].as_bool(),
            v["number"]["attempts"].as_i64(),
            v["call_allowed"].as_bool()
        ),
        (Some(true), Some(1), Some(false)),
        "{v}"
    );
    // Saying nothing about it leaves it alone.
    let v = report_ok(
        &app,
        &key,
        json!({"number_id": b, "status": "NOT_INTERESTED"}),
    )
    .await;
    assert_eq!(v["call_allowed"], false);
    let version = v["schedule_version"].as_i64().unwrap();
    assert_eq!(
        app.get("/api/dialer/schedule", &admin).await.1["version"],
        version
    );
    // Switched on again.
    let v = report_ok(
        &app,
        &key,
        json!({"phone_number": "+14155550181", "status": "NOT_INTERESTED", "call_allowed": true}),
    )
    .await;
    assert_eq!(
        (v["call_allowed"].as_bool(), v["schedule_version"].as_i64()),
        (Some(true), Some(version + 1))
    );
    let (_, s) = app.get("/api/dialer/schedule", &admin).await;
    assert_eq!(
        (s["enabled"].as_bool(), s["version"].as_i64()),
        (Some(true), Some(version + 1))
    );
    let v = next_batch(&app, &key, "?size=5").await;
    assert_eq!(v["call_allowed"], true, "{v}");
    assert_eq!(v["schedule_version"], version + 1);
}

async fn a_reported_number_leaves_its_batch(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let lead = app.lead(&admin, "+14155550185").await;
    let key = dialer_key(&app, &admin).await;
    assert_eq!(ids(&next_batch(&app, &key, "?size=5").await), [lead]);
    // Reported long ago as busy: out of its batch, and the retry delay is already over.
    let long_ago = now_s() - Duration::seconds(3600);
    let v = report_ok(
        &app,
        &key,
        json!({"number_id": lead, "status": "BUSY", "attempted_at": iso(long_ago)}),
    )
    .await;
    assert_eq!(
        time(&v["number"]["next_attempt_at"]),
        long_ago + Duration::seconds(300)
    );
    let e = explain(&app, &admin, lead).await;
    assert_eq!(
        (e["batch_id"].clone(), e["dialable"].as_bool()),
        (Value::Null, Some(true)),
        "{e}"
    );
    let again = next_batch(&app, &key, "?size=5").await;
    assert_eq!(
        ids(&again),
        [lead],
        "handed out again once the delay is over"
    );
    // Busy now: not before the delay ends.
    let t = now_s();
    report_ok(
        &app,
        &key,
        json!({"number_id": lead, "status": "BUSY", "attempted_at": iso(t)}),
    )
    .await;
    let l = get_lead(&app, &admin, lead).await;
    assert_eq!(
        (l["status"].as_str(), l["attempts"].as_i64()),
        (Some("pending"), Some(2))
    );
    assert_eq!(
        next_batch(&app, &key, "?size=5").await["batch"]["numbers"],
        json!([]),
        "the retry delay holds"
    );
    let e = explain(&app, &admin, lead).await;
    assert_eq!(
        time(&reason(&e, "retry_delay")["until"]),
        t + Duration::seconds(300)
    );
}

// ---- rules ----

fn default_rules() -> Value {
    json!({
        "retry": {
            "busy": {"delay_seconds": 300, "max_attempts": 3},
            "no-answer": {"delay_seconds": 600, "max_attempts": 3},
            "power-off": {"delay_seconds": 1800, "max_attempts": 3},
            "failed": {"delay_seconds": 0, "max_attempts": 1},
        },
        "max_attempts_per_day": 3,
        "wrapup_seconds": 0,
    })
}

async fn retry_rules_defaults_updates_and_validation(app: TestApp) {
    let admin = app.admin().await;
    let (s, v) = app.get("/api/dialer/rules", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, default_rules());
    let put = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            app.call(Method::PUT, "/api/dialer/rules", Some(admin), Some(body))
                .await
        }
    };
    // One outcome changed: the others keep their defaults.
    let (s, v) = put(json!({"retry": {"busy": {"delay_seconds": 60, "max_attempts": 5}}})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut want = default_rules();
    want["retry"]["busy"] = json!({"delay_seconds": 60, "max_attempts": 5});
    assert_eq!(v, want);
    assert_eq!(app.get("/api/dialer/rules", &admin).await.1, want);
    let (s, v) = put(json!({"retry": {"no-answer": {"delay_seconds": 120, "max_attempts": 2}}, "max_attempts_per_day": 7})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut want = default_rules();
    want["retry"]["no-answer"] = json!({"delay_seconds": 120, "max_attempts": 2});
    want["max_attempts_per_day"] = json!(7);
    assert_eq!(v, want, "outcomes left out are back to their defaults");
    assert_eq!(app.get("/api/dialer/rules", &admin).await.1, want);

    for bad in [
        json!({"retry": {"bizzy": {"delay_seconds": 1, "max_attempts": 1}}}),
        json!({"retry": {"busy": {"delay_seconds": -1, "max_attempts": 1}}}),
        json!({"retry": {"busy": {"delay_seconds": 2_592_001, "max_attempts": 1}}}),
        json!({"retry": {"busy": {"delay_seconds": 1, "max_attempts": 0}}}),
        json!({"retry": {"busy": {"delay_seconds": 1, "max_attempts": 101}}}),
        json!({"retry": {"busy": {"delay_seconds": 1}}}),
        json!({"retry": {"busy": {"delay_seconds": 1, "max_attempts": 1, "jitter": 2}}}),
        json!({"retry": {"busy": "often"}}),
        json!({"retry": []}),
        json!({"max_attempts_per_day": 0}),
        json!({"max_attempts_per_day": "3"}),
        json!({"other": 1}),
        json!([]),
        json!("rules"),
    ] {
        let (s, v) = put(bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {v}");
        assert!(v["message"].is_string(), "{v}");
    }
    let (s, v) = app
        .send_bytes(
            Method::PUT,
            "/api/dialer/rules",
            Some(&admin),
            "application/json",
            b"{\"retry\":".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        app.get("/api/dialer/rules", &admin).await.1,
        want,
        "refused documents changed nothing"
    );
    // An empty document restores the defaults.
    let (s, v) = put(json!({})).await;
    assert_eq!((s, v), (StatusCode::OK, default_rules()));

    // Admins only; each client has its own.
    let (_, op) = app.user(&admin, "op", "operator", None).await;
    assert_eq!(
        app.get("/api/dialer/rules", &op).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::PUT, "/api/dialer/rules", Some(&op), Some(json!({})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::GET, "/api/dialer/rules", None, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        put(json!({"max_attempts_per_day": 9})).await.0,
        StatusCode::OK
    );
    let other = app
        .in_another_client(&admin, "Other", "otheradmin", "admin")
        .await;
    assert_eq!(
        app.get("/api/dialer/rules", &other).await.1,
        default_rules()
    );
}

async fn custom_retry_rules_are_honoured(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let (s, v) = app
        .call(
            Method::PUT,
            "/api/dialer/rules",
            Some(&admin),
            Some(json!({"retry": {"busy": {"delay_seconds": 60, "max_attempts": 2}, "no-answer": {"delay_seconds": 0, "max_attempts": 5}}, "max_attempts_per_day": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let busy = app.lead(&admin, "+14155550195").await;
    let missed = app.lead(&admin, "+14155550196").await;
    let off = app.lead(&admin, "+14155550197").await;
    let key = dialer_key(&app, &admin).await;

    let t = now_s() - Duration::seconds(600);
    let v = report_ok(
        &app,
        &key,
        json!({"number_id": busy, "status": "BUSY", "attempted_at": iso(t)}),
    )
    .await;
    assert_eq!(v["number"]["lead_status"], "pending");
    assert_eq!(
        time(&v["number"]["next_attempt_at"]),
        t + Duration::seconds(60)
    );
    let v = report_ok(
        &app,
        &key,
        json!({"number_id": busy, "status": "BUSY", "attempted_at": iso(t + Duration::seconds(120))}),
    )
    .await;
    assert_eq!(
        (
            v["number"]["lead_status"].as_str(),
            v["number"]["attempts"].as_i64()
        ),
        (Some("failed"), Some(2)),
        "two attempts for busy: {v}"
    );
    // Power off keeps its default: 30 minutes.
    let v = report_ok(
        &app,
        &key,
        json!({"number_id": off, "status": "POWER_OFF", "attempted_at": iso(t)}),
    )
    .await;
    assert_eq!(
        time(&v["number"]["next_attempt_at"]),
        t + Duration::seconds(1800)
    );

    // No answer, retried at once, but only twice a day.
    for i in 0..2 {
        let v = report_ok(
            &app,
            &key,
            json!({"number_id": missed, "status": "MISSED", "attempted_at": iso(t + Duration::seconds(i * 10))}),
        )
        .await;
        assert_eq!(v["number"]["lead_status"], "pending", "{v}");
    }
    let e = explain(&app, &admin, missed).await;
    assert_eq!(e["attempts_today"], 2, "{e}");
    assert!(codes(&e).contains(&"daily_cap".to_string()), "{e}");
    assert_eq!(e["dialable"], false);
    let v = next_batch(&app, &key, "?size=10").await;
    assert_eq!(ids(&v), Vec::<i64>::new(), "capped for today: {v}");
    // Allowing more a day lets it through.
    let (s, _) = app
        .call(
            Method::PUT,
            "/api/dialer/rules",
            Some(&admin),
            Some(json!({"retry": {"no-answer": {"delay_seconds": 0, "max_attempts": 5}}, "max_attempts_per_day": 3})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let e = explain(&app, &admin, missed).await;
    assert!(!codes(&e).contains(&"daily_cap".to_string()), "{e}");
    assert_eq!(e["dialable"], true, "{e}");
    let v = next_batch(&app, &key, "?size=10").await;
    assert_eq!(ids(&v), [missed], "a higher daily cap lets it through: {v}");
}

// ---- explain ----

/// A call back for the lead's agent (`callback_for: "agent"`): no batch hands the lead out,
/// before its time or after, and `explain` says why; it moves with a new time, becomes
/// anyone's when the lead loses its agent or the agent is deactivated. Refusals change nothing.
async fn a_call_back_for_the_agent_is_kept_for_them(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    // What holds the lead back from batches (the paused call queue aside).
    let held =
        |e: &Value| -> Vec<String> { codes(e).into_iter().filter(|c| c != "paused").collect() };
    let key = dialer_key(&app, &admin).await;
    let (ann, ann_token) = app.user(&admin, "ann", "operator", None).await;
    let (bob, _) = app.user(&admin, "bob", "operator", None).await;
    let due = now_s() + Duration::seconds(2);
    let (s, v) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550230", "assigned_user_id": ann, "callbackAt": iso(due), "callbackFor": "agent"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let kept = v["lead"]["id"].as_i64().unwrap();
    assert_eq!(v["lead"]["callback_for"], "agent", "{v}");
    assert_eq!(time(&v["lead"]["callback_at"]), due, "{v}");
    let (s, v) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550231", "callback_at": iso(due)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let anyones = v["lead"]["id"].as_i64().unwrap();
    assert_eq!(v["lead"]["callback_for"], "anyone", "the default: {v}");
    assert_eq!(
        get_lead(&app, &admin, app.lead(&admin, "+14155550232").await).await["callback_for"],
        Value::Null
    );
    // An agent's lead with no call back is anyone's to dial.
    let (s, v) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550235", "assigned_user_id": bob}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let bobs = v["lead"]["id"].as_i64().unwrap();
    assert_eq!(explain(&app, &admin, bobs).await["dialable"], true);

    // Refused, nothing made or changed: a bad value; none with a call back dropped; for the
    // agent on a lead with none (after the change); on a lead holding no call back; a new
    // lead's without its time.
    let path = format!("/api/leads/{kept}");
    let plain = app.lead(&admin, "+14155550233").await;
    let (bad, conflict) = (StatusCode::BAD_REQUEST, StatusCode::CONFLICT);
    let (patch, post) = (Method::PATCH, Method::POST);
    for (method, path, body, want) in [
        (
            &patch,
            path.clone(),
            json!({"callback_for": "someone"}),
            bad,
        ),
        (&patch, path.clone(), json!({"callback_for": 1}), bad),
        (
            &patch,
            path.clone(),
            json!({"callback_for": "agent", "callback_at": null}),
            bad,
        ),
        (
            &patch,
            path.clone(),
            json!({"callback_for": "agent", "assigned_user_id": null}),
            conflict,
        ),
        (
            &patch,
            format!("/api/leads/{anyones}"),
            json!({"callback_for": "agent"}),
            conflict,
        ),
        (
            &patch,
            format!("/api/leads/{plain}"),
            json!({"callback_for": "anyone"}),
            conflict,
        ),
        (
            &post,
            "/api/leads".into(),
            json!({"phone": "+14155550234", "callback_at": iso(due), "callback_for": "agent"}),
            conflict,
        ),
        (
            &post,
            "/api/leads".into(),
            json!({"phone": "+14155550234", "assigned_user_id": ann, "callback_for": "agent"}),
            bad,
        ),
    ] {
        let (s, v) = app
            .call(method.clone(), &path, Some(&admin), Some(body.clone()))
            .await;
        assert_eq!(s, want, "{method} {path} {body}: {v}");
    }
    let (_, v) = app.get("/api/leads?search=4155550234", &admin).await;
    assert_eq!(v["pagination"]["total"], 0, "{v}");
    let lead = get_lead(&app, &admin, kept).await;
    assert_eq!(
        (
            lead["callback_for"].as_str(),
            lead["assigned_user_id"].as_i64()
        ),
        (Some("agent"), Some(ann))
    );

    // Due: the batches take anyone's call back, never the agent's.
    tokio::time::sleep(
        (due - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_millis(300),
    )
    .await;
    let batch = ids(&next_batch(&app, &key, "?size=10").await);
    assert!(
        batch.contains(&anyones) && batch.contains(&bobs),
        "{batch:?}"
    );
    assert!(!batch.contains(&kept), "{batch:?}");
    let e = explain(&app, &admin, kept).await;
    assert_eq!(e["dialable"], false, "{e}");
    assert_eq!(e["dialable_at"], Value::Null, "{e}");
    assert_eq!(held(&e), ["agent_callback"], "{e}");
    // Listed among the agent's call backs.
    let (_, v) = app
        .get(&format!("/api/leads?callback=true&agent_id={ann}"), &admin)
        .await;
    assert_eq!(v["leads"][0]["id"], kept, "{v}");

    // The agent moves it: still theirs. Given to bob: bob's. Given to nobody: anyone's.
    let later = now_s() + Duration::hours(1);
    let (s, v) = app
        .patch(&path, &ann_token, json!({"callback_at": iso(later)}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["lead"]["callback_for"], "agent", "{v}");
    assert_eq!(
        held(&explain(&app, &admin, kept).await),
        ["callback", "agent_callback"]
    );
    let (s, v) = app
        .patch(&path, &admin, json!({"assigned_user_id": bob}))
        .await;
    assert_eq!(
        (s, v["lead"]["callback_for"].as_str()),
        (StatusCode::OK, Some("agent")),
        "{v}"
    );
    let (s, v) = app
        .patch(&path, &admin, json!({"assigned_user_id": null}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["lead"]["callback_for"], "anyone", "{v}");
    assert_eq!(time(&v["lead"]["callback_at"]), later, "{v}");
    assert_eq!(held(&explain(&app, &admin, kept).await), ["callback"]);

    // Kept for ann again, then ann is deactivated: anyone's, and handed out once due.
    let soon = now_s() + Duration::seconds(2);
    let (s, v) = app
        .patch(
            &path,
            &admin,
            json!({"assigned_user_id": ann, "callback_at": iso(soon), "callback_for": "agent"}),
        )
        .await;
    assert_eq!(
        (s, v["lead"]["callback_for"].as_str()),
        (StatusCode::OK, Some("agent")),
        "{v}"
    );
    let (s, v) = app.delete(&format!("/api/users/{ann}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(get_lead(&app, &admin, kept).await["callback_for"], "anyone");
    tokio::time::sleep(
        (soon - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_millis(300),
    )
    .await;
    assert_eq!(ids(&next_batch(&app, &key, "?size=10").await), [kept]);
}

/// People set when a lead is to be called back: no batch hands it out before, `explain` says
/// why and until when, and dropping it makes the lead next again. Only a pending lead takes
/// one, at a time with its offset, in the future, within a year; refusals change nothing.
async fn a_call_back_holds_a_lead_until_its_time(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let key = dialer_key(&app, &admin).await;
    let lead = app.lead(&admin, "+14155550210").await;
    let at = now_s() + Duration::hours(2);
    let path = format!("/api/leads/{lead}");
    let (s, v) = app
        .patch(&path, &admin, json!({"callback_at": iso(at)}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(time(&v["lead"]["next_attempt_at"]), at, "{v}");
    assert_eq!(time(&v["lead"]["callback_at"]), at, "{v}");
    // Listed among the call backs, soonest first; not among the others.
    let other = app.lead(&admin, "+14155550213").await;
    let (s, v) = app
        .get(
            "/api/leads?callback=true&sort_by=next_attempt_at&sort_order=asc",
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let listed: Vec<i64> = v["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [lead], "{v}");
    assert_eq!(v["pagination"]["total"], 1);
    let (_, v) = app.get("/api/leads?callback=false", &admin).await;
    assert_eq!(v["leads"][0]["id"], other, "{v}");
    assert_eq!(v["leads"][0]["callback_at"], Value::Null);
    assert_eq!(v["pagination"]["total"], 1);
    let (s, _) = app.get("/api/leads?callback=maybe", &admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, deleted) = app.delete(&format!("/api/leads/{other}"), &admin).await;
    assert_eq!(deleted["success"], true, "{deleted}");
    let e = explain(&app, &admin, lead).await;
    assert_eq!(e["dialable"], false, "{e}");
    assert_eq!(time(&reason(&e, "callback")["until"]), at, "{e}");
    assert_eq!(ids(&next_batch(&app, &key, "").await), Vec::<i64>::new());

    // Refused, and nothing changes.
    for (body, want) in [
        (
            json!({"callback_at": "tomorrow at 3"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"callback_at": "2026-12-08T15:00:00"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"callback_at": iso(now_s() - Duration::minutes(1))}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"callback_at": iso(now_s() + Duration::days(400))}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"callback_at": 1765206000}), StatusCode::BAD_REQUEST),
        (
            json!({"callback_at": iso(at), "status": "claimed"}),
            StatusCode::CONFLICT,
        ),
    ] {
        let (s, v) = app.patch(&path, &admin, body.clone()).await;
        assert_eq!(s, want, "{body}: {v}");
    }
    assert_eq!(
        time(&get_lead(&app, &admin, lead).await["next_attempt_at"]),
        at
    );

    // Dropped: the lead is next again.
    let (s, v) = app.patch(&path, &admin, json!({"callback_at": null})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["lead"]["next_attempt_at"], Value::Null);
    assert_eq!(v["lead"]["callback_at"], Value::Null);
    assert!(!codes(&explain(&app, &admin, lead).await).contains(&"callback".to_string()));
    assert_eq!(ids(&next_batch(&app, &key, "").await), [lead]);

    // A lead given up on (MISSED after its last try, which people may change) takes a call
    // back only when set pending with it; a new lead may carry one from the start.
    let missed = app.lead(&admin, "+14155550211").await;
    let mpath = format!("/api/leads/{missed}");
    let (s, _) = app
        .patch(
            &mpath,
            &admin,
            json!({"disposition": "MISSED", "status": "failed"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .patch(&mpath, &admin, json!({"callback_at": iso(at)}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["message"].as_str().unwrap().contains("pending"), "{v}");
    let (s, v) = app
        .patch(
            &mpath,
            &admin,
            json!({"callback_at": iso(at), "status": "pending"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["lead"]["status"], "pending");
    let (s, v) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550212", "callbackAt": iso(at)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(time(&v["lead"]["next_attempt_at"]), at);
    assert_eq!(ids(&next_batch(&app, &key, "").await), Vec::<i64>::new());
}

async fn explain_says_why_a_lead_is_not_next(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let fresh = lead_with(&app, &admin, "+14155550200", "high").await;
    let blocked = app.lead(&admin, "+14155550201").await;
    app.post("/api/dialer/dnc", &admin, json!({"phone": "+14155550201"}))
        .await;

    let e = explain(&app, &admin, fresh).await;
    assert_eq!(
        (
            e["lead_id"].as_i64(),
            e["phone"].as_str(),
            e["status"].as_str(),
            e["priority"].as_str(),
            e["dialable"].as_bool(),
            e["attempts"].as_i64(),
            e["batch_id"].clone()
        ),
        (
            Some(fresh),
            Some("+14155550200"),
            Some("pending"),
            Some("high"),
            Some(true),
            Some(0),
            Value::Null
        ),
        "{e}"
    );
    // The call queue is paused by default: noted, but batches still dial.
    assert_eq!(codes(&e), ["paused"], "{e}");
    assert!(
        close(time(&e["dialable_at"]), time(&e["checked_at"]), 1),
        "{e}"
    );
    assert_eq!(e["schedule_version"], 2);

    let e = explain(&app, &admin, blocked).await;
    assert_eq!(e["dialable"], false);
    assert_eq!(reason(&e, "dnc")["until"], Value::Null);
    assert_eq!(e["dialable_at"], Value::Null, "{e}");

    // In a batch: claimed until the lease ends.
    let key = dialer_key(&app, &admin).await;
    let batch = next_batch(&app, &key, "?size=5").await;
    assert_eq!(ids(&batch), [fresh]);
    let e = explain(&app, &admin, fresh).await;
    assert_eq!(e["dialable"], false);
    assert_eq!(e["batch_id"], batch["batch"]["batch_id"]);
    let until = time(&reason(&e, "claimed")["until"]);
    assert!(
        close(
            until,
            time(&batch["server_time"]) + Duration::seconds(900),
            2
        ),
        "{e}"
    );
    assert!(close(time(&e["dialable_at"]), until, 1), "{e}");

    // After BUSY: the retry delay.
    let t = now_s();
    report_ok(
        &app,
        &key,
        json!({"number_id": fresh, "status": "BUSY", "attempted_at": iso(t)}),
    )
    .await;
    let e = explain(&app, &admin, fresh).await;
    assert_eq!(
        (
            e["dialable"].as_bool(),
            e["disposition"].as_str(),
            e["attempts"].as_i64(),
            e["attempts_today"].as_i64()
        ),
        (Some(false), Some("BUSY"), Some(1), Some(1)),
        "{e}"
    );
    assert!(!codes(&e).contains(&"claimed".to_string()), "{e}");
    assert_eq!(
        time(&reason(&e, "retry_delay")["until"]),
        t + Duration::seconds(300)
    );
    assert_eq!(time(&e["dialable_at"]), t + Duration::seconds(300));

    // Switched off: the schedule says so.
    let (_, sch) = app.get("/api/dialer/schedule", &admin).await;
    put_schedule(
        &app,
        &admin,
        json!({"timezone": sch["timezone"], "windows": sch["windows"], "holidays": [], "enabled": false}),
    )
    .await;
    let other = app.lead(&admin, "+14155550202").await;
    let e = explain(&app, &admin, other).await;
    assert_eq!(codes(&e), ["disabled", "paused"], "{e}");
    assert_eq!(
        (e["dialable"].as_bool(), e["dialable_at"].clone()),
        (Some(false), Value::Null),
        "{e}"
    );

    // Unknown, malformed, another client's, not an admin.
    assert_eq!(
        app.get("/api/dialer/explain/999999", &admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/dialer/explain/abc", &admin).await.0,
        StatusCode::BAD_REQUEST
    );
    let other_admin = app
        .in_another_client(&admin, "Other", "otheradmin", "admin")
        .await;
    let theirs = app.lead(&other_admin, "+14155550203").await;
    let (s, v) = app
        .get(&format!("/api/dialer/explain/{theirs}"), &admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = app
        .get(&format!("/api/dialer/explain/{fresh}"), &other_admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(explain(&app, &other_admin, theirs).await["lead_id"], theirs);
    let (_, op) = app.user(&admin, "op", "operator", None).await;
    assert_eq!(
        app.get(&format!("/api/dialer/explain/{fresh}"), &op)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("/api/dialer/explain/{fresh}"), &key)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

/// A lead without a zone of its own is called in its number's: New York's area code, the
/// United Kingdom. A country across zone lines (Spain and its Canaries) is left to the
/// schedule, and a lead's own zone comes first. The schedule may turn it off.
async fn leads_are_called_in_their_numbers_zone(app: TestApp) {
    let admin = app.admin().await;
    // In UTC, open two hours either side of now, every day: New York (four or five hours
    // behind) is closed whenever this runs, London (level or an hour ahead) open.
    let h = Utc::now().hour() as i32;
    let hm = |x: i32| format!("{:02}:00", x);
    let windows: Vec<Value> = (0..7)
        .flat_map(|d| {
            let (a, b) = (h - 2, h + 2);
            let mut w = Vec::new();
            if a < 0 {
                w.push(json!({"weekday": d, "start": hm(a + 24), "end": "24:00"}));
                w.push(json!({"weekday": d, "start": "00:00", "end": hm(b)}));
            } else if b > 24 {
                w.push(json!({"weekday": d, "start": hm(a), "end": "24:00"}));
                w.push(json!({"weekday": d, "start": "00:00", "end": hm(b - 24)}));
            } else {
                let end = if b == 24 { "24:00".to_string() } else { hm(b) };
                w.push(json!({"weekday": d, "start": hm(a), "end": end}));
            }
            w
        })
        .collect();
    let schedule = |number_zones: Option<bool>| {
        let mut s = json!({"timezone": "UTC", "windows": windows, "holidays": [], "enabled": true});
        if let Some(z) = number_zones {
            s["number_zones"] = json!(z);
        }
        s
    };
    let v = put_schedule(&app, &admin, schedule(None)).await;
    assert_eq!(v["number_zones"], true, "on unless turned off: {v}");

    let ny = lead_with(&app, &admin, "+12125550142", "medium").await;
    let uk = lead_with(&app, &admin, "+442079460142", "medium").await;
    let es = lead_with(&app, &admin, "+34912345678", "medium").await;
    let (s, v) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+12125550143", "timezone": "Europe/London"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let own = v["lead"]["id"].as_i64().unwrap();

    let e = explain(&app, &admin, ny).await;
    assert_eq!(
        (&e["timezone"], &e["timezone_source"], &e["dialable"]),
        (&json!("America/New_York"), &json!("number"), &json!(false)),
        "{e}"
    );
    assert!(
        codes(&e).contains(&"outside_allowed_time_window".to_string()),
        "{e}"
    );
    for (id, zone, source) in [
        (uk, "Europe/London", "number"),
        (es, "UTC", "schedule"),
        (own, "Europe/London", "lead"),
    ] {
        let e = explain(&app, &admin, id).await;
        assert_eq!(
            (&e["timezone"], &e["timezone_source"], &e["dialable"]),
            (&json!(zone), &json!(source), &json!(true)),
            "{e}"
        );
    }
    // The batch takes the three whose window is open, never New York's.
    let key = dialer_key(&app, &admin).await;
    let mut got = ids(&next_batch(&app, &key, "?size=10").await);
    got.sort();
    let mut want = vec![uk, es, own];
    want.sort();
    assert_eq!(got, want);

    // Turned off: New York's lead is in the schedule's zone, and open.
    let v = put_schedule(&app, &admin, schedule(Some(false))).await;
    assert_eq!(v["number_zones"], false, "{v}");
    let e = explain(&app, &admin, ny).await;
    assert_eq!(
        (&e["timezone"], &e["timezone_source"], &e["dialable"]),
        (&json!("UTC"), &json!("schedule"), &json!(true)),
        "{e}"
    );
    assert_eq!(ids(&next_batch(&app, &key, "?size=10").await), vec![ny]);
    let (s, v) = app
        .call(
            Method::PUT,
            "/api/dialer/schedule",
            Some(&admin),
            Some(json!({"timezone": "UTC", "windows": [], "enabled": true, "number_zones": "yes"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (_, v) = app.get("/api/dialer/schedule", &admin).await;
    assert_eq!(
        v["number_zones"], false,
        "a refused schedule changes nothing: {v}"
    );
}
