//! Seed 001's queue control: `reset_stuck_leads` and the queue's counts.

use axum::http::{Method, StatusCode};
use serde_json::json;
use switchboard_core::CallStatus;
use switchboard_store::calls::{self, NewCall};

use crate::both_configured;
use crate::harness::{TestApp, test_config};

/// No engine: nothing but these requests touches the leads.
fn quiet() -> switchboard_server::Config {
    let mut c = test_config();
    c.dialer.engine = false;
    c
}

async fn set(app: &TestApp, lead: i64, status: &str, batch: Option<&str>, lease_secs: i64) {
    let until = batch.map(|_| chrono::Utc::now() + chrono::Duration::seconds(lease_secs));
    switchboard_store::sql(
        "UPDATE leads SET status = $1, batch_id = $2, leased_until = $3 WHERE id = $4",
    )
    .arg(status)
    .arg(batch.map(String::from))
    .arg(until)
    .arg(lead)
    .execute(&mut app.state.db.write().await.unwrap())
    .await
    .unwrap();
}

async fn status_of(app: &TestApp, token: &str, lead: i64) -> String {
    let (_, v) = app.get(&format!("/api/leads/{lead}"), token).await;
    v["lead"]["status"].as_str().unwrap().to_string()
}

async fn reset_stuck_leads_frees_only_the_stuck(app: TestApp) {
    let admin = app.admin().await;
    let (_, op) = app.user(&admin, "op1", "operator", None).await;
    let stuck = app.lead(&admin, "+14155550501").await;
    let in_call = app.lead(&admin, "+14155550502").await;
    let leased = app.lead(&admin, "+14155550503").await;
    let lease_over = app.lead(&admin, "+14155550504").await;
    let waiting = app.lead(&admin, "+14155550505").await;
    set(&app, stuck, "calling", None, 0).await;
    set(&app, in_call, "calling", None, 0).await;
    set(&app, leased, "calling", Some("batch-live"), 600).await;
    set(&app, lease_over, "calling", Some("batch-old"), -60).await;
    let mut tx = app.state.db.begin().await.unwrap();
    let mut c = NewCall::outbound(app.state.default_client_id, "simulator", "+14155550502");
    c.lead_id = Some(in_call);
    c.status = CallStatus::Ringing;
    calls::create(&mut tx, &c).await.unwrap();
    tx.commit().await.unwrap();

    let control = |action: serde_json::Value| {
        app.call(
            Method::POST,
            "/api/admin/system/control",
            Some(&admin),
            Some(action),
        )
    };
    let (s, v) = control(json!({"action": "get_queue_status"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let q = &v["queueStatus"];
    assert_eq!(
        (
            q["pendingLeads"].as_i64(),
            q["dueLeads"].as_i64(),
            q["callingLeads"].as_i64(),
            q["leasedLeads"].as_i64(),
            q["isRunning"].as_bool(),
        ),
        (Some(1), Some(1), Some(4), Some(2), Some(false)),
        "{v}"
    );

    let (s, v) = control(json!({"action": "reset_stuck_leads"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["success"].as_bool(), v["resetCount"].as_i64()),
        (Some(true), Some(2)),
        "{v}"
    );
    assert_eq!(v["queueStatus"]["pendingLeads"], 3);
    for (lead, want) in [
        (stuck, "pending"),
        (lease_over, "pending"),
        (in_call, "calling"),
        (leased, "calling"),
        (waiting, "pending"),
    ] {
        assert_eq!(status_of(&app, &admin, lead).await, want, "lead {lead}");
    }
    let (_, v) = control(json!({"action": "reset_stuck_leads"})).await;
    assert_eq!(v["resetCount"], 0, "nothing left to reset");

    // Bad input and the wrong role change nothing.
    for bad in [
        json!({}),
        json!({"action": 5}),
        json!({"action": "reboot"}),
        json!({"action": "resume_queue", "maxConcurrentCalls": -1}),
        json!({"action": "resume_queue", "maxConcurrentCalls": "many"}),
    ] {
        let (s, v) = control(bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    }
    let (s, _) = app
        .call(
            Method::POST,
            "/api/admin/system/control",
            Some(&op),
            Some(json!({"action": "resume_queue"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, v) = control(json!({"action": "get_queue_status"})).await;
    assert_eq!(v["queueStatus"]["isRunning"], false, "still paused");

    let (s, v) = app.get("/api/admin/system-status", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let st = &v["systemStatus"];
    assert_eq!(st["database"], "connected");
    assert_eq!(st["callQueue"]["isRunning"], false);
    assert!(
        st["uptime"].is_u64() && st["memory"]["rss"].as_u64() > Some(0),
        "{v}"
    );
    assert!(st["environment"].is_string());
    assert_eq!(
        app.get("/api/admin/system-status", &op).await.0,
        StatusCode::FORBIDDEN
    );
}

both_configured!(reset_stuck_leads_frees_only_the_stuck => quiet);
