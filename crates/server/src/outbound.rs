//! Outbound webhooks: a client's own URLs hear its events (the same events Socket.io and SSE
//! deliver), signed, retried, and never lost at a restart.
//!
//! - The instance where an event happens matches it against the live webhooks (a copy kept in
//!   memory, read again every few seconds and at once after a change here) and writes a
//!   delivery row per webhook that hears it.
//! - Senders on every instance take due rows with a lease, POST them, and record the outcome:
//!   a 2xx is taken; anything else is retried with a growing wait, then given up on.
//! - Each body carries `id` (the same at every retry: receivers skip one they have seen),
//!   `event`, `clientId`, `createdAt` and `data` (the event's own JSON), and is signed with
//!   the webhook's secret: `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//!   "<t>.<body>">`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::json;
use switchboard_store::webhooks::{self, Due, Outcome, Owed};
use switchboard_store::{Db, notify};
use tokio::sync::{Notify, mpsc};

use crate::events::Event;

/// The events a webhook may hear (`*`: all of these). Sign-in sessions' own events are not
/// among them.
pub const EVENT_NAMES: &[&str] = &[
    "call_initiated",
    "call_answered",
    "call_status_updated",
    "callStarted",
    "callUpdated",
    "callTerminated",
    "transcriptUpdated",
    "lead_assigned",
    "callback_due",
    "user_online",
    "user_offline",
    "queue_updated",
];

/// Attempts of one delivery before it is given up on.
pub const MAX_ATTEMPTS: i64 = 8;
/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(12 * 3600);
/// How long a sender holds a delivery it took (then another may take it: the sender died).
const LEASE: Duration = Duration::from_secs(60);
/// Deliveries sent at once by one instance.
const AT_ONCE: i64 = 16;
/// Events waiting to be matched; past this, events are dropped (and counted).
const BACKLOG: usize = 10_000;
/// How often the live webhooks are read again without being told of a change (SQLite, or the
/// change notifications of PostgreSQL unavailable).
const REFRESH: Duration = Duration::from_secs(5);
/// The same while the instances tell each other of every change (PostgreSQL): only in case a
/// notification was lost.
const BACKSTOP: Duration = Duration::from_secs(30);
/// Deliveries done are kept this long to be listed, then forgotten.
const KEEP_DONE: chrono::Duration = chrono::Duration::days(7);

/// Who hears what: per client, each live webhook and its events (`None`: all).
type Routes = HashMap<i64, Vec<(i64, Option<Vec<String>>)>>;

/// This instance's outbound webhooks.
#[derive(Clone)]
pub struct Outbound {
    inner: Arc<Inner>,
}

struct Inner {
    routes: RwLock<Routes>,
    changed: Notify,
    /// The channel the instances sharing a PostgreSQL database tell each other of changes on.
    shared: std::sync::OnceLock<String>,
    due: Notify,
    events: std::sync::OnceLock<mpsc::Sender<Arc<Event>>>,
}

impl Default for Outbound {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbound {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                routes: RwLock::new(HashMap::new()),
                changed: Notify::new(),
                shared: std::sync::OnceLock::new(),
                due: Notify::new(),
                events: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Whether any live webhook hears anything (events are built only when someone hears).
    pub fn any(&self) -> bool {
        !self
            .inner
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// An event happened here: match it (later, on the matcher's task). Never waits.
    pub fn heard(&self, ev: &Arc<Event>) {
        if !self.any() {
            return;
        }
        if let Some(tx) = self.inner.events.get()
            && tx.try_send(ev.clone()).is_err()
        {
            metrics::counter!(crate::metrics::WEBHOOK_EVENTS_DROPPED).increment(1);
            tracing::warn!("the webhook backlog is full; an event was dropped");
        }
    }

    /// A webhook was created, changed or deleted here: read them again before answering, so
    /// that the events that follow the answer are matched against it.
    pub async fn changed(&self, db: &Db) {
        if let Err(e) = self.reload(db).await {
            tracing::warn!(error = %e, "could not read the webhooks; they are read again soon");
            self.inner.changed.notify_one();
        }
        // The other instances read them again too (they match their own events).
        if let Some(channel) = self.inner.shared.get()
            && let Err(e) = notify::publish(db, channel, &["changed".to_string()]).await
        {
            tracing::warn!(error = %e, "could not tell the other instances of a webhook change");
        }
    }

    async fn reload(&self, db: &Db) -> switchboard_store::Result<()> {
        let mut routes: Routes = HashMap::new();
        for h in webhooks::all_live(db).await? {
            let names = h.event_names();
            let names = (!names.iter().any(|n| n == "*")).then_some(names);
            routes.entry(h.client_id).or_default().push((h.id, names));
        }
        *self.inner.routes.write().unwrap_or_else(|p| p.into_inner()) = routes;
        Ok(())
    }

    /// Deliveries were recorded here: send them now.
    pub fn wake(&self) {
        self.inner.due.notify_one();
    }

    /// Start matching events and sending deliveries.
    pub fn start(&self, db: Db, retry_first: Duration, allow_private: bool) {
        let (tx, rx) = mpsc::channel(BACKLOG);
        if self.inner.events.set(tx).is_err() {
            return;
        }
        tokio::spawn(keep_routes(self.clone(), db.clone()));
        tokio::spawn(match_events(self.clone(), db.clone(), rx));
        tokio::spawn(send_due(self.clone(), db, retry_first, allow_private));
    }

    fn routes_for(&self, client_id: i64, event: &str) -> Vec<i64> {
        // `*` is every event a webhook may hear, not every event there is.
        if !EVENT_NAMES.contains(&event) {
            return Vec::new();
        }
        let routes = self.inner.routes.read().unwrap_or_else(|p| p.into_inner());
        routes
            .get(&client_id)
            .map(|hooks| {
                hooks
                    .iter()
                    .filter(|(_, names)| {
                        names.as_ref().is_none_or(|n| n.iter().any(|x| x == event))
                    })
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Read the live webhooks again after a change here, when another instance says it changed
/// them (PostgreSQL), and every few seconds in case a change went unheard.
async fn keep_routes(out: Outbound, db: Db) {
    // Listening first, then reading: no change falls between the two.
    let listener = match notify::channel_for(&db, "webhooks").await {
        Ok(Some(channel)) => notify::subscribe(&db, &channel)
            .await
            .map(|stream| Some((channel, stream))),
        other => other.map(|_| None),
    };
    let mut heard = match listener {
        Ok(Some((channel, stream))) => {
            let _ = out.inner.shared.set(channel);
            Some(Box::pin(stream))
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot hear webhook changes made on other instances; reading them every few seconds");
            None
        }
    };
    let every = if heard.is_some() { BACKSTOP } else { REFRESH };
    loop {
        if let Err(e) = out.reload(&db).await {
            tracing::warn!(error = %e, "could not read the webhooks");
        }
        // A notification, or the listener reconnecting (what was sent meanwhile is lost, so
        // they are read again either way, after a pause if the connection is down).
        let told = async {
            match heard.as_mut() {
                Some(s) => !matches!(s.next().await, Some(Ok(_))),
                None => std::future::pending::<bool>().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = out.inner.changed.notified() => {}
            lost = told => {
                if lost {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

/// Turn events into delivery rows, everything waiting at once in one transaction.
async fn match_events(out: Outbound, db: Db, mut rx: mpsc::Receiver<Arc<Event>>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 500).await > 0 {
        let mut owed = Vec::new();
        for ev in batch.drain(..) {
            for webhook_id in out.routes_for(ev.client_id, &ev.name) {
                owed.push(Owed {
                    webhook_id,
                    event: ev.name.to_string(),
                    body: body(&ev.name, ev.client_id, &ev.data).1,
                });
            }
        }
        if owed.is_empty() {
            continue;
        }
        match webhooks::enqueue(&db, &owed).await {
            Ok(()) => out.inner.due.notify_one(),
            Err(e) => {
                metrics::counter!(crate::metrics::WEBHOOK_EVENTS_DROPPED)
                    .increment(owed.len() as u64);
                tracing::warn!(error = %e, deliveries = owed.len(), "could not record webhook deliveries");
            }
        }
    }
}

/// The body of a delivery of event `name` with `data`: its id, and the body.
pub fn body(name: &str, client_id: i64, data: &serde_json::value::RawValue) -> (String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "id": id,
        "event": name,
        "clientId": client_id,
        "createdAt": switchboard_store::api_time::format(&chrono::Utc::now()),
        "data": data,
    })
    .to_string();
    (id, body)
}

/// `Switchboard-Signature` for `body` sent at `t` (unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `attempts + 1`, after `attempts` refused ones: the first wait, six
/// times longer each time, at most 12 hours.
pub fn wait_after(first: Duration, attempts: i64) -> Duration {
    let mut wait = first;
    for _ in 1..attempts {
        wait = wait.saturating_mul(6);
        if wait >= MAX_WAIT {
            return MAX_WAIT;
        }
    }
    wait.min(MAX_WAIT)
}

/// Whether `ip` is inside a network a client's webhook may not reach by default: loopback,
/// private, link-local (cloud metadata), unspecified, multicast, shared or unique-local.
pub fn is_internal(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Take due deliveries and send them, as long as there are some; otherwise wait for news or
/// a second. Done ones older than a week are forgotten every hour.
async fn send_due(out: Outbound, db: Db, retry_first: Duration, allow_private: bool) {
    let client = client(allow_private);
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        if !out.any() {
            // No webhook anywhere: nothing can be owed (a deleted one's deliveries end with it).
            let _ = tokio::time::timeout(REFRESH, out.inner.due.notified()).await;
            continue;
        }
        let now = switchboard_store::now();
        let lease = chrono::Duration::from_std(LEASE).unwrap_or_default();
        let due = match webhooks::claim_due(&db, now, lease, AT_ONCE).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "could not take webhook deliveries");
                Vec::new()
            }
        };
        let full = due.len() as i64 == AT_ONCE;
        let sends = due.iter().map(|d| {
            let client = &client;
            async move { (d.id, send_one(client, d, retry_first, allow_private).await) }
        });
        let outcomes = futures_util::future::join_all(sends).await;
        // One transaction for the lot (a lost record is sent again after its lease).
        if let Err(e) = webhooks::attempted(&db, &outcomes).await {
            tracing::warn!(error = %e, "could not record webhook deliveries");
        }
        if last_sweep.elapsed() > Duration::from_secs(3600) {
            last_sweep = tokio::time::Instant::now();
            if let Err(e) = webhooks::forget_done_before(&db, now - KEEP_DONE).await {
                tracing::warn!(error = %e, "could not forget old webhook deliveries");
            }
        }
        if !full {
            let _ = tokio::time::timeout(Duration::from_secs(1), out.inner.due.notified()).await;
        }
    }
}

async fn send_one(
    client: &reqwest::Client,
    d: &Due,
    retry_first: Duration,
    allow_private: bool,
) -> Outcome {
    let attempts = d.attempts + 1;
    let refused = |status: Option<u16>, error: String| {
        let retry_at = (attempts < MAX_ATTEMPTS).then(|| {
            switchboard_store::now()
                + chrono::Duration::from_std(wait_after(retry_first, attempts)).unwrap_or_default()
        });
        metrics::counter!(crate::metrics::WEBHOOK_DELIVERIES, "outcome" => if retry_at.is_some() { "retry" } else { "failed" }).increment(1);
        Outcome::Refused {
            status: status.map(i64::from),
            error,
            retry_at,
        }
    };
    if !allow_private && let Some(why) = literal_internal(&d.url) {
        return refused(None, why);
    }
    let t = chrono::Utc::now().timestamp();
    let sent = client
        .post(&d.url)
        .header("content-type", "application/json")
        .header("switchboard-event", d.event.as_str())
        .header("switchboard-delivery", d.id.to_string())
        .header("switchboard-signature", signature(&d.secret, t, &d.body))
        .body(d.body.clone())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            metrics::counter!(crate::metrics::WEBHOOK_DELIVERIES, "outcome" => "delivered")
                .increment(1);
            Outcome::Delivered {
                status: i64::from(r.status().as_u16()),
            }
        }
        Ok(r) => refused(
            Some(r.status().as_u16()),
            format!("answered HTTP {}", r.status().as_u16()),
        ),
        Err(e) => refused(None, describe(&e)),
    }
}

/// Why a URL whose host is a literal internal address may not be sent to (names are checked
/// by [`PublicOnly`] as they are resolved for the connection).
fn literal_internal(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    is_internal(ip).then(|| InternalTarget::message(host, ip))
}

/// The resolver of the deliveries' client: it refuses a name when any of its addresses is
/// internal. The addresses checked are the ones connected to, so a name that answers a public
/// address to one lookup and an internal one to the next (DNS rebinding) gains nothing.
struct PublicOnly;

/// A name refused by [`PublicOnly`]; the delivery's error says so.
#[derive(Debug)]
struct InternalTarget(String);

impl InternalTarget {
    fn message(host: &str, ip: IpAddr) -> String {
        format!(
            "{host} is an internal address ({ip}); set SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=true to allow it"
        )
    }
}

impl std::fmt::Display for InternalTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InternalTarget {}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's (or the scheme's) port in.
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(a) = addrs.iter().find(|a| is_internal(a.ip())) {
                let refused = InternalTarget(InternalTarget::message(&host, a.ip()));
                return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for deliveries: rustls, the request timeout the providers' clients have,
/// internal addresses refused as names are resolved (unless allowed), and no redirects (a
/// receiver could otherwise send us on to an address inside the network; a 3xx counts as a
/// refusal).
fn client(allow_private: bool) -> reqwest::Client {
    let builder =
        switchboard_telephony::http::builder().redirect(reqwest::redirect::Policy::none());
    let builder = if allow_private {
        builder
    } else {
        builder.dns_resolver(PublicOnly)
    };
    builder
        .build()
        .expect("the HTTP client builds with a static configuration")
}

fn describe(e: &reqwest::Error) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<InternalTarget>() {
            return refused.0.clone();
        }
        cause = c.source();
    }
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_sixfold_to_twelve_hours() {
        let s = Duration::from_secs;
        assert_eq!(wait_after(s(10), 1), s(10));
        assert_eq!(wait_after(s(10), 2), s(60));
        assert_eq!(wait_after(s(10), 3), s(360));
        assert_eq!(wait_after(s(10), 7), MAX_WAIT);
        assert_eq!(wait_after(s(10), 100), MAX_WAIT);
    }

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // Computed independently (Python's hmac): HMAC-SHA256("whsec_test", "1700000000.{}").
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        let sig = signature("whsec_test", 1_700_000_000, "{}");
        assert_ne!(signature("whsec_other", 1_700_000_000, "{}"), sig);
        assert_ne!(signature("whsec_test", 1_700_000_001, "{}"), sig);
    }

    #[test]
    fn internal_addresses_are_known() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:4860:4860::8888", "100.128.0.1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn literal_internal_addresses_are_refused_before_sending() {
        for url in [
            "http://127.0.0.1:9/x",
            "https://[::1]/x",
            "http://10.0.0.1/",
        ] {
            assert!(literal_internal(url).is_some(), "{url}");
        }
        // Names are left to the resolver.
        for url in [
            "https://8.8.8.8/x",
            "http://localhost/x",
            "https://crm.example.com/",
        ] {
            assert!(literal_internal(url).is_none(), "{url}");
        }
    }

    /// The deliveries' client resolves a name to the addresses it connects to and refuses an
    /// internal one: the listener is never reached, and the error names the address.
    #[tokio::test]
    async fn the_client_refuses_names_that_resolve_inside() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://localhost:{port}/hook");
        let e = client(false).post(&url).send().await.unwrap_err();
        assert!(
            describe(&e).contains("is an internal address"),
            "{}",
            describe(&e)
        );
        let nobody = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(nobody.is_err(), "the refused request connected");
        // Allowed, the same name is reached.
        let allowed = tokio::spawn(async move { client(true).post(&url).send().await });
        let reached = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await;
        assert!(matches!(reached, Ok(Ok(_))));
        allowed.abort();
    }
}
