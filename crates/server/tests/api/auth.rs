use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::both;
use crate::harness::{ADMIN_PASSWORD, Backend, TestApp, test_config};

both!(
    login_by_email_or_username,
    wrong_password_and_unknown_user_answer_alike,
    failed_sign_ins_are_counted_across_instances_and_bursts,
    login_rejects_bad_input,
    tokens_are_checked,
    sessions_end_when_the_password_changes_or_the_user_signs_out,
    api_keys_are_shown_once_and_revocable,
    unknown_routes_answer_json,
    health_is_public,
    unknown_routes_answer_in_their_surfaces_shape
);

async fn login_by_email_or_username(app: TestApp) {
    let (s, v) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "ADMIN@example.com", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["user"]["role"], "super_admin");
    assert!(v["user"].get("password_hash").is_none() && !v.to_string().contains("argon2"));
    let (s, v) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, me) = app.get("/api/auth/me", v["token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["user"]["username"], "admin");
    // Timestamps are ISO 8601 with an offset.
    let created = me["user"]["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with("+00:00"),
        "{created}"
    );
}

async fn wrong_password_and_unknown_user_answer_alike(app: TestApp) {
    let (s1, v1) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "admin@example.com", "password": "wrong-password"})),
        )
        .await;
    let (s2, v2) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "nobody@example.com", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!((s1, &v1), (s2, &v2));
    assert_eq!(v1["error"], "Unauthorized");
    // Repeated failures for one login are throttled, with Retry-After; the right password is
    // refused too while the block lasts (five failures for one login).
    for _ in 0..4 {
        app.call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "admin@example.com", "password": "wrong-password"})),
        )
        .await;
    }
    let req = Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"email": "admin@example.com", "password": ADMIN_PASSWORD}).to_string(),
        ))
        .unwrap();
    let (s, headers, _) = app.raw(req).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
}

/// The sign-in throttle is kept in the database: failures seen by one instance block the same
/// login on another (or on this one after a restart), and wrong passwords sent all at once are
/// bounded like ones sent in turn. The right password is forgiven only its own login's count.
async fn failed_sign_ins_are_counted_across_instances_and_bursts(app: TestApp) {
    let admin = app.admin().await;
    app.user(&admin, "agent1", "operator", None).await;
    app.user(&admin, "agent2", "operator", None).await;
    async fn try_login(app: &TestApp, login: &str, password: &str) -> StatusCode {
        let body = json!({"username": login, "password": password});
        let (s, _) = app
            .call(Method::POST, "/api/auth/login", None, Some(body))
            .await;
        s
    }
    let other = app.another_instance().await;

    // Three wrong passwords here, two there: the sixth attempt is refused on either instance,
    // the right password as well.
    for _ in 0..3 {
        assert_eq!(
            try_login(&app, "agent1", "wrong-password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    for _ in 0..2 {
        assert_eq!(
            try_login(&other, "agent1", "wrong-password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    for instance in [&app, &other] {
        assert_eq!(
            try_login(instance, "agent1", "password-123").await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // A third instance started afterwards (or this one restarted) knows it too.
    let restarted = app.another_instance().await;
    assert_eq!(
        try_login(&restarted, "agent1", "password-123").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another login from the same address is not blocked by agent1's five, and signing in
    // forgives agent2's own failures: four more wrong ones still pass.
    assert_eq!(
        try_login(&other, "agent2", "wrong-password").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_login(&app, "agent2", "password-123").await,
        StatusCode::OK
    );
    for _ in 0..4 {
        assert_eq!(
            try_login(&app, "agent2", "wrong-password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        try_login(&other, "agent2", "password-123").await,
        StatusCode::OK
    );

    // Twelve wrong passwords at once for a third login, across both instances: five are
    // checked, the others refused without a check.
    app.user(&admin, "agent3", "operator", None).await;
    let burst = (0..12).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        try_login(instance, "agent3", "wrong-password")
    });
    let statuses = futures_util::future::join_all(burst).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 7), "{statuses:?}");

    // The address's own bound (30 failures, any login) holds across instances too: 15 so far
    // (five for each agent: signing in forgave agent2's count, not the address's), 15 more on
    // fresh logins, then even a fresh login is refused.
    for i in 0..15 {
        let instance = if i % 2 == 0 { &app } else { &other };
        assert_eq!(
            try_login(instance, &format!("nobody{}", i / 4), "wrong-password").await,
            StatusCode::UNAUTHORIZED,
            "failure {i}"
        );
    }
    assert_eq!(
        try_login(&restarted, "nobody-else", "wrong-password").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Nothing in the table names a login or an address.
    let rows: Vec<(String,)> = app
        .state
        .db
        .fetch_all(switchboard_store::sql("SELECT key FROM sign_in_failures"))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        55,
        "30 for the address; per (address, login): 5 + 0 + 5 + 15"
    );
    for (key,) in rows {
        assert!(
            key.len() == 64 && !key.contains("agent") && !key.contains("127.0.0.1"),
            "{key}"
        );
    }
}

async fn login_rejects_bad_input(app: TestApp) {
    let (s, v) = app
        .send_bytes(
            Method::POST,
            "/api/auth/login",
            None,
            "application/json",
            b"{\"email\": ".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["message"].as_str().unwrap().contains("malformed JSON"),
        "{v}"
    );
    let (s, v) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"password": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": 5, "password": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .send_bytes(
            Method::POST,
            "/api/auth/login",
            None,
            "text/plain",
            b"email=admin".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = json!({"email": "admin@example.com", "password": "x".repeat(2 * 1024 * 1024)});
    let (s, _) = app
        .call(Method::POST, "/api/auth/login", None, Some(big))
        .await;
    assert!(
        s == StatusCode::PAYLOAD_TOO_LARGE || s == StatusCode::BAD_REQUEST,
        "{s}"
    );
}

async fn tokens_are_checked(app: TestApp) {
    let (s, v) = app.call(Method::GET, "/api/auth/me", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["message"].is_string());
    let (s, _) = app.get("/api/auth/me", "not-a-jwt").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A token signed with another secret is refused.
    let other = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": 1, "client_id": 1, "role": "super_admin", "iat": 0, "exp": 4_000_000_000i64}),
        &jsonwebtoken::EncodingKey::from_secret(b"some other secret entirely, 32+ chars"),
    )
    .unwrap();
    let (s, _) = app.get("/api/auth/me", &other).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A deactivated user's token stops working at once.
    let admin = app.admin().await;
    let (id, op) = app.user(&admin, "temp", "operator", None).await;
    assert_eq!(app.get("/api/auth/me", &op).await.0, StatusCode::OK);
    assert_eq!(
        app.delete(&format!("/api/users/{id}"), &admin).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/auth/me", &op).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn api_keys_are_shown_once_and_revocable(app: TestApp) {
    let admin = app.admin().await;
    let (s, v) = app
        .post("/api/api-keys", &admin, json!({"name": "crm sync"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let key = v["key"].as_str().unwrap().to_string();
    let id = v["apiKey"]["id"].as_i64().unwrap();
    let (_, list) = app.get("/api/api-keys", &admin).await;
    let text = list.to_string();
    assert!(!text.contains(&key) && !text.contains("key_hash"), "{text}");
    app.lead(&admin, "+14155550111").await;
    let with_key = |k: &str| {
        Request::get("/api/leads")
            .header("x-api-key", k)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.raw(with_key(&key)).await.0, StatusCode::OK);
    assert_eq!(
        app.raw(with_key("sbk_wrong")).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Operators cannot manage keys.
    let (_, op) = app.user(&admin, "op1", "operator", None).await;
    assert_eq!(app.get("/api/api-keys", &op).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.delete(&format!("/api/api-keys/{id}"), &admin).await.0,
        StatusCode::OK
    );
    assert_eq!(app.raw(with_key(&key)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.delete(&format!("/api/api-keys/{id}"), &admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            "/api/api-keys",
            &admin,
            json!({"name": "x", "kind": "root"})
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

async fn unknown_routes_answer_json(app: TestApp) {
    let admin = app.admin().await;
    let (s, v) = app.get("/api/nothing-here", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "Not Found");
    let (s, v) = app
        .call(Method::PUT, "/api/admins", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{v}");
    assert!(v["message"].is_string());
    let (s, _) = app.get("/api/leads/not-a-number", &admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn health_is_public(app: TestApp) {
    let (s, v) = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "healthy");
    assert!(v["uptime"].is_u64() && v["version"].is_string());
}

/// A path no route answers, or a method a path does not take, answers in the shape of the
/// seed the path belongs to.
async fn unknown_routes_answer_in_their_surfaces_shape(app: TestApp) {
    let token = app.admin().await;
    for (method, path, status) in [
        (Method::GET, "/plivo/no-such-thing", StatusCode::NOT_FOUND),
        (
            Method::GET,
            "/plivo/create-campaign",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (Method::DELETE, "/health", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let (s, v) = app.call(method, path, Some(&token), None).await;
        assert_eq!(s, status, "{path}");
        assert_eq!(
            (
                v["success"].as_bool(),
                v["code"].is_string(),
                v["timestamp"].is_string()
            ),
            (Some(false), true, true),
            "seed 003's shape for {path}: {v}"
        );
    }
    let (s, v) = app.get("/api/v1/no-such-thing", &token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["success"], false, "seed 000's shape: {v}");
    let (s, v) = app.get("/api/no-such-thing", &token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        (v["error"].as_str(), v["success"].is_null()),
        (Some("Not Found"), true),
        "the native shape: {v}"
    );
}

/// Per-route-group limits: login is strict, public health checks have their own bucket, and
/// a 429 carries Retry-After.
#[tokio::test]
async fn rate_limits_apply_per_group() {
    let mut config = test_config();
    config.rate_limits =
        switchboard_server::config::RateLimits::parse("login=3/60,api=5/60,health=2/60").unwrap();
    let app = TestApp::with_config(Backend::Sqlite, config).await.unwrap();
    let token = app.admin().await; // one login used
    for _ in 0..5 {
        assert_eq!(app.get("/api/auth/me", &token).await.0, StatusCode::OK);
    }
    let req = Request::get("/api/auth/me")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (s, h, _) = app.raw(req).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.contains_key(header::RETRY_AFTER));
    // Each surface's 429 is in its own seed's error shape.
    let (s, v) = app.get("/plivo/dashboard/campaigns", &token).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        (v["success"].as_bool(), v["code"].as_str()),
        (Some(false), Some("TOO_MANY_REQUESTS")),
        "seed 003: {v}"
    );
    let (s, v) = app.get("/api/calls", &token).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["success"], false, "seed 004: {v}");
    // The login group has its own bucket: two more logins pass, the fourth is refused.
    app.admin().await;
    app.admin().await;
    let (s, _) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "admin@example.com", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // The public health checks have their own bucket: the spent `api` one does not stop
    // them, and they are limited in turn, in seed 003's shape.
    assert_eq!(
        app.call(Method::GET, "/health", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::GET, "/health/database", None, None)
            .await
            .0,
        StatusCode::OK
    );
    let (s, h, body) = app
        .raw(
            Request::get("/health/cloud-run")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.contains_key(header::RETRY_AFTER));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (v["success"].as_bool(), v["code"].as_str()),
        (Some(false), Some("TOO_MANY_REQUESTS")),
        "seed 003: {v}"
    );
}

/// Dialer tokens and bot keys: from config (default client) or issued per client; each kind
/// is accepted only where it belongs, and revoked keys stop working.
#[tokio::test]
async fn machine_principals_are_kind_scoped() {
    use axum::routing::get;
    use switchboard_server::auth::{BotPrincipal, DialerPrincipal};
    let mut config = test_config();
    config.dialer_token = Some(switchboard_server::config::Secret(
        "dialer-token-from-env".into(),
    ));
    config.bot_api_key = Some(switchboard_server::config::Secret(
        "bot-key-from-env-123".into(),
    ));
    let app = TestApp::with_config(Backend::Sqlite, config).await.unwrap();
    let probe = axum::Router::new()
        .route(
            "/dialer",
            get(|p: DialerPrincipal| async move { format!("{}:{}", p.key_id, p.client_id) }),
        )
        .route(
            "/bot",
            get(|p: BotPrincipal| async move { format!("{}:{}", p.key_id, p.client_id) }),
        )
        .with_state(app.state.clone());
    let call = |path: &'static str, header: (&'static str, String)| {
        let probe = probe.clone();
        async move {
            use tower::ServiceExt;
            let req = Request::get(path)
                .header(header.0, header.1)
                .body(Body::empty())
                .unwrap();
            let res = probe.oneshot(req).await.unwrap();
            let status = res.status();
            let body = http_body_util::BodyExt::collect(res.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8_lossy(&body).to_string())
        }
    };
    let bearer = |t: &str| ("authorization", format!("Bearer {t}"));
    assert_eq!(
        call("/dialer", bearer("dialer-token-from-env")).await,
        (StatusCode::OK, "0:1".into())
    );
    assert_eq!(
        call("/dialer", bearer("dialer-token-from-enX")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call("/bot", ("x-api-key", "bot-key-from-env-123".into())).await,
        (StatusCode::OK, "0:1".into())
    );
    assert_eq!(
        call("/bot", bearer("bot-key-from-env-123")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call("/bot", bearer("dialer-token-from-env")).await.0,
        StatusCode::UNAUTHORIZED,
        "a dialer token is not a bot key"
    );
    // Issued keys, per client.
    let admin = app.admin().await;
    let (_, v) = app
        .post(
            "/api/api-keys",
            &admin,
            json!({"name": "dialer 2", "kind": "dialer"}),
        )
        .await;
    let dialer = v["key"].as_str().unwrap().to_string();
    let id = v["apiKey"]["id"].as_i64().unwrap();
    assert!(dialer.starts_with("sbd_"));
    assert_eq!(
        call("/dialer", bearer(&dialer)).await,
        (StatusCode::OK, format!("{id}:1"))
    );
    assert_eq!(
        call("/bot", ("x-api-key", dialer.clone())).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A dialer token is not an API key for people's routes either.
    let req = Request::get("/api/leads")
        .header("x-api-key", &dialer)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.raw(req).await.0, StatusCode::UNAUTHORIZED);
    app.delete(&format!("/api/api-keys/{id}"), &admin).await;
    assert_eq!(
        call("/dialer", bearer(&dialer)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Several instances starting at once on one empty database (each with its own connections,
/// as separate processes have): every start succeeds, and there is one default client and one
/// admin, not one per instance.
async fn first_start_by_several_at_once(backend: Backend) {
    let Some(keep) = crate::harness::fresh_db(backend).await else {
        return;
    };
    let mut starts = Vec::new();
    for _ in 0..4 {
        let db = switchboard_store::Db::connect(&keep.url)
            .await
            .expect("connect");
        let mut config = test_config();
        config.dialer.engine = false;
        starts.push(tokio::spawn(async move {
            switchboard_server::prepare_with_db(db, config)
                .await
                .map(|s| s.default_client_id)
        }));
    }
    let mut clients = Vec::new();
    for s in starts {
        clients.push(s.await.expect("join").expect("every start succeeds"));
    }
    clients.dedup();
    assert_eq!(
        clients.len(),
        1,
        "every instance uses the same default client"
    );
    let (n_clients,): (i64,) = switchboard_store::sql("SELECT COUNT(*) FROM clients")
        .fetch_one(&mut keep.db.read().await.unwrap())
        .await
        .unwrap();
    let (n_users,): (i64,) = switchboard_store::sql("SELECT COUNT(*) FROM users")
        .fetch_one(&mut keep.db.read().await.unwrap())
        .await
        .unwrap();
    assert_eq!((n_clients, n_users), (1, 1));
}

mod first_start_by_several_at_once {
    use crate::harness::Backend;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::first_start_by_several_at_once(Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::first_start_by_several_at_once(Backend::Postgres).await
    }
}

/// Several processes starting at once on a SQLite file that does not exist yet: every one
/// creates or opens it, migrates it and starts; one client, one admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_on_a_new_sqlite_file_by_several_at_once() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("new.db").display());
        let mut starts = Vec::new();
        for _ in 0..4 {
            let url = url.clone();
            let mut config = test_config();
            config.dialer.engine = false;
            starts.push(tokio::spawn(async move {
                let db = switchboard_store::Db::connect(&url).await?;
                db.migrate().await?;
                let state = switchboard_server::prepare_with_db(db, config).await?;
                anyhow::Ok(state.default_client_id)
            }));
        }
        for s in starts {
            s.await
                .expect("join")
                .unwrap_or_else(|e| panic!("round {round}: a start failed: {e:#}"));
        }
        let db = switchboard_store::Db::connect(&url).await.unwrap();
        let (n_clients, n_users): (i64, i64) = switchboard_store::sql(
            "SELECT (SELECT COUNT(*) FROM clients), (SELECT COUNT(*) FROM users)",
        )
        .fetch_one(&mut db.read().await.unwrap())
        .await
        .unwrap();
        assert_eq!((n_clients, n_users), (1, 1), "round {round}");
        db.close().await;
    }
}

/// A user changes their own password; every session signed before it ends (and so does every
/// one when an admin sets a new password, or when the user signs out), while other users'
/// sessions go on. Bad input changes nothing; wrong current passwords are throttled.
async fn sessions_end_when_the_password_changes_or_the_user_signs_out(app: TestApp) {
    let admin = app.admin().await;
    let (op_id, op1) = app.user(&admin, "agent7", "operator", None).await;
    let op2 = app.login("agent7", "password-123").await;
    let change = |token: String, body: serde_json::Value| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/auth/change-password",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let me = |token: String| {
        let app = &app;
        async move { app.get("/api/auth/me", &token).await.0 }
    };

    // Bad input: refused, nothing changed.
    for (body, why) in [
        (
            json!({"newPassword": "password-456"}),
            "currentPassword is required",
        ),
        (
            json!({"currentPassword": "password-123"}),
            "newPassword is required",
        ),
        (
            json!({"currentPassword": "password-123", "newPassword": "short"}),
            "8 to 128",
        ),
        (
            json!({"currentPassword": "password-123", "newPassword": "password-123"}),
            "the same",
        ),
        (
            json!({"currentPassword": "password-999", "newPassword": "password-456"}),
            "not right",
        ),
        (
            json!({"currentPassword": 123, "newPassword": "password-456"}),
            "",
        ),
    ] {
        let (s, v) = change(op1.clone(), body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["error"].is_string(), "seed 001's shape: {v}");
        assert!(v["message"].as_str().unwrap().contains(why), "{body}: {v}");
    }
    let (s, v) = app
        .send_bytes(
            Method::POST,
            "/api/auth/change-password",
            Some(&op1),
            "application/json",
            b"{\"currentPassword\": ".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "malformed JSON: {v}");
    assert!(v["error"].is_string(), "{v}");
    let (s, _) = app
        .call(
            Method::POST,
            "/api/auth/change-password",
            None,
            Some(json!({"currentPassword": "password-123", "newPassword": "password-456"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "signed in only");
    assert_eq!(me(op1.clone()).await, StatusCode::OK);
    assert_eq!(me(op2.clone()).await, StatusCode::OK);

    // The change: a new token for this session; the user's other tokens end, the admin's not.
    let (s, v) = change(
        op1.clone(),
        json!({"currentPassword": "password-123", "newPassword": "password-456"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["message"], "Password changed");
    assert_eq!(v["user"]["username"], "agent7");
    let op3 = v["token"].as_str().unwrap().to_string();
    for old in [&op1, &op2] {
        let (s, v) = app.get("/api/auth/me", old).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert!(
            v["message"].as_str().unwrap().contains("sign in again"),
            "{v}"
        );
    }
    assert_eq!(me(op3.clone()).await, StatusCode::OK);
    assert_eq!(me(admin.clone()).await, StatusCode::OK);
    let (s, _) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "agent7", "password": "password-123"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old password is gone");
    let op4 = app.login("agent7", "password-456").await;

    // An admin sets a new password: the user's sessions end.
    let (s, v) = app
        .patch(
            &format!("/api/users/{op_id}"),
            &admin,
            json!({"password": "password-789"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(me(op3).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(op4).await, StatusCode::UNAUTHORIZED);
    // Other changes to the user leave them signed in.
    let op5 = app.login("agent7", "password-789").await;
    let (s, _) = app
        .patch(
            &format!("/api/users/{op_id}"),
            &admin,
            json!({"first_name": "Ann"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me(op5.clone()).await, StatusCode::OK);

    // A deactivated user's sessions do not come back with the account.
    let (s, _) = app
        .patch(
            &format!("/api/users/{op_id}"),
            &admin,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me(op5.clone()).await, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .patch(
            &format!("/api/users/{op_id}"),
            &admin,
            json!({"is_active": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        me(op5.clone()).await,
        StatusCode::UNAUTHORIZED,
        "still ended"
    );
    let op5 = app.login("agent7", "password-789").await;

    // Signing out ends every session of the user, none of anyone else's.
    let admin2 = app.admin().await;
    let (s, v) = app
        .call(Method::POST, "/api/auth/logout", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["success"], true);
    assert_eq!(me(admin.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(admin2).await, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .call(Method::POST, "/api/auth/logout", Some(&admin), None)
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "once signed out, the token is refused"
    );
    assert_eq!(me(op5.clone()).await, StatusCode::OK);
    let admin = app.admin().await;
    assert_eq!(me(admin).await, StatusCode::OK);

    // Wrong current passwords are throttled like sign-ins; the right one waits too.
    let mut statuses = vec![];
    for _ in 0..6 {
        let (s, _) = change(
            op5.clone(),
            json!({"currentPassword": "wrong-password", "newPassword": "password-000"}),
        )
        .await;
        statuses.push(s);
    }
    assert_eq!(statuses[0], StatusCode::BAD_REQUEST);
    assert_eq!(
        *statuses.last().unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
        "{statuses:?}"
    );
    let (s, _) = change(
        op5.clone(),
        json!({"currentPassword": "password-789", "newPassword": "password-000"}),
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(me(op5).await, StatusCode::OK, "nothing changed");
}
