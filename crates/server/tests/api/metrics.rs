//! `GET /metrics`: who may scrape it, what the process counts, and what each scrape reads from
//! the database.
//!
//! The counters live in one recorder per process, which the tests running at the same time
//! share, so counted figures are checked as increases of at least what this test did; the
//! figures read from the database are this server's own and are checked exactly.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use switchboard_core::CallStatus;
use switchboard_store::calls::{self, NewCall};
use switchboard_store::dialer::{self, Caps};

use crate::batches::{dialer_key, ids, next_batch, open_now, report_ok};
use crate::both_configured;
use crate::harness::{TestApp, test_config};

const TOKEN: &str = "scrape-token-0123456789";

fn quiet() -> switchboard_server::Config {
    let mut c = test_config();
    c.dialer.engine = false;
    c
}

fn with_token() -> switchboard_server::Config {
    let mut c = quiet();
    c.metrics_token = Some(switchboard_server::config::Secret(TOKEN.into()));
    c
}

both_configured!(
    routes_are_counted_by_template => quiet,
    each_scrape_reads_this_database => quiet,
    dialer_batches_and_reports_are_counted => quiet,
    without_a_token_only_local_callers_are_served => quiet,
    with_a_token_it_is_required => with_token,
);

/// `GET /metrics` as sent from `peer` (none: no socket address known) with extra headers.
async fn scrape_as(
    app: &TestApp,
    peer: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut b = Request::builder().uri("/metrics");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = b.body(Body::empty()).unwrap();
    if let Some(p) = peer {
        req.extensions_mut()
            .insert(ConnectInfo(p.parse::<SocketAddr>().unwrap()));
    }
    let (s, h, body) = app.raw(req).await;
    (s, h, String::from_utf8(body).expect("UTF-8"))
}

/// A scrape from this machine that must succeed.
pub(crate) async fn scrape(app: &TestApp) -> String {
    let (s, h, text) = scrape_as(app, Some("127.0.0.1:40000"), &[]).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{h:?}"
    );
    text
}

/// The value of the sample `name` whose labels include every one of `labels` (0 when absent).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (n, rest) = match key.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (key, ""),
            };
            (n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.split(',').any(|p| p == format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().expect("a number"))
        })
        .sum()
}

async fn routes_are_counted_by_template(app: TestApp) {
    let admin = app.admin().await;
    let missing = [
        ("route", "/api/leads/{id}"),
        ("method", "GET"),
        ("status", "404"),
    ];
    let before = sample(
        &scrape(&app).await,
        "switchboard_http_requests_total",
        &missing,
    );
    for id in [987_654_321, 987_654_322, 987_654_323] {
        let (s, _) = app.get(&format!("/api/leads/{id}"), &admin).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let text = scrape(&app).await;
    let after = sample(&text, "switchboard_http_requests_total", &missing);
    assert!(after - before >= 3.0, "{before} -> {after}\n{text}");
    // Ids are not labels: the route is its template.
    assert!(!text.contains("987654321"), "{text}");
    let timed = sample(
        &text,
        "switchboard_http_request_duration_seconds_count",
        &[("route", "/api/leads/{id}"), ("method", "GET")],
    );
    assert!(timed >= 3.0, "{text}");
    assert!(
        text.contains("# TYPE switchboard_http_request_duration_seconds histogram"),
        "{text}"
    );
    let login = [("route", "/api/auth/login"), ("status", "200")];
    assert!(
        sample(&text, "switchboard_http_requests_total", &login) >= 1.0,
        "{text}"
    );
}

async fn each_scrape_reads_this_database(app: TestApp) {
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "switchboard_db_up", &[]), 1.0, "{text}");
    assert_eq!(sample(&text, "switchboard_calls_live", &[]), 0.0, "{text}");
    assert_eq!(
        sample(&text, "switchboard_concurrency_slots_used", &[]),
        0.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "switchboard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0,
        "{text}"
    );
    assert!(
        sample(&text, "process_resident_memory_bytes", &[]) > 1e6,
        "{text}"
    );
    let pools = match app.state.db.backend() {
        switchboard_store::Backend::Sqlite => vec!["read", "write"],
        switchboard_store::Backend::Postgres => vec!["main"],
    };
    for p in pools {
        assert!(
            sample(&text, "switchboard_db_connections_max", &[("pool", p)]) >= 1.0,
            "{p}: {text}"
        );
    }

    // Two live calls and one that ended: the scrape counts the live ones.
    let client = app.state.default_client_id;
    let mut tx = app.state.db.begin().await.unwrap();
    for status in [
        CallStatus::Ringing,
        CallStatus::Answered,
        CallStatus::Completed,
    ] {
        let mut c = NewCall::outbound(client, "simulator", "+14155550123");
        c.status = status;
        calls::create(&mut tx, &c).await.unwrap();
    }
    let caps = Caps {
        global: 1000,
        client: 1000,
        campaign: None,
    };
    assert_eq!(
        dialer::take_slots(&mut tx, client, caps, 2).await.unwrap(),
        2
    );
    tx.commit().await.unwrap();
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "switchboard_calls_live", &[]), 2.0, "{text}");
    assert_eq!(
        sample(&text, "switchboard_concurrency_slots_used", &[]),
        2.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "switchboard_concurrency_slots_max", &[]),
        app.state.config.dialer.max_concurrent_calls as f64,
        "{text}"
    );
    // No phone number is ever a label or a value.
    assert!(!text.contains("4155550123"), "{text}");
}

async fn dialer_batches_and_reports_are_counted(app: TestApp) {
    let admin = app.admin().await;
    open_now(&app, &admin).await;
    let key = dialer_key(&app, &admin).await;
    for i in 0..3 {
        app.lead(&admin, &format!("+1415555{:04}", 200 + i)).await;
    }
    let before = scrape(&app).await;
    let batch = next_batch(&app, &key, "?size=3").await;
    let numbers = ids(&batch);
    assert_eq!(numbers.len(), 3, "{batch}");
    for id in &numbers[..2] {
        report_ok(&app, &key, json!({"number_id": id, "status": "BUSY"})).await;
    }
    let (s, _): (StatusCode, Value) = app
        .post(
            "/api/dialer/report-result",
            &key,
            json!({"number_id": 987_654_321, "status": "BUSY"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let after = scrape(&app).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    assert!(
        grew("switchboard_dialer_numbers_handed_out_total", &[]) >= 3.0,
        "{after}"
    );
    assert!(
        grew(
            "switchboard_dialer_reports_total",
            &[("outcome", "written")]
        ) >= 2.0,
        "{after}"
    );
    assert!(
        grew(
            "switchboard_dialer_reports_total",
            &[("outcome", "unknown_number")]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        grew("switchboard_dialer_reports_per_statement_count", &[]) >= 1.0,
        "{after}"
    );
}

async fn without_a_token_only_local_callers_are_served(app: TestApp) {
    scrape(&app).await;
    let (s, _, _) = scrape_as(&app, Some("[::1]:40000"), &[]).await;
    assert_eq!(s, StatusCode::OK);
    for (peer, headers) in [
        (Some("203.0.113.7:40000"), vec![]),
        (
            Some("127.0.0.1:40000"),
            vec![("x-forwarded-for", "203.0.113.7")],
        ),
        (
            Some("127.0.0.1:40000"),
            vec![("forwarded", "for=203.0.113.7")],
        ),
        (None, vec![]),
    ] {
        let (s, _, body) = scrape_as(&app, peer, &headers).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{peer:?} {headers:?}: {body}");
        let v: Value = serde_json::from_str(&body).expect("a JSON error");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("SWITCHBOARD_METRICS_TOKEN"),
            "{v}"
        );
        assert!(!body.contains("switchboard_"), "{body}");
    }
}

async fn with_a_token_it_is_required(app: TestApp) {
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong-token-0123456789")],
        vec![("authorization", "Basic c2NyYXBlOnRva2Vu")],
    ] {
        let (s, h, body) = scrape_as(&app, Some("127.0.0.1:40000"), &headers).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{headers:?}: {body}");
        assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer");
        assert!(!body.contains("switchboard_"), "{body}");
    }
    let auth = format!("bearer {TOKEN}");
    let (s, _, text) = scrape_as(
        &app,
        Some("198.51.100.9:40000"),
        &[("authorization", auth.as_str())],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(sample(&text, "switchboard_db_up", &[]), 1.0, "{text}");
}
