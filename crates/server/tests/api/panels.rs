//! Seed 001's dashboards and performance reports.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchboard_core::CallStatus;
use switchboard_store::calls::{self, CallPatch, NewCall};

use crate::both;
use crate::harness::TestApp;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A call logged straight into the store: `who` called `lead` at `started` (`None`: now).
async fn logged_call(
    app: &TestApp,
    who: Option<i64>,
    lead: i64,
    status: CallStatus,
    started: Option<&str>,
    duration: Option<i64>,
) -> i64 {
    let mut tx = app.state.db.begin().await.unwrap();
    let mut c = NewCall::outbound(app.state.default_client_id, "simulator", "+14155550000");
    c.user_id = who;
    c.lead_id = Some(lead);
    c.status = status;
    if let Some(t) = started {
        c.started_at = at(t);
    }
    let call = calls::create(&mut tx, &c).await.unwrap();
    if duration.is_some() {
        calls::update_fields(
            &mut tx,
            call.id,
            &CallPatch {
                duration_secs: duration,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    call.id
}

fn names(v: &Value, key: &str) -> Vec<(String, i64)> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x[key].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn dashboards_and_reports_count_the_clients_work(app: TestApp) {
    let admin = app.admin().await;
    let (op1_id, op1) = app.user(&admin, "op1", "operator", None).await;
    let (op2_id, op2) = app.user(&admin, "op2", "operator", None).await;
    let (s, _) = app
        .call(
            axum::http::Method::PUT,
            "/api/operator/profile/availability",
            Some(&op2),
            Some(json!({"isAvailable": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Days are the schedule's: Tehran is 3.5 hours ahead of UTC.
    let (s, v) = app
        .call(
            axum::http::Method::PUT,
            "/api/dialer/schedule",
            Some(&admin),
            Some(json!({"timezone": "Asia/Tehran", "windows": [{"weekday": 0, "start": "09:00", "end": "20:00"}], "holidays": [], "enabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut lead = std::collections::HashMap::new();
    for (p, phone) in [
        ("urgent", "+14155550301"),
        ("high", "+14155550302"),
        ("medium", "+14155550303"),
        ("low", "+14155550304"),
    ] {
        let (s, v) = app
            .post("/api/leads", &admin, json!({"phone": phone, "priority": p}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        lead.insert(p, v["lead"]["id"].as_i64().unwrap());
    }
    let (s, _) = app
        .post(
            "/api/operator/leads/claim",
            &op1,
            json!({"leadId": lead["urgent"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // 21:00 UTC on the 14th is 00:30 on the 15th in Tehran; 19:00 UTC is 22:30 on the 14th.
    let a = Some("2026-01-14T21:00:00Z");
    logged_call(
        &app,
        Some(op1_id),
        lead["urgent"],
        CallStatus::Completed,
        a,
        Some(120),
    )
    .await;
    let b = Some("2026-01-14T19:00:00Z");
    logged_call(&app, Some(op1_id), lead["high"], CallStatus::Busy, b, None).await;
    let canceled = logged_call(
        &app,
        Some(op1_id),
        lead["medium"],
        CallStatus::Canceled,
        None,
        None,
    )
    .await;
    let d = Some("2026-01-15T08:00:00Z");
    logged_call(
        &app,
        Some(op2_id),
        lead["low"],
        CallStatus::Completed,
        d,
        Some(60),
    )
    .await;
    logged_call(&app, None, lead["low"], CallStatus::Answered, None, None).await;

    // The admin's dashboard.
    let (s, v) = app.get("/api/admin/dashboard", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = &v["dashboard"];
    assert_eq!(
        d["userStats"],
        json!({"totalUsers": 3, "activeUsers": 3, "availableSalespeople": 1, "totalAdmins": 1})
    );
    assert_eq!(
        (
            d["leadStats"]["totalLeads"].as_i64(),
            d["leadStats"]["pendingLeads"].as_i64(),
            d["leadStats"]["claimedLeads"].as_i64(),
            d["leadStats"]["failedLeads"].as_i64(),
        ),
        (Some(4), Some(3), Some(1), Some(0))
    );
    assert_eq!(
        d["callStats"],
        json!({"totalCalls": 5, "todayCalls": 2, "answeredCalls": 3, "completedCalls": 2,
               "totalDuration": 180, "averageDuration": 90})
    );
    assert_eq!(
        d["priorityBreakdown"],
        json!([{"_id": "urgent", "count": 1}, {"_id": "high", "count": 1},
               {"_id": "medium", "count": 1}, {"_id": "low", "count": 1}])
    );
    assert_eq!(
        names(&d["salespersonPerformance"], "totalCalls"),
        vec![("op1".to_string(), 3), ("op2".to_string(), 1)]
    );
    let top = &d["salespersonPerformance"][0];
    assert_eq!(
        (
            top["successfulCalls"].as_i64(),
            top["totalDuration"].as_i64(),
            top["email"].as_str()
        ),
        (Some(1), Some(120), Some("op1@example.com"))
    );
    let recent = d["recentActivity"].as_array().unwrap();
    assert_eq!(recent.len(), 5);
    // Newest first: the live call (nobody's), then the canceled one, which seed 001 calls
    // failed.
    assert_eq!(
        (
            recent[0]["lead"]["id"].as_i64(),
            recent[0]["status"].as_str(),
            &recent[0]["salesperson"]
        ),
        (Some(lead["low"]), Some("answered"), &Value::Null)
    );
    assert_eq!(
        (
            recent[1]["status"].as_str(),
            recent[1]["salesperson"]["name"].as_str(),
            recent[1]["lead"]["phone"].as_str()
        ),
        (Some("failed"), Some("op1"), Some("+14155550303"))
    );
    assert!(recent[1]["createdAt"].as_str().unwrap().ends_with("+00:00"));

    // The operator's own dashboard.
    let (s, v) = app.get("/api/operator/dashboard", &op1).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = &v["dashboard"];
    assert_eq!(
        d["personalStats"],
        json!({"totalCalls": 3, "todayCalls": 1, "answeredCalls": 1, "completedCalls": 1,
               "totalDuration": 120, "averageDuration": 120})
    );
    assert_eq!(
        d["assignedLeads"],
        json!([{"id": lead["urgent"], "phone": "+14155550301", "name": null, "priority": "urgent", "status": "claimed"}])
    );
    assert_eq!(d["recentCalls"].as_array().unwrap().len(), 3);
    assert_eq!(d["recentCalls"][0]["id"], canceled);
    assert_eq!(d["recentCalls"][0]["status"], "failed");
    let available: Vec<&str> = d["availableLeads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["priority"].as_str().unwrap())
        .collect();
    assert_eq!(available, ["high", "medium", "low"], "most urgent first");
    assert_eq!(
        names(&d["performanceRanking"], "totalCalls"),
        vec![("op1".to_string(), 3), ("op2".to_string(), 1)]
    );
    assert_eq!(d["performanceRanking"][1]["successRate"], 1.0);
    assert_eq!(d["operatorRank"], 1);
    let (_, v) = app.get("/api/operator/dashboard", &op2).await;
    assert_eq!(v["dashboard"]["operatorRank"], 2);
    assert_eq!(v["dashboard"]["personalStats"]["totalCalls"], 1);
    let (_, v) = app.get("/api/operator/dashboard", &admin).await;
    assert_eq!(
        v["dashboard"]["operatorRank"], 3,
        "after everyone with calls"
    );

    // Reports over the 14th and 15th of January, Tehran's days.
    let q = "startDate=2026-01-14&endDate=2026-01-15";
    let (s, v) = app
        .get(&format!("/api/admin/reports/performance?{q}"), &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p = &v["performance"];
    assert_eq!(
        p["salespersonStats"],
        json!([
            {"id": op1_id, "name": "op1", "totalCalls": 2, "answeredCalls": 1, "completedCalls": 1, "totalDuration": 120, "successRate": 0.5},
            {"id": op2_id, "name": "op2", "totalCalls": 1, "answeredCalls": 1, "completedCalls": 1, "totalDuration": 60, "successRate": 1.0},
        ])
    );
    assert_eq!(
        p["dailyCalls"],
        json!([
            {"_id": {"year": 2026, "month": 1, "day": 14}, "totalCalls": 1, "answeredCalls": 0},
            {"_id": {"year": 2026, "month": 1, "day": 15}, "totalCalls": 2, "answeredCalls": 2},
        ])
    );
    assert_eq!(p["leadConversion"], json!([]), "no lead was created then");
    let (_, v) = app.get("/api/admin/reports/performance", &admin).await;
    let mut conversion: Vec<(String, i64)> = v["performance"]["leadConversion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["_id"].as_str().unwrap().into(),
                x["count"].as_i64().unwrap(),
            )
        })
        .collect();
    conversion.sort();
    assert_eq!(
        conversion,
        vec![("claimed".into(), 1), ("pending".into(), 3)],
        "the last 30 days hold today's leads"
    );

    let (s, v) = app
        .get(&format!("/api/operator/profile/performance?{q}"), &op1)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["performance"],
        json!({"totalCalls": 2, "answeredCalls": 1, "completedCalls": 1, "totalDuration": 120, "averageDuration": 120})
    );
    assert_eq!(
        v["dailyPerformance"],
        json!([
            {"_id": {"year": 2026, "month": 1, "day": 14}, "calls": 1, "answered": 0, "completed": 0, "duration": 0},
            {"_id": {"year": 2026, "month": 1, "day": 15}, "calls": 1, "answered": 1, "completed": 1, "duration": 120},
        ])
    );
    assert_eq!(
        v["leadConversion"],
        json!([
            {"_id": "urgent", "totalCalls": 1, "answeredCalls": 1, "completedCalls": 1},
            {"_id": "high", "totalCalls": 1, "answeredCalls": 0, "completedCalls": 0},
        ])
    );
    // One day, given as exact times: only what started in it.
    let (_, v) = app
        .get(
            "/api/operator/profile/performance?startDate=2026-01-14T20:00:00Z&endDate=2026-01-14T22:00:00Z",
            &op1,
        )
        .await;
    assert_eq!(v["performance"]["totalCalls"], 1);

    // Seed 001's history speaks its own statuses too.
    let (_, v) = app
        .get("/api/operator/calls/history?status=failed", &op1)
        .await;
    assert_eq!(v["pagination"]["total"], 1, "{v}");
    assert_eq!(v["calls"][0]["status"], "failed");
    assert_eq!(
        app.get("/api/operator/calls/history?status=canceled", &op1)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
}

async fn panels_refuse_bad_input_and_other_tenants(app: TestApp) {
    let root = app.admin().await;
    let (_, op) = app.user(&root, "op1", "operator", None).await;
    let l = app.lead(&root, "+14155550311").await;
    logged_call(&app, None, l, CallStatus::Completed, None, Some(30)).await;

    for path in ["/api/admin/dashboard", "/api/admin/reports/performance"] {
        let (s, v) = app.get(path, &op).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    }
    for path in [
        "/api/admin/dashboard",
        "/api/admin/reports/performance",
        "/api/operator/dashboard",
        "/api/operator/profile/performance",
    ] {
        let (s, _) = app.call(axum::http::Method::GET, path, None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
    }
    for (path, who) in [
        ("/api/admin/reports/performance", &root),
        ("/api/operator/profile/performance", &op),
    ] {
        for q in [
            "startDate=last-week",
            "endDate=2026-02-30",
            "startDate=2026-02-01&endDate=2026-01-01",
            "startDate=2024-01-01&endDate=2026-01-01",
            "startDate=2026-01-01T10:00:00",
        ] {
            let (s, v) = app.get(&format!("{path}?{q}"), who).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{path}?{q}: {v}");
            assert_eq!(v["error"], "Bad Request", "seed 001's error shape: {v}");
            assert!(v["message"].as_str().unwrap().contains("Date"), "{v}");
        }
    }

    // Another client sees none of it.
    let (s, v) = app
        .post("/api/clients", &root, json!({"name": "Acme"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let acme = v["client"]["id"].as_i64().unwrap();
    let (_, acme_admin) = app.user(&root, "acmeadmin", "admin", Some(acme)).await;
    let (_, v) = app.get("/api/admin/dashboard", &acme_admin).await;
    let d = &v["dashboard"];
    assert_eq!(
        (
            d["userStats"]["totalUsers"].as_i64(),
            d["leadStats"]["totalLeads"].as_i64(),
            d["callStats"]["totalCalls"].as_i64(),
            d["recentActivity"].as_array().map(Vec::len),
        ),
        (Some(1), Some(0), Some(0), Some(0))
    );
    let (_, v) = app.get("/api/admin/dashboard", &root).await;
    assert_eq!(v["dashboard"]["callStats"]["totalCalls"], 1);
    assert_eq!(v["dashboard"]["callStats"]["averageDuration"], 30);
}

both!(
    dashboards_and_reports_count_the_clients_work,
    panels_refuse_bad_input_and_other_tenants,
);
