//! Outbound webhooks: a real HTTP receiver hears the client's events, signed, retried after a
//! refusal with the same id, listed as delivered, once with two instances sending; nothing
//! after the webhook is deleted; bad input and other clients refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, test_config};

macro_rules! both_hooks {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::harness::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = super::hook_app(Backend::Sqlite).await { super::$name(app).await }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = super::hook_app(Backend::Postgres).await { super::$name(app).await }
            }
        }
    )*};
}

both_hooks!(
    events_reach_a_webhook_signed_and_retried,
    webhooks_refuse_bad_input_and_other_clients,
    redirects_are_not_followed
);

/// Several instances on one PostgreSQL database: a webhook made or deleted on one is known to
/// the others at once (each matches the events it publishes itself), not at their next
/// periodic read of the webhooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_changes_reach_the_other_instances_at_once() {
    let Some(app) = hook_app(Backend::Postgres).await else {
        return;
    };
    let admin = app.admin().await;
    let other = app.another_instance().await;
    // Past the other instance's first read of the webhooks, made as it started.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (url, heard) = receiver(0).await;
    let (s, created) = app
        .post(
            "/api/webhooks",
            &admin,
            json!({"url": url, "events": ["call_initiated"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["webhook"]["id"].as_i64().unwrap();
    let log =
        |call: &str| json!({"callId": call, "caller": "+14155550183", "receiver": "+14155550184"});
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, v) = other.post("/api/calls", &admin, log("ELSEWHERE-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let got = heard_at_least(&heard, 1, "the other instance's event").await;
    assert!(got[0].1.contains("ELSEWHERE-1"), "{}", got[0].1);

    // Deleted here: the other instance stops sending at once.
    let (s, v) = app.delete(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, v) = other.post("/api/calls", &admin, log("ELSEWHERE-2")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all = heard.lock().unwrap().clone();
    assert!(
        all.iter().all(|(_, b)| !b.contains("ELSEWHERE-2")),
        "heard after the webhook was deleted: {all:?}"
    );
}

/// A receiver that answers every request with a redirect to `to`: a delivery is refused with
/// the 302, and `to` hears nothing (a redirect could lead inside the network).
async fn redirects_are_not_followed(app: TestApp) {
    let admin = app.admin().await;
    let (target, target_heard) = receiver(0).await;
    let bouncer = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let to = target.clone();
            async move { (StatusCode::FOUND, [("location", to)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, bouncer).await });
    let (s, created) = app
        .post(
            "/api/webhooks",
            &admin,
            json!({"url": format!("http://{addr}/hook")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["webhook"]["id"].as_i64().unwrap();
    let listed = pinged_and_tried(&app, &admin, id).await;
    let d = &listed["deliveries"][0];
    assert_eq!(d["last_status"], 302, "{listed}");
    assert_eq!(d["status"], "pending", "{listed}");
    assert_eq!(target_heard.lock().unwrap().len(), 0);
}

/// Ping webhook `id` and wait (10 s at most) until its delivery has been tried once: its
/// deliveries as then listed.
async fn pinged_and_tried(app: &TestApp, admin: &str, id: i64) -> Value {
    let (s, _) = app
        .post(&format!("/api/webhooks/{id}/ping"), admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let path = format!("/api/webhooks/{id}/deliveries");
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = app.get(&path, admin).await.1;
        if listed["deliveries"][0]["attempts"].as_i64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    listed
}

/// Deliveries to this machine's own receiver are allowed, and retried after a second.
async fn hook_app(backend: Backend) -> Option<TestApp> {
    let mut config = test_config();
    config.webhook_allow_private = true;
    config.webhook_retry_secs = 1;
    TestApp::with_config(backend, config).await
}

/// What a receiver heard: the headers and the body of each request.
type Heard = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver on a real socket that refuses its first `refuse` requests with a 500.
async fn receiver(refuse: usize) -> (String, Heard) {
    let heard: Heard = Arc::default();
    let h = heard.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let h = h.clone();
            async move {
                let mut all = h.lock().unwrap();
                all.push((headers, body));
                if all.len() <= refuse {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), heard)
}

async fn heard_at_least(heard: &Heard, n: usize, what: &str) -> Vec<(HeaderMap, String)> {
    for _ in 0..100 {
        {
            let all = heard.lock().unwrap();
            if all.len() >= n {
                return all.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{what}: heard {} requests, not {n}",
        heard.lock().unwrap().len()
    );
}

fn check_signature(secret: &str, headers: &HeaderMap, body: &str) {
    assert!(
        signature_holds(secret, headers, body),
        "the signature is the secret's HMAC of the time and the body"
    );
}

fn signature_holds(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let sig = headers["switchboard-signature"].to_str().unwrap();
    let (t, v1) = sig
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature {sig}"));
    let t: i64 = t.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - t).abs() < 60, "{sig}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap()).is_ok()
}

async fn events_reach_a_webhook_signed_and_retried(app: TestApp) {
    let admin = app.admin().await;
    // A second instance on the same database sends too: each delivery still arrives once per
    // attempt, and its events are not matched twice.
    let _second = app.another_instance().await;
    let (url, heard) = receiver(1).await;
    let (s, created) = app
        .post(
            "/api/webhooks",
            &admin,
            json!({"url": url, "events": ["call_initiated"], "description": "CRM"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    let id = created["webhook"]["id"].as_i64().unwrap();
    assert_eq!(created["webhook"]["events"], json!(["call_initiated"]));
    // Listed, never with its secret.
    let (s, list) = app.get("/api/webhooks", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["webhooks"][0]["url"], url.as_str());
    assert!(!list.to_string().contains(&secret));
    assert!(
        list["events"]
            .as_array()
            .unwrap()
            .contains(&json!("callTerminated"))
    );

    // A call logged: call_initiated is delivered (callStarted, published with it, is not
    // heard). The first attempt is refused; the retry a second later carries the same body.
    let (s, v) = app
        .post(
            "/api/calls",
            &admin,
            json!({"callId": "HOOK-1", "caller": "+14155550181", "receiver": "+14155550182"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let got = heard_at_least(&heard, 2, "a refusal and its retry").await;
    assert_eq!(got[0].1, got[1].1, "a retry sends the same body");
    for (headers, body) in &got {
        check_signature(&secret, headers, body);
        assert_eq!(headers["switchboard-event"], "call_initiated");
        assert_eq!(headers["content-type"], "application/json");
    }
    let body: Value = serde_json::from_str(&got[1].1).unwrap();
    assert_eq!(body["event"], "call_initiated");
    assert_eq!(body["clientId"], app.state.default_client_id);
    assert!(body["id"].as_str().is_some_and(|i| i.len() == 36));
    assert!(body["data"].to_string().contains("HOOK-1"), "{body}");
    // A secret's signature fails under another secret.
    assert!(!signature_holds("whsec_other", &got[1].0, &got[1].1));

    // Listed as delivered after two attempts.
    let path = format!("/api/webhooks/{id}/deliveries");
    let mut deliveries = Value::Null;
    for _ in 0..50 {
        deliveries = app.get(&path, &admin).await.1;
        if deliveries["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = &deliveries["deliveries"];
    assert_eq!(d.as_array().unwrap().len(), 1, "{deliveries}");
    assert_eq!(d[0]["status"], "delivered", "{deliveries}");
    assert_eq!(d[0]["attempts"], 2);
    assert_eq!(d[0]["last_status"], 204);
    assert_eq!(d[0]["event"], "call_initiated");
    assert_eq!(d[0]["body"], body);

    // Counted in the metrics: nothing owed any more.
    let metrics = crate::metrics::scrape(&app).await;
    assert!(
        metrics.contains("\nswitchboard_webhook_deliveries_pending 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("switchboard_webhook_deliveries_total{outcome=\"retry\"}"));

    // A ping, on demand: signed like the rest, listed with the deliveries.
    let (s, ping) = app
        .post(&format!("/api/webhooks/{id}/ping"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{ping}");
    let got = heard_at_least(&heard, 3, "the ping").await;
    check_signature(&secret, &got[2].0, &got[2].1);
    assert_eq!(got[2].0["switchboard-event"], "ping");
    let pinged: Value = serde_json::from_str(&got[2].1).unwrap();
    assert_eq!(pinged["id"], ping["id"]);
    assert_eq!(pinged["data"], json!({"webhookId": id}));
    for _ in 0..50 {
        deliveries = app.get(&path, &admin).await.1;
        if deliveries["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(deliveries["deliveries"][0]["event"], "ping", "{deliveries}");
    assert_eq!(deliveries["deliveries"][0]["status"], "delivered");

    // Deleted: nothing more is sent.
    let (s, v) = app.delete(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = app.delete(&format!("/api/webhooks/{id}"), &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            "/api/calls",
            &admin,
            json!({"callId": "HOOK-2", "caller": "+14155550181", "receiver": "+14155550183"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(heard.lock().unwrap().len(), 3, "nothing after the deletion");
    let (_, list) = app.get("/api/webhooks", &admin).await;
    assert_eq!(list["webhooks"], json!([]));
}

async fn webhooks_refuse_bad_input_and_other_clients(app: TestApp) {
    let admin = app.admin().await;
    let (_, op) = app.user(&admin, "agent1", "operator", None).await;
    let (url, heard) = receiver(0).await;
    for (body, why) in [
        (json!({"url": "ftp://example.com/x"}), "http"),
        (json!({"url": "not a url"}), "not a URL"),
        (json!({"url": "https://user:pw@example.com/x"}), "password"),
        (json!({"url": url, "events": ["nope"]}), "not an event"),
        (json!({"url": url, "events": []}), "at least one"),
        (
            json!({"url": url, "description": "x".repeat(201)}),
            "200 characters",
        ),
        (
            json!({"url": format!("https://example.com/{}", "x".repeat(2000))}),
            "2000",
        ),
    ] {
        let (s, v) = app.post("/api/webhooks", &admin, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(why), "{body}: {v}");
    }
    for body in [
        json!({}),
        json!({"url": 5}),
        json!({"url": url, "events": "*"}),
    ] {
        let (s, v) = app.post("/api/webhooks", &admin, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
    let (s, _) = app.post("/api/webhooks", &op, json!({"url": url})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get("/api/webhooks", &op).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, list) = app.get("/api/webhooks", &admin).await;
    assert_eq!(list["webhooks"], json!([]), "nothing was created");

    // All events by default; another client sees none of it and hears none of its events.
    let (s, created) = app.post("/api/webhooks", &admin, json!({"url": url})).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["webhook"]["events"], json!(["*"]));
    let id = created["webhook"]["id"].as_i64().unwrap();
    let other = app
        .in_another_client(&admin, "Other", "other-admin", "admin")
        .await;
    let (_, list) = app.get("/api/webhooks", &other).await;
    assert_eq!(list["webhooks"], json!([]));
    for (s, _) in [
        app.get(&format!("/api/webhooks/{id}/deliveries"), &other)
            .await,
        app.post(&format!("/api/webhooks/{id}/ping"), &other, json!({}))
            .await,
        app.delete(&format!("/api/webhooks/{id}"), &other).await,
    ] {
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (s, _) = app
        .post(
            "/api/calls",
            &other,
            json!({"callId": "OTHER-1", "caller": "+14155550181", "receiver": "+14155550184"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .get(&format!("/api/webhooks/{id}/deliveries?limit=0"), &admin)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.get("/api/webhooks/999999/deliveries", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Wrong types in the path and query, malformed bodies.
    for path in [
        format!("/api/webhooks/{id}/deliveries?limit=ten"),
        "/api/webhooks/abc/deliveries".to_string(),
    ] {
        let (s, v) = app.get(&path, &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
    }
    let (s, _) = app
        .post(
            &format!("/api/webhooks/{id}/deliveries/abc/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for (method, path) in [
        (Method::POST, "/api/webhooks".to_string()),
        (Method::PATCH, format!("/api/webhooks/{id}")),
    ] {
        let (s, v) = app
            .send_bytes(
                method,
                &path,
                Some(&admin),
                "application/json",
                b"{\"url\": ".to_vec(),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("malformed JSON"),
            "{v}"
        );
    }
    // Operators may do none of it.
    for (method, path) in [
        (Method::PATCH, format!("/api/webhooks/{id}")),
        (Method::DELETE, format!("/api/webhooks/{id}")),
        (Method::GET, format!("/api/webhooks/{id}/deliveries")),
        (Method::POST, format!("/api/webhooks/{id}/ping")),
        (Method::POST, format!("/api/webhooks/{id}/secret")),
        (
            Method::POST,
            format!("/api/webhooks/{id}/deliveries/1/retry"),
        ),
    ] {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({"url": url}));
        let (s, v) = app.call(method.clone(), &path, Some(&op), body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {v}");
    }
    let (_, list) = app.get("/api/webhooks", &admin).await;
    assert_eq!(
        list["webhooks"].as_array().unwrap().len(),
        1,
        "still there, unchanged"
    );
    assert_eq!(list["webhooks"][0]["url"], url.as_str());
    // This client's own call is heard (every event: callStarted too).
    let (s, _) = app
        .post(
            "/api/calls",
            &admin,
            json!({"callId": "MINE-1", "caller": "+14155550181", "receiver": "+14155550185"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // A person's own session events are not for webhooks, even those hearing everything.
    let (s, _) = app.post("/api/auth/logout", &op, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let got = heard_at_least(&heard, 2, "call_initiated and callStarted").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = heard.lock().unwrap().clone();
    assert!(
        all.iter().all(|(_, b)| !b.contains("OTHER-1")),
        "another client's call is not heard"
    );
    let known = switchboard_server::outbound::EVENT_NAMES;
    for (h, _) in &all {
        let name = h["switchboard-event"].to_str().unwrap();
        assert!(known.contains(&name), "{name} is not for webhooks");
    }
    let names: Vec<String> = got
        .iter()
        .map(|(h, _)| h["switchboard-event"].to_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"call_initiated".to_string()) && names.contains(&"callStarted".to_string()),
        "{names:?}"
    );

    // The most a client may have.
    for i in 1..max_per_client() {
        let (s, v) = app
            .post(
                "/api/webhooks",
                &admin,
                json!({"url": format!("{url}?n={i}")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{i}: {v}");
    }
    let (s, v) = app.post("/api/webhooks", &admin, json!({"url": url})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
}

fn max_per_client() -> usize {
    switchboard_server::routes::outbound_webhooks::MAX_PER_CLIENT
}

/// Without the administrator's leave, a client's admin cannot point a webhook inside the
/// server's network.
#[tokio::test]
async fn internal_addresses_are_refused_by_default() {
    let Some(app) = TestApp::new(Backend::Sqlite).await else {
        return;
    };
    let admin = app.admin().await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://LocalHost./x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://10.0.0.5/x",
        "http://[::ffff:192.168.0.1]/x",
    ] {
        let (s, v) = app.post("/api/webhooks", &admin, json!({"url": url})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert!(v["message"].as_str().unwrap().contains("internal"), "{v}");
    }
    let (s, v) = app
        .post(
            "/api/webhooks",
            &admin,
            json!({"url": "https://crm.example.com/hooks"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// A webhook that points inside the network (made while the administrator allowed it, say) is
/// refused when each delivery is sent: a name is checked as it is resolved for the connection
/// itself (so a name resolving elsewhere a moment later gains nothing), a literal address
/// before. The receiver hears nothing and the delivery says why.
#[tokio::test]
async fn deliveries_inside_the_network_are_refused_by_default() {
    let Some(app) = TestApp::new(Backend::Sqlite).await else {
        return;
    };
    let admin = app.admin().await;
    let (url, heard) = receiver(0).await;
    let port = url.split(':').nth(2).unwrap().trim_end_matches("/hook");
    for target in [
        format!("http://localhost:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
    ] {
        let (s, created) = app
            .post(
                "/api/webhooks",
                &admin,
                json!({"url": "https://crm.example.com/hooks"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let id = created["webhook"]["id"].as_i64().unwrap();
        switchboard_store::sql("UPDATE webhooks SET url = $1 WHERE id = $2")
            .arg(target.as_str())
            .arg(id)
            .execute(&mut app.state.db.write().await.unwrap())
            .await
            .unwrap();
        let listed = pinged_and_tried(&app, &admin, id).await;
        let error = listed["deliveries"][0]["last_error"]
            .as_str()
            .unwrap_or_default();
        assert!(error.contains("internal address"), "{target}: {listed}");
        assert_eq!(listed["deliveries"][0]["status"], "pending", "{listed}");
    }
    assert_eq!(heard.lock().unwrap().len(), 0);
}

/// A webhook whose receiver refuses is pointed elsewhere, given a new secret, and its delivery
/// sent again at once: the new receiver takes it, signed with the new secret. Retries wait an
/// hour here, so only the asked-for retry sends it.
async fn webhooks_change_rotate_and_retry(backend: Backend) {
    let mut config = test_config();
    config.webhook_allow_private = true;
    config.webhook_retry_secs = 3600;
    let Some(app) = TestApp::with_config(backend, config).await else {
        return;
    };
    let admin = app.admin().await;
    let (down, down_heard) = receiver(usize::MAX).await;
    let (up, up_heard) = receiver(0).await;
    let (s, created) = app
        .post(
            "/api/webhooks",
            &admin,
            json!({"url": down, "events": ["call_initiated"], "description": "old CRM"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["webhook"]["id"].as_i64().unwrap();
    let old_secret = created["secret"].as_str().unwrap().to_string();
    let (s, _) = app
        .post(
            "/api/calls",
            &admin,
            json!({"callId": "RETRY-1", "caller": "+14155550181", "receiver": "+14155550186"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    heard_at_least(&down_heard, 1, "the refused first attempt").await;
    let path = format!("/api/webhooks/{id}/deliveries");
    let mut listed = Value::Null;
    for _ in 0..50 {
        listed = app.get(&path, &admin).await.1;
        if listed["deliveries"][0]["attempts"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = &listed["deliveries"][0];
    assert_eq!(
        (d["status"].as_str(), d["last_status"].as_i64()),
        (Some("pending"), Some(500)),
        "{listed}"
    );
    let delivery = d["id"].as_i64().unwrap();

    // Bad changes are refused and change nothing.
    let other = app
        .in_another_client(&admin, "Other", "other-admin", "admin")
        .await;
    for (token, body, want) in [
        (&admin, json!({}), StatusCode::BAD_REQUEST),
        (
            &admin,
            json!({"url": "ftp://x.example.com"}),
            StatusCode::BAD_REQUEST,
        ),
        (&admin, json!({"events": ["nope"]}), StatusCode::BAD_REQUEST),
        (&admin, json!({"events": "*"}), StatusCode::BAD_REQUEST),
        (&other, json!({"url": up}), StatusCode::NOT_FOUND),
    ] {
        let (s, v) = app
            .patch(&format!("/api/webhooks/{id}"), token, body.clone())
            .await;
        assert_eq!(s, want, "{body}: {v}");
    }
    for (s, _) in [
        app.post(&format!("/api/webhooks/{id}/secret"), &other, json!({}))
            .await,
        app.post(
            &format!("/api/webhooks/{id}/deliveries/{delivery}/retry"),
            &other,
            json!({}),
        )
        .await,
        app.post(
            &format!("/api/webhooks/{id}/deliveries/999999/retry"),
            &admin,
            json!({}),
        )
        .await,
    ] {
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (_, list) = app.get("/api/webhooks", &admin).await;
    assert_eq!(list["webhooks"][0]["url"], down.as_str());

    // Pointed at a working receiver, hearing everything, without its description.
    let (s, v) = app
        .patch(
            &format!("/api/webhooks/{id}"),
            &admin,
            json!({"url": up, "events": ["*"], "description": null}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["webhook"]["url"], up.as_str());
    assert_eq!(v["webhook"]["events"], json!(["*"]));
    assert_eq!(v["webhook"]["description"], Value::Null);
    // A new secret, shown once.
    let (s, rotated) = app
        .post(&format!("/api/webhooks/{id}/secret"), &admin, json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert!(new_secret.starts_with("whsec_") && new_secret != old_secret);
    let (_, list) = app.get("/api/webhooks", &admin).await;
    assert!(!list.to_string().contains(&new_secret));

    // Nothing is sent before its hour; asked for, it goes now, to the new URL, newly signed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(up_heard.lock().unwrap().len(), 0);
    let retry = format!("/api/webhooks/{id}/deliveries/{delivery}/retry");
    let (s, v) = app.post(&retry, &admin, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let got = heard_at_least(&up_heard, 1, "the retry asked for").await;
    assert!(got[0].1.contains("RETRY-1"));
    check_signature(&new_secret, &got[0].0, &got[0].1);
    assert!(!signature_holds(&old_secret, &got[0].0, &got[0].1));
    assert_eq!(
        down_heard.lock().unwrap().len(),
        1,
        "the old URL heard it once"
    );
    for _ in 0..50 {
        listed = app.get(&path, &admin).await.1;
        if listed["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed["deliveries"][0]["status"], "delivered", "{listed}");
    assert_eq!(listed["deliveries"][0]["attempts"], 2);
    // Taken: asking again is a 404.
    let (s, _) = app.post(&retry, &admin, json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The changes are in the audit log.
    let (_, audit) = app.get("/api/audit?entity=webhook", &admin).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    for want in ["create", "update", "rotate_secret"] {
        assert!(actions.contains(&want), "{audit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_change_rotate_and_retry_sqlite() {
    webhooks_change_rotate_and_retry(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_change_rotate_and_retry_postgres() {
    webhooks_change_rotate_and_retry(Backend::Postgres).await;
}
