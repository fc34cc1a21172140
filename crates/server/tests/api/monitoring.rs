//! Seed 003's monitoring routes (`/plivo/dashboard/stats`, `/plivo/dashboard/failed-calls`,
//! `/plivo/monitoring/utilization`, `/plivo/monitoring/analytics`) and the public health routes
//! (`/health/cloud-run`, `/health/database`, `/health/comprehensive`,
//! `/health/integration-test`), over calls and campaigns with known outcomes.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use serde_json::{Value, json};
use switchboard_core::CallStatus;
use switchboard_store::calls::{self, NewCall};
use switchboard_store::dialer::{self, Caps};
use switchboard_store::{now, sql};

use crate::campaigns::list_with;
use crate::harness::{Backend, TestApp, test_config};

/// No dialer engine (nothing dials on its own, every number below is ours), a global cap of 10.
async fn quiet_app(backend: Backend) -> Option<TestApp> {
    let mut c = test_config();
    c.dialer.engine = false;
    c.dialer.max_concurrent_calls = 10;
    c.dialer.heartbeat_secs = 10;
    TestApp::with_config(backend, c).await
}

/// Twilio chosen but only half configured (start-up would refuse it; the check says why).
async fn half_twilio_app(backend: Backend) -> Option<TestApp> {
    let mut c = test_config();
    c.telephony.provider = switchboard_telephony::ProviderKind::Twilio;
    c.telephony.twilio_account_sid = Some("AC123".into());
    c.dialer.engine = false;
    TestApp::with_config(backend, c).await
}

macro_rules! both_with {
    ($app:ident; $($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::harness::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = super::$app(Backend::Sqlite).await { super::$name(app).await }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = super::$app(Backend::Postgres).await { super::$name(app).await }
            }
        }
    )*};
}

both_with!(
    quiet_app;
    plivo_monitoring_needs_an_admin_or_key,
    stats_count_campaigns_calls_and_slots,
    failed_calls_are_grouped_by_cause_and_day,
    utilization_follows_slots_and_heartbeats,
    analytics_cover_the_period,
    health_reports_heartbeats_leases_and_checks,
);

both_with!(half_twilio_app; integration_test_names_missing_provider_settings);

crate::both!(
    health_routes_answer_without_auth,
    health_routes_answer_503_without_a_database,
    public_check_suites_take_turns
);

/// `/health/integration-test` is public and reads the call log: suites run one at a time,
/// while the other health routes answer at once.
async fn public_check_suites_take_turns(app: TestApp) {
    let suite = || {
        Request::get("/health/integration-test?suite=full")
            .body(Body::empty())
            .unwrap()
    };
    let held = app
        .state
        .health_suites
        .clone()
        .acquire_owned()
        .await
        .unwrap();
    let waiting =
        tokio::time::timeout(std::time::Duration::from_millis(500), app.raw(suite())).await;
    assert!(waiting.is_err(), "a suite waits while another runs");
    let (s, _) = app.get("/health/comprehensive", "").await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the other health routes answer meanwhile"
    );
    drop(held);
    let (s, _, body) = tokio::time::timeout(std::time::Duration::from_secs(10), app.raw(suite()))
        .await
        .expect("its turn comes");
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["summary"]["failed"], 0, "{v}");
    assert_eq!(
        app.state.health_suites.available_permits(),
        1,
        "the turn is given back"
    );
}

/// A call of the default client with a known outcome. `slots` > 0 takes real slots (global,
/// client and the campaign's) in the same transaction, as the dialer does.
#[derive(Clone)]
struct Seed {
    status: CallStatus,
    started_at: DateTime<Utc>,
    cause: Option<&'static str>,
    duration: Option<i64>,
    answer_ms: Option<i64>,
    campaign: Option<i64>,
    live_slot: bool,
}

fn seed(status: CallStatus, started_at: DateTime<Utc>) -> Seed {
    Seed {
        status,
        started_at,
        cause: None,
        duration: None,
        answer_ms: None,
        campaign: None,
        live_slot: false,
    }
}

async fn insert(app: &TestApp, s: Seed) -> i64 {
    let client = app.state.default_client_id;
    let mut tx = app.state.db.begin().await.unwrap();
    let mut slots = 0;
    if s.live_slot {
        let caps = Caps {
            global: 1000,
            client: 1000,
            campaign: s.campaign.map(|c| (c, 1000)),
        };
        assert_eq!(
            dialer::take_slots(&mut tx, client, caps, 1).await.unwrap(),
            1
        );
        slots = if s.campaign.is_some() { 2 } else { 1 };
    }
    let mut c = NewCall::outbound(client, "simulator", "+14155550199");
    c.status = s.status;
    c.started_at = s.started_at;
    c.campaign_id = s.campaign;
    c.slots = slots;
    let call = calls::create(&mut tx, &c).await.unwrap();
    let answered = s
        .answer_ms
        .map(|ms| s.started_at + Duration::milliseconds(ms));
    sql("UPDATE calls SET hangup_cause = $1, duration_secs = $2, answered_at = $3 WHERE id = $4")
        .arg(s.cause)
        .arg(s.duration)
        .arg(answered)
        .arg(call.id)
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    call.id
}

async fn exec(app: &TestApp, q: switchboard_store::Sql) {
    q.execute(&mut app.state.db.write().await.unwrap())
        .await
        .unwrap();
}

/// A campaign over a fresh list of `leads` leads; paused at once when `paused`.
async fn campaign(app: &TestApp, admin: &str, name: &str, leads: usize, paused: bool) -> i64 {
    let (list, _) = list_with(app, admin, name, leads).await;
    let (s, v) = app
        .post(
            "/plivo/create-campaign",
            admin,
            json!({"campaignName": name, "listId": list.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/stream", "maxConcurrentCalls": 4}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id: i64 = v["campaignId"].as_str().unwrap().parse().unwrap();
    if paused {
        let (s, v) = app
            .post(
                "/plivo/pause-campaign",
                admin,
                json!({"campaignId": id.to_string()}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    id
}

/// Mark a campaign completed after running from `started` to `completed`.
async fn complete(app: &TestApp, id: i64, started: DateTime<Utc>, completed: DateTime<Utc>) {
    exec(
        app,
        sql("UPDATE campaigns SET status = 'completed', started_at = $1, completed_at = $2 WHERE id = $3")
            .arg(started)
            .arg(completed)
            .arg(id),
    )
    .await;
}

async fn public_get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    app.call(Method::GET, path, None, None).await
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn types(recs: &Value) -> Vec<String> {
    recs.as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap().to_string())
        .collect()
}

async fn plivo_monitoring_needs_an_admin_or_key(app: TestApp) {
    let admin = app.admin().await;
    let (_, operator) = app.user(&admin, "op1", "operator", None).await;
    let (s, v) = app
        .post(
            "/api/api-keys",
            &admin,
            json!({"name": "dash", "kind": "api"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = v["key"].as_str().expect("key").to_string();
    for path in [
        "/plivo/dashboard/stats",
        "/plivo/dashboard/failed-calls",
        "/plivo/monitoring/utilization",
        "/plivo/monitoring/analytics",
    ] {
        let (s, v) = public_get(&app, path).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}: {v}");
        assert_eq!(v["success"], false, "{path}: {v}");
        assert!(v["timestamp"].is_string() && v["code"].is_string(), "{v}");
        let (s, v) = app.get(path, &operator).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v["success"], false, "{path}: {v}");
        let (s, v) = app.get(path, &admin).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        assert_eq!(v["success"], true, "{path}: {v}");
        let req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header("x-api-key", &key)
            .body(Body::empty())
            .unwrap();
        let (s, _, body) = app.raw(req).await;
        assert_eq!(s, StatusCode::OK, "{path} with an API key");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["success"], true, "{path}: {v}");
    }
}

async fn stats_count_campaigns_calls_and_slots(app: TestApp) {
    let admin = app.admin().await;
    let t = now();
    // Nothing yet: zeros, not errors.
    let (s, v) = app.get("/plivo/dashboard/stats", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let st = &v["statistics"];
    assert_eq!(st["campaigns"]["total"], 0);
    assert_eq!(st["calls"]["totalToday"], 0);
    assert_eq!(f(&st["calls"]["successRate"]), 0.0);
    assert_eq!(st["concurrency"]["maxAllowed"], 10);
    assert_eq!(st["performance"]["systemHealth"], "healthy");
    assert!(v["timestamp"].is_string());

    let running = campaign(&app, &admin, "Running", 2, false).await;
    campaign(&app, &admin, "Paused", 2, true).await;
    let done = campaign(&app, &admin, "Done", 1, true).await;
    complete(&app, done, t - Duration::hours(3), t - Duration::hours(1)).await;

    // Today: two conversations, a busy line, a failure, one call live (holding a slot).
    for d in [30, 60] {
        insert(
            &app,
            Seed {
                duration: Some(d),
                ..seed(CallStatus::Completed, t)
            },
        )
        .await;
    }
    insert(&app, seed(CallStatus::Busy, t)).await;
    insert(
        &app,
        Seed {
            cause: Some("NUMBER_UNREACHABLE"),
            ..seed(CallStatus::Failed, t)
        },
    )
    .await;
    insert(
        &app,
        Seed {
            campaign: Some(running),
            live_slot: true,
            ..seed(CallStatus::Answered, t)
        },
    )
    .await;
    // Two days ago (this week and this month or not, by the calendar) and 40 days ago (never).
    let two_days = t - Duration::days(2);
    insert(&app, seed(CallStatus::NoAnswer, two_days)).await;
    insert(&app, seed(CallStatus::Completed, t - Duration::days(40))).await;

    let today = t.date_naive();
    let week_start = today - chrono::Days::new(today.weekday().num_days_from_monday() as u64);
    let in_week = two_days.date_naive() >= week_start;
    let in_month = two_days.date_naive().month() == today.month() && two_days.year() == t.year();

    let (s, v) = app.get("/plivo/dashboard/stats", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let st = &v["statistics"];
    assert_eq!(st["campaigns"]["total"], 3, "{v}");
    assert_eq!(st["campaigns"]["running"], 1);
    assert_eq!(st["campaigns"]["paused"], 1);
    assert_eq!(st["campaigns"]["completed"], 1);
    assert_eq!(st["campaigns"]["failed"], 0);
    assert_eq!(st["calls"]["totalToday"], 5, "{v}");
    assert_eq!(st["calls"]["totalThisWeek"], 5 + i64::from(in_week));
    assert_eq!(st["calls"]["totalThisMonth"], 5 + i64::from(in_month));
    // Of this month's ended calls: 2 completed of 4 (or of 5 with the unanswered one).
    let ended = 4 + i64::from(in_month);
    let rate = (2.0 * 10000.0 / ended as f64).round() / 100.0;
    assert_eq!(f(&st["calls"]["successRate"]), rate, "{v}");
    assert_eq!(st["concurrency"]["currentActive"], 1);
    assert_eq!(st["concurrency"]["maxAllowed"], 10);
    assert_eq!(f(&st["concurrency"]["utilizationPercentage"]), 10.0);
    assert_eq!(st["concurrency"]["clientActive"], 1);
    assert_eq!(f(&st["performance"]["avgCampaignDuration"]), 2.0, "{v}");
    // Five calls in the last hour.
    assert_eq!(f(&st["performance"]["avgCallsPerMinute"]), 0.08);
    assert_eq!(st["performance"]["systemHealth"], "healthy");

    // 9 of 10 global slots in use: critical.
    exec(
        &app,
        sql("UPDATE concurrency SET active = 9 WHERE scope = 'global'"),
    )
    .await;
    let (_, v) = app.get("/plivo/dashboard/stats", &admin).await;
    assert_eq!(
        f(&v["statistics"]["concurrency"]["utilizationPercentage"]),
        90.0
    );
    assert_eq!(v["statistics"]["performance"]["systemHealth"], "critical");
    // 7 of 10: a warning.
    exec(
        &app,
        sql("UPDATE concurrency SET active = 7 WHERE scope = 'global'"),
    )
    .await;
    let (_, v) = app.get("/plivo/dashboard/stats", &admin).await;
    assert_eq!(v["statistics"]["performance"]["systemHealth"], "warning");
}

async fn failed_calls_are_grouped_by_cause_and_day(app: TestApp) {
    let admin = app.admin().await;
    let t = now();
    let camp = campaign(&app, &admin, "Failing", 1, true).await;
    for _ in 0..2 {
        insert(&app, seed(CallStatus::Busy, t)).await;
    }
    insert(
        &app,
        Seed {
            campaign: Some(camp),
            ..seed(CallStatus::Busy, t)
        },
    )
    .await;
    insert(
        &app,
        Seed {
            cause: Some("NUMBER_UNREACHABLE"),
            ..seed(CallStatus::Failed, t)
        },
    )
    .await;
    insert(
        &app,
        Seed {
            cause: Some("NUMBER_UNREACHABLE"),
            campaign: Some(camp),
            ..seed(CallStatus::Failed, t)
        },
    )
    .await;
    insert(
        &app,
        Seed {
            cause: Some("NO_ANSWER"),
            ..seed(CallStatus::NoAnswer, t)
        },
    )
    .await;
    for _ in 0..2 {
        insert(&app, seed(CallStatus::Completed, t)).await;
    }
    // A live call is neither failed nor ended.
    insert(&app, seed(CallStatus::Ringing, t)).await;
    // Ten days ago: outside the default week.
    let old = t - Duration::days(10);
    insert(
        &app,
        Seed {
            cause: Some("CALL_REJECTED"),
            ..seed(CallStatus::Failed, old)
        },
    )
    .await;

    let (s, v) = app.get("/plivo/dashboard/failed-calls", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a = &v["analysis"];
    assert_eq!(a["totalFailed"], 6, "{v}");
    assert_eq!(
        a["failureReasons"],
        json!([
            {"reason": "busy", "count": 3, "percentage": 50.0},
            {"reason": "NUMBER_UNREACHABLE", "count": 2, "percentage": 33.33},
            {"reason": "NO_ANSWER", "count": 1, "percentage": 16.67},
        ]),
        "{v}"
    );
    // 6 of 8 ended calls failed; busy (50 %) and provider errors (33 %) stand out.
    assert_eq!(f(&a["failureRate"]), 75.0);
    assert_eq!(a["totalCalls"], 9);
    let recs = &a["recommendations"];
    assert_eq!(
        types(recs),
        ["high_failure_rate", "provider_errors", "retry_busy"],
        "{v}"
    );
    assert_eq!(recs[0]["priority"], "high");
    assert!(recs[0]["description"].as_str().unwrap().contains("75%"));
    let daily = a["trends"]["dailyFailures"].as_array().unwrap();
    assert_eq!(daily.len(), 7);
    assert_eq!(
        daily[6],
        json!({"date": t.format("%Y-%m-%d").to_string(), "count": 6})
    );
    assert_eq!(
        daily
            .iter()
            .map(|d| d["count"].as_i64().unwrap())
            .sum::<i64>(),
        6
    );
    assert_eq!(a["period"]["days"], 7);

    let (s, v) = app
        .get("/plivo/dashboard/failed-calls?days=30", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a = &v["analysis"];
    assert_eq!(a["totalFailed"], 7);
    let daily = a["trends"]["dailyFailures"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    let old_day = old.format("%Y-%m-%d").to_string();
    let entry = daily
        .iter()
        .find(|d| d["date"] == old_day.as_str())
        .unwrap();
    assert_eq!(entry["count"], 1);
    assert!(
        a["failureReasons"]
            .as_array()
            .unwrap()
            .contains(&json!({"reason": "CALL_REJECTED", "count": 1, "percentage": 14.29})),
        "{v}"
    );

    let (s, v) = app
        .get(
            &format!("/plivo/dashboard/failed-calls?campaignId={camp}"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a = &v["analysis"];
    assert_eq!(a["totalFailed"], 2);
    assert_eq!(
        a["failureReasons"],
        json!([
            {"reason": "NUMBER_UNREACHABLE", "count": 1, "percentage": 50.0},
            {"reason": "busy", "count": 1, "percentage": 50.0},
        ])
    );
    assert_eq!(a["period"]["campaignId"], camp.to_string());

    // No calls at all in a campaign's window: zeros and no advice.
    let quiet = campaign(&app, &admin, "Quiet", 1, true).await;
    let (_, v) = app
        .get(
            &format!("/plivo/dashboard/failed-calls?campaignId={quiet}&days=1"),
            &admin,
        )
        .await;
    assert_eq!(v["analysis"]["totalFailed"], 0, "{v}");
    assert_eq!(v["analysis"]["recommendations"], json!([]));
    assert_eq!(
        v["analysis"]["trends"]["dailyFailures"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    for bad in [
        "days=0",
        "days=366",
        "days=abc",
        "days=1.5",
        "campaignId=abc",
    ] {
        let (s, v) = app
            .get(&format!("/plivo/dashboard/failed-calls?{bad}"), &admin)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["success"], false, "{v}");
        assert_eq!(v["code"], "BAD_REQUEST", "{v}");
    }
    let (s, v) = app
        .get("/plivo/dashboard/failed-calls?campaignId=999999", &admin)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["success"], false);
}

async fn utilization_follows_slots_and_heartbeats(app: TestApp) {
    let admin = app.admin().await;
    let t = now();
    let (s, v) = app.get("/plivo/monitoring/utilization", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["utilization"]["systemStatus"], "healthy");
    assert_eq!(v["recommendations"], json!([]));

    let running = campaign(&app, &admin, "Busy one", 4, false).await;
    campaign(&app, &admin, "Resting", 2, true).await;
    for _ in 0..2 {
        insert(
            &app,
            Seed {
                campaign: Some(running),
                live_slot: true,
                ..seed(CallStatus::Ringing, t)
            },
        )
        .await;
    }
    // Started ten minutes ago: not in the call rate.
    insert(&app, seed(CallStatus::Completed, t - Duration::minutes(10))).await;

    let (s, v) = app.get("/plivo/monitoring/utilization", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let u = &v["utilization"];
    assert_eq!(f(&u["concurrency"]["percentage"]), 20.0, "{v}");
    assert_eq!(u["concurrency"]["active"], 2);
    assert_eq!(u["concurrency"]["available"], 8);
    assert_eq!(u["concurrency"]["max"], 10);
    assert_eq!(u["concurrency"]["client"]["active"], 2);
    assert_eq!(u["campaigns"]["running"], 1);
    assert_eq!(u["campaigns"]["paused"], 1);
    // Two live calls of a campaign capped at 4.
    assert_eq!(f(&u["campaigns"]["load"]), 50.0);
    assert_eq!(u["callRate"]["last5Minutes"], 2);
    assert_eq!(f(&u["callRate"]["ratePerMinute"]), 0.4);
    assert_eq!(u["systemStatus"], "healthy");
    assert_eq!(v["recommendations"], json!([]), "{v}");

    // The owner stopped renewing the lease: a warning and what to check.
    exec(
        &app,
        sql("UPDATE campaigns SET heartbeat_at = $1 WHERE id = $2")
            .arg(t - Duration::hours(1))
            .arg(running),
    )
    .await;
    let (_, v) = app.get("/plivo/monitoring/utilization", &admin).await;
    assert_eq!(v["utilization"]["systemStatus"], "warning", "{v}");
    assert_eq!(v["utilization"]["campaigns"]["staleHeartbeats"], 1);
    assert_eq!(types(&v["recommendations"]), ["stale_heartbeat"]);
    assert_eq!(v["recommendations"][0]["priority"], "high");

    // 9 of 10 global slots: critical, capacity first.
    exec(
        &app,
        sql("UPDATE concurrency SET active = 9 WHERE scope = 'global'"),
    )
    .await;
    let (_, v) = app.get("/plivo/monitoring/utilization", &admin).await;
    assert_eq!(v["utilization"]["systemStatus"], "critical", "{v}");
    assert_eq!(f(&v["utilization"]["concurrency"]["percentage"]), 90.0);
    assert_eq!(
        types(&v["recommendations"]),
        ["capacity", "stale_heartbeat"]
    );
    assert_eq!(v["recommendations"][0]["priority"], "high");
    assert!(
        v["recommendations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("9 of 10")
    );
}

async fn analytics_cover_the_period(app: TestApp) {
    let admin = app.admin().await;
    let t = now();
    let camp = campaign(&app, &admin, "Analyzed", 3, true).await;
    let done = campaign(&app, &admin, "Finished", 1, true).await;
    complete(&app, done, t - Duration::hours(5), t - Duration::hours(1)).await;
    // Two hours ago: two conversations (answered after 2 s and 4 s), a busy line, a failure.
    let t0 = t - Duration::hours(2);
    insert(
        &app,
        Seed {
            duration: Some(30),
            answer_ms: Some(2000),
            campaign: Some(camp),
            ..seed(CallStatus::Completed, t0)
        },
    )
    .await;
    insert(
        &app,
        Seed {
            duration: Some(90),
            answer_ms: Some(4000),
            ..seed(CallStatus::Completed, t0)
        },
    )
    .await;
    insert(
        &app,
        Seed {
            campaign: Some(camp),
            ..seed(CallStatus::Busy, t0)
        },
    )
    .await;
    insert(
        &app,
        Seed {
            cause: Some("NETWORK_ERROR"),
            ..seed(CallStatus::Failed, t0)
        },
    )
    .await;
    // Now: two ringing calls of the campaign.
    for _ in 0..2 {
        insert(
            &app,
            Seed {
                campaign: Some(camp),
                live_slot: true,
                ..seed(CallStatus::Ringing, t)
            },
        )
        .await;
    }
    // Three days ago: in 7d only.
    insert(
        &app,
        Seed {
            duration: Some(120),
            answer_ms: Some(6000),
            ..seed(CallStatus::Completed, t - Duration::days(3))
        },
    )
    .await;

    let (s, v) = app.get("/plivo/monitoring/analytics", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["period"], "24h");
    assert!(v["generatedAt"].is_string());
    let a = &v["analytics"];
    assert_eq!(a["calls"]["total"], 6, "{v}");
    assert_eq!(a["calls"]["successful"], 2);
    assert_eq!(a["calls"]["failed"], 2);
    assert_eq!(a["calls"]["live"], 2);
    assert_eq!(f(&a["calls"]["avgDuration"]), 60.0);
    let h0 = t0.hour() as usize;
    assert_eq!(a["calls"]["peakHour"], format!("{h0:02}:00"), "{v}");
    let hourly = a["distribution"]["hourlyVolume"].as_array().unwrap();
    assert_eq!(hourly.len(), 24);
    assert_eq!(hourly[h0], json!({"hour": h0, "calls": 4}));
    assert_eq!(hourly[t.hour() as usize]["calls"], 2);
    assert_eq!(
        a["distribution"]["callOutcomes"],
        json!([
            {"outcome": "completed", "count": 2, "percentage": 33.33},
            {"outcome": "ringing", "count": 2, "percentage": 33.33},
            {"outcome": "busy", "count": 1, "percentage": 16.67},
            {"outcome": "failed", "count": 1, "percentage": 16.67},
        ]),
        "{v}"
    );
    // The campaign's ended calls: one conversation, one busy line.
    assert_eq!(a["campaigns"]["completed"], 1);
    assert_eq!(f(&a["campaigns"]["avgCompletionTime"]), 4.0);
    assert_eq!(f(&a["campaigns"]["successRate"]), 50.0);
    // Answered after 3 s on average; one provider failure in six calls.
    let rt = f(&a["performance"]["responseTime"]);
    assert!((rt - 3000.0).abs() < 1.0, "responseTime {rt}");
    assert_eq!(f(&a["performance"]["errorRate"]), 16.67);
    assert_eq!(f(&a["performance"]["throughput"]), 0.0);

    let (s, v) = app
        .get("/plivo/monitoring/analytics?period=1h", &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a = &v["analytics"];
    assert_eq!(v["period"], "1h");
    assert_eq!(a["calls"]["total"], 2);
    assert_eq!(a["calls"]["successful"], 0);
    assert_eq!(a["calls"]["peakHour"], format!("{:02}:00", t.hour()));
    assert_eq!(f(&a["performance"]["throughput"]), 0.03);
    assert_eq!(f(&a["performance"]["responseTime"]), 0.0);
    assert_eq!(a["campaigns"]["completed"], 0);

    let (_, v) = app
        .get("/plivo/monitoring/analytics?period=7d", &admin)
        .await;
    let a = &v["analytics"];
    assert_eq!(a["calls"]["total"], 7);
    assert_eq!(f(&a["calls"]["avgDuration"]), 80.0);
    let rt = f(&a["performance"]["responseTime"]);
    assert!((rt - 4000.0).abs() < 1.0, "responseTime {rt}");

    // An empty value is no value: the default period.
    let (s, v) = app.get("/plivo/monitoring/analytics?period=", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["period"], "24h");
    for bad in ["2h", "abc", "24H", "7"] {
        let (s, v) = app
            .get(&format!("/plivo/monitoring/analytics?period={bad}"), &admin)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["success"], false);
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("1h, 6h, 24h, 7d or 30d")
        );
    }
}

async fn health_reports_heartbeats_leases_and_checks(app: TestApp) {
    let admin = app.admin().await;
    let id = campaign(&app, &admin, "Owned", 2, false).await;
    // No engine here: this instance takes the lease by hand, as its engine would.
    exec(
        &app,
        sql("UPDATE campaigns SET owner_instance = $1 WHERE id = $2")
            .arg(&*app.state.instance_id)
            .arg(id),
    )
    .await;
    let (s, v) = public_get(&app, "/health/cloud-run").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "healthy", "{v}");
    assert_eq!(v["container"]["managedCampaigns"], 1);
    assert_eq!(v["container"]["dialerEngine"], false);
    assert_eq!(v["campaigns"]["activeHeartbeats"], 1);
    assert_eq!(v["campaigns"]["staleHeartbeats"], 0);
    assert_eq!(v["concurrency"]["global"]["max"], 10);

    exec(
        &app,
        sql("UPDATE campaigns SET heartbeat_at = $1 WHERE id = $2")
            .arg(now() - Duration::seconds(16))
            .arg(id),
    )
    .await;
    let (_, v) = public_get(&app, "/health/cloud-run").await;
    assert_eq!(v["status"], "warning", "{v}");
    assert_eq!(v["container"]["status"], "warning");
    assert_eq!(v["campaigns"]["activeHeartbeats"], 0);
    assert_eq!(v["campaigns"]["staleHeartbeats"], 1);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 2, "{v}");

    let (s, v) = public_get(&app, "/health/comprehensive").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "warning", "{v}");
    assert_eq!(v["components"]["campaigns"]["status"], "warning");
    assert_eq!(v["components"]["container"]["status"], "warning");
    assert_eq!(v["components"]["system"]["status"], "healthy");
    assert_eq!(types(&v["recommendations"]), ["stale_heartbeat"]);
    let db_score = v["database"]["score"].as_i64().unwrap();
    assert_eq!(
        v["score"],
        (db_score - 20 - penalty(&v["components"]["mongodb"]["status"])).max(0)
    );

    let (s, v) = public_get(&app, "/health/database").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["health"]["collections"]["plivoCampaign"], 1);

    // The engine is off here: the basic suite says so.
    let (s, v) = public_get(&app, "/health/integration-test").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["summary"], json!({"total": 3, "passed": 2, "failed": 1}));
    let engine = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "dialer engine running")
        .unwrap();
    assert_eq!(engine["passed"], false);
    assert!(engine["error"].as_str().unwrap().contains("not running"));

    // Slot counters that disagree with the calls holding slots fail the full suite.
    exec(
        &app,
        sql("INSERT INTO concurrency (scope, key, active) VALUES ('global', 0, 3) ON CONFLICT (scope, key) DO UPDATE SET active = 3"),
    )
    .await;
    let (_, v) = public_get(&app, "/health/integration-test?suite=full").await;
    let counters = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "concurrency counters match live calls")
        .unwrap()
        .clone();
    assert_eq!(counters["passed"], false, "{v}");
    assert!(
        counters["error"]
            .as_str()
            .unwrap()
            .contains("3 global slots")
    );
}

/// A warning component costs 10 points, a critical one 30 (the database's own part).
fn penalty(status: &Value) -> i64 {
    match status.as_str().unwrap() {
        "warning" => 10,
        "critical" => 30,
        _ => 0,
    }
}

/// With the database gone, the health routes that check it say so with a 503 (in the shape
/// the document gives it), and the basic liveness route still answers.
async fn health_routes_answer_503_without_a_database(app: TestApp) {
    app.state.db.close().await;
    for path in [
        "/health/cloud-run",
        "/health/database",
        "/health/comprehensive",
    ] {
        let (s, v) = public_get(&app, path).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{path}: {v}");
        assert_eq!(v["status"], "unhealthy", "{path}: {v}");
        assert_eq!(v["containerId"], &*app.state.instance_id, "{path}: {v}");
    }
}

async fn health_routes_answer_without_auth(app: TestApp) {
    let (s, v) = public_get(&app, "/health/cloud-run").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "healthy", "{v}");
    assert_eq!(v["warnings"], json!([]));
    let c = &v["container"];
    assert_eq!(c["status"], "healthy");
    assert_eq!(c["containerId"], &*app.state.instance_id);
    assert!(c["uptime"].is_u64());
    assert_eq!(c["managedCampaigns"], 0);
    assert_eq!(c["dialerEngine"], true);
    assert!(c["memoryUsage"]["rss"].as_u64().unwrap() > 0, "{v}");
    assert!(c["memoryUsage"]["heapTotal"].as_u64().unwrap() > 0, "{v}");
    assert!(c["memoryUsage"]["heapUsed"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(
        v["campaigns"],
        json!({"activeHeartbeats": 0, "staleHeartbeats": 0})
    );
    assert_eq!(
        v["concurrency"]["global"],
        json!({"active": 0, "max": app.state.config.dialer.max_concurrent_calls, "utilization": 0.0})
    );

    let (s, v) = public_get(&app, "/health/database").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let h = &v["health"];
    assert_eq!(v["status"], h["status"]);
    let score = h["score"].as_i64().unwrap();
    assert!([100, 80, 60, 40].contains(&score), "{v}");
    assert!(h["database"]["size"].as_i64().unwrap() > 0, "{v}");
    // Our 17 tables (and the migrations' own), with their indexes.
    assert!(h["database"]["collections"].as_i64().unwrap() >= 17, "{v}");
    assert!(h["database"]["indexes"].as_i64().unwrap() >= 20, "{v}");
    assert_eq!(
        h["collections"],
        json!({"plivoCampaign": 0, "activeCalls": 0, "client": 1})
    );

    let (s, v) = public_get(&app, "/health/comprehensive").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for part in ["mongodb", "container", "campaigns", "system"] {
        assert!(v["components"][part]["status"].is_string(), "{part}: {v}");
    }
    assert_eq!(v["components"]["container"]["status"], "healthy");
    assert_eq!(v["components"]["campaigns"]["status"], "healthy");
    assert_eq!(v["components"]["system"]["status"], "healthy");
    assert_eq!(
        v["components"]["mongodb"]["status"],
        v["database"]["status"]
    );
    let db_score = v["database"]["score"].as_i64().unwrap();
    assert_eq!(
        v["score"],
        (db_score - penalty(&v["components"]["mongodb"]["status"])).max(0)
    );
    assert_eq!(
        v["performance"]["utilization"],
        json!({"concurrency": {"percentage": 0.0}, "campaigns": {"load": 0.0}, "systemStatus": "healthy"})
    );
    assert_eq!(v["recommendations"], json!([]));
    assert_eq!(v["warnings"], json!([]));

    // The engine runs and the simulator needs no credentials: the basic suite passes.
    let (s, v) = public_get(&app, "/health/integration-test").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["suite"], "basic");
    assert_eq!(v["status"], "passed", "{v}");
    assert_eq!(v["summary"], json!({"total": 3, "passed": 3, "failed": 0}));
    for t in v["tests"].as_array().unwrap() {
        assert_eq!(t["passed"], true, "{t}");
        assert!(t["error"].is_null());
        assert!(t["duration"].as_f64().unwrap() >= 0.0);
    }
    let (s, v) = public_get(&app, "/health/integration-test?suite=full").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "passed", "{v}");
    assert_eq!(v["summary"]["total"], 12);
    assert!(
        v["tests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "read table campaign_leads")
    );
    let (s, v) = public_get(&app, "/health/integration-test?suite=performance").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["suite"], "performance");
    assert_eq!(v["summary"]["total"], 6, "{v}");
    for t in v["tests"].as_array().unwrap() {
        assert!(t["duration"].as_f64().is_some(), "{t}");
    }
    let (s, v) = public_get(&app, "/health/integration-test?suite=stress").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        (v["success"].as_bool(), v["code"].as_str()),
        (Some(false), Some("BAD_REQUEST")),
        "seed 003's error shape: {v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("basic, full or performance")
    );
}

async fn integration_test_names_missing_provider_settings(app: TestApp) {
    let (s, v) = public_get(&app, "/health/integration-test?suite=basic").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "failed");
    let tests = v["tests"].as_array().unwrap();
    assert_eq!(tests[0]["name"], "database round trip");
    assert_eq!(tests[0]["passed"], true);
    assert_eq!(tests[1]["name"], "telephony provider configured");
    assert_eq!(tests[1]["passed"], false);
    assert_eq!(
        tests[1]["error"],
        "provider twilio is missing SWITCHBOARD_TWILIO_AUTH_TOKEN, SWITCHBOARD_CALLER_ID, SWITCHBOARD_PUBLIC_URL"
    );
    assert_eq!(v["summary"], json!({"total": 3, "passed": 1, "failed": 2}));
}
