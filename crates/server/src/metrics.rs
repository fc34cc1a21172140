//! `GET /metrics`: Prometheus text.
//!
//! Two kinds of figures. What the process counts as it works (requests per route and status,
//! calls handed to the provider, call endings, dialer reports and the statements that wrote
//! them, numbers handed out) goes through the `metrics` facade into one recorder per process.
//! What the database holds (live calls, campaigns per status) and this server's own state
//! (connection pools, memory, uptime) is read when scraped and written after the recorder's
//! text, so each server of a process reports its own database.
//!
//! No label carries a client, a user, a phone number or an id: a route is its template
//! (`/api/leads/{id}`), a status its number.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::auth::{bearer_in, secrets_equal};
use crate::error::ApiError;
use crate::state::AppState;

/// Requests per route, method and status.
pub const HTTP_REQUESTS: &str = "switchboard_http_requests_total";
/// Time from request to response head, per route and method.
pub const HTTP_DURATION: &str = "switchboard_http_request_duration_seconds";
/// Calls given to the telephony provider, per provider and result (`placed`, `refused`).
pub const CALLS_ORIGINATED: &str = "switchboard_calls_originated_total";
/// Calls that reached a final status through a provider event, the reconciler or the
/// provider's refusal, per status.
pub const CALLS_ENDED: &str = "switchboard_calls_ended_total";
/// Ended calls that an answering machine took, as the provider's detection said.
pub const CALLS_BY_MACHINE: &str = "switchboard_calls_answered_by_machine_total";
/// Call backs told as they came due.
pub const CALLBACKS_DUE: &str = "switchboard_callbacks_due_total";
/// Provider events applied, per outcome (`updated`, `duplicate`, `unknown_call`).
pub const CALL_EVENTS: &str = "switchboard_call_events_total";
/// Numbers handed to external dialers by `next-batch`.
pub const NUMBERS_HANDED_OUT: &str = "switchboard_dialer_numbers_handed_out_total";
/// `report-result`s taken, per outcome (`written`, `repeat`, `unknown_number`).
pub const REPORTS: &str = "switchboard_dialer_reports_total";
/// Reports written together, in one transaction (the group commit's batch size).
pub const REPORTS_PER_STATEMENT: &str = "switchboard_dialer_reports_per_statement";
/// Real-time events published, per event name.
pub const EVENTS: &str = "switchboard_events_published_total";
/// Real-time events dropped because the queue to PostgreSQL was full.
pub const EVENTS_DROPPED: &str = "switchboard_events_dropped_total";
/// Outbound webhook attempts, per outcome (`delivered`, `retry`, `failed`).
pub const WEBHOOK_DELIVERIES: &str = "switchboard_webhook_deliveries_total";
/// Events no webhook delivery was recorded for (the backlog was full, or the database failed).
pub const WEBHOOK_EVENTS_DROPPED: &str = "switchboard_webhook_events_dropped_total";
/// Real-time connections open now, per transport (`socketio`, `sse`).
pub const REALTIME_CONNECTIONS: &str = "switchboard_realtime_connections";

/// Seconds: from a millisecond to ten seconds.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Reports per statement: one to the largest batch a writer sends.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use; every server of the process shares it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(REPORTS_PER_STATEMENT.into()), BATCH_BUCKETS)
            })
            .expect("the buckets are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder was installed first; /metrics shows only what is read per scrape");
        }
        describe();
        // Histograms keep their samples until upkeep folds them in.
        let h = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    h.run_upkeep();
                }
            })
            .expect("a thread for metrics upkeep");
        handle
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, per route template, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, per route template and method"
    );
    describe_counter!(
        CALLS_ORIGINATED,
        "Calls handed to the telephony provider, per provider and result"
    );
    describe_counter!(CALLS_ENDED, "Calls that reached a final status, per status");
    describe_counter!(CALL_EVENTS, "Provider call events applied, per outcome");
    describe_counter!(
        CALLS_BY_MACHINE,
        "Ended calls an answering machine took (answering-machine detection)"
    );
    describe_counter!(CALLBACKS_DUE, "Call backs told as they came due");
    describe_counter!(EVENTS, "Real-time events published, per event");
    describe_counter!(
        EVENTS_DROPPED,
        "Real-time events dropped because the queue to PostgreSQL was full"
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Outbound webhook attempts, per outcome (delivered, retry, failed)"
    );
    describe_counter!(
        WEBHOOK_EVENTS_DROPPED,
        "Events no outbound webhook delivery was recorded for"
    );
    metrics::describe_gauge!(
        REALTIME_CONNECTIONS,
        "Real-time connections open, per transport (socketio, sse)"
    );
    describe_counter!(
        NUMBERS_HANDED_OUT,
        "Numbers handed to external dialers by next-batch"
    );
    describe_counter!(REPORTS, "report-result reports, per outcome");
    describe_histogram!(
        REPORTS_PER_STATEMENT,
        "Reports written together in one database transaction (group commit)"
    );
}

/// Route layer: count every routed request and time it, labelled by the route's template.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    res
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Who may scrape: with `SWITCHBOARD_METRICS_TOKEN` set, whoever sends it as a bearer token;
/// without it, only a caller on this machine that came straight to the socket (a request a
/// proxy forwarded carries `Forwarded` or `X-Forwarded-For`, and is refused).
fn allowed(st: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<(), ApiError> {
    if let Some(token) = &st.config.metrics_token {
        return match bearer_in(headers) {
            Some(s)
                if secrets_equal(
                    &switchboard_store::api_keys::digest(s),
                    &switchboard_store::api_keys::digest(&token.0),
                ) =>
            {
                Ok(())
            }
            _ => Err(ApiError::unauthorized(
                "send the metrics token (SWITCHBOARD_METRICS_TOKEN) as a bearer token",
            )),
        };
    }
    let forwarded =
        headers.contains_key(header::FORWARDED) || headers.contains_key("x-forwarded-for");
    match peer {
        Some(p) if p.ip().is_loopback() && !forwarded => Ok(()),
        _ => Err(ApiError::forbidden(
            "metrics are served to this machine only; set SWITCHBOARD_METRICS_TOKEN to scrape from elsewhere",
        )),
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    summary = "Prometheus metrics",
    security((), ("metricsToken" = [])),
    description = "Prometheus text format 0.0.4. With `SWITCHBOARD_METRICS_TOKEN` set, send it as \
        `Authorization: Bearer …`; without it, only direct callers on the same machine (loopback, \
        no `Forwarded`/`X-Forwarded-For`) are served. No label names a client, user or number.",
    responses(
        (status = 200, description = "Prometheus text", content_type = "text/plain", body = String),
        (status = 401, description = "The token is configured and was not sent", body = crate::docs::ErrorBody),
        (status = 403, description = "No token configured and the caller is not local", body = crate::docs::ErrorBody),
    )
)]
pub async fn metrics(State(st): State<AppState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if let Err(e) = allowed(&st, req.headers(), peer) {
        let mut res = e.into_response();
        if res.status() == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        return res;
    }
    let mut text = handle().render();
    scraped(&st, &mut text).await;
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// The figures read per scrape, in the same text format.
async fn scraped(st: &AppState, out: &mut String) {
    let mut gauge = |name: &str, help: &str, values: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, v) in values {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    gauge(
        "switchboard_build_info",
        "The running version (always 1)",
        &[(
            format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
            1.0,
        )],
    );
    gauge(
        "switchboard_uptime_seconds",
        "Seconds since this server started",
        &[(String::new(), st.started.elapsed().as_secs_f64().floor())],
    );
    gauge(
        "process_resident_memory_bytes",
        "Resident memory of this process",
        &[(String::new(), crate::routes::health::rss_bytes() as f64)],
    );
    let pools = st.db.pool_stats();
    let (mut open, mut idle, mut max) = (Vec::new(), Vec::new(), Vec::new());
    for p in &pools {
        let label = format!("{{pool=\"{}\"}}", p.name);
        open.push((label.clone(), f64::from(p.open)));
        idle.push((label.clone(), f64::from(p.idle)));
        max.push((label, f64::from(p.max)));
    }
    gauge(
        "switchboard_db_connections_open",
        "Open database connections, per pool",
        &open,
    );
    gauge(
        "switchboard_db_connections_idle",
        "Idle database connections, per pool",
        &idle,
    );
    gauge(
        "switchboard_db_connections_max",
        "The most connections a pool opens",
        &max,
    );
    let totals = async {
        let mut rd = st.db.read().await?;
        switchboard_store::dialer::live_totals(&mut rd).await
    };
    match totals.await {
        Ok(t) => {
            gauge(
                "switchboard_db_up",
                "Whether the database answered this scrape",
                &[(String::new(), 1.0)],
            );
            gauge(
                "switchboard_calls_live",
                "Calls initiated, ringing or answered, across the installation",
                &[(String::new(), t.live_calls as f64)],
            );
            gauge(
                "switchboard_concurrency_slots_used",
                "Global concurrency slots held by live calls (seed 003's global cap)",
                &[(String::new(), t.global_slots as f64)],
            );
            gauge(
                "switchboard_concurrency_slots_max",
                "The global cap on live calls (SWITCHBOARD_MAX_CONCURRENT_CALLS)",
                &[(String::new(), st.config.dialer.max_concurrent_calls as f64)],
            );
            let by_status: Vec<(String, f64)> = t
                .campaigns
                .into_iter()
                .map(|(s, n)| (format!("{{status=\"{}\"}}", escape(&s)), n as f64))
                .collect();
            gauge(
                "switchboard_campaigns",
                "Campaigns per status, across the installation",
                &by_status,
            );
            if let Ok(owed) = switchboard_store::webhooks::owed(&st.db).await {
                gauge(
                    "switchboard_webhook_deliveries_pending",
                    "Outbound webhook deliveries neither taken nor given up on, across the installation",
                    &[(String::new(), owed as f64)],
                );
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database did not answer");
            gauge(
                "switchboard_db_up",
                "Whether the database answered this scrape",
                &[(String::new(), 0.0)],
            );
        }
    }
}

/// A label value as the text format writes it.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn counted_figures_render_with_their_labels() {
        let h = handle();
        metrics::counter!(CALLS_ENDED, "status" => "unit-test").increment(3);
        metrics::histogram!(REPORTS_PER_STATEMENT).record(5.0);
        let text = h.render();
        assert!(
            text.contains("switchboard_calls_ended_total{status=\"unit-test\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE switchboard_dialer_reports_per_statement histogram"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_dialer_reports_per_statement_bucket{le=\"8\"}"),
            "{text}"
        );
    }
}
