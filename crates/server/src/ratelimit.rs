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
    Health,
}

pub struct RateLimiters {
    enabled: bool,
    login: DefaultKeyedRateLimiter<IpAddr>,
    api: DefaultKeyedRateLimiter<IpAddr>,
    poll: DefaultKeyedRateLimiter<IpAddr>,
    upload: DefaultKeyedRateLimiter<IpAddr>,
    health: DefaultKeyedRateLimiter<IpAddr>,
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
            health: limiter(c.health),
        }
    }

    fn all(&self) -> [&DefaultKeyedRateLimiter<IpAddr>; 5] {
        [
            &self.login,
            &self.api,
            &self.poll,
            &self.upload,
            &self.health,
        ]
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
            Group::Health => &self.health,
        };
        l.check_key(&address_key(ip)).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs_f64()
                .ceil() as u64
        })
    }

    /// Forget the addresses whose buckets are full again (they would be treated the same as
    /// new ones), so that a stream of one-off addresses does not grow memory without bound.
    pub fn forget_idle(&self) {
        for l in self.all() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Addresses remembered, over every group.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.all().iter().map(|l| l.len()).sum()
    }
}

/// The key an address is counted under: an IPv6 client is one `/64` (a single host or home
/// is given a whole `/64` and may use any of its addresses), an IPv4-mapped IPv6 address is
/// its IPv4 address.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// Every minute, forget idle addresses, for as long as the limiters are in use.
pub fn spawn_upkeep(limits: &Arc<RateLimiters>) {
    let limits = Arc::downgrade(limits);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            match limits.upgrade() {
                Some(l) => l.forget_idle(),
                None => return,
            }
        }
    });
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
pub async fn health(State(s): State<AppState>, req: Request, next: Next) -> Response {
    limit(&s, Group::Health, req, next).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimits;

    #[test]
    fn an_ipv6_host_is_counted_as_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(address_key(a), address_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
        assert_eq!(address_key("::ffff:192.0.2.7".parse().unwrap()), v4);

        // So rotating through one /64 does not escape the limit.
        let limits = RateLimiters::new(&RateLimits::parse("login=2/60").unwrap());
        assert!(limits.check(Group::Login, a).is_ok());
        assert!(limits.check(Group::Login, b).is_ok());
        assert!(
            limits
                .check(Group::Login, "2001:db8:1:2::9".parse().unwrap())
                .is_err()
        );
        assert!(limits.check(Group::Login, other).is_ok());
    }

    #[test]
    fn the_health_group_has_its_own_bucket() {
        let limits = RateLimiters::new(&RateLimits::parse("health=3/60,api=1/60").unwrap());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limits.check(Group::Api, ip).is_ok());
        assert!(limits.check(Group::Api, ip).is_err());
        for _ in 0..3 {
            assert!(limits.check(Group::Health, ip).is_ok());
        }
        let wait = limits.check(Group::Health, ip).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(RateLimits::parse("health=0/60").is_err());
        assert_eq!(RateLimits::default().health.requests, 600);
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        // One request per millisecond: a bucket is full again 1 ms after its last request.
        let limits = RateLimiters::new(&RateLimits::parse("api=1000/1").unwrap());
        for i in 0..200u32 {
            let ip = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            assert!(limits.check(Group::Api, ip).is_ok());
        }
        assert_eq!(limits.remembered(), 200);
        std::thread::sleep(Duration::from_millis(20));
        let busy: IpAddr = "192.0.2.1".parse().unwrap();
        // Drain this one's bucket, so it is not idle at the sweep.
        while limits.check(Group::Api, busy).is_ok() {}
        limits.forget_idle();
        assert_eq!(
            limits.remembered(),
            1,
            "only the address still held back stays"
        );
        assert!(
            limits.check(Group::Api, busy).is_err(),
            "and it is still held back"
        );
    }
}
