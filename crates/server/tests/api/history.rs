//! A lead's calls with their timelines (`GET /api/leads/{id}/calls`).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::calls::{both_calls, eventually};
use crate::harness::TestApp;

both_calls!(a_leads_calls_come_with_their_timelines);

/// Call `lead` as `agent` through the simulator, wait for the answer, hang up, wait for the end.
async fn call_and_hang_up(app: &TestApp, agent: &str, lead: i64) {
    let (s, v) = app
        .post(&format!("/api/v1/leads/{lead}/call"), agent, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let poll = format!("/api/v1/smartflo/active-call/{lead}");
    eventually("the call to be answered", || async {
        app.get(&poll, agent).await.1["data"]["status"] == "Answered"
    })
    .await;
    let call_id = app.get(&poll, agent).await.1["data"]["call_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = app
        .post(
            "/api/v1/smartflo/call/hangup",
            agent,
            json!({"call_id": call_id}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    eventually("the call to end", || async {
        app.get(&poll, agent).await.1["data"]["active"] == false
    })
    .await;
}

async fn a_leads_calls_come_with_their_timelines(app: TestApp) {
    let admin = app.admin().await;
    let (agent_id, agent) = app.user(&admin, "historian", "operator", None).await;
    let lead = app.lead(&admin, "+14155550177").await;
    let other_lead = app.lead(&admin, "+14155550178").await;
    let path = format!("/api/leads/{lead}/calls");

    // Never called: no calls, and pages say so.
    let (s, v) = app.get(&path, &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"calls": [], "pagination": {"page": 1, "limit": 20, "total": 0, "pages": 0}})
    );

    // A voice bot's call that was not picked up, then an agent's that was.
    let bot = "bot-key-for-tests-1";
    let (s, v) = app
        .post(
            "/api/calls",
            bot,
            json!({"callId": "HIST-1", "type": "outbound", "caller": "+14155550100", "receiver": "+14155550177", "status": "in-progress"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .patch("/api/calls/HIST-1", bot, json!({"status": "missed"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    call_and_hang_up(&app, &agent, lead).await;
    call_and_hang_up(&app, &agent, other_lead).await;

    let (s, v) = app.get(&path, &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let calls = v["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "only this lead's calls: {v}");
    assert_eq!(v["pagination"]["total"], 2);
    // Newest first: the agent's call, then the bot's.
    let (agents, bots) = (&calls[0], &calls[1]);
    assert_eq!(
        (agents["provider"].as_str(), bots["provider"].as_str()),
        (Some("simulator"), Some("external")),
        "{v}"
    );
    assert_eq!(agents["status"], "completed", "{agents}");
    assert_eq!(agents["agent_id"], agent_id);
    assert_eq!(agents["agent_name"], "historian");
    assert!(
        agents["answered_at"].is_string() && agents["ended_at"].is_string(),
        "{agents}"
    );
    assert_eq!(bots["status"], "no-answer", "{bots}");
    assert_eq!(bots["call_id"], "HIST-1");
    for (c, ended) in [(agents, "completed"), (bots, "no-answer")] {
        assert_eq!(c["to_number"], "+14155550177", "{c}");
        assert_eq!(c["direction"], "outbound");
        assert!(
            c["call_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{c}"
        );
        assert!(
            c["started_at"].as_str().unwrap().ends_with("+00:00"),
            "times with their offset: {c}"
        );
        // Its timeline, in order, ending where the call ended.
        let events = c["events"].as_array().unwrap();
        let statuses: Vec<&str> = events
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.last(), Some(&ended), "{statuses:?}");
        let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    }
    // The agent's call rang, was answered, then ended.
    let statuses: Vec<&str> = agents["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    let at = |s: &str| statuses.iter().position(|x| *x == s);
    assert!(
        at("answered").is_some() && at("answered") < at("completed"),
        "{statuses:?}"
    );

    // Pages: the second page of one is the older call.
    let (_, p2) = app.get(&format!("{path}?limit=1&page=2"), &admin).await;
    assert_eq!(p2["calls"].as_array().unwrap().len(), 1);
    assert_eq!(p2["calls"][0]["id"], calls[1]["id"]);
    assert_eq!(
        p2["pagination"],
        json!({"page": 2, "limit": 1, "total": 2, "pages": 2})
    );

    // Those who may read the lead may read its calls; nobody else, and bad ids are refused.
    assert_eq!(app.get(&path, &agent).await.0, StatusCode::OK);
    let outsider = app
        .in_another_client(&admin, "History Other", "history_outsider", "admin")
        .await;
    let bot_key = "bot-key-for-tests-1";
    let refusals: [(&str, &str, StatusCode); 7] = [
        (&path, &outsider, StatusCode::NOT_FOUND),
        ("/api/leads/999999/calls", &admin, StatusCode::NOT_FOUND),
        ("/api/leads/abc/calls", &admin, StatusCode::BAD_REQUEST),
        (&path, "not-a-token", StatusCode::UNAUTHORIZED),
        (
            &format!("{path}?limit=many"),
            &admin,
            StatusCode::BAD_REQUEST,
        ),
        (&format!("{path}?page=-1"), &admin, StatusCode::BAD_REQUEST),
        // A voice bot's key writes the call log; it reads no leads.
        (&path, bot_key, StatusCode::UNAUTHORIZED),
    ];
    for (uri, token, want) in refusals {
        let (s, v): (StatusCode, Value) = app.get(uri, token).await;
        assert_eq!(s, want, "{uri}: {v}");
        assert!(v["message"].is_string(), "the native error shape: {v}");
    }
}
