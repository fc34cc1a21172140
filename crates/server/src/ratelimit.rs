//! Per-address request limits, one bucket per route group (seed 001: "100 requests per 15
//! minutes per IP" would starve seed 000's 2-second polling, so groups have their own limits).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{Limit, RateLimits};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub enum Group {
    Login,
    Api,
    Poll,
    Upload,
}

pub struct RateLimiters {
    enabled: bool,
    login: DefaultKeyedRateLimiter<IpAddr>,
    api: DefaultKeyedRateLimiter<IpAddr>,
    poll: DefaultKeyedRateLimiter<IpAddr>,
    upload: DefaultKeyedRateLimiter<IpAddr>,
}

fn limiter(l: Limit) -> DefaultKeyedRateLimiter<IpAddr> {
    let n = NonZeroU32::new(l.requests).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs(u64::from(l.per_seconds)) / l.requests.max(1);
    let quota = Quota::with_period(period.max(Duration::from_micros(1)))
        .expect("period is positive")
        .allow_burst(n);
    RateLimiter::keyed(quota)
}

impl RateLimiters {
    pub fn new(c: &RateLimits) -> Self {
        Self {
            enabled: c.enabled,
            login: limiter(c.login),
            api: limiter(c.api),
            poll: limiter(c.poll),
            upload: limiter(c.upload),
        }
    }

    /// `Err(seconds)` when `ip` must wait.
    pub fn check(&self, group: Group, ip: IpAddr) -> Result<(), u64> {
        if !self.enabled {
            return Ok(());
        }
        let l = match group {
            Group::Login => &self.login,
            Group::Api => &self.api,
            Group::Poll => &self.poll,
            Group::Upload => &self.upload,
        };
        l.check_key(&ip).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs_f64()
                .ceil() as u64
        })
    }
}

async fn limit(state: &AppState, group: Group, req: Request, next: Next) -> Response {
    limited(&state.limits, state.config.trust_proxy, group, req, next).await
}

/// Run `req` unless its address is past `group`'s limit (429 with `Retry-After`).
async fn limited(
    limits: &RateLimiters,
    trust_proxy: bool,
    group: Group,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let ip = crate::auth::client_ip(&parts, trust_proxy);
    if let Err(wait) = limits.check(group, ip) {
        return axum::response::IntoResponse::into_response(ApiError::too_many(
            wait,
            format!("too many requests; retry in {} s", wait.max(1)),
        ));
    }
    next.run(Request::from_parts(parts, body)).await
}

pub async fn login(State(s): State<AppState>, req: Request, next: Next) -> Response {
    limit(&s, Group::Login, req, next).await
}
pub async fn api(State(s): State<AppState>, req: Request, next: Next) -> Response {
    limit(&s, Group::Api, req, next).await
}
pub async fn poll(State(s): State<AppState>, req: Request, next: Next) -> Response {
    limit(&s, Group::Poll, req, next).await
}
/// Socket.io's requests (`/socket.io/`: handshakes, long-polling, upgrades) count in the
/// polling group. Its state is the limiters and whether to trust `X-Forwarded-For`.
pub async fn socketio(
    State((limits, trust_proxy)): State<(Arc<RateLimiters>, bool)>,
    req: Request,
    next: Next,
) -> Response {
    limited(&limits, trust_proxy, Group::Poll, req, next).await
}
pub async fn upload(State(s): State<AppState>, req: Request, next: Next) -> Response {
    limit(&s, Group::Upload, req, next).await
}
