//! Real-time events: SSE streams (read from the router), the real `socket.io-client` from npm
//! against a served instance, and on PostgreSQL two instances on one database.
//!
//! The Socket.io test needs Node.js and `npm ci` in `crates/server/tests/js`; without them it
//! prints `SKIPPED: …` and passes, unless `SWITCHBOARD_TEST_REQUIRE_NODE=1` (CI).

use std::process::Stdio;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tower::ServiceExt;

use crate::both;
use crate::harness::TestApp;

both!(
    event_streams_carry_each_person_their_events,
    socketio_clients_sign_in_and_hear_their_events,
    connections_end_when_their_token_expires,
    a_call_the_reconciler_ends_is_told,
    call_backs_are_told_when_due
);

/// An open SSE stream, read event by event.
struct Stream {
    body: Body,
    buf: String,
}

impl Stream {
    async fn open(app: &TestApp, token: Option<&str>) -> Result<Self, (StatusCode, Value)> {
        let mut req = Request::get("/api/events");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = app
            .router()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        if res.status() != StatusCode::OK {
            let status = res.status();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            return Err((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
        }
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Ok(Self {
            body: res.into_body(),
            buf: String::new(),
        })
    }

    /// The next event (`None`: none within `wait`, or the stream ended).
    async fn next_within(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = Some(n.to_string());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                match name {
                    Some(n) => return Some((n, serde_json::from_str(&data).unwrap())),
                    None => continue, // a keep-alive comment
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buf.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }

    async fn next(&mut self) -> (String, Value) {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("an event within 10 s")
    }

    /// Whether the stream ended within 10 s (rather than only being quiet); events still
    /// coming before its end are passed over.
    async fn ended(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Ok(None) => return true,
                Ok(Some(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

async fn event_streams_carry_each_person_their_events(app: TestApp) {
    let admin = app.admin().await;
    let (op1_id, op1) = app.user(&admin, "stream_op1", "operator", None).await;
    let (op2_id, op2) = app.user(&admin, "stream_op2", "operator", None).await;
    let other = app
        .in_another_client(&admin, "Stream Other", "stream_other_admin", "admin")
        .await;

    // Refused without a valid session, in the native error shape.
    for token in [None, Some("not-a-token")] {
        let Err((status, body)) = Stream::open(&app, token).await else {
            panic!("a stream without a valid token");
        };
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body["message"].is_string(), "{body}");
    }

    let mut s_admin = Stream::open(&app, Some(&admin)).await.unwrap();
    let mut s_op1 = Stream::open(&app, Some(&op1)).await.unwrap();
    let mut s_op2 = Stream::open(&app, Some(&op2)).await.unwrap();
    let mut s_other = Stream::open(&app, Some(&other)).await.unwrap();
    let (name, who) = s_op1.next().await;
    assert_eq!(name, "authenticated");
    assert_eq!(who["userId"], op1_id);
    assert_eq!(who["role"], "operator");
    for s in [&mut s_admin, &mut s_op2, &mut s_other] {
        assert_eq!(s.next().await.0, "authenticated");
    }
    // Admins hear their client's people come online, themselves included; operators do not.
    let mut online = vec![];
    for _ in 0..3 {
        let (name, data) = s_admin.next().await;
        assert_eq!(name, "user_online");
        online.push(data["userId"].as_i64().unwrap());
    }
    online.sort();
    let admin_id = app.get("/api/auth/me", &admin).await.1["user"]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(online, [admin_id, op1_id, op2_id]);
    let (name, data) = s_other.next().await;
    assert_eq!(
        (name.as_str(), &data["username"]),
        ("user_online", &json!("stream_other_admin"))
    );
    let (_, present) = app.get("/api/presence", &admin).await;
    let mut ids: Vec<i64> = present["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["userId"].as_i64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [admin_id, op1_id, op2_id], "{present}");
    assert_eq!(
        app.get("/api/presence", &op1).await.0,
        StatusCode::FORBIDDEN
    );
    // Seed 001's count of open connections: the four streams.
    let (_, status) = app.get("/api/admin/system-status", &admin).await;
    assert_eq!(status["systemStatus"]["activeConnections"], 4, "{status}");

    // A lead given to the first operator: theirs alone.
    let (st, lead) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550161", "name": "Ada", "assigned_user_id": op1_id}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{lead}");
    let (name, data) = s_op1.next().await;
    assert_eq!(name, "lead_assigned");
    assert_eq!(data["leadId"], lead["lead"]["id"]);
    assert_eq!(data["assignedTo"], op1_id);
    assert_eq!(data["phoneNumber"], "+14155550161");

    // A bot's call: the client's admins hear it start, change and end; operators do not.
    let (st, call) = app
        .post(
            "/api/calls",
            &admin,
            json!({"callId": "SSE-1", "caller": "+14155550162", "receiver": "+14155550163", "status": "in-progress"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{call}");
    let mut names = vec![];
    for _ in 0..5 {
        names.push(s_admin.next().await);
    }
    let got: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        got,
        [
            "call_initiated",
            "callStarted",
            "call_answered",
            "call_status_updated",
            "callUpdated"
        ]
    );
    assert_eq!(names[1].1["callId"], "SSE-1");
    assert_eq!(names[1].1["caller"], "+14155550162");
    assert_eq!(names[3].1["previousStatus"], "initiated");
    assert_eq!(names[3].1["status"], "answered");
    let (st, _) = app
        .patch(
            "/api/calls/SSE-1/transcript",
            &admin,
            json!({"transcript": "Bot: hello\n"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (name, data) = s_admin.next().await;
    assert_eq!(name, "transcriptUpdated");
    assert_eq!(data["transcript"], "Bot: hello\n");
    assert_eq!(data["appended"], "Bot: hello\n");
    let (st, _) = app
        .patch(
            "/api/calls/SSE-1",
            &admin,
            json!({"status": "success", "duration": 42}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut got = vec![];
    for _ in 0..3 {
        got.push(s_admin.next().await);
    }
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["call_status_updated", "callUpdated", "callTerminated"]
    );
    assert_eq!(got[1].1["data"]["duration"], 42);
    assert_eq!(
        got[2].1,
        json!({"callId": "SSE-1", "status": "success", "timestamp": got[2].1["timestamp"]})
    );

    // The call queue started: the client's admins hear it as it now is (every admin's screen
    // shows the same queue); a look at it tells nobody.
    for body in [
        json!({"action": "get_queue_status"}),
        json!({"action": "resume_queue", "maxConcurrentCalls": 4}),
    ] {
        let (st, answer) = app.post("/api/admin/system/control", &admin, body).await;
        assert_eq!(st, StatusCode::OK, "{answer}");
    }
    let (name, data) = s_admin.next().await;
    assert_eq!(name, "queue_updated");
    assert_eq!(data["action"], "resume_queue");
    assert_eq!(data["userId"], admin_id);
    assert_eq!(data["queueStatus"]["isRunning"], true);
    assert_eq!(data["queueStatus"]["maxConcurrentCalls"], 4);

    // Nothing of this reached the second operator or the other client: the first event each
    // hears is their own.
    let (st, _) = app
        .post(
            "/api/calls",
            &other,
            json!({"callId": "SSE-OTHER", "caller": "+14155550164"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (name, data) = s_other.next().await;
    assert_eq!(
        (name.as_str(), &data["callId"]),
        ("call_initiated", &json!("SSE-OTHER"))
    );
    let (st, _) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550165", "assigned_user_id": op2_id}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (name, data) = s_op2.next().await;
    assert_eq!(name, "lead_assigned");
    assert_eq!(data["phoneNumber"], "+14155550165");
    // Nor anything of the bot's call the first operator.
    assert!(
        s_op1
            .next_within(Duration::from_millis(300))
            .await
            .is_none()
    );

    // Signing out ends the person's streams, after telling them; others go on.
    let (st, _) = app.post("/api/auth/logout", &op1, json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (name, data) = s_op1.next().await;
    assert_eq!(name, "session_ended");
    assert_eq!(data["message"], "signed out");
    assert!(s_op1.ended().await, "the stream ends after session_ended");
    assert!(
        Stream::open(&app, Some(&op1)).await.is_err(),
        "the old token opens none"
    );

    // Deactivating a person ends theirs too.
    let (st, _) = app.delete(&format!("/api/users/{op2_id}"), &admin).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(s_op2.next().await.0, "session_ended");
    assert!(s_op2.ended().await);

    // The server stopping ends every stream.
    app.state.events.close();
    assert!(s_admin.ended().await, "streams end when the server stops");
}

/// A running `client.mjs`: its events, one JSON line each.
struct Client {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Client {
    fn start(dir: &std::path::Path, url: &str, token: &str, mode: &str, transport: &str) -> Self {
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("client.mjs"))
            .args([url, token, mode, transport])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    async fn next_within(&mut self, wait: Duration) -> Option<(String, Value)> {
        let line = tokio::time::timeout(wait, self.lines.next_line())
            .await
            .ok()?
            .unwrap()?;
        let v: Value = serde_json::from_str(&line).unwrap();
        Some((v["event"].as_str().unwrap().to_string(), v["data"].clone()))
    }

    async fn next(&mut self) -> (String, Value) {
        self.next_within(Duration::from_secs(15))
            .await
            .expect("an event within 15 s")
    }

    /// The next event named `name`, skipping presence events (their order against the
    /// others depends on when each client connected).
    async fn next_not_presence(&mut self) -> (String, Value) {
        loop {
            let got = self.next().await;
            if got.0 != "user_online" && got.0 != "user_offline" {
                return got;
            }
        }
    }
}

async fn socketio_clients_sign_in_and_hear_their_events(app: TestApp) {
    let Some(dir) = crate::harness::js_package("socket.io-client", "the Socket.io test") else {
        return;
    };
    let admin = app.admin().await;
    let (op_id, op) = app.user(&admin, "sio_op", "operator", None).await;
    let other = app
        .in_another_client(&admin, "Socket Other", "sio_other_admin", "admin")
        .await;

    let (addr, stop, server) = app.serve().await;
    let url = format!("http://{addr}");

    // The admin signs in in the handshake, over WebSocket.
    let mut c_admin = Client::start(&dir, &url, &admin, "handshake", "websocket");
    assert_eq!(c_admin.next().await.0, "connect");
    let (name, who) = c_admin.next().await;
    assert_eq!(name, "authenticated");
    assert_eq!(who["role"], "super_admin");
    assert_eq!(who["name"], "Admin");

    // A bad token: told, then closed.
    let mut c_bad = Client::start(&dir, &url, "not-a-token", "emit", "websocket");
    assert_eq!(c_bad.next().await.0, "connect");
    let (name, data) = c_bad.next().await;
    assert_eq!(name, "unauthorized");
    assert_eq!(data["success"], false);
    assert_eq!(c_bad.next().await.0, "disconnect");

    // Never signed in: connected, hears nothing.
    let mut c_anon = Client::start(&dir, &url, "", "none", "polling");
    assert_eq!(c_anon.next().await.0, "connect");
    // Another client's admin.
    let mut c_other = Client::start(&dir, &url, &other, "emit", "websocket");
    assert_eq!(c_other.next().await.0, "connect");
    assert_eq!(c_other.next().await.0, "authenticated");

    // The operator signs in as seed 001 shows (emit 'authenticate'), over long-polling; the
    // admin hears them come online.
    let mut c_op = Client::start(&dir, &url, &op, "emit", "polling");
    assert_eq!(c_op.next().await.0, "connect");
    let (name, who) = c_op.next().await;
    assert_eq!(name, "authenticated");
    assert_eq!(who["userId"], op_id);
    loop {
        let (name, data) = c_admin.next().await;
        if name == "user_online" && data["userId"] == op_id {
            assert_eq!(data["username"], "sio_op");
            break;
        }
        assert_eq!(name, "user_online", "only presence so far");
    }

    // A lead assigned to the operator: theirs.
    let (st, lead) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550171", "assigned_user_id": op_id}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (name, data) = c_op.next().await;
    assert_eq!(name, "lead_assigned");
    assert_eq!(data["leadId"], lead["lead"]["id"]);

    // A bot's call: the admin hears seed 001's and seed 004's events for it.
    let (st, _) = app
        .post(
            "/api/calls",
            &admin,
            json!({"callId": "SIO-1", "caller": "+14155550172", "receiver": "+14155550173"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (name, data) = c_admin.next_not_presence().await;
    assert_eq!(name, "call_initiated");
    assert_eq!(data["callId"], "SIO-1");
    let (name, data) = c_admin.next_not_presence().await;
    assert_eq!(name, "callStarted");
    assert_eq!(data["receiver"], "+14155550173");

    // The other client's admin heard none of it: their first event is their own.
    let (st, _) = app
        .post(
            "/api/calls",
            &other,
            json!({"callId": "SIO-OTHER", "caller": "+14155550174"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (name, data) = c_other.next_not_presence().await;
    assert_eq!(
        (name.as_str(), &data["callId"]),
        ("call_initiated", &json!("SIO-OTHER"))
    );
    // Neither did the connection that never signed in.
    assert!(
        c_anon
            .next_within(Duration::from_millis(500))
            .await
            .is_none()
    );

    // Signing out: the operator is told and disconnected; the admin sees them go offline.
    let (st, _) = app.post("/api/auth/logout", &op, json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (name, data) = c_op.next().await;
    assert_eq!(name, "session_ended");
    assert_eq!(data["message"], "signed out");
    assert_eq!(c_op.next().await.0, "disconnect");
    loop {
        let (name, data) = c_admin.next().await;
        if name == "user_offline" && data["userId"] == op_id {
            break;
        }
        assert!(
            name.starts_with("call") || name.starts_with("user_"),
            "{name}"
        );
    }

    // Stopping the server closes every connection, and the server ends.
    let _ = stop.send(());
    for c in [&mut c_admin, &mut c_anon, &mut c_other] {
        loop {
            let (name, _) = c.next().await;
            if name == "disconnect" {
                break;
            }
        }
    }
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops with sockets open")
        .unwrap()
        .unwrap();
    for c in [c_admin, c_bad, c_anon, c_other, c_op] {
        let mut child = c.child;
        let _ = child.kill().await;
    }
}

/// A token for `user_id` that expires `secs` seconds from now, signed with the app's secret.
async fn short_token(app: &TestApp, user_id: i64, secs: u64) -> String {
    let secret = switchboard_store::settings::get_or_insert(&app.state.db, "jwt_secret", "unused")
        .await
        .unwrap();
    let user = switchboard_store::users::get(&mut app.state.db.read().await.unwrap(), user_id)
        .await
        .unwrap()
        .unwrap();
    let role = switchboard_core::Role::parse(&user.role).unwrap();
    switchboard_server::auth::JwtKeys::new(secret.as_bytes(), Duration::from_secs(secs))
        .issue(&user, role)
        .unwrap()
        .0
}

async fn connections_end_when_their_token_expires(app: TestApp) {
    let admin = app.admin().await;
    let (op_id, _) = app.user(&admin, "expiring_op", "operator", None).await;
    let token = short_token(&app, op_id, 2).await;
    let started = tokio::time::Instant::now();

    let mut stream = Stream::open(&app, Some(&token)).await.unwrap();
    assert_eq!(stream.next().await.0, "authenticated");
    let (name, data) = stream.next().await;
    assert_eq!(name, "session_ended");
    assert_eq!(data["message"], "the sign-in token expired; sign in again");
    assert!(stream.ended().await, "the stream ends with its token");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "{took:?}"
    );

    let Some(dir) = crate::harness::js_package("socket.io-client", "the Socket.io test") else {
        return;
    };
    let (addr, stop, server) = app.serve().await;
    let token = short_token(&app, op_id, 2).await;
    let started = tokio::time::Instant::now();
    let mut c = Client::start(
        &dir,
        &format!("http://{addr}"),
        &token,
        "handshake",
        "websocket",
    );
    assert_eq!(c.next().await.0, "connect");
    assert_eq!(c.next().await.0, "authenticated");
    let (name, data) = c.next_not_presence().await;
    assert_eq!(name, "session_ended");
    assert_eq!(data["message"], "the sign-in token expired; sign in again");
    assert_eq!(c.next().await.0, "disconnect");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

async fn a_call_the_reconciler_ends_is_told(app: TestApp) {
    use switchboard_dialer::Originator;
    let admin = app.admin().await;
    let mut s = Stream::open(&app, Some(&admin)).await.unwrap();
    assert_eq!(s.next().await.0, "authenticated");
    assert_eq!(s.next().await.0, "user_online", "the admin's own stream");
    let (st, call) = app
        .post(
            "/api/calls",
            &admin,
            json!({"callId": "LOST-1", "caller": "+14155550191", "status": "in-progress"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{call}");
    // The log's own five events first (on PostgreSQL they may come after the answer).
    for _ in 0..5 {
        s.next().await;
    }
    let call = switchboard_store::calls::get(
        &mut app.state.db.read().await.unwrap(),
        app.state.default_client_id,
        call["data"]["id"].as_i64().unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    switchboard_server::telephony::EngineOriginator(app.state.clone())
        .end_lost(&call, "lost: test")
        .await
        .unwrap();
    let got = [s.next().await, s.next().await, s.next().await];
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["call_status_updated", "callUpdated", "callTerminated"]
    );
    assert_eq!(got[0].1["status"], "failed");
    assert_eq!(got[0].1["previousStatus"], "answered");
    assert_eq!(got[2].1["callId"], "LOST-1");
}

/// The `callback_due` events a stream hears within `wait` (others passed over): their leads.
async fn callbacks_heard(s: &mut Stream, wait: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut told = vec![];
    while let Some((name, data)) = s
        .next_within(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        if name == "callback_due" {
            told.push(data);
        }
    }
    told
}

/// A call back coming due is told to the lead's agent (to the admins when the lead is
/// nobody's, or its agent was deactivated), once, with the lead; one dropped before its time,
/// or on another client's lead, is told to nobody here.
async fn call_backs_are_told_when_due(app: TestApp) {
    let admin = app.admin().await;
    let (op_id, op) = app.user(&admin, "callback_op", "operator", None).await;
    let (_, op2) = app.user(&admin, "callback_op2", "operator", None).await;
    let (gone_id, _) = app.user(&admin, "callback_gone", "operator", None).await;
    let other = app
        .in_another_client(&admin, "Callback Other", "callback_other_admin", "admin")
        .await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let at_text = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mine = app.lead(&admin, "+14155550231").await;
    let nobodys = app.lead(&admin, "+14155550232").await;
    let dropped = app.lead(&admin, "+14155550233").await;
    let left_behind = app.lead(&admin, "+14155550235").await;
    let elsewhere = app.lead(&other, "+14155550234").await;
    for (lead, body, token) in [
        (
            mine,
            json!({"assigned_user_id": op_id, "callback_at": at_text}),
            &admin,
        ),
        (nobodys, json!({"callback_at": at_text}), &admin),
        (dropped, json!({"callback_at": at_text}), &admin),
        (dropped, json!({"callback_at": null}), &admin),
        (
            left_behind,
            json!({"assigned_user_id": gone_id, "callback_at": at_text}),
            &admin,
        ),
        (elsewhere, json!({"callback_at": at_text}), &other),
    ] {
        let (s, v) = app.patch(&format!("/api/leads/{lead}"), token, body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = app.delete(&format!("/api/users/{gone_id}"), &admin).await;
    assert!(s.is_success(), "deactivated: {v}");
    let mut s_op = Stream::open(&app, Some(&op)).await.unwrap();
    let mut s_op2 = Stream::open(&app, Some(&op2)).await.unwrap();
    let mut s_admin = Stream::open(&app, Some(&admin)).await.unwrap();
    let mut s_other = Stream::open(&app, Some(&other)).await.unwrap();
    let (to_op, to_op2, to_admin, to_other) = tokio::join!(
        callbacks_heard(&mut s_op, Duration::from_secs(8)),
        callbacks_heard(&mut s_op2, Duration::from_secs(8)),
        callbacks_heard(&mut s_admin, Duration::from_secs(8)),
        callbacks_heard(&mut s_other, Duration::from_secs(8)),
    );
    assert_eq!(to_other.len(), 1, "{to_other:?}");
    assert_eq!(to_other[0]["leadId"], elsewhere);
    assert_eq!(to_op.len(), 1, "{to_op:?}");
    let d = &to_op[0];
    assert_eq!(d["leadId"], mine, "{d}");
    assert_eq!(d["phoneNumber"], "+14155550231", "{d}");
    assert_eq!(d["assignedTo"], op_id, "{d}");
    let told_at: chrono::DateTime<chrono::Utc> = d["callbackAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(told_at.timestamp_millis(), at.timestamp_millis(), "{d}");
    assert!(to_op2.is_empty(), "{to_op2:?}");
    let mut admin_leads: Vec<i64> = to_admin
        .iter()
        .map(|d| d["leadId"].as_i64().unwrap())
        .collect();
    admin_leads.sort();
    assert_eq!(admin_leads, [nobodys, left_behind], "{to_admin:?}");
    let of = |lead: i64| to_admin.iter().find(|d| d["leadId"] == lead).unwrap();
    assert_eq!(of(nobodys)["assignedTo"], Value::Null);
    assert_eq!(of(left_behind)["assignedTo"], gone_id, "{to_admin:?}");
    // Counted (the test process's counter: other tests' call backs add to it).
    let metrics = crate::metrics::scrape(&app).await;
    let told: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_callbacks_due_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(told >= 4, "{metrics}");
}

/// The next event `rx` hears (10 s at most).
async fn heard(
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<switchboard_server::events::Event>>,
) -> switchboard_server::events::Event {
    (*tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .unwrap())
    .clone()
}

/// A test app on PostgreSQL and a second instance on its database.
async fn two_instances() -> Option<(TestApp, switchboard_server::state::AppState)> {
    let app = TestApp::new(crate::harness::Backend::Postgres).await?;
    let second =
        switchboard_server::prepare_with_db(app.state.db.clone(), crate::harness::test_config())
            .await
            .expect("a second instance");
    Some((app, second))
}

/// Two instances on one PostgreSQL database: what happens on one is heard on both, once; an
/// event too large for a notification reaches the other without its long texts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_every_instance_on_one_postgres() {
    let Some((app, second)) = two_instances().await else {
        return;
    };
    let mut here = app.state.events.subscribe();
    let mut there = second.events.subscribe();
    let admin = app.admin().await;

    let (st, _) = app
        .post(
            "/api/calls",
            &admin,
            json!({"callId": "PG-1", "caller": "+14155550181", "receiver": "+14155550182"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    for rx in [&mut here, &mut there] {
        let ev = heard(rx).await;
        assert_eq!(ev.name, "call_initiated");
        assert_eq!(ev.value()["callId"], "PG-1");
        assert!(ev.admins);
        assert_eq!(heard(rx).await.name, "callStarted");
        assert_eq!(heard(rx).await.name, "call_answered");
        assert_eq!(heard(rx).await.name, "call_status_updated");
        assert_eq!(heard(rx).await.name, "callUpdated");
    }

    // 10,000 characters: more than a notification carries.
    let long = "Bot: hello there\n".repeat(600);
    let (st, _) = app
        .patch(
            "/api/calls/PG-1/transcript",
            &admin,
            json!({"transcript": long}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let ev = heard(&mut here).await;
    assert_eq!(ev.name, "transcriptUpdated");
    assert_eq!(
        ev.value()["transcript"],
        json!(long),
        "whole where it happened"
    );
    let ev = heard(&mut there).await;
    assert_eq!(ev.name, "transcriptUpdated");
    assert_eq!(ev.value()["callId"], "PG-1");
    assert_eq!(ev.value()["truncated"], true);
    assert!(ev.value().get("transcript").is_none(), "{}", ev.value());

    // Each heard it once: the next event on both is the next thing that happened.
    let lead = app.lead(&admin, "+14155550183").await;
    let _ = lead;
    let (st, op) = app
        .post(
            "/api/users",
            &admin,
            json!({"username": "pg_op", "email": "pg_op@example.com", "password": "password-123", "role": "operator"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let op_id = op["user"]["id"].as_i64().unwrap();
    let (st, _) = app
        .patch(
            &format!("/api/leads/{lead}"),
            &admin,
            json!({"assigned_user_id": op_id}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    for rx in [&mut here, &mut there] {
        let ev = heard(rx).await;
        assert_eq!(ev.name, "lead_assigned");
        assert_eq!(ev.users, [op_id]);
        assert_eq!(ev.value()["leadId"], lead);
    }
}

/// The people online in `/api/presence` on `app`: (user id, connections).
async fn online(app: &TestApp, admin: &str) -> Vec<(i64, i64)> {
    let (st, v) = app.get("/api/presence", admin).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["userId"].as_i64().unwrap(),
                p["connections"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Wait (10 s at most) until `/api/presence` on `app` lists `want`, with the person's
/// connections.
async fn online_becomes(app: &TestApp, admin: &str, want: &[(i64, i64)], what: &str) {
    let mut last = vec![];
    for _ in 0..100 {
        last = online(app, admin).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: presence {last:?}, not {want:?}");
}

/// `user_online` and `user_offline` of `user` heard so far, added to `seen`; waits (up to
/// `wait`) until `seen` is `want`, and fails at once when it goes past it.
async fn news_becomes(
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<switchboard_server::events::Event>>,
    seen: &mut Vec<&'static str>,
    user: i64,
    want: &[&str],
    wait: Duration,
    what: &str,
) {
    let until = tokio::time::Instant::now() + wait;
    loop {
        while let Ok(ev) = rx.try_recv() {
            let news = match &*ev.name {
                "user_online" => "online",
                "user_offline" => "offline",
                _ => continue,
            };
            if ev.value()["userId"] == user {
                seen.push(news);
            }
        }
        assert!(
            seen.len() <= want.len(),
            "{what}: heard {seen:?}, want {want:?}"
        );
        if seen == want || tokio::time::Instant::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, want, "{what}");
}

/// Two instances on one PostgreSQL database: each lists the people connected to either, with
/// all their connections; an instance that stops takes its people away, and one that died
/// stops counting once its rows are stale. Admins hear a person come online when their first
/// connection anywhere opens and go offline when their last one anywhere closes, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_is_online_is_shared_between_instances() {
    let Some((app, second)) = two_instances().await else {
        return;
    };
    let admin = app.admin().await;
    let (op_id, op) = app.user(&admin, "roamer", "operator", None).await;
    // Every event reaching the first instance (the second's come through NOTIFY).
    let mut heard = app.state.events.subscribe();
    let mut seen = vec![];
    let quiet = Duration::from_millis(800);
    let soon = Duration::from_secs(5);
    let client = app.state.default_client_id;
    let person = switchboard_server::events::PersonView {
        id: op_id,
        name: "roamer".into(),
        username: "roamer".into(),
        role: "operator",
    };
    assert_eq!(online(&app, &admin).await, []);

    // Connected to the second instance only: the first lists them, and counts the connection.
    let there = second.events.online(client, &person);
    online_becomes(&app, &admin, &[(op_id, 1)], "a connection elsewhere").await;
    news_becomes(&mut heard, &mut seen, op_id, &["online"], soon, "online").await;
    let (_, status) = app.get("/api/admin/system-status", &admin).await;
    assert_eq!(
        status["systemStatus"]["activeConnections"], 1,
        "seed 001's count covers every instance: {status}"
    );

    // And to the first as well: one person, two connections.
    let mut here = Stream::open(&app, Some(&op)).await.unwrap();
    assert_eq!(here.next().await.0, "authenticated");
    online_becomes(&app, &admin, &[(op_id, 2)], "connections on both").await;
    news_becomes(
        &mut heard,
        &mut seen,
        op_id,
        &["online"],
        quiet,
        "online already",
    )
    .await;
    let (_, listed) = app.get("/api/presence", &admin).await;
    assert_eq!(listed["online"][0]["username"], "roamer", "{listed}");
    assert_eq!(listed["online"][0]["role"], "operator", "{listed}");

    // The second instance's connection closes; then the first's.
    drop(there);
    online_becomes(
        &app,
        &admin,
        &[(op_id, 1)],
        "the connection elsewhere closed",
    )
    .await;
    news_becomes(
        &mut heard,
        &mut seen,
        op_id,
        &["online"],
        quiet,
        "still here",
    )
    .await;
    drop(here);
    online_becomes(&app, &admin, &[], "every connection closed").await;
    let off = ["online", "offline"];
    news_becomes(&mut heard, &mut seen, op_id, &off, soon, "gone").await;

    // An instance that stops takes its people away at once.
    let _back = second.events.online(client, &person);
    online_becomes(&app, &admin, &[(op_id, 1)], "connected elsewhere again").await;
    let back = ["online", "offline", "online"];
    news_becomes(&mut heard, &mut seen, op_id, &back, soon, "back").await;
    second.events.close();
    online_becomes(&app, &admin, &[], "the other instance stopped").await;
    let stopped = ["online", "offline", "online", "offline"];
    news_becomes(&mut heard, &mut seen, op_id, &stopped, soon, "stopped").await;

    // Someone marked online whose only instance died without a word (its rows stale): the
    // instances still running find them gone within a beat or two (10 s), and one says so.
    let mut w = app.state.db.write().await.unwrap();
    switchboard_store::sql(
        "INSERT INTO presence (instance_id, user_id, client_id, connections, seen_at) VALUES ('died', $1, $2, 1, $3)",
    )
    .arg(op_id)
    .arg(client)
    .arg(chrono::Utc::now() - chrono::Duration::seconds(45))
    .execute(&mut w)
    .await
    .unwrap();
    switchboard_store::sql("UPDATE presence_state SET online = TRUE WHERE user_id = $1")
        .arg(op_id)
        .execute(&mut w)
        .await
        .unwrap();
    drop(w);
    let died = ["online", "offline", "online", "offline", "offline"];
    let beat = Duration::from_secs(25);
    news_becomes(&mut heard, &mut seen, op_id, &died, beat, "died").await;
    news_becomes(&mut heard, &mut seen, op_id, &died, quiet, "told once").await;

    // One that died leaves rows behind, which stop counting once stale (30 s).
    let mut w = app.state.db.write().await.unwrap();
    switchboard_store::sql(
        "INSERT INTO presence (instance_id, user_id, client_id, connections, seen_at) VALUES ('dead', $1, $2, 1, $3), ('alive', $1, $2, 2, $4)",
    )
    .arg(op_id)
    .arg(client)
    .arg(chrono::Utc::now() - chrono::Duration::seconds(45))
    .arg(chrono::Utc::now())
    .execute(&mut w)
    .await
    .unwrap();
    drop(w);
    assert_eq!(
        online(&app, &admin).await,
        [(op_id, 2)],
        "only the fresh rows"
    );
}

mod sessions_ended_elsewhere_close_connections {
    use crate::harness::{Backend, TestApp, test_config};

    async fn app(backend: Backend) -> Option<TestApp> {
        let mut c = test_config();
        c.session_check_secs = 1;
        TestApp::with_config(backend, c).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        if let Some(app) = app(Backend::Sqlite).await {
            super::sessions_ended_elsewhere_close_connections(app).await
        }
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = app(Backend::Postgres).await {
            super::sessions_ended_elsewhere_close_connections(app).await
        }
    }
}

/// A session ended where no event is sent (a password set from the command line, another
/// process; a role or deactivation written to the database by hand): open streams and sockets
/// find out at their next check (every second here) and close.
async fn sessions_ended_elsewhere_close_connections(app: TestApp) {
    use switchboard_store::users::{self, UserPatch};
    let admin = app.admin().await;
    let (op_id, op) = app.user(&admin, "elsewhere_op", "operator", None).await;
    let (admin2_id, admin2) = app.user(&admin, "elsewhere_admin", "admin", None).await;
    let write = |id: i64, patch: UserPatch| {
        let app = &app;
        async move {
            let mut tx = app.state.db.begin().await.unwrap();
            users::update(&mut tx, id, &patch).await.unwrap().unwrap();
            tx.commit().await.unwrap();
        }
    };

    // A password set as `switchboard user password` sets it.
    let mut s = Stream::open(&app, Some(&op)).await.unwrap();
    assert_eq!(s.next().await.0, "authenticated");
    // Quiet checks while the session holds change nothing.
    assert!(s.next_within(Duration::from_millis(2500)).await.is_none());
    let started = tokio::time::Instant::now();
    let hash = switchboard_server::auth::hash_password("a-new-password-1".into())
        .await
        .unwrap();
    write(
        op_id,
        UserPatch {
            password_hash: Some(hash),
            ..Default::default()
        },
    )
    .await;
    let (name, data) = s.next().await;
    assert_eq!(name, "session_ended");
    assert!(
        data["message"]
            .as_str()
            .unwrap()
            .contains("session has ended"),
        "{data}"
    );
    assert!(s.ended().await);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // An admin demoted by hand no longer hears the client's events.
    let mut s = Stream::open(&app, Some(&admin2)).await.unwrap();
    assert_eq!(s.next().await.0, "authenticated");
    // Its own `user_online`; the operator's `user_offline` may come before or after it (on
    // PostgreSQL presence is judged on the shared table, then makes the round trip through
    // NOTIFY).
    loop {
        let (name, data) = s.next().await;
        match name.as_str() {
            "user_online" if data["userId"] == admin2_id => break,
            "user_offline" if data["userId"] == op_id => continue,
            _ => panic!("{name} {data}"),
        }
    }
    write(
        admin2_id,
        UserPatch {
            role: Some("operator".into()),
            ..Default::default()
        },
    )
    .await;
    let (name, data) = loop {
        let (name, data) = s.next().await;
        if !(name == "user_offline" && data["userId"] == op_id) {
            break (name, data);
        }
    };
    assert_eq!(name, "session_ended");
    assert_eq!(data["message"], "your role changed; sign in again");
    assert!(s.ended().await);

    // A socket finds out the same way when the account is deactivated.
    let Some(dir) = crate::harness::js_package("socket.io-client", "the Socket.io test") else {
        return;
    };
    let (addr, stop, server) = app.serve().await;
    let token = app.login("elsewhere_admin", "password-123").await;
    let mut c = Client::start(
        &dir,
        &format!("http://{addr}"),
        &token,
        "handshake",
        "websocket",
    );
    assert_eq!(c.next().await.0, "connect");
    assert_eq!(c.next().await.0, "authenticated");
    write(
        admin2_id,
        UserPatch {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .await;
    let (name, data) = c.next_not_presence().await;
    assert_eq!(name, "session_ended");
    assert_eq!(data["message"], "this account is not active");
    assert_eq!(c.next().await.0, "disconnect");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
