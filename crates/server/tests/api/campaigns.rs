//! Seed 003 campaigns and seed 001's call queue, run by the dialer engine on the simulator.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use switchboard_server::config::Secret;
use switchboard_telephony::simulator::SimulatorConfig;

use crate::harness::{Backend, TestApp, test_config};

/// A fast simulator (calls last tens of milliseconds) and an engine that looks often.
pub async fn dial_app(backend: Backend, answer_rate: f64) -> Option<TestApp> {
    let mut c = test_config();
    c.public_url = Some("https://switchboard.example.com".into());
    c.telephony.simulator = SimulatorConfig {
        seed: 11,
        answer_rate,
        busy_rate: (1.0 - answer_rate) / 2.0,
        failed_rate: 0.0,
        ring_secs: (1.0, 3.0),
        talk_mean_secs: 5.0,
        time_scale: 50.0,
        machine_rate: 0.0,
    };
    c.dialer.calls_per_second = 1000;
    c.dialer.tick_ms = 20;
    c.dialer.heartbeat_secs = 2;
    c.bot_api_key = Some(Secret("bot-key-for-tests-1".into()));
    TestApp::with_config(backend, c).await
}

macro_rules! both_dial {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::harness::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = crate::campaigns::dial_app(Backend::Sqlite, 0.6).await { super::$name(app).await }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = crate::campaigns::dial_app(Backend::Postgres, 0.6).await { super::$name(app).await }
            }
        }
    )*};
}

both_dial!(
    campaign_calls_each_lead_once_under_its_caps,
    campaign_pauses_and_resumes_from_its_index,
    campaign_outlives_its_list,
    campaign_routes_validate_in_seed_003_shape,
    queue_dials_by_priority_through_free_agents,
    campaign_settings_change_while_it_runs,
    a_call_back_for_the_agent_goes_to_them,
    agents_have_their_wrap_up_between_queue_calls,
);

/// A campaign with machine detection on (its own `machineDetection`, or the server's
/// `SWITCHBOARD_MACHINE_DETECTION`) asks for it on its calls: a simulator whose every answered
/// call reaches a machine has them hung up, each lead left MISSED (pending, to be retried by
/// rule) rather than CONNECTED. The choice can be changed; a bad value is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_hang_up_on_answering_machines() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut c = test_config();
        c.public_url = Some("https://switchboard.example.com".into());
        c.telephony.simulator = SimulatorConfig {
            seed: 5,
            answer_rate: 1.0,
            busy_rate: 0.0,
            failed_rate: 0.0,
            machine_rate: 1.0,
            ring_secs: (1.0, 2.0),
            talk_mean_secs: 5.0,
            time_scale: 50.0,
        };
        c.dialer.calls_per_second = 1000;
        c.dialer.tick_ms = 20;
        c.dialer.machine_detection = backend == Backend::Postgres;
        c.telephony.record_calls = backend == Backend::Postgres;
        let Some(app) = TestApp::with_config(backend, c).await else {
            continue;
        };
        let admin = app.admin().await;
        always_open(&app, &admin).await;
        let (list, _) = list_with(&app, &admin, "voicemail", 6).await;
        let (s, v) = app
            .post(
                "/plivo/create-campaign",
                &admin,
                // SQLite: the campaign's own choice, with a message to leave; PostgreSQL: the
                // server's default, hanging up.
                if backend == Backend::Sqlite {
                    json!({"campaignName": "Voicemail", "listId": list.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/stream", "maxConcurrentCalls": 6, "machineDetection": true, "voicemailMessage": "  Please call Acme back  ", "recordCalls": true})
                } else {
                    json!({"campaignName": "Voicemail", "listId": list.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/stream", "maxConcurrentCalls": 6})
                },
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["data"]["machineDetection"], true, "{v}");
        let message = (backend == Backend::Sqlite).then_some("Please call Acme back");
        assert_eq!(v["data"]["voicemailMessage"], json!(message), "{v}");
        // Recorded: SQLite's campaign by its own choice, PostgreSQL's by the server's default.
        assert_eq!(v["data"]["recordCalls"], true, "{v}");
        let id = v["campaignId"].as_str().unwrap().to_string();
        let start = Instant::now();
        loop {
            let ended = scalar(
                &app,
                &format!(
                    "SELECT COUNT(*) FROM calls WHERE campaign_id = {id} AND status = 'no-answer'"
                ),
            )
            .await;
            if ended == 6 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{ended} of 6 ended"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let machines = scalar(
            &app,
            // The simulator: 3 s to detect; with a message, a 12 s greeting and 4 words.
            &format!(
                "SELECT COUNT(*) FROM calls WHERE campaign_id = {id} AND answered_by = 'machine_start' AND duration_secs = {}",
                if message.is_some() { 17 } else { 3 }
            ),
        )
        .await;
        assert_eq!(machines, 6, "{backend:?}");
        let missed = scalar(
            &app,
            &format!("SELECT COUNT(*) FROM leads WHERE list_id = {list} AND disposition = 'MISSED' AND status = 'pending' AND attempts = 1"),
        )
        .await;
        assert_eq!(missed, 6, "{backend:?}");
        let marked = scalar(
            &app,
            &format!(
                "SELECT COUNT(*) FROM calls WHERE campaign_id = {id} AND {}",
                if backend == Backend::Sqlite {
                    "json_extract(metadata, '$.record') = 1"
                } else {
                    "metadata->>'record' = 'true'"
                }
            ),
        )
        .await;
        assert_eq!(marked, 6, "{backend:?}");
        // No conversation anywhere: the campaign's progress, the people's counts and the
        // call log's stats take none of them for one (nor their greetings for talk time).
        let (_, p) = app
            .get(&format!("/plivo/campaign-progress/{id}"), &admin)
            .await;
        assert_eq!(p["statistics"]["connectedCalls"], 0, "{p}");
        assert_eq!(p["statistics"]["failedCalls"], 6, "{p}");
        assert_eq!(p["statistics"]["avgCallDuration"], 0.0, "{p}");
        let (s, d) = app.get("/api/admin/dashboard", &admin).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        let calls = &d["dashboard"]["callStats"];
        assert_eq!(calls["totalCalls"], 6, "{d}");
        assert_eq!(calls["answeredCalls"], 0, "{d}");
        assert_eq!(calls["completedCalls"], 0, "{d}");
        assert_eq!(calls["totalDuration"], 0, "{d}");
        let (_, st) = app.get("/api/calls/stats", &admin).await;
        assert_eq!(st["data"]["successfulCalls"], 0, "{st}");
        assert_eq!(st["data"]["missedCalls"], 6, "{st}");
        let (_, f) = app
            .get(
                &format!("/plivo/dashboard/failed-calls?campaignId={id}"),
                &admin,
            )
            .await;
        assert_eq!(
            f["analysis"]["failureReasons"],
            json!([{"reason": "answering machine", "count": 6, "percentage": 100.0}]),
            "{f}"
        );
        // Counted (the counter is the test process's: other tests' machines add to it).
        let metrics = crate::metrics::scrape(&app).await;
        let counted: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("switchboard_calls_answered_by_machine_total "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        assert!(counted >= 6, "{metrics}");

        // Changed (a finished campaign takes no new call settings: a fresh one here, held by
        // a closed calling schedule so that it keeps running).
        let (s, v) = app
            .call(
                axum::http::Method::PUT,
                "/api/dialer/schedule",
                Some(&admin),
                Some(json!({"timezone": "UTC", "windows": [], "holidays": [], "enabled": false})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (list2, _) = list_with(&app, &admin, "voicemail-two", 2).await;
        let (_, v) = app
            .post(
                "/plivo/create-campaign",
                &admin,
                json!({"campaignName": "Second", "listId": list2.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/stream", "machineDetection": false}),
            )
            .await;
        assert_eq!(v["data"]["machineDetection"], false, "{v}");
        assert_eq!(
            v["data"]["recordCalls"],
            backend == Backend::Postgres,
            "the server's default: {v}"
        );
        let second = v["campaignId"].as_str().unwrap().to_string();
        for (field, bad) in [
            ("voicemailMessage", json!("x".repeat(1001))),
            ("machineDetection", json!("yes")),
            ("machineDetection", json!(1)),
            ("recordCalls", json!("yes")),
        ] {
            let mut body = json!({ "campaignId": second });
            body[field] = bad;
            let (s, v) = app.post("/plivo/update-campaign", &admin, body).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {v}");
            assert_eq!(v["success"], false, "{v}");
        }
        // Refused at creation, in seed 003's shape, and nothing is created.
        let before = scalar(&app, "SELECT COUNT(*) FROM campaigns").await;
        for (field, bad) in [
            ("machineDetection", json!("on")),
            ("recordCalls", json!(1)),
            ("voicemailMessage", json!(5)),
            ("voicemailMessage", json!("x".repeat(1001))),
            ("voicemailMessage", json!("nul \u{0} here")),
        ] {
            let mut body = json!({"campaignName": "Bad", "listId": list2.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/stream", "machineDetection": true});
            body[field] = bad;
            let (s, v) = app.post("/plivo/create-campaign", &admin, body).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {v}");
            assert_eq!(v["success"], false, "{v}");
        }
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM campaigns").await, before);
        let (s, v) = app
            .post(
                "/plivo/update-campaign",
                &admin,
                json!({"campaignId": id, "machineDetection": false}),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "a completed campaign places no more calls: {v}"
        );
        let (s, v) = app
            .post(
                "/plivo/update-campaign",
                &admin,
                json!({"campaignId": second, "machineDetection": true, "voicemailMessage": "Hi"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["data"]["status"], "running", "{v}");
        assert_eq!(v["data"]["machineDetection"], true, "{v}");
        assert_eq!(v["data"]["voicemailMessage"], "Hi", "{v}");
        let (s, v) = app
            .post(
                "/plivo/update-campaign",
                &admin,
                json!({"campaignId": second, "voicemailMessage": ""}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["data"]["voicemailMessage"], Value::Null, "dropped: {v}");
        let (s, v) = app
            .post(
                "/plivo/update-campaign",
                &admin,
                json!({"campaignId": second, "recordCalls": true}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["data"]["recordCalls"], true, "{v}");
        let (s, v) = app
            .post(
                "/plivo/update-campaign",
                &admin,
                json!({"campaignId": id, "recordCalls": true}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "a completed campaign: {v}");
    }
}

/// `POST /plivo/update-campaign`: a paused campaign gets a new name, caller id, voice bot and
/// cap; the calls it places after that use them; once it has ended only its name may change.
/// Refusals in seed 003's shape change nothing.
async fn campaign_settings_change_while_it_runs(app: TestApp) {
    let admin = app.admin().await;
    always_open(&app, &admin).await;
    let (list, _) = list_with(&app, &admin, "changing", 12).await;
    let (_, v) = app
        .post(
            "/plivo/create-campaign",
            &admin,
            json!({"campaignName": "Before", "listId": list, "fromNumber": "+14155550100", "wssUrl": "ws://bot.local/old", "maxConcurrentCalls": 1}),
        )
        .await;
    let id = v["campaignId"].as_str().unwrap().to_string();
    let (s, v) = app
        .post("/plivo/pause-campaign", &admin, json!({"campaignId": id}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_status(&app, &admin, &id, "paused", Duration::from_secs(10)).await;
    let before_calls = scalar(
        &app,
        &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {id}"),
    )
    .await;

    // Refusals first: nothing changes.
    let (other_admin, op) = (
        app.in_another_client(&admin, "Elsewhere", "else_admin", "admin")
            .await,
        app.user(&admin, "cora", "operator", None).await.1,
    );
    for (token, body, want) in [
        (&admin, json!({"campaignId": id}), StatusCode::BAD_REQUEST),
        (
            &admin,
            json!({"campaignId": id, "maxConcurrentCalls": 0}),
            StatusCode::BAD_REQUEST,
        ),
        (
            &admin,
            json!({"campaignId": id, "maxConcurrentCalls": "3"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            &admin,
            json!({"campaignId": id, "wssUrl": "https://x"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            &admin,
            json!({"campaignId": id, "fromNumber": "12"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            &admin,
            json!({"campaignId": id, "campaignName": " "}),
            StatusCode::BAD_REQUEST,
        ),
        (
            &admin,
            json!({"campaignName": "x"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            &admin,
            json!({"campaignId": "999999", "campaignName": "x"}),
            StatusCode::NOT_FOUND,
        ),
        (
            &other_admin,
            json!({"campaignId": id, "campaignName": "x"}),
            StatusCode::NOT_FOUND,
        ),
        (
            &op,
            json!({"campaignId": id, "campaignName": "x"}),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (s, v) = app
            .post("/plivo/update-campaign", token, body.clone())
            .await;
        assert_eq!(s, want, "{body} → {v}");
        assert!(
            v["success"] == false && v["code"].is_string(),
            "seed 003's shape: {v}"
        );
    }
    let (_, d) = app.get("/plivo/dashboard/campaigns", &admin).await;
    assert!(d.to_string().contains("Before"), "unchanged: {d}");

    let (s, v) = app
        .post(
            "/plivo/update-campaign",
            &admin,
            json!({"campaignId": id, "campaignName": " After ", "fromNumber": "(415) 555-0199", "wssUrl": "wss://bot.local/new", "maxConcurrentCalls": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["data"]["campaignName"].as_str(),
            v["data"]["fromNumber"].as_str(),
            v["data"]["wssUrl"].as_str(),
            v["data"]["maxConcurrentCalls"].as_i64(),
            v["data"]["status"].as_str()
        ),
        (
            Some("After"),
            Some("+14155550199"),
            Some("wss://bot.local/new"),
            Some(3),
            Some("paused")
        ),
        "{v}"
    );
    let change = campaign_change(&app, &admin).await;
    assert_eq!(
        change["detail"]["max_concurrent"],
        json!([1, 3]),
        "{change}"
    );
    assert_eq!(
        change["detail"]["name"],
        json!(["Before", "After"]),
        "{change}"
    );

    // Resumed, it calls the rest from the new number, then completes.
    let (s, v) = app
        .post("/plivo/resume-campaign", &admin, json!({"campaignId": id}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_status(&app, &admin, &id, "completed", Duration::from_secs(60)).await;
    let total = scalar(
        &app,
        &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {id}"),
    )
    .await;
    let new_number = scalar(
        &app,
        &format!(
            "SELECT COUNT(*) FROM calls WHERE campaign_id = {id} AND from_number = '+14155550199'"
        ),
    )
    .await;
    assert_eq!(
        new_number,
        total - before_calls,
        "{before_calls} calls before the change, {total} in all"
    );
    assert!(new_number > 0);

    // Ended: a new cap is refused, a new name is not.
    let (s, v) = app
        .post(
            "/plivo/update-campaign",
            &admin,
            json!({"campaignId": id, "maxConcurrentCalls": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("completed"), "{v}");
    let (s, v) = app
        .post(
            "/plivo/update-campaign",
            &admin,
            json!({"campaignId": id, "campaignName": "Done"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["maxConcurrentCalls"], 3);
}

/// Dial around the clock, so tests pass at any hour.
pub async fn always_open(app: &TestApp, admin: &str) {
    let windows: Vec<Value> = (0..7)
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
        .collect();
    let (s, v) = app
        .call(
            axum::http::Method::PUT,
            "/api/dialer/schedule",
            Some(admin),
            Some(json!({"timezone": "UTC", "windows": windows, "holidays": [], "enabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// The newest change of a campaign in the audit log.
pub async fn campaign_change(app: &TestApp, admin: &str) -> Value {
    let (_, log) = app.get("/api/audit?entity=campaign", admin).await;
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "update")
        .cloned()
        .unwrap_or_else(|| panic!("no campaign change in {log}"))
}

/// A list with `n` leads; returns the list id and the lead ids.
pub async fn list_with(app: &TestApp, admin: &str, name: &str, n: usize) -> (i64, Vec<i64>) {
    let (s, v) = app.post("/api/lists", admin, json!({"name": name})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let list = v["list"]["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let (s, v) = app
            .post(
                "/api/leads",
                admin,
                json!({"phone": format!("+1415{:03}{:04}", list % 1000, i), "list_id": list}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["lead"]["id"].as_i64().unwrap());
    }
    (list, ids)
}

/// Seed 001's queue control: `action` sent by `token`.
async fn control(app: &TestApp, token: &str, action: &str) -> (StatusCode, Value) {
    app.post(
        "/api/admin/system/control",
        token,
        json!({ "action": action }),
    )
    .await
}

async fn scalar(app: &TestApp, q: &str) -> i64 {
    let (n,): (i64,) = switchboard_store::sql(q)
        .fetch_one(&mut app.state.db.read().await.unwrap())
        .await
        .unwrap();
    n
}

async fn wait_status(app: &TestApp, admin: &str, id: &str, want: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let (s, v) = app
            .get(&format!("/plivo/campaign-progress/{id}"), admin)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        if v["progress"]["status"] == want {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "campaign did not reach {want} in {limit:?}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn campaign_calls_each_lead_once_under_its_caps(app: TestApp) {
    let admin = app.admin().await;
    always_open(&app, &admin).await;
    let (list, leads) = list_with(&app, &admin, "spring", 40).await;
    // A number on the do-not-call list is skipped, never dialed.
    let (s, v) = app
        .post(
            "/api/dialer/dnc",
            &admin,
            json!({"phone": format!("+1415{:03}0005", list % 1000)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The client's cap (3) is lower than the campaign's (5): both hold at once.
    switchboard_store::sql("UPDATE clients SET max_concurrent_calls = 3")
        .execute(&mut app.state.db.write().await.unwrap())
        .await
        .unwrap();
    let (s, v) = app
        .post(
            "/plivo/create-campaign",
            &admin,
            json!({"campaignName": "Spring", "listId": list.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/stream", "maxConcurrentCalls": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["data"]["totalContacts"], 40);
    assert_eq!(v["data"]["status"], "running");
    let id = v["campaignId"].as_str().unwrap().to_string();

    let start = Instant::now();
    let mut peak = 0;
    loop {
        let live = scalar(
            &app,
            &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {id} AND status IN ('initiated', 'ringing', 'answered')"),
        )
        .await;
        peak = peak.max(live);
        let (_, p) = app
            .get(&format!("/plivo/campaign-progress/{id}"), &admin)
            .await;
        if p["progress"]["status"] == "completed" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "not completed: {p}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(peak <= 3, "the client's cap of 3 was exceeded: {peak}");
    assert!(peak >= 2, "calls ran one at a time: {peak}");

    let calls = scalar(
        &app,
        &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {id}"),
    )
    .await;
    let distinct = scalar(
        &app,
        &format!("SELECT COUNT(DISTINCT lead_id) FROM calls WHERE campaign_id = {id}"),
    )
    .await;
    assert_eq!(
        (calls, distinct),
        (39, 39),
        "each lead but the DNC one exactly once"
    );
    let dnc_calls = scalar(
        &app,
        "SELECT COUNT(*) FROM calls WHERE to_number IN (SELECT phone FROM dnc)",
    )
    .await;
    assert_eq!(dnc_calls, 0);
    // Every slot came back.
    assert_eq!(
        scalar(
            &app,
            "SELECT CAST(COALESCE(SUM(active), 0) AS BIGINT) FROM concurrency"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM calls WHERE slots > 0").await,
        0
    );

    let p = wait_status(&app, &admin, &id, "completed", Duration::from_secs(1)).await;
    assert_eq!(p["progress"]["processedContacts"], 40);
    assert_eq!(p["progress"]["remainingContacts"], 0);
    assert_eq!(p["progress"]["progressPercentage"], 100.0);
    assert_eq!(p["statistics"]["totalCallsAttempted"], 39);
    let connected = p["statistics"]["connectedCalls"].as_i64().unwrap();
    let failed = p["statistics"]["failedCalls"].as_i64().unwrap();
    assert_eq!(connected + failed, 39);
    assert!(connected > 0 && failed > 0, "{p}");
    assert!(p["timing"]["estimatedCompletion"].is_string());
    // The calls reached their leads: every called lead has one attempt.
    let attempted = scalar(
        &app,
        &format!("SELECT COUNT(*) FROM leads WHERE list_id = {list} AND attempts = 1"),
    )
    .await;
    assert_eq!(attempted, 39);
    assert_eq!(leads.len(), 40);

    // The dashboard lists it with its numbers.
    let (s, d) = app
        .get("/plivo/dashboard/campaigns?status=completed", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["campaigns"][0]["campaignId"], id);
    assert_eq!(d["campaigns"][0]["progress"]["percentage"], 100.0);
    assert_eq!(d["summary"]["totalCompleted"], 1);
    assert_eq!(d["pagination"]["totalCampaigns"], 1);
    assert_eq!(d["pagination"]["hasNext"], false);
}

/// A list a running campaign was made from can be deleted (the foreign key refused it with a
/// 400 before): the campaign goes on and calls each of its contacts once; the leads stay.
async fn campaign_outlives_its_list(app: TestApp) {
    let admin = app.admin().await;
    always_open(&app, &admin).await;
    let (list, leads) = list_with(&app, &admin, "short-lived", 12).await;
    let (s, v) = app
        .post(
            "/plivo/create-campaign",
            &admin,
            json!({"campaignName": "Outliving", "listId": list, "fromNumber": "+14155550100", "wssUrl": "ws://bot.local/s", "maxConcurrentCalls": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["campaignId"].as_str().unwrap().to_string();
    let (s, v) = app.delete(&format!("/api/lists/{list}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p = wait_status(&app, &admin, &id, "completed", Duration::from_secs(60)).await;
    assert_eq!(p["progress"]["totalContacts"], 12, "{p}");
    let calls = scalar(
        &app,
        &format!("SELECT COUNT(DISTINCT lead_id) FROM calls WHERE campaign_id = {id}"),
    )
    .await;
    assert_eq!(calls, 12);
    for lead in leads {
        let (s, v) = app.get(&format!("/api/leads/{lead}"), &admin).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["lead"]["list_id"], Value::Null, "{v}");
    }
    assert_eq!(
        app.get(&format!("/api/lists/{list}"), &admin).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn campaign_pauses_and_resumes_from_its_index(app: TestApp) {
    let admin = app.admin().await;
    always_open(&app, &admin).await;
    let (list, _) = list_with(&app, &admin, "pausable", 30).await;
    let (_, v) = app
        .post(
            "/plivo/create-campaign",
            &admin,
            json!({"campaignName": "Pausable", "listId": list, "fromNumber": "+14155550100", "wssUrl": "ws://bot.local/s", "maxConcurrentCalls": 2}),
        )
        .await;
    let id = v["campaignId"].as_str().unwrap().to_string();
    // Let it start, then pause.
    let start = Instant::now();
    loop {
        let (_, p) = app
            .get(&format!("/plivo/campaign-progress/{id}"), &admin)
            .await;
        if p["progress"]["currentIndex"].as_i64().unwrap() >= 4 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{p}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (s, v) = app
        .post(
            "/plivo/pause-campaign",
            &admin,
            json!({"campaignId": id, "pausedBy": "tester"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["message"], "Campaign paused successfully");
    let (s, v) = app
        .post("/plivo/pause-campaign", &admin, json!({"campaignId": id}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["success"], false);
    assert_eq!(v["message"], "Campaign not found or already paused");
    // Live calls finish; no new ones start while paused.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let q = format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {id}");
    let before = scalar(&app, &q).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        scalar(&app, &q).await,
        before,
        "a paused campaign placed calls"
    );
    let (_, p) = app
        .get(&format!("/plivo/campaign-progress/{id}"), &admin)
        .await;
    assert_eq!(p["progress"]["status"], "paused");
    assert!(p["timing"]["pausedAt"].is_string());
    let index = p["progress"]["currentIndex"].as_i64().unwrap();
    assert_eq!(index, before, "the cursor counts the calls placed");

    let (s, v) = app
        .post("/plivo/resume-campaign", &admin, json!({"campaignId": id}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["resumedFrom"]["currentIndex"], index);
    assert_eq!(v["resumedFrom"]["remainingContacts"], 30 - index);
    wait_status(&app, &admin, &id, "completed", Duration::from_secs(60)).await;
    assert_eq!(scalar(&app, &q).await, 30);
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT COUNT(DISTINCT lead_id) FROM calls WHERE campaign_id = {id}")
        )
        .await,
        30
    );
}

async fn campaign_routes_validate_in_seed_003_shape(app: TestApp) {
    let admin = app.admin().await;
    let (_, op) = app.user(&admin, "olga", "operator", None).await;
    let (list, _) = list_with(&app, &admin, "v", 2).await;
    let good = json!({"campaignName": "V", "listId": list.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/s"});
    let mut cases = vec![
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({"campaignName": ""}), StatusCode::BAD_REQUEST),
    ];
    for (field, value) in [
        ("campaignName", json!("x".repeat(101))),
        ("listId", json!("abc")),
        ("fromNumber", json!("12")),
        ("wssUrl", json!("https://not-a-websocket")),
        ("maxConcurrentCalls", json!(0)),
        ("listId", json!(["1"])),
    ] {
        let mut b = good.clone();
        b[field] = value;
        cases.push((b, StatusCode::BAD_REQUEST));
    }
    let mut b = good.clone();
    b["listId"] = json!("999999");
    cases.push((b, StatusCode::NOT_FOUND));
    for (body, want) in cases {
        let (s, v) = app
            .post("/plivo/create-campaign", &admin, body.clone())
            .await;
        assert_eq!(s, want, "{body} → {v}");
        assert_eq!(v["success"], false, "{v}");
        assert!(
            v["message"].is_string() && v["timestamp"].is_string() && v["code"].is_string(),
            "{v}"
        );
    }
    let (s, v) = app.post("/plivo/create-campaign", &op, good.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["code"], "FORBIDDEN");
    let (s, v) = app
        .send_bytes(
            axum::http::Method::POST,
            "/plivo/create-campaign",
            Some(&admin),
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["success"], false);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM campaigns").await,
        0,
        "nothing half-written"
    );

    let (s, v) = app
        .post(
            "/plivo/pause-campaign",
            &admin,
            json!({"campaignId": "424242"}),
        )
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some("Campaign not found or already paused")
        )
    );
    let (s, _) = app.get("/plivo/campaign-progress/nope", &admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.get("/plivo/campaign-progress/424242", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for q in ["status=done", "sortBy=id", "sortOrder=up"] {
        let (s, v) = app
            .get(&format!("/plivo/dashboard/campaigns?{q}"), &admin)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
    }

    // Bulk operations report each campaign on its own.
    let (s, v) = app
        .post("/plivo/create-campaign", &admin, good.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["campaignId"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(
            "/plivo/dashboard/bulk-operations",
            &admin,
            json!({"action": "pause", "campaignIds": [id, "777777", "x"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"]["successful"], json!([id]));
    assert_eq!(
        v["summary"],
        json!({"total": 3, "successful": 1, "failed": 2})
    );
    // Another client's admin sees none of it: 404, and nothing changes.
    let (_, c) = app
        .post("/api/clients", &admin, json!({"name": "Other"}))
        .await;
    let (_, other) = app
        .user(&admin, "otheradmin", "admin", c["client"]["id"].as_i64())
        .await;
    let (s, _) = app
        .get(&format!("/plivo/campaign-progress/{id}"), &other)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post("/plivo/resume-campaign", &other, json!({"campaignId": id}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .post(
            "/plivo/dashboard/bulk-operations",
            &other,
            json!({"action": "cancel", "campaignIds": [id]}),
        )
        .await;
    assert_eq!(
        (s, v["summary"]["successful"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{v}"
    );
    let (_, v) = app.get("/plivo/dashboard/campaigns", &other).await;
    assert_eq!(v["pagination"]["totalCampaigns"], 0);
    let (s, v) = app
        .post("/plivo/create-campaign", &other, json!({"campaignName": "X", "listId": list.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://b/s"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another client's list: {v}");
    let (s, v) = app
        .post(
            "/plivo/dashboard/bulk-operations",
            &admin,
            json!({"action": "cancel", "campaignIds": [id]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, p) = app
        .get(&format!("/plivo/campaign-progress/{id}"), &admin)
        .await;
    assert_eq!(p["progress"]["status"], "cancelled");
    for bad in [
        json!({"action": "explode", "campaignIds": [id]}),
        json!({"action": "pause", "campaignIds": []}),
        json!({"action": "pause"}),
    ] {
        let (s, v) = app
            .post("/plivo/dashboard/bulk-operations", &admin, bad)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    }

    // Single call: validated, placed, counted in the channels.
    for bad in [
        json!({"from": "+14155550100", "to": "+14155550111"}),
        json!({"from": "+14155550100", "to": "bad", "wssUrl": "wss://b/s"}),
        json!({"from": "+14155550100", "to": "+14155550111", "wssUrl": "wss://b/s", "customPrompt": "p".repeat(1001)}),
    ] {
        let (s, v) = app.post("/plivo/single-call", &admin, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    }
    let (s, v) = app
        .post("/plivo/single-call", &admin, json!({"from": "+14155550100", "to": "+14155550111", "wssUrl": "wss://bot.example.com/s", "assistantId": "a1"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["status"], "active");
    assert!(v["data"]["callUUID"].is_string());
    let (s, v) = app
        .get("/plivo/get-active-channels?includeCalls=true", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["global"]["max"], 100);
    assert_eq!(v["data"]["client"]["max"], 10);
    let (s, v) = app
        .get("/plivo/monitoring/active-calls?includeDetails=true", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["monitoring"]["limits"]["globalMax"], 100);
    // Without details, each call still has the seed's fields.
    let (_, v) = app.get("/plivo/monitoring/active-calls", &admin).await;
    for c in v["monitoring"]["calls"].as_array().unwrap() {
        for f in ["callUUID", "startTime"] {
            assert!(c[f].is_string(), "{f}: {c}");
        }
        assert!(
            c["duration"].is_i64() && c.get("campaignId").is_some(),
            "{c}"
        );
    }
}

/// A call back kept for its agent: a campaign over its lead skips it; once due, the call queue
/// bridges it to that agent, although another free agent comes first in the queue's order.
async fn a_call_back_for_the_agent_goes_to_them(app: TestApp) {
    let admin = app.admin().await;
    always_open(&app, &admin).await;
    let mut agents = Vec::new();
    for (name, phone) in [("bob", "+14155559911"), ("ann", "+14155559912")] {
        let (s, v) = app
            .post("/api/users", &admin, json!({"username": name, "password": "password-123", "role": "operator", "phone_number": phone}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        agents.push(v["user"]["id"].as_i64().unwrap());
    }
    let (bob, ann) = (agents[0], agents[1]);
    let (list, leads) = list_with(&app, &admin, "kept", 2).await;
    // Whole seconds, as stored on both databases.
    let due = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 3, 0).unwrap();
    let (s, v) = app
        .patch(
            &format!("/api/leads/{}", leads[0]),
            &admin,
            json!({"assigned_user_id": ann, "callback_at": due.to_rfc3339(), "callback_for": "agent"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            "/plivo/create-campaign",
            &admin,
            json!({"campaignName": "Kept", "listId": list.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/stream"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["campaignId"].as_str().unwrap().to_string();
    wait_status(&app, &admin, &id, "completed", Duration::from_secs(60)).await;
    let (state, note): (String, Option<String>) =
        switchboard_store::sql("SELECT state, note FROM campaign_leads WHERE lead_id = $1")
            .arg(leads[0])
            .fetch_one(&mut app.state.db.read().await.unwrap())
            .await
            .unwrap();
    assert_eq!(
        (state.as_str(), note.as_deref()),
        ("skipped", Some("agent_callback"))
    );
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT COUNT(*) FROM calls WHERE lead_id = {}", leads[0])
        )
        .await,
        0
    );

    let (s, v) = control(&app, &admin, "resume_queue").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let start = Instant::now();
    let call = loop {
        let row: Option<(Option<i64>, chrono::DateTime<chrono::Utc>)> =
            switchboard_store::sql("SELECT user_id, started_at FROM calls WHERE lead_id = $1")
                .arg(leads[0])
                .fetch_optional(&mut app.state.db.read().await.unwrap())
                .await
                .unwrap();
        if let Some(r) = row {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the call back was not called"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        call.0,
        Some(ann),
        "bridged to its own agent, not to bob ({bob})"
    );
    assert!(
        call.1 >= due,
        "called at {} before it was due at {due}",
        call.1
    );
}

async fn queue_dials_by_priority_through_free_agents(app: TestApp) {
    let admin = app.admin().await;
    always_open(&app, &admin).await;
    let (s, v) = app
        .post("/api/users", &admin, json!({"username": "agent1", "password": "password-123", "role": "operator", "phone_number": "+14155559901"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut ids = Vec::new();
    for (i, p) in ["low", "medium", "high", "urgent"].iter().enumerate() {
        let (s, v) = app
            .post(
                "/api/leads",
                &admin,
                json!({"phone": format!("+1415666{:04}", i), "priority": p}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["lead"]["id"].as_i64().unwrap());
    }
    let (s, v) = control(&app, &admin, "get_queue_status").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["queueStatus"]["isRunning"], false);
    assert_eq!(v["queueStatus"]["pendingLeads"], 4);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM calls").await,
        0,
        "a paused queue dials nothing"
    );
    let (s, v) = control(&app, &admin, "resume_queue").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["queueStatus"]["isRunning"], true);
    // One agent: one call at a time, in priority order.
    let start = Instant::now();
    while scalar(
        &app,
        "SELECT COUNT(*) FROM calls WHERE status NOT IN ('initiated', 'ringing', 'answered')",
    )
    .await
        < 4
    {
        assert!(start.elapsed() < Duration::from_secs(60));
        let live = scalar(
            &app,
            "SELECT COUNT(*) FROM calls WHERE status IN ('initiated', 'ringing', 'answered')",
        )
        .await;
        assert!(live <= 1, "one free agent, {live} live calls");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let order: Vec<(i64,)> = switchboard_store::sql("SELECT lead_id FROM calls ORDER BY id")
        .fetch_all(&mut app.state.db.read().await.unwrap())
        .await
        .unwrap();
    let order: Vec<i64> = order.into_iter().map(|r| r.0).collect();
    assert_eq!(
        &order[..4],
        &[ids[3], ids[2], ids[1], ids[0]],
        "urgent, high, medium, low"
    );
    let (s, v) = app.get("/api/admin/system-status", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["systemStatus"]["callQueue"]["isRunning"], true);
    assert_eq!(v["systemStatus"]["database"], "connected");
    let (s, v) = control(&app, &admin, "pause_queue").await;
    assert_eq!(
        (s, v["queueStatus"]["isRunning"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (s, _) = control(&app, &admin, "reboot").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let op = app.login("agent1", "password-123").await;
    let (s, _) = control(&app, &op, "pause_queue").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// With `wrapup_seconds` in the dialer's rules, the call queue leaves an agent that long after
/// a call ends before it bridges them the next one.
async fn agents_have_their_wrap_up_between_queue_calls(app: TestApp) {
    let admin = app.admin().await;
    always_open(&app, &admin).await;
    let (s, v) = app
        .call(
            axum::http::Method::PUT,
            "/api/dialer/rules",
            Some(&admin),
            Some(json!({"wrapup_seconds": 2})),
        )
        .await;
    assert_eq!(
        (s, &v["wrapup_seconds"]),
        (StatusCode::OK, &json!(2)),
        "{v}"
    );
    let (s, v) = app
        .post("/api/users", &admin, json!({"username": "wrap", "password": "password-123", "role": "operator", "phone_number": "+14155559931"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let agent = v["user"]["id"].as_i64().unwrap();
    for i in 0..3 {
        let (s, v) = app
            .post(
                "/api/leads",
                &admin,
                json!({"phone": format!("+1415667{:04}", i)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (s, v) = control(&app, &admin, "resume_queue").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let start = Instant::now();
    let calls = loop {
        type Times = (
            Option<i64>,
            chrono::DateTime<chrono::Utc>,
            Option<chrono::DateTime<chrono::Utc>>,
        );
        let rows: Vec<Times> = switchboard_store::sql(
            "SELECT user_id, started_at, ended_at FROM calls ORDER BY started_at",
        )
        .fetch_all(&mut app.state.db.read().await.unwrap())
        .await
        .unwrap();
        if rows.len() == 3 && rows.iter().all(|r| r.2.is_some()) {
            break rows;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "three calls did not end: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for pair in calls.windows(2) {
        let (ended, next) = (pair[0].2.unwrap(), pair[1].1);
        assert_eq!(pair[1].0, Some(agent));
        assert!(
            next - ended >= chrono::Duration::seconds(2),
            "bridged again {} ms after the last call ended: {calls:?}",
            (next - ended).num_milliseconds()
        );
    }
}
