//! Calls: click-to-call (seed 000), the operator panel (seed 001), signed webhooks.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use switchboard_server::config::Secret;
use switchboard_store::calls::{self, NewCall};
use switchboard_telephony::simulator::SimulatorConfig;

use crate::harness::{Backend, TestApp, test_config};

pub const PUBLIC: &str = "https://sb.example.com";

/// A test app whose simulator answers every call after 50 ms and talks for ~10 s, and which
/// knows Twilio, Plivo and Smartflo webhook credentials.
pub async fn call_app(backend: Backend) -> Option<TestApp> {
    TestApp::with_config(backend, call_config()).await
}

/// [`call_app`]'s configuration.
fn call_config() -> switchboard_server::config::Config {
    let mut c = test_config();
    c.public_url = Some(PUBLIC.into());
    c.telephony.simulator = SimulatorConfig {
        seed: 7,
        answer_rate: 1.0,
        busy_rate: 0.0,
        failed_rate: 0.0,
        ring_secs: (0.5, 0.5),
        talk_mean_secs: 1000.0,
        time_scale: 10.0,
        machine_rate: 0.0,
    };
    c.telephony.twilio_account_sid = Some("AC123".into());
    c.telephony.twilio_auth_token = Some(Secret("twilio-token".into()));
    c.telephony.plivo_auth_id = Some("MA123".into());
    c.telephony.plivo_auth_token = Some(Secret("plivo-token".into()));
    c.telephony.smartflo_webhook_secret = Some(Secret("smartflo-secret-123456".into()));
    c.bot_api_key = Some(Secret("bot-key-for-tests-1".into()));
    c
}

macro_rules! both_calls {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::harness::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = crate::calls::call_app(Backend::Sqlite).await { super::$name(app).await }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = crate::calls::call_app(Backend::Postgres).await { super::$name(app).await }
            }
        }
    )*};
}
pub(crate) use both_calls;

both_calls!(
    callers_are_put_through_to_their_agent,
    plivo_callers_are_put_through_to_their_agent,
    click_to_call_polls_and_hangs_up,
    operators_claim_call_and_report,
    signed_twilio_webhooks_only,
    plivo_and_smartflo_webhooks,
    answering_machines_leave_their_leads_missed
);

/// Poll until `f` holds (the simulator plays calls out in the background).
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn click_to_call_polls_and_hangs_up(app: TestApp) {
    let admin = app.admin().await;
    let (agent_id, agent) = app.user(&admin, "agent1", "operator", None).await;
    let (_, other) = app.user(&admin, "agent2", "operator", None).await;
    let lead = app.lead(&admin, "+14155550190").await;

    let (s, v) = app
        .post(&format!("/api/v1/leads/{lead}/call"), &agent, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(v["data"]["action"], "poll_active_call");
    let poll = v["data"]["poll_url"].as_str().unwrap().to_string();
    assert_eq!(poll, format!("/api/v1/smartflo/active-call/{lead}"));
    // A second call to the same lead while the first is live is refused.
    let (s, v) = app
        .post(&format!("/api/v1/leads/{lead}/call"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["success"], false, "seed 000 error shape: {v}");

    let mut call_id = String::new();
    for _ in 0..200 {
        let (_, v) = app.get(&poll, &agent).await;
        if v["data"]["active"] == true && v["data"]["status"] == "Answered" {
            call_id = v["data"]["call_id"].as_str().unwrap().to_string();
            assert_eq!(v["data"]["direction"], 2);
            assert_eq!(v["data"]["customer_number"], "+14155550190");
            assert_eq!(v["data"]["duration"].as_str().unwrap().len(), 8, "{v}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(!call_id.is_empty(), "the call was never answered");
    // Live calls (admins only), as a bare array.
    let (s, live) = app.get("/api/v1/smartflo/live-calls", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(live.as_array().unwrap().len(), 1, "{live}");
    assert_eq!(live[0]["state"], "Answered");
    assert_eq!(
        app.get("/api/v1/smartflo/live-calls", &agent).await.0,
        StatusCode::FORBIDDEN
    );
    // Another operator may not hang up this call; its own agent may.
    let (s, v) = app
        .post(
            "/api/v1/smartflo/call/hangup",
            &other,
            json!({"call_id": call_id}),
        )
        .await;
    assert_eq!(
        (s, v["success"].clone()),
        (StatusCode::FORBIDDEN, json!(false))
    );
    assert_eq!(
        app.post("/api/v1/smartflo/call/hangup", &agent, json!({}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post(
            "/api/v1/smartflo/call/hangup",
            &agent,
            json!({"call_id": "nope"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (s, v) = app
        .post(
            "/api/v1/smartflo/call/hangup",
            &agent,
            json!({"call_id": call_id}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    eventually("the call to end", || async {
        let (_, v) = app
            .get(&format!("/api/v1/smartflo/active-call/{lead}"), &agent)
            .await;
        v["data"]["active"] == false
    })
    .await;
    let (_, l) = app.get(&format!("/api/leads/{lead}"), &admin).await;
    assert_eq!(
        (
            l["lead"]["attempts"].as_i64(),
            l["lead"]["disposition"].as_str(),
            l["lead"]["assigned_user_id"].as_i64()
        ),
        (Some(1), Some("CONNECTED"), Some(agent_id))
    );
    // Hanging up again is harmless.
    assert_eq!(
        app.post(
            "/api/v1/smartflo/call/hangup",
            &agent,
            json!({"call_id": call_id})
        )
        .await
        .1["message"],
        "Call already ended"
    );

    // Call records: dates required, filters, Smartflo's paging shape.
    let (s, v) = app.get("/api/v1/smartflo/call/records", &admin).await;
    assert_eq!(
        (s, v["success"].clone()),
        (StatusCode::BAD_REQUEST, json!(false))
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let range = format!("from_date={today}%2000:00:00&to_date={today}%2023:59:59");
    let (s, v) = app
        .get(
            &format!("/api/v1/smartflo/call/records?{range}&limit=20&page=1"),
            &admin,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["count"].as_i64(), v["limit"].as_i64()),
        (Some(1), Some(20))
    );
    let r = &v["results"][0];
    assert_eq!(
        (
            r["status"].as_str(),
            r["direction"].as_str(),
            r["agent_name"].as_str()
        ),
        (Some("answered"), Some("outbound"), Some("agent1"))
    );
    assert!(
        r["call_duration"].as_i64().is_some() && r["call_id"].as_str() == Some(call_id.as_str())
    );
    let (_, v) = app
        .get(
            &format!("/api/v1/smartflo/call/records?{range}&destination=4155550999"),
            &admin,
        )
        .await;
    assert_eq!(v["count"], 0);
    let (_, v) = app
        .get(
            &format!(
                "/api/v1/smartflo/call/records?{range}&destination=4155550190&direction=outbound"
            ),
            &admin,
        )
        .await;
    assert_eq!(v["count"], 1);
    assert_eq!(
        app.get(
            &format!("/api/v1/smartflo/call/records?{range}&direction=sideways"),
            &admin
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(
            "/api/v1/smartflo/call/records?from_date=yesterday&to_date=today",
            &admin
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    // Another client's lead cannot be called.
    let outsider = app
        .in_another_client(&admin, "Other", "outsider", "admin")
        .await;
    assert_eq!(
        app.post(&format!("/api/v1/leads/{lead}/call"), &outsider, json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/smartflo/active-call/{lead}"), &outsider)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

async fn operators_claim_call_and_report(app: TestApp) {
    let admin = app.admin().await;
    let (_, op1) = app.user(&admin, "op1", "operator", None).await;
    let (_, op2) = app.user(&admin, "op2", "operator", None).await;
    let low = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550201", "priority": "low"}),
        )
        .await
        .1["lead"]["id"]
        .as_i64()
        .unwrap();
    let urgent = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550202", "priority": "urgent", "tags": ["vip"]}),
        )
        .await
        .1["lead"]["id"]
        .as_i64()
        .unwrap();
    let (s, v) = app
        .get("/api/operator/leads/available?page=1&limit=20", &op1)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["leads"][0]["id"], urgent, "most urgent first: {v}");
    assert_eq!(v["leads"][0]["tags"], json!(["vip"]));
    assert_eq!(v["pagination"]["total"], 2);
    let (_, v) = app
        .get("/api/operator/leads/available?priority=low", &op1)
        .await;
    assert_eq!(v["pagination"]["total"], 1);
    let (_, v) = app
        .get("/api/operator/leads/available?priority=URGENT,high", &op1)
        .await;
    assert_eq!(
        (
            v["pagination"]["total"].as_i64(),
            v["leads"][0]["id"].as_i64()
        ),
        (Some(1), Some(urgent))
    );
    // Page two of one-lead pages holds the second lead.
    let (_, v) = app
        .get("/api/operator/leads/available?page=2&limit=1", &op1)
        .await;
    assert_eq!(
        (
            v["leads"][0]["id"].as_i64(),
            v["pagination"]["pages"].as_i64()
        ),
        (Some(low), Some(2))
    );
    for bad in ["priority=bogus", "page=abc", "limit=-1", "priority=high,"] {
        let (s, v) = app
            .get(&format!("/api/operator/leads/available?{bad}"), &op1)
            .await;
        if bad == "priority=high," {
            // A trailing comma names nothing more.
            assert_eq!(s, StatusCode::OK, "{bad}: {v}");
            continue;
        }
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["error"], "Bad Request", "seed 001 error shape: {v}");
    }
    // Another client's operator sees none of these leads.
    let (_, c) = app
        .post("/api/clients", &admin, json!({"name": "Elsewhere"}))
        .await;
    let (_, stranger) = app
        .user(&admin, "stranger", "operator", c["client"]["id"].as_i64())
        .await;
    let (s, v) = app.get("/api/operator/leads/available", &stranger).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["leads"].as_array().map(Vec::len),
            v["pagination"]["total"].as_i64()
        ),
        (Some(0), Some(0))
    );

    let (s, v) = app
        .post(
            "/api/operator/leads/claim",
            &op1,
            json!({"leadId": urgent.to_string()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["message"].as_str(), v["lead"]["status"].as_str()),
        (Some("Lead claimed successfully"), Some("claimed"))
    );
    let (s, v) = app
        .post("/api/operator/leads/claim", &op2, json!({"leadId": urgent}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "Conflict", "seed 001 error shape");
    assert_eq!(
        app.get("/api/operator/leads/available", &op2).await.1["pagination"]["total"],
        1,
        "claimed leads are not available to others"
    );
    assert_eq!(
        app.post("/api/operator/calls/start", &op2, json!({"leadId": urgent}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.post("/api/operator/leads/claim", &op2, json!({}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post("/api/operator/leads/claim", &op2, json!({"leadId": "abc"}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.post("/api/operator/leads/claim", &op2, json!({"leadId": 99999}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (s, v) = app
        .post("/api/operator/calls/start", &op1, json!({"leadId": urgent}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["message"].as_str(),
            v["call"]["lead"].as_str(),
            v["call"]["status"].as_str()
        ),
        (
            Some("Call started successfully"),
            Some("+14155550202"),
            Some("initiated")
        )
    );
    let call = v["call"]["id"].as_i64().unwrap();
    assert!(
        v["call"]["twilioCallSid"]
            .as_str()
            .is_some_and(|s| s.starts_with("SIM"))
    );
    let (_, l) = app.get(&format!("/api/leads/{urgent}"), &admin).await;
    assert!(
        matches!(l["lead"]["status"].as_str(), Some("calling" | "answered")),
        "{l}"
    );

    // The operator reports the outcome; another operator may not touch it.
    assert_eq!(
        app.call(
            Method::PUT,
            &format!("/api/operator/calls/{call}/update"),
            Some(&op2),
            Some(json!({"status": "completed"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    for bad in [
        json!({"status": "exploded"}),
        json!({"duration": -5}),
        json!({}),
        json!({"status": 3}),
    ] {
        let (s, v) = app
            .call(
                Method::PUT,
                &format!("/api/operator/calls/{call}/update"),
                Some(&op1),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {v}");
    }
    let (s, v) = app.call(Method::PUT, &format!("/api/operator/calls/{call}/update"), Some(&op1), Some(json!({"status": "completed", "notes": "Customer interested in premium package", "duration": 180}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["call"]["status"].as_str(), v["call"]["duration"].as_i64()),
        (Some("completed"), Some(180))
    );
    // A late ringing report cannot bring it back.
    let (_, v) = app
        .call(
            Method::PUT,
            &format!("/api/operator/calls/{call}/update"),
            Some(&op1),
            Some(json!({"status": "ringing"})),
        )
        .await;
    assert_eq!(v["call"]["status"], "completed");
    let (_, l) = app.get(&format!("/api/leads/{urgent}"), &admin).await;
    assert_eq!(
        (
            l["lead"]["attempts"].as_i64(),
            l["lead"]["disposition"].as_str()
        ),
        (Some(1), Some("CONNECTED"))
    );

    let (s, v) = app
        .get(
            "/api/operator/calls/history?page=1&limit=20&status=completed",
            &op1,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["pagination"]["total"], 1);
    let c = &v["calls"][0];
    assert_eq!(
        (
            c["lead"]["phone"].as_str(),
            c["lead"]["priority"].as_str(),
            c["duration"].as_i64(),
            c["notes"].as_str()
        ),
        (
            Some("+14155550202"),
            Some("urgent"),
            Some(180),
            Some("Customer interested in premium package")
        )
    );
    assert!(c["createdAt"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(
        app.get("/api/operator/calls/history", &op2).await.1["pagination"]["total"],
        0,
        "only one's own calls"
    );
    assert_eq!(
        app.get("/api/operator/calls/history?status=lost", &op1)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    let (s, v) = app
        .call(
            Method::PUT,
            "/api/operator/profile/availability",
            Some(&op1),
            Some(json!({"isAvailable": false})),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::OK,
            json!({"message": "Availability updated successfully", "isAvailable": false})
        )
    );
    assert_eq!(
        app.call(
            Method::PUT,
            "/api/operator/profile/availability",
            Some(&op1),
            Some(json!({"isAvailable": "no"}))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (_, me) = app.get("/api/auth/me", &op1).await;
    assert_eq!(me["user"]["is_available"], false);
    let _ = low;
}

/// Make a call row as if we had placed it through `provider`, with the given provider id.
pub async fn provider_call(app: &TestApp, provider: &str, pcid: &str, phone: &str) -> (i64, i64) {
    let admin = app.admin().await;
    let lead = app.lead(&admin, phone).await;
    let mut tx = app.state.db.begin().await.unwrap();
    let mut c = NewCall::outbound(app.state.default_client_id, provider, phone);
    c.provider_call_id = Some(pcid.into());
    c.lead_id = Some(lead);
    let call = calls::create(&mut tx, &c).await.unwrap();
    tx.commit().await.unwrap();
    (call.id, lead)
}

fn form(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

async fn post_form(
    app: &TestApp,
    path: &str,
    body: String,
    headers: &[(&str, String)],
) -> (StatusCode, Value) {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    let (s, _, bytes) = app.raw(b.body(Body::from(body)).unwrap()).await;
    (
        s,
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into())),
    )
}

async fn call_status(app: &TestApp, id: i64) -> (String, Option<i64>) {
    let c = calls::get(
        &mut app.state.db.read().await.unwrap(),
        app.state.default_client_id,
        id,
    )
    .await
    .unwrap()
    .unwrap();
    (c.status, c.duration_secs)
}

async fn signed_twilio_webhooks_only(app: TestApp) {
    let (id, lead) = provider_call(
        &app,
        "twilio",
        "CA00000000000000000000000000000001",
        "+14155550300",
    )
    .await;
    let path = format!("/webhooks/twilio/status?call={id}");
    let send = |status: &'static str,
                extra: Vec<(&'static str, &'static str)>,
                sign_with: &'static str| {
        let path = path.clone();
        let app = &app;
        async move {
            let mut params = vec![
                ("CallSid", "CA00000000000000000000000000000001"),
                ("AccountSid", "AC123"),
                ("CallStatus", status),
                ("From", "+14150000000"),
                ("To", "+14155550300"),
            ];
            params.extend(extra);
            twilio_post_signed(app, &path, &params, sign_with).await
        }
    };
    // Unsigned and mis-signed: 403, nothing changes.
    let (s, v) = post_form(
        &app,
        &path,
        form(&[
            ("CallSid", "CA00000000000000000000000000000001"),
            ("CallStatus", "completed"),
        ]),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        send("completed", vec![("CallDuration", "42")], "wrong-token")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call_status(&app, id).await.0, "initiated");
    // Out of order: completed first, then ringing and in-progress, then completed again.
    let (s, v) = send("completed", vec![("CallDuration", "42")], "twilio-token").await;
    assert_eq!(
        (s, v["outcome"].as_str()),
        (StatusCode::OK, Some("applied")),
        "{v}"
    );
    send("ringing", vec![], "twilio-token").await;
    send("in-progress", vec![], "twilio-token").await;
    let (_, v) = send("completed", vec![("CallDuration", "42")], "twilio-token").await;
    assert_eq!(v["outcome"], "duplicate");
    assert_eq!(
        call_status(&app, id).await,
        ("completed".to_string(), Some(42))
    );
    let admin = app.admin().await;
    let (_, l) = app.get(&format!("/api/leads/{lead}"), &admin).await;
    assert_eq!(
        (
            l["lead"]["attempts"].as_i64(),
            l["lead"]["disposition"].as_str()
        ),
        (Some(1), Some("CONNECTED")),
        "counted once"
    );
    // A signed body that is not a status callback is a 400.
    assert_eq!(
        twilio_post(&app, &path, &[("Foo", "bar")]).await.0,
        StatusCode::BAD_REQUEST
    );

    // The answer URL bridges to the agent's phone in TwiML.
    let (bridged, _) = provider_call(
        &app,
        "twilio",
        "CA00000000000000000000000000000002",
        "+14155550301",
    )
    .await;
    bridge_to_agent(&app, bridged).await;
    let apath = format!("/webhooks/twilio/answer?call={bridged}");
    let params = [
        ("CallSid", "CA00000000000000000000000000000002"),
        ("CallStatus", "in-progress"),
    ];
    let (s, v) = twilio_post(&app, &apath, &params).await;
    assert_eq!(s, StatusCode::OK);
    let xml = v.as_str().unwrap();
    assert!(
        xml.contains("<Dial") && xml.contains("<Number>+14155550999</Number>"),
        "{xml}"
    );
    assert_eq!(
        post_form(
            &app,
            &apath,
            form(&params),
            &[("x-twilio-signature", "bad".into())]
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

/// Post `params` to `path` signed as Twilio would.
async fn twilio_post(app: &TestApp, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    twilio_post_signed(app, path, params, "twilio-token").await
}

/// Post `params` to `path` signed with `token` as Twilio would.
async fn twilio_post_signed(
    app: &TestApp,
    path: &str,
    params: &[(&str, &str)],
    token: &str,
) -> (StatusCode, Value) {
    let sig = switchboard_telephony::twilio::compute_signature(
        token,
        &format!("{PUBLIC}{path}"),
        &owned(params),
    );
    post_form(app, path, form(params), &[("x-twilio-signature", sig)]).await
}

fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Have the call's answer bridge it to an agent's phone.
async fn bridge_to_agent(app: &TestApp, call: i64) {
    let mut tx = app.state.db.begin().await.unwrap();
    calls::update_fields(
        &mut tx,
        call,
        &calls::CallPatch {
            metadata: Some(json!({"bridge": {"agent": "+14155550999"}})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Post `params` to `path` signed as Plivo would.
async fn plivo_post(app: &TestApp, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let sig = switchboard_telephony::plivo::compute_v3(
        "plivo-token",
        "POST",
        &format!("{PUBLIC}{path}"),
        &owned(params),
        "777",
    );
    post_form(
        app,
        path,
        form(params),
        &[
            ("x-plivo-signature-v3", sig),
            ("x-plivo-signature-v3-nonce", "777".into()),
        ],
    )
    .await
}

/// Answering-machine verdicts: Twilio's voice URL with `AnsweredBy=machine_start` is answered
/// with a hang-up (not the bridge), Plivo's `MachineDetection` callback is kept, and either
/// call, once completed, leaves its lead MISSED (retried by rule), not CONNECTED. A human's
/// call is bridged and connects as before. Each call shows who answered.
async fn answering_machines_leave_their_leads_missed(app: TestApp) {
    let admin = app.admin().await;
    let lead_of = |lead: i64| {
        let (app, admin) = (&app, &admin);
        async move { app.get(&format!("/api/leads/{lead}"), admin).await.1["lead"].clone() }
    };
    // A campaign's call with a message to leave: said once the greeting ended.
    let (left, _) = provider_call(
        &app,
        "twilio",
        "CA00000000000000000000000000000054",
        "+14155550354",
    )
    .await;
    let mut tx = app.state.db.begin().await.unwrap();
    calls::update_fields(
        &mut tx,
        left,
        &calls::CallPatch {
            metadata: Some(
                json!({"bridge": {"agent": "+14155550999"}, "voicemail": "Call Acme <back>"}),
            ),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (_, v) = twilio_post(
        &app,
        &format!("/webhooks/twilio/answer?call={left}"),
        &[
            ("CallSid", "CA00000000000000000000000000000054"),
            ("CallStatus", "in-progress"),
            ("AnsweredBy", "machine_end_beep"),
        ],
    )
    .await;
    let xml = v.as_str().unwrap();
    assert!(
        xml.ends_with("<Response><Say>Call Acme &lt;back&gt;</Say><Hangup/></Response>"),
        "{xml}"
    );

    for (sid, phone, verdict, want) in [
        (
            "CA00000000000000000000000000000051",
            "+14155550351",
            "machine_start",
            "MISSED",
        ),
        (
            "CA00000000000000000000000000000052",
            "+14155550352",
            "human",
            "CONNECTED",
        ),
    ] {
        let (id, lead) = provider_call(&app, "twilio", sid, phone).await;
        bridge_to_agent(&app, id).await;
        let answer = format!("/webhooks/twilio/answer?call={id}");
        let picked_up = [
            ("CallSid", sid),
            ("CallStatus", "in-progress"),
            ("AnsweredBy", verdict),
        ];
        let (s, v) = twilio_post(&app, &answer, &picked_up).await;
        assert_eq!(s, StatusCode::OK);
        let xml = v.as_str().unwrap();
        if verdict == "human" {
            assert!(xml.contains("<Dial"), "{xml}");
        } else {
            assert!(xml.contains("<Hangup/>") && !xml.contains("<Dial"), "{xml}");
            assert_ne!(lead_of(lead).await["status"], "answered", "no conversation");
        }
        // Twilio's own in-progress callback, then the end.
        let status = format!("/webhooks/twilio/status?call={id}");
        twilio_post(
            &app,
            &status,
            &[("CallSid", sid), ("CallStatus", "in-progress")],
        )
        .await;
        let (s, v) = twilio_post(
            &app,
            &status,
            &[
                ("CallSid", sid),
                ("CallStatus", "completed"),
                ("CallDuration", "4"),
            ],
        )
        .await;
        assert_eq!(
            (s, &v["outcome"]),
            (StatusCode::OK, &json!("applied")),
            "{v}"
        );
        let l = lead_of(lead).await;
        assert_eq!(l["disposition"], want, "{l}");
        assert_eq!(l["attempts"], 1, "{l}");
        let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
        assert_eq!(calls["calls"][0]["answered_by"], verdict, "{calls}");
        // A machine's call ends without a conversation, whatever the provider calls it.
        let ended = if verdict == "human" {
            "completed"
        } else {
            "no-answer"
        };
        assert_eq!(calls["calls"][0]["status"], ended, "{calls}");
        assert_eq!(calls["calls"][0]["duration"], 4, "{calls}");
    }

    let uuid = "5a2e0f40-0000-4000-8000-000000000053";
    let (id, lead) = provider_call(&app, "plivo", uuid, "+14155550353").await;
    let path = format!("/webhooks/plivo/hangup?call={id}");
    let (s, v) = plivo_post(
        &app,
        &path,
        &[
            ("RequestUUID", uuid),
            ("CallUUID", "c53"),
            ("CallStatus", "in-progress"),
            ("Event", "MachineDetection"),
            ("Machine", "true"),
        ],
    )
    .await;
    assert_eq!(
        (s, &v["outcome"]),
        (StatusCode::OK, &json!("applied")),
        "{v}"
    );
    plivo_post(
        &app,
        &path,
        &[
            ("RequestUUID", uuid),
            ("CallUUID", "c53"),
            ("CallStatus", "completed"),
            ("Event", "Hangup"),
            ("Duration", "3"),
            ("HangupCauseName", "Normal Hangup"),
        ],
    )
    .await;
    let l = lead_of(lead).await;
    assert_eq!(l["disposition"], "MISSED", "{l}");
    let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
    assert_eq!(calls["calls"][0]["answered_by"], "machine", "{calls}");
    assert_eq!(calls["calls"][0]["status"], "no-answer", "{calls}");

    // The same two callbacks crossed: the hang-up first (the call ends `completed`, its lead
    // CONNECTED), then the verdict, which corrects both. Sent again, nothing moves.
    let uuid = "5a2e0f40-0000-4000-8000-000000000055";
    let (id, lead) = provider_call(&app, "plivo", uuid, "+14155550355").await;
    let path = format!("/webhooks/plivo/hangup?call={id}");
    let hangup = [
        ("RequestUUID", uuid),
        ("CallUUID", "c55"),
        ("CallStatus", "completed"),
        ("Event", "Hangup"),
        ("Duration", "3"),
        ("HangupCauseName", "Normal Hangup"),
    ];
    let verdict = [
        ("RequestUUID", uuid),
        ("CallUUID", "c55"),
        ("CallStatus", "in-progress"),
        ("Event", "MachineDetection"),
        ("Machine", "true"),
    ];
    plivo_post(&app, &path, &hangup).await;
    let l = lead_of(lead).await;
    assert_eq!(
        (&l["disposition"], &l["status"], &l["attempts"]),
        (&json!("CONNECTED"), &json!("answered"), &json!(1)),
        "{l}"
    );
    for _ in 0..2 {
        let (s, v) = plivo_post(&app, &path, &verdict).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let l = lead_of(lead).await;
        assert_eq!(
            (&l["disposition"], &l["status"], &l["attempts"]),
            (&json!("MISSED"), &json!("pending"), &json!(1)),
            "{l}"
        );
        assert!(l["next_attempt_at"].is_string(), "retried by rule: {l}");
        let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
        assert_eq!(
            (
                &calls["calls"][0]["status"],
                &calls["calls"][0]["answered_by"]
            ),
            (&json!("no-answer"), &json!("machine")),
            "{calls}"
        );
    }
    plivo_post(&app, &path, &hangup).await;
    assert_eq!(lead_of(lead).await["attempts"], 1);
}

async fn plivo_and_smartflo_webhooks(app: TestApp) {
    let (id, _) = provider_call(
        &app,
        "plivo",
        "9834029e-58b6-11e1-b8b7-a5bd0e4e126f",
        "+14155550400",
    )
    .await;
    let path = format!("/webhooks/plivo/hangup?call={id}");
    let params = [
        ("RequestUUID", "9834029e-58b6-11e1-b8b7-a5bd0e4e126f"),
        ("CallUUID", "c1"),
        ("CallStatus", "busy"),
        ("Event", "Hangup"),
        ("HangupCauseName", "Busy Line"),
    ];
    let sig = switchboard_telephony::plivo::compute_v3(
        "plivo-token",
        "POST",
        &format!("{PUBLIC}{path}"),
        &owned(&params),
        "12345",
    );
    let (s, v) = post_form(
        &app,
        &path,
        form(&params),
        &[
            ("x-plivo-signature-v3", sig.clone()),
            ("x-plivo-signature-v3-nonce", "99999".into()),
        ],
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a signature for another nonce: {v}"
    );
    let (s, v) = post_form(
        &app,
        &path,
        form(&params),
        &[
            ("x-plivo-signature-v3", sig),
            ("x-plivo-signature-v3-nonce", "12345".into()),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(call_status(&app, id).await.0, "busy");

    let (sid, _) = provider_call(&app, "smartflo", "1768024046.927391", "+14155550401").await;
    let body = json!({"call_id": "1768024046.927391", "call_status": "answered", "end_stamp": "2026-01-10 16:48:00", "duration": "33"});
    let post = |q: &'static str, hdr: Option<(&'static str, &'static str)>| {
        let body = body.clone();
        let app = &app;
        async move {
            let mut b = Request::post(format!("/api/v1/smartflo/webhook{q}"))
                .header(header::CONTENT_TYPE, "application/json");
            if let Some((k, v)) = hdr {
                b = b.header(k, v);
            }
            let (s, _, bytes) = app.raw(b.body(Body::from(body.to_string())).unwrap()).await;
            if !s.is_success() {
                // Seed 000's surface: its error shape.
                let v: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(v["success"], false, "{v}");
            }
            s
        }
    };
    assert_eq!(post("", None).await, StatusCode::FORBIDDEN);
    assert_eq!(
        post("?secret=wrong-secret-000000", None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(call_status(&app, sid).await.0, "initiated");
    assert_eq!(
        post("", Some(("x-webhook-secret", "smartflo-secret-123456"))).await,
        StatusCode::OK
    );
    assert_eq!(call_status(&app, sid).await.0, "completed");
    assert_eq!(
        post("?secret=smartflo-secret-123456", None).await,
        StatusCode::OK,
        "a repeat is accepted and changes nothing"
    );
}

/// Plivo's REST API as far as a machine's message needs it: every request kept (method, path,
/// JSON body); a transfer answers 202, except for the call UUID `refuse` (400); a hang-up 204.
struct MockPlivo {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>,
}

impl MockPlivo {
    async fn start(refuse: &'static str) -> Self {
        use axum::response::IntoResponse;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let kept = kept.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                let path = parts.uri.path().to_string();
                kept.lock().unwrap().push((
                    parts.method.to_string(),
                    path.clone(),
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                ));
                if parts.method == Method::DELETE {
                    StatusCode::NO_CONTENT.into_response()
                } else if path.ends_with(&format!("/Call/{refuse}/")) {
                    (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({"api_id": "x", "error": "cannot transfer"})),
                    )
                        .into_response()
                } else {
                    (
                        StatusCode::ACCEPTED,
                        axum::Json(json!({"api_id": "x", "message": "call transferred"})),
                    )
                        .into_response()
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<(String, String, Value)> {
        self.seen.lock().unwrap().clone()
    }
}

/// On Plivo, a machine that answered a call with a message to leave has the call moved (Plivo's
/// transfer of the A leg) to our voicemail URL, whose XML waits for the greeting's beep and
/// speaks the message; the call then ends `no-answer` and its lead MISSED. A repeated verdict
/// moves nothing again; a call Plivo refuses to move is hung up; a call without a message is
/// left to Plivo (which hangs up itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plivo_leaves_messages_on_machines() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let plivo = MockPlivo::start("c-refused").await;
        let mut c = call_config();
        c.telephony.provider = switchboard_telephony::ProviderKind::Plivo;
        c.telephony.plivo_base_url = plivo.url.clone();
        c.dialer.engine = false;
        let Some(app) = TestApp::with_config(backend, c).await else {
            continue;
        };
        let admin = app.admin().await;
        let mut calls_made = Vec::new();
        for (n, message) in [
            (1, Some("Please call <Acme> back")),
            (2, Some("Please call Acme back")),
            (3, None),
        ] {
            let uuid = format!("5a2e0f40-0000-4000-8000-00000000007{n}");
            let phone = format!("+1415555037{n}");
            let lead = app.lead(&admin, &phone).await;
            let mut new = NewCall::outbound(app.state.default_client_id, "plivo", &phone);
            new.provider_call_id = Some(uuid.clone());
            new.lead_id = Some(lead);
            new.metadata = match message {
                Some(m) => json!({"machineDetection": true, "voicemail": m}),
                None => json!({"machineDetection": true}),
            };
            let mut tx = app.state.db.begin().await.unwrap();
            let id = calls::create(&mut tx, &new).await.unwrap().id;
            tx.commit().await.unwrap();
            calls_made.push((uuid, id, lead));
        }
        let verdict = |uuid: &str, live: &str| {
            vec![
                ("RequestUUID".to_string(), uuid.to_string()),
                ("CallUUID".to_string(), live.to_string()),
                ("CallStatus".to_string(), "in-progress".to_string()),
                ("Event".to_string(), "MachineDetection".to_string()),
                ("Machine".to_string(), "true".to_string()),
            ]
        };
        let post = |path: String, params: Vec<(String, String)>| {
            let app = &app;
            async move {
                let p: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                plivo_post(app, &path, &p).await
            }
        };

        // 1: moved once, whatever the verdict's repeats.
        let (uuid, id, lead) = calls_made[0].clone();
        for _ in 0..2 {
            let (s, v) = post(
                format!("/webhooks/plivo/hangup?call={id}"),
                verdict(&uuid, "c-live-1"),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        let moved: Vec<_> = plivo
            .seen()
            .into_iter()
            .filter(|(m, _, _)| m == "POST")
            .collect();
        assert_eq!(
            moved,
            vec![(
                "POST".to_string(),
                "/v1/Account/MA123/Call/c-live-1/".to_string(),
                json!({
                    "legs": "aleg",
                    "aleg_url": format!("{PUBLIC}/webhooks/plivo/voicemail?call={id}"),
                    "aleg_method": "POST",
                })
            )],
            "{backend:?}"
        );
        // Plivo fetches the message's XML (signed, as every callback).
        let fetch = format!("/webhooks/plivo/voicemail?call={id}");
        let (s, v) = post(fetch.clone(), verdict(&uuid, "c-live-1")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            v.as_str().unwrap(),
            r#"<Response><Wait length="30" beep="true"/><Speak>Please call &lt;Acme&gt; back</Speak><Hangup/></Response>"#
        );
        let (s, _) = post_form(&app, &fetch, form(&[("CallUUID", "c-live-1")]), &[]).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "unsigned");
        // The message said, the call ends: no conversation.
        let mut hangup = verdict(&uuid, "c-live-1");
        hangup.retain(|(k, _)| k != "Machine");
        for (k, v) in hangup.iter_mut() {
            match k.as_str() {
                "CallStatus" => *v = "completed".into(),
                "Event" => *v = "Hangup".into(),
                _ => {}
            }
        }
        hangup.push(("Duration".into(), "21".into()));
        post(format!("/webhooks/plivo/hangup?call={id}"), hangup).await;
        let (_, l) = app.get(&format!("/api/leads/{lead}"), &admin).await;
        assert_eq!(l["lead"]["disposition"], "MISSED", "{l}");
        let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
        assert_eq!(
            (&calls["calls"][0]["status"], &calls["calls"][0]["duration"]),
            (&json!("no-answer"), &json!(21)),
            "{calls}"
        );

        // 2: Plivo will not move it: hung up rather than left bridged to a machine.
        let (uuid, id, _) = calls_made[1].clone();
        post(
            format!("/webhooks/plivo/hangup?call={id}"),
            verdict(&uuid, "c-refused"),
        )
        .await;
        assert!(
            plivo
                .seen()
                .iter()
                .any(|(m, p, _)| m == "DELETE" && p == "/v1/Account/MA123/Call/c-refused/"),
            "{:?}",
            plivo.seen()
        );

        // 3: no message: Plivo hung up itself; nothing asked of it. Its XML is a hang-up.
        let before = plivo.seen().len();
        let (uuid, id, _) = calls_made[2].clone();
        post(
            format!("/webhooks/plivo/hangup?call={id}"),
            verdict(&uuid, "c-live-3"),
        )
        .await;
        assert_eq!(plivo.seen().len(), before, "{:?}", plivo.seen());
        let (_, v) = post(
            format!("/webhooks/plivo/voicemail?call={id}"),
            verdict(&uuid, "c-live-3"),
        )
        .await;
        assert_eq!(v.as_str().unwrap(), "<Response><Hangup/></Response>");
    }
}

/// With `SWITCHBOARD_RECORD_CALLS`, a call placed is marked recorded; Plivo's answer XML then
/// records it, and a recording's callback (Twilio's recording status, Plivo's `<Record>`) keeps
/// its URL with the call, once, without moving the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_reach_their_calls() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut c = call_config();
        c.telephony.record_calls = true;
        c.telephony.recording_notice = Some("This call is recorded.".into());
        let Some(app) = TestApp::with_config(backend, c).await else {
            continue;
        };
        let admin = app.admin().await;

        // Placed (on the simulator, which records nothing): marked recorded.
        let placed = switchboard_server::telephony::place_call(
            &app.state,
            switchboard_server::telephony::CallRequest {
                client_id: app.state.default_client_id,
                lead: None,
                to: "+14155550381".into(),
                user_id: None,
                agent_id: None,
                from: None,
                bridge: switchboard_telephony::Bridge::None,
                metadata: json!({}),
            },
        )
        .await
        .unwrap();
        assert_eq!(placed.metadata.0["record"], true, "{:?}", placed.metadata);

        // Twilio: the recording's status callback.
        let sid = "CA00000000000000000000000000000082";
        let (id, lead) = provider_call(&app, "twilio", sid, "+14155550382").await;
        let url = "https://api.twilio.com/2010-04-01/Accounts/AC123/Recordings/RE0082";
        let recorded = [
            ("CallSid", sid),
            ("RecordingSid", "RE0082"),
            ("RecordingUrl", url),
            ("RecordingStatus", "completed"),
            ("RecordingDuration", "42"),
        ];
        let path = format!("/webhooks/twilio/status?call={id}");
        let (s, v) = twilio_post(&app, &path, &recorded).await;
        assert_eq!(
            (s, &v["outcome"]),
            (StatusCode::OK, &json!("applied")),
            "{v}"
        );
        let (_, v) = twilio_post(&app, &path, &recorded).await;
        assert_eq!(v["outcome"], "duplicate", "{v}");
        let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
        assert_eq!(
            (
                &calls["calls"][0]["recording_url"],
                &calls["calls"][0]["status"]
            ),
            (&json!(url), &json!("initiated")),
            "kept, and the call not moved: {calls}"
        );
        // A recorded call's callee hears the notice before the bridge; another call does not.
        for (sid, phone, record) in [
            ("CA00000000000000000000000000000084", "+14155550384", true),
            ("CA00000000000000000000000000000085", "+14155550385", false),
        ] {
            let (id, _) = provider_call(&app, "twilio", sid, phone).await;
            let mut tx = app.state.db.begin().await.unwrap();
            calls::update_fields(
                &mut tx,
                id,
                &calls::CallPatch {
                    metadata: Some(json!({"bridge": {"agent": "+14155550999"}, "record": record})),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            let (s, v) = twilio_post(
                &app,
                &format!("/webhooks/twilio/answer?call={id}"),
                &[("CallSid", sid), ("CallStatus", "in-progress")],
            )
            .await;
            assert_eq!(s, StatusCode::OK);
            let xml = v.as_str().unwrap();
            assert_eq!(
                xml.contains("<Response><Say>This call is recorded.</Say><Dial"),
                record,
                "{xml}"
            );
            assert!(xml.contains("<Dial"), "{xml}");
        }

        // Plivo: its answer XML records the call to our status URL; the recording comes there.
        let uuid = "5a2e0f40-0000-4000-8000-000000000083";
        let (id, lead) = provider_call(&app, "plivo", uuid, "+14155550383").await;
        let mut tx = app.state.db.begin().await.unwrap();
        calls::update_fields(
            &mut tx,
            id,
            &calls::CallPatch {
                metadata: Some(json!({"bridge": {"agent": "+14155550999"}, "record": true})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let (s, v) = plivo_post(
            &app,
            &format!("/webhooks/plivo/answer?call={id}"),
            &[
                ("RequestUUID", uuid),
                ("CallUUID", "c83"),
                ("CallStatus", "in-progress"),
                ("Event", "StartApp"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let xml = v.as_str().unwrap();
        let status = format!("{PUBLIC}/webhooks/plivo/hangup?call={id}");
        assert!(
            xml.contains(&format!(
                r#"<Response><Speak>This call is recorded.</Speak><Record action="{status}""#
            )) && xml.contains(r#"startOnDialAnswer="true""#)
                && xml.find("<Record").unwrap() < xml.find("<Dial").unwrap(),
            "{xml}"
        );
        let rec = "https://media.plivo.com/v1/Account/MA123/Recording/r83.mp3";
        let (s, v) = plivo_post(
            &app,
            &format!("/webhooks/plivo/hangup?call={id}"),
            &[
                ("RequestUUID", uuid),
                ("CallUUID", "c83"),
                ("RecordUrl", rec),
                ("RecordingID", "r83"),
                ("RecordingDuration", "12"),
            ],
        )
        .await;
        assert_eq!(
            (s, &v["outcome"]),
            (StatusCode::OK, &json!("applied")),
            "{v}"
        );
        let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
        assert_eq!(
            (
                &calls["calls"][0]["recording_url"],
                &calls["calls"][0]["status"]
            ),
            (&json!(rec), &json!("answered")),
            "{calls}"
        );
    }
}

/// A lead calling back one of our numbers (Twilio's voice URL) is put through to its agent,
/// once however often Twilio asks; the dial's end is the call's end, and no attempt of ours. A
/// caller new to us becomes a lead; with no agent free, or the agent not answering, the caller
/// is told so and called back.
async fn callers_are_put_through_to_their_agent(app: TestApp) {
    let admin = app.admin().await;
    let (ann, _) = app.user(&admin, "ann", "operator", None).await;
    let (s, v) = app
        .patch(
            &format!("/api/users/{ann}"),
            &admin,
            json!({"phone_number": "+14155559941"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let lead = app.lead(&admin, "+14155550391").await;
    let (s, v) = app
        .patch(
            &format!("/api/leads/{lead}"),
            &admin,
            json!({"assigned_user_id": ann}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ring = |sid: &'static str, from: &'static str| {
        [
            ("CallSid", sid),
            ("From", from),
            ("To", "+14155550100"),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ]
    };

    // Put through to ann, once however often Twilio asks.
    let sid = "CA00000000000000000000000000000091";
    let mut first = String::new();
    for _ in 0..2 {
        let (s, v) =
            twilio_post(&app, "/webhooks/twilio/inbound", &ring(sid, "+14155550391")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let xml = v.as_str().unwrap().to_string();
        assert!(
            xml.contains(r#"<Dial callerId="+14155550391" timeout="30""#)
                && xml.contains("<Number>+14155559941</Number>"),
            "{xml}"
        );
        if first.is_empty() {
            first = xml;
        } else {
            assert_eq!(xml, first);
        }
    }
    let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 1, "{calls}");
    let call = &calls["calls"][0];
    assert_eq!(
        (&call["direction"], &call["status"], &call["agent_id"]),
        (&json!("inbound"), &json!("answered"), &json!(ann)),
        "{call}"
    );
    let id = call["id"].as_i64().unwrap();
    assert!(
        first.contains(&format!(
            r#"action="{PUBLIC}/webhooks/twilio/dialed?call={id}""#
        )),
        "{first}"
    );
    // The dial's end: a conversation of 42 s, and nothing of the lead's dialing changed.
    let dialed = format!("/webhooks/twilio/dialed?call={id}");
    let (s, v) = twilio_post(
        &app,
        &dialed,
        &[
            ("CallSid", sid),
            ("DialCallStatus", "completed"),
            ("DialCallDuration", "42"),
        ],
    )
    .await;
    assert_eq!(
        (s, v.as_str().unwrap().contains("<Hangup/>")),
        (StatusCode::OK, true),
        "{v}"
    );
    let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
    assert_eq!(
        (&calls["calls"][0]["status"], &calls["calls"][0]["duration"]),
        (&json!("completed"), &json!(42)),
        "{calls}"
    );
    let (_, l) = app.get(&format!("/api/leads/{lead}"), &admin).await;
    assert_eq!(
        (
            &l["lead"]["attempts"],
            &l["lead"]["status"],
            &l["lead"]["disposition"]
        ),
        (&json!(0), &json!("pending"), &json!("IN_QUEUE")),
        "{l}"
    );

    // Someone new: a lead made for them, put through to the free agent.
    let sid2 = "CA00000000000000000000000000000092";
    let (_, v) = twilio_post(
        &app,
        "/webhooks/twilio/inbound",
        &ring(sid2, "+14155550392"),
    )
    .await;
    assert!(
        v.as_str()
            .unwrap()
            .contains("<Number>+14155559941</Number>"),
        "{v}"
    );
    let (_, found) = app.get("/api/leads?search=4155550392", &admin).await;
    let newcomer = &found["leads"][0];
    assert_eq!(newcomer["tags"], json!(["inbound"]), "{found}");
    let newcomer = newcomer["id"].as_i64().unwrap();

    // Meanwhile the first lead calls again: ann is on the line, nobody is free.
    let sid3 = "CA00000000000000000000000000000093";
    let (_, v) = twilio_post(
        &app,
        "/webhooks/twilio/inbound",
        &ring(sid3, "+14155550391"),
    )
    .await;
    let xml = v.as_str().unwrap();
    assert!(
        xml.contains("<Say>Thank you for calling. All our agents are busy")
            && !xml.contains("<Dial"),
        "{xml}"
    );
    let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
    assert_eq!(calls["calls"][0]["status"], "no-answer", "{calls}");
    let (_, l) = app.get(&format!("/api/leads/{lead}"), &admin).await;
    assert!(l["lead"]["callback_at"].is_string(), "called back: {l}");

    // Ann does not pick up the newcomer's call: they are told, and called back.
    let (_, calls) = app
        .get(&format!("/api/leads/{newcomer}/calls"), &admin)
        .await;
    let id2 = calls["calls"][0]["id"].as_i64().unwrap();
    let (_, v) = twilio_post(
        &app,
        &format!("/webhooks/twilio/dialed?call={id2}"),
        &[
            ("CallSid", sid2),
            ("DialCallStatus", "no-answer"),
            ("DialCallDuration", "0"),
        ],
    )
    .await;
    assert!(
        v.as_str()
            .unwrap()
            .contains("<Say>Sorry, nobody could take your call"),
        "{v}"
    );
    let (_, calls) = app
        .get(&format!("/api/leads/{newcomer}/calls"), &admin)
        .await;
    assert_eq!(calls["calls"][0]["status"], "no-answer", "{calls}");
    let (_, l) = app.get(&format!("/api/leads/{newcomer}"), &admin).await;
    assert!(l["lead"]["callback_at"].is_string(), "called back: {l}");

    // Unsigned or not a call: refused, nothing made.
    let (s, _) = post_form(
        &app,
        "/webhooks/twilio/inbound",
        form(&ring("CA94", "+14155550394")),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = twilio_post(
        &app,
        "/webhooks/twilio/inbound",
        &[("From", "+14155550394")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = twilio_post(
        &app,
        &dialed,
        &[("CallSid", sid), ("DialCallStatus", "sideways")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, found) = app.get("/api/leads?search=4155550394", &admin).await;
    assert_eq!(found["pagination"]["total"], 0, "{found}");
}

/// The words callers hear are the installation's own when it sets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_hear_the_installations_words() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let mut c = call_config();
        c.telephony.inbound_busy_message = Some("Gracias por llamar; le llamaremos.".into());
        let Some(app) = TestApp::with_config(backend, c).await else {
            continue;
        };
        // Nobody to take it.
        let (s, v) = twilio_post(
            &app,
            "/webhooks/twilio/inbound",
            &[
                ("CallSid", "CA00000000000000000000000000000095"),
                ("From", "+14155550395"),
                ("To", "+14155550100"),
                ("CallStatus", "ringing"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(
            v.as_str()
                .unwrap()
                .contains("<Say>Gracias por llamar; le llamaremos.</Say><Hangup/>"),
            "{v}"
        );
    }
}

/// The same on Plivo: numbers as digits, `DialStatus` and `DialBLegDuration` at the dial's end.
async fn plivo_callers_are_put_through_to_their_agent(app: TestApp) {
    let admin = app.admin().await;
    let (bo, _) = app.user(&admin, "bo", "operator", None).await;
    let (s, v) = app
        .patch(
            &format!("/api/users/{bo}"),
            &admin,
            json!({"phone_number": "+14155559951"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let lead = app.lead(&admin, "+14155550396").await;
    let uuid = "c0ffee00-0000-4000-8000-000000000396";
    let answer = [
        ("CallUUID", uuid),
        ("From", "14155550396"),
        ("To", "14155550100"),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
        ("Event", "StartApp"),
    ];
    let mut first = String::new();
    for _ in 0..2 {
        let (s, v) = plivo_post(&app, "/webhooks/plivo/inbound", &answer).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let xml = v.as_str().unwrap().to_string();
        assert!(
            xml.contains(r#"<Dial callerId="14155550396""#)
                && xml.contains("<Number>14155559951</Number>"),
            "{xml}"
        );
        if first.is_empty() {
            first = xml;
        } else {
            assert_eq!(xml, first, "asked twice, one call");
        }
    }
    let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
    assert_eq!(calls["calls"].as_array().unwrap().len(), 1, "{calls}");
    let id = calls["calls"][0]["id"].as_i64().unwrap();
    assert!(
        first.contains(&format!(
            r#"action="{PUBLIC}/webhooks/plivo/dialed?call={id}""#
        )),
        "{first}"
    );
    // Bo lets it ring out: the caller is told, and called back.
    let (s, v) = plivo_post(
        &app,
        &format!("/webhooks/plivo/dialed?call={id}"),
        &[
            ("CallUUID", uuid),
            ("DialStatus", "timeout"),
            ("DialBLegDuration", "0"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v.as_str()
            .unwrap()
            .contains("<Speak>Sorry, nobody could take your call"),
        "{v}"
    );
    let (_, calls) = app.get(&format!("/api/leads/{lead}/calls"), &admin).await;
    assert_eq!(
        (
            &calls["calls"][0]["status"],
            &calls["calls"][0]["direction"]
        ),
        (&json!("no-answer"), &json!("inbound")),
        "{calls}"
    );
    let (_, l) = app.get(&format!("/api/leads/{lead}"), &admin).await;
    assert!(l["lead"]["callback_at"].is_string(), "called back: {l}");
    let (s, _) = plivo_post(
        &app,
        &format!("/webhooks/plivo/dialed?call={id}"),
        &[("CallUUID", uuid), ("DialStatus", "sideways")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = post_form(&app, "/webhooks/plivo/inbound", form(&answer), &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "unsigned");
}
