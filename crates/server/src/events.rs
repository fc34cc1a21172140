//! Real-time events: what just happened, and who may know it.
//!
//! Handlers publish an [`Event`] after their change is committed; Socket.io
//! ([`crate::realtime`]) and SSE (`GET /api/events`) deliver it to the people it is for. On
//! PostgreSQL every event goes through `NOTIFY`, so the people connected to any instance sharing
//! the database see it; on SQLite (one process) it goes straight to this process's listeners.
//! Publishing never waits: an event that cannot be queued is counted and dropped, never allowed
//! to slow the webhook or request that caused it.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_core::CallStatus;
use switchboard_store::calls::Call;
use switchboard_store::leads::Lead;
use switchboard_store::{Db, notify, presence};
use tokio::sync::{broadcast, mpsc};

/// One thing that happened, for the people of one client it concerns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// The client (tenant) whose people may see it; nobody else does.
    #[serde(rename = "c")]
    pub client_id: i64,
    /// Whether the client's admins (and super admins) receive it.
    #[serde(rename = "a")]
    pub admins: bool,
    /// These people receive it whatever their role.
    #[serde(rename = "u", default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<i64>,
    /// The event's name, as the contracts spell it (`call_initiated`, `callStarted`, …).
    #[serde(rename = "n")]
    pub name: Cow<'static, str>,
    /// Its JSON, written once however many people hear it.
    #[serde(rename = "d")]
    pub data: Box<RawValue>,
    /// Set on a shortened copy sent to other instances: the instance that sent it (and
    /// delivered it whole itself).
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    /// The event as an SSE frame, written by the first stream that sends it and shared by the
    /// others (a dashboard each: the same bytes for all).
    #[serde(skip)]
    sse: std::sync::OnceLock<bytes::Bytes>,
}

/// The name of the event that ends a person's connections (signed out, password changed,
/// deactivated): delivered to them, then their sockets and streams are closed.
pub const SESSION_ENDED: &str = "session_ended";

/// What a connection hears when the token it signed in with expires, before it is closed.
pub const TOKEN_EXPIRED: &str = "the sign-in token expired; sign in again";

/// When a connection signed in with a token that expires at `exp` (seconds since the epoch)
/// must end.
pub fn expires_at(exp: i64) -> tokio::time::Instant {
    let left = exp.saturating_sub(chrono::Utc::now().timestamp()).max(0);
    tokio::time::Instant::now() + std::time::Duration::from_secs(left as u64)
}

/// The `session_ended` payload for `user_id`, told `why`.
pub fn ended_payload(user_id: i64, why: &str) -> Value {
    json!({ "userId": user_id, "message": why, "timestamp": now() })
}

impl Event {
    /// An event of `data` (any value that serializes to JSON).
    pub fn new(
        client_id: i64,
        admins: bool,
        users: Vec<i64>,
        name: &'static str,
        data: &impl Serialize,
    ) -> Self {
        Self {
            client_id,
            admins,
            users,
            name: Cow::Borrowed(name),
            data: serde_json::value::to_raw_value(data)
                .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("JSON")),
            origin: None,
            sse: std::sync::OnceLock::new(),
        }
    }

    /// The event as a Server-Sent Events frame (`event:`, `data:`, a blank line).
    pub fn sse_frame(&self) -> bytes::Bytes {
        self.sse
            .get_or_init(|| {
                let mut buf = Vec::with_capacity(self.data.get().len() + self.name.len() + 16);
                write_sse(&mut buf, &self.name, self.data.get());
                buf.into()
            })
            .clone()
    }

    /// Its data as a JSON value.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.data.get()).unwrap_or(Value::Null)
    }

    /// Whether a person of `client_id` with this role and id receives it.
    pub fn is_for(&self, client_id: i64, user_id: i64, admin: bool) -> bool {
        self.client_id == client_id && ((self.admins && admin) || self.users.contains(&user_id))
    }
}

/// Append one Server-Sent Events frame to `buf`: its name, each line of `data` as a `data:`
/// line (JSON written here has none, but a frame must not break on one), a blank line.
pub fn write_sse(buf: &mut Vec<u8>, name: &str, data: &str) {
    buf.extend_from_slice(b"event: ");
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'\n');
    for line in data.split('\n') {
        buf.extend_from_slice(b"data: ");
        buf.extend_from_slice(line.strip_suffix('\r').unwrap_or(line).as_bytes());
        buf.push(b'\n');
    }
    buf.push(b'\n');
}

/// Most events waiting for this process's slowest listener before it misses some.
const BACKLOG: usize = 4096;
/// Most events waiting to be sent through PostgreSQL.
const OUTBOX: usize = 8192;
/// Most notifications in one round trip.
const NOTIFY_BATCH: usize = 64;

/// Where events are published and heard. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    local: broadcast::Sender<Arc<Event>>,
    /// Set once the PostgreSQL bridge runs: events go out through `NOTIFY` and come back to
    /// every instance, this one included, through `LISTEN`.
    outbox: OnceLock<mpsc::Sender<Arc<Event>>>,
    /// Set when the server stops: open streams and sockets end.
    closing: tokio::sync::watch::Sender<bool>,
    /// This instance's mark on the events it shortened (and delivered whole itself).
    origin: Arc<str>,
    /// Signed-in sockets and open streams here.
    listeners: std::sync::atomic::AtomicUsize,
    /// Who has a socket or a stream open here.
    presence: Presence,
    /// Told when a connection opens or closes here (the shared presence is written again).
    presence_changed: tokio::sync::Notify,
    /// Set with the PostgreSQL bridge: where instances share who is connected to each.
    shared: OnceLock<Db>,
    /// With the bridge: people whose first connection opened or last one closed here, to be
    /// announced (or not) once the shared presence is written.
    pending: std::sync::Mutex<Changes>,
    /// The client's outbound webhooks, which hear every event published here.
    outbound: crate::outbound::Outbound,
}

/// People whose presence changed here, by id: their client and how events name them.
type Changes = std::collections::HashMap<i64, (i64, PersonView)>;

/// Open connections (sockets and streams) per person on this instance: the first one makes
/// them online, the last one to close offline.
#[derive(Default)]
struct Presence(std::sync::Mutex<std::collections::HashMap<i64, Present>>);

struct Present {
    client_id: i64,
    person: PersonView,
    connections: usize,
}

impl Presence {
    /// Count a connection; true when it is the person's first.
    fn enter(&self, client_id: i64, person: &PersonView) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let p = m.entry(person.id).or_insert_with(|| Present {
            client_id,
            person: person.clone(),
            connections: 0,
        });
        p.connections += 1;
        p.connections == 1
    }

    /// Count a connection gone; the person when it was their last.
    fn leave(&self, user: i64) -> Option<Present> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(&user) {
            Some(p) if p.connections > 1 => {
                p.connections -= 1;
                None
            }
            Some(_) => m.remove(&user),
            None => None,
        }
    }

    /// Everyone connected here, as changes (for the stop, which takes them all away).
    fn people(&self) -> Changes {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.values()
            .map(|p| (p.person.id, (p.client_id, p.person.clone())))
            .collect()
    }

    /// Everyone connected here, with their connections.
    fn snapshot(&self) -> Vec<presence::Here> {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.values()
            .map(|p| presence::Here {
                user_id: p.person.id,
                client_id: p.client_id,
                connections: p.connections as i64,
            })
            .collect()
    }
}

/// How often an instance writes who is connected to it (and at most this long after a change,
/// less the settling below).
const PRESENCE_BEAT: std::time::Duration = std::time::Duration::from_secs(10);
/// Another instance's rows count while they are this fresh (three beats).
const PRESENCE_FRESH: chrono::Duration = chrono::Duration::seconds(30);
/// A burst of connections opening or closing is written once, this long after the first.
const PRESENCE_SETTLE: std::time::Duration = std::time::Duration::from_millis(200);

/// Write who is connected here to the shared table every [`PRESENCE_BEAT`] and soon after each
/// change, then announce the changes that are changes everywhere; at the stop, take this
/// instance's rows away (and its people, unless connected elsewhere).
async fn share_presence(events: Events, db: Db) {
    let me = events.inner.origin.clone();
    let mut closing = events.closing();
    let mut swept = tokio::time::Instant::now();
    loop {
        // The changes taken before the rows are read: each is judged on rows that include
        // it, and one made after the read waits for the next turn (which it has asked for).
        let changes = events.take_changes();
        let rows = events.inner.presence.snapshot();
        match presence::replace(&db, &me, &rows, switchboard_store::now()).await {
            Ok(()) => announce_shared(&events, &db, changes, &rows).await,
            Err(e) => {
                tracing::warn!(error = %e, "could not share who is connected here");
                events.put_back(changes);
            }
        }
        if swept.elapsed() >= PRESENCE_BEAT / 2 {
            swept = tokio::time::Instant::now();
            forget_the_gone(&events, &db).await;
        }
        let stop = async {
            let _ = closing.wait_for(|c| *c).await;
        };
        tokio::select! {
            _ = tokio::time::sleep(PRESENCE_BEAT) => {}
            _ = events.inner.presence_changed.notified() => {
                tokio::time::sleep(PRESENCE_SETTLE).await;
            }
            _ = stop => {
                if let Err(e) = presence::replace(&db, &me, &[], switchboard_store::now()).await {
                    tracing::warn!(error = %e, "could not take this instance's presence away");
                    return;
                }
                let mut changes = events.take_changes();
                changes.extend(events.inner.presence.people());
                announce_shared(&events, &db, changes, &[]).await;
                return;
            }
        }
    }
}

/// Announce the changes that change a person's state everywhere, judged on the `rows` this
/// instance has just written: online when the shared state says they were not, offline when
/// no instance counts them any more. Each flip is made by one instance, which announces it; a
/// failed one is tried again at the next turn.
async fn announce_shared(events: &Events, db: &Db, changes: Changes, rows: &[presence::Here]) {
    let now = switchboard_store::now();
    for (user, (client_id, person)) in changes {
        let online = rows.iter().any(|r| r.user_id == user);
        let flipped = if online {
            presence::mark_online(db, user, client_id, now).await
        } else {
            presence::mark_offline_if_gone(db, user, now - PRESENCE_FRESH, now).await
        };
        match flipped {
            Ok(true) => presence(events, client_id, &person, online),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not share a change of presence");
                events.put_back([(user, (client_id, person))].into());
            }
        }
    }
}

/// People marked online whom no instance counts any more (their instance died): offline.
async fn forget_the_gone(events: &Events, db: &Db) {
    let now = switchboard_store::now();
    let since = now - PRESENCE_FRESH;
    let gone = match db.read().await {
        Ok(mut rd) => presence::gone(&mut rd, since).await,
        Err(e) => Err(e),
    };
    let gone = match gone {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "could not read who is gone");
            return;
        }
    };
    for (user, client_id) in gone {
        match presence::mark_offline_if_gone(db, user, since, now).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not mark someone gone");
                continue;
            }
        }
        let found = match db.read().await {
            Ok(mut rd) => switchboard_store::users::get(&mut rd, user).await,
            Err(e) => Err(e),
        };
        if let Ok(Some(u)) = found {
            presence(events, client_id, &PersonView::of_user(&u), false);
        }
    }
}

/// A person's open connection, counted in the presence while it lives.
pub struct Online {
    events: Events,
    user: i64,
}

impl Drop for Online {
    fn drop(&mut self) {
        if let Some(p) = self.events.inner.presence.leave(self.user) {
            self.events.changed(p.client_id, &p.person, false);
        }
        self.events.inner.presence_changed.notify_one();
    }
}

/// Someone with a connection open (on any instance sharing the database).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnlinePerson {
    pub user_id: i64,
    pub name: String,
    pub username: String,
    pub role: &'static str,
    /// Sockets and event streams the person has open, on every instance.
    pub connections: usize,
}

/// Counts a signed-in socket or an open stream while it lives.
pub struct Listener(Events);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0
            .inner
            .listeners
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// Events heard by this process only (until [`Events::bridge`]).
    pub fn new() -> Self {
        let (local, _) = broadcast::channel(BACKLOG);
        Self {
            inner: Arc::new(Inner {
                local,
                outbox: OnceLock::new(),
                closing: tokio::sync::watch::Sender::new(false),
                presence: Presence::default(),
                presence_changed: tokio::sync::Notify::new(),
                pending: Default::default(),
                shared: OnceLock::new(),
                origin: format!("{:016x}", rand::random::<u64>()).into(),
                listeners: std::sync::atomic::AtomicUsize::new(0),
                outbound: crate::outbound::Outbound::new(),
            }),
        }
    }

    /// On PostgreSQL, share events with every instance on the database: listen first (so
    /// nothing published after this returns is missed), then send through `NOTIFY`.
    pub async fn bridge(&self, db: &Db) -> anyhow::Result<()> {
        let Some(channel) = notify::channel(db).await? else {
            return Ok(());
        };
        let mut heard = Box::pin(notify::subscribe(db, &channel).await?);
        let local = self.inner.local.clone();
        let me = self.inner.origin.clone();
        let mut closing = self.closing();
        tokio::spawn(async move {
            loop {
                // At the stop the listener (and its connection of its own) goes.
                let stop = async {
                    let _ = closing.wait_for(|c| *c).await;
                };
                let got = tokio::select! {
                    got = heard.next() => got,
                    _ = stop => None,
                };
                let Some(got) = got else { return };
                match got {
                    Ok(payload) => match serde_json::from_str::<Event>(&payload) {
                        // A shortened event its sender already delivered here whole.
                        Ok(ev) if ev.origin.as_deref() == Some(&*me) => {}
                        Ok(ev) => {
                            let _ = local.send(Arc::new(ev));
                        }
                        Err(e) => tracing::warn!(error = %e, "an unreadable event notification"),
                    },
                    // sqlx reconnects at the next read; what was sent meanwhile is lost.
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the event channel; reconnecting");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        });
        let (tx, rx) = mpsc::channel(OUTBOX);
        tokio::spawn(send_out(
            db.clone(),
            channel,
            rx,
            self.inner.local.clone(),
            self.inner.origin.clone(),
        ));
        let _ = self.inner.outbox.set(tx);
        if self.inner.shared.set(db.clone()).is_ok() {
            tokio::spawn(share_presence(self.clone(), db.clone()));
        }
        Ok(())
    }

    /// Publish `ev`. Never waits.
    pub fn publish(&self, ev: Event) {
        let ev = Arc::new(ev);
        metrics::counter!(crate::metrics::EVENTS, "event" => ev.name.clone()).increment(1);
        self.inner.outbound.heard(&ev);
        match self.inner.outbox.get() {
            Some(out) => {
                if out.try_send(ev).is_err() {
                    metrics::counter!(crate::metrics::EVENTS_DROPPED).increment(1);
                    tracing::warn!("the event outbox is full; an event was dropped");
                }
            }
            None => {
                let _ = self.inner.local.send(ev);
            }
        }
    }

    /// Count `person`'s connection in the presence until the guard is dropped: their first one
    /// here tells the client's admins `user_online`, their last one to close `user_offline`.
    pub fn online(&self, client_id: i64, person: &PersonView) -> Online {
        if self.inner.presence.enter(client_id, person) {
            self.changed(client_id, person, true);
        }
        self.inner.presence_changed.notify_one();
        Online {
            events: self.clone(),
            user: person.id,
        }
    }

    /// A person's first connection here opened, or their last one closed. Alone, that is news
    /// to tell at once; with other instances, it is news only if it changes their state
    /// everywhere, which the shared presence decides (see [`announce_shared`]).
    fn changed(&self, client_id: i64, person: &PersonView, online: bool) {
        if self.inner.shared.get().is_some() {
            self.inner
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(person.id, (client_id, person.clone()));
        } else {
            presence(self, client_id, person, online);
        }
    }

    fn take_changes(&self) -> Changes {
        std::mem::take(&mut *self.inner.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Changes not shared yet, kept for the next turn unless a newer change of the same person
    /// came meanwhile (it will be judged then anyway).
    fn put_back(&self, changes: Changes) {
        let mut m = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (user, c) in changes {
            m.entry(user).or_insert(c);
        }
    }

    /// The people of `client_id` with a connection open, by name: here, and on the other
    /// instances sharing the database (as they last wrote it; while the database cannot
    /// answer, those here only).
    pub async fn online_in(&self, client_id: i64) -> Vec<OnlinePerson> {
        let mut out: Vec<OnlinePerson> = {
            let m = self
                .inner
                .presence
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            m.values()
                .filter(|p| p.client_id == client_id)
                .map(|p| OnlinePerson {
                    user_id: p.person.id,
                    name: p.person.name.clone(),
                    username: p.person.username.clone(),
                    role: p.person.role,
                    connections: p.connections,
                })
                .collect()
        };
        if let Some(db) = self.inner.shared.get() {
            let since = switchboard_store::now() - PRESENCE_FRESH;
            let elsewhere = match db.read().await {
                Ok(mut rd) => {
                    presence::elsewhere(&mut rd, client_id, &self.inner.origin, since).await
                }
                Err(e) => Err(e),
            };
            match elsewhere {
                Ok(rows) => {
                    for r in rows {
                        let n = r.connections.max(0) as usize;
                        match out.iter_mut().find(|p| p.user_id == r.user_id) {
                            Some(p) => p.connections += n,
                            None => out.push(OnlinePerson {
                                user_id: r.user_id,
                                name: switchboard_store::users::full_name(
                                    &r.first_name,
                                    &r.last_name,
                                    &r.username,
                                ),
                                role: switchboard_core::Role::parse(&r.role)
                                    .map_or("operator", |x| x.as_str()),
                                username: r.username,
                                connections: n,
                            }),
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not read who is connected elsewhere"),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.user_id.cmp(&b.user_id)));
        out
    }

    /// Signed-in sockets and open event streams: here, and on the other instances sharing the
    /// database (as they last wrote it).
    pub async fn connections(&self) -> usize {
        let here = self
            .inner
            .listeners
            .load(std::sync::atomic::Ordering::Relaxed);
        let Some(db) = self.inner.shared.get() else {
            return here;
        };
        let since = switchboard_store::now() - PRESENCE_FRESH;
        let elsewhere = match db.read().await {
            Ok(mut rd) => presence::connections_elsewhere(&mut rd, &self.inner.origin, since).await,
            Err(e) => Err(e),
        };
        match elsewhere {
            Ok(n) => here + n.max(0) as usize,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the connections elsewhere");
                here
            }
        }
    }

    /// Count a listener here until the returned guard is dropped.
    pub fn listener(&self) -> Listener {
        self.inner
            .listeners
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Listener(self.clone())
    }

    /// Whether anyone may hear an event published now: someone listening here, other
    /// instances (PostgreSQL), or an outbound webhook. When nobody can, events are not even
    /// built: a provider's webhook with no dashboard open pays nothing for them.
    pub fn wanted(&self) -> bool {
        self.inner.outbox.get().is_some()
            || self.inner.outbound.any()
            || self
                .inner
                .listeners
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
    }

    /// The server is stopping: end every stream and socket.
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Becomes true when the server stops.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// The outbound webhooks that hear the events published here.
    pub fn outbound(&self) -> &crate::outbound::Outbound {
        &self.inner.outbound
    }

    /// Every event heard from now on (each listener filters what is for it).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.local.subscribe()
    }
}

/// Send queued events through `NOTIFY`, many per round trip. An event too large for a
/// notification reaches this instance's people whole and the others' without its long texts
/// (marked `truncated`); one that cannot be sent at all reaches this instance's people only.
async fn send_out(
    db: Db,
    channel: String,
    mut rx: mpsc::Receiver<Arc<Event>>,
    local: broadcast::Sender<Arc<Event>>,
    origin: Arc<str>,
) {
    let mut batch = Vec::with_capacity(NOTIFY_BATCH);
    while rx.recv_many(&mut batch, NOTIFY_BATCH).await > 0 {
        let mut payloads = Vec::with_capacity(batch.len());
        // Events too large to share whole, delivered here already.
        let mut here = vec![false; batch.len()];
        for (i, ev) in batch.iter().enumerate() {
            match serde_json::to_string(&**ev) {
                Ok(p) if p.len() <= notify::MAX_PAYLOAD => payloads.push(p),
                Ok(_) => {
                    let _ = local.send(ev.clone());
                    here[i] = true;
                    let cut = Event {
                        data: serde_json::value::to_raw_value(&shortened(&ev.value()))
                            .unwrap_or_else(|_| ev.data.clone()),
                        origin: Some(origin.to_string()),
                        sse: std::sync::OnceLock::new(),
                        ..(**ev).clone()
                    };
                    match serde_json::to_string(&cut) {
                        Ok(p) if p.len() <= notify::MAX_PAYLOAD => payloads.push(p),
                        _ => tracing::warn!(event = %ev.name, "an event too large to share"),
                    }
                }
                Err(e) => tracing::warn!(error = %e, "an event that cannot be written"),
            }
        }
        if let Err(e) = notify::publish(&db, &channel, &payloads).await {
            tracing::warn!(error = %e, events = batch.len(), "could not share events; delivering them here only");
            for (ev, _) in batch.iter().zip(&here).filter(|(_, here)| !**here) {
                let _ = local.send(ev.clone());
            }
        }
        batch.clear();
    }
}

/// `data` without its long texts (more than 1,000 characters), marked `truncated: true`.
fn shortened(data: &Value) -> Value {
    match data {
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, v) in o {
                match v {
                    Value::String(s) if s.chars().count() > 1000 => {}
                    Value::Object(_) => {
                        out.insert(k.clone(), shortened(v));
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            out.insert("truncated".into(), Value::Bool(true));
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A time as every event writes it: ISO 8601 in UTC, to the millisecond.
#[derive(Clone, Copy)]
struct Ms(chrono::DateTime<chrono::Utc>);

impl Serialize for Ms {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

fn now() -> Ms {
    Ms(switchboard_store::now())
}

/// The call as seed 001's call events carry it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallPayload<'a> {
    id: i64,
    /// The provider's (or bot's) id, else ours.
    call_id: &'a str,
    lead_id: Option<i64>,
    user_id: Option<i64>,
    campaign_id: Option<i64>,
    provider: &'a str,
    direction: &'a str,
    from: Option<&'a str>,
    to: Option<&'a str>,
    /// The customer's number: `to` on outbound calls, `from` on inbound ones.
    phone_number: Option<&'a str>,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_status: Option<&'a str>,
    started_at: Ms,
    answered_at: Option<Ms>,
    ended_at: Option<Ms>,
    duration: Option<i64>,
    timestamp: Ms,
}

impl<'a> CallPayload<'a> {
    fn of(c: &'a Call, call_id: &'a str, previous: Option<&'a str>, at: Ms) -> Self {
        Self {
            id: c.id,
            call_id,
            lead_id: c.lead_id,
            user_id: c.user_id,
            campaign_id: c.campaign_id,
            provider: &c.provider,
            direction: &c.direction,
            from: c.from_number.as_deref(),
            to: c.to_number.as_deref(),
            phone_number: if c.direction == "inbound" {
                c.from_number.as_deref()
            } else {
                c.to_number.as_deref()
            },
            status: &c.status,
            previous_status: previous,
            started_at: Ms(c.started_at),
            answered_at: c.answered_at.map(Ms),
            ended_at: c.ended_at.map(Ms),
            duration: c.duration_secs,
            timestamp: at,
        }
    }
}

/// An event about a call: for the client's admins and the call's own agent.
fn call_event(c: &Call, name: &'static str, data: &impl Serialize) -> Event {
    Event::new(
        c.client_id,
        true,
        c.user_id.into_iter().collect(),
        name,
        data,
    )
}

/// A call was created (placed by an agent or the dialer, or logged by a bot).
pub fn call_started(events: &Events, c: &Call) {
    if !events.wanted() {
        return;
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Started<'a> {
        call_id: &'a str,
        id: i64,
        caller: Option<&'a str>,
        receiver: Option<&'a str>,
        status: &'a str,
        timestamp: Ms,
    }
    let (id, at) = (crate::routes::bot::call_id_of(c), now());
    let payload = CallPayload::of(c, &id, None, at);
    events.publish(call_event(c, "call_initiated", &payload));
    events.publish(call_event(
        c,
        "callStarted",
        &Started {
            call_id: &id,
            id: c.id,
            caller: c.from_number.as_deref(),
            receiver: c.to_number.as_deref(),
            status: crate::routes::bot::status_word_of(c),
            timestamp: at,
        },
    ));
}

/// A call changed: its status (from `previous`), or other fields when `previous` is its status.
pub fn call_changed(events: &Events, c: &Call, previous: CallStatus) {
    if !events.wanted() {
        return;
    }
    let (status, id, at) = (c.status(), crate::routes::bot::call_id_of(c), now());
    if status != previous {
        let payload = CallPayload::of(c, &id, Some(previous.as_str()), at);
        if status == CallStatus::Answered {
            events.publish(call_event(c, "call_answered", &payload));
        }
        events.publish(call_event(c, "call_status_updated", &payload));
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Updated<'a> {
        call_id: &'a str,
        data: crate::routes::bot::BotCall,
        timestamp: Ms,
    }
    let bot = crate::routes::bot::view(c);
    let bot_status = bot.status.clone();
    events.publish(call_event(
        c,
        "callUpdated",
        &Updated {
            call_id: &id,
            data: bot,
            timestamp: at,
        },
    ));
    if status.is_final() && !previous.is_final() {
        events.publish(call_event(
            c,
            "callTerminated",
            &json!({ "callId": id, "status": bot_status, "timestamp": at }),
        ));
    }
}

/// Text was added to a call's transcript.
pub fn transcript_updated(events: &Events, c: &Call, appended: &str) {
    if !events.wanted() {
        return;
    }
    events.publish(call_event(
        c,
        "transcriptUpdated",
        &json!({
            "callId": crate::routes::bot::call_id_of(c),
            "id": c.id,
            "transcript": c.transcript,
            "appended": appended,
            "timestamp": now(),
        }),
    ));
}

/// A lead was given to `lead.assigned_user_id` by `by` (a person's id; none for the system).
pub fn lead_assigned(events: &Events, lead: &Lead, by: Option<i64>) {
    if !events.wanted() {
        return;
    }
    let Some(to) = lead.assigned_user_id else {
        return;
    };
    events.publish(Event::new(
        lead.client_id,
        false,
        vec![to],
        "lead_assigned",
        &json!({
            "leadId": lead.id,
            "id": lead.id,
            "name": lead.name,
            "phoneNumber": lead.phone,
            "status": lead.status,
            "priority": lead.priority,
            "assignedTo": to,
            "assignedBy": by,
            "timestamp": now(),
        }),
    ));
}

/// A call back people set on a lead came due: its agent hears it, or the client's admins when
/// the lead is nobody's (or its agent's account is deactivated).
pub fn callback_due(events: &Events, due: &switchboard_store::callbacks::DueCallback) {
    if !events.wanted() {
        return;
    }
    let lead = &due.lead;
    let (admins, users) = match due.agent() {
        Some(agent) => (false, vec![agent]),
        None => (true, vec![]),
    };
    events.publish(Event::new(
        lead.client_id,
        admins,
        users,
        "callback_due",
        &json!({
            "leadId": lead.id,
            "id": lead.id,
            "name": lead.name,
            "phoneNumber": lead.phone,
            "priority": lead.priority,
            "callbackAt": lead.callback_at().map(Ms),
            "callbackFor": lead.callback_for().map(|w| w.as_str()),
            "assignedTo": lead.assigned_user_id,
            "notes": lead.notes,
            "timestamp": now(),
        }),
    ));
}

/// Tell the client's admins (and nobody else) `name` with `data`, when anyone may hear it.
fn to_admins(events: &Events, client_id: i64, name: &'static str, data: &Value) {
    if events.wanted() {
        events.publish(Event::new(client_id, true, vec![], name, data));
    }
}

/// A person's first connection opened (`online`) or last one closed.
pub fn presence(events: &Events, client_id: i64, user: &PersonView, online: bool) {
    to_admins(
        events,
        client_id,
        if online {
            "user_online"
        } else {
            "user_offline"
        },
        &json!({
            "userId": user.id,
            "id": user.id,
            "name": user.name,
            "username": user.username,
            "role": user.role,
            "timestamp": now(),
        }),
    );
}

/// An admin paused, resumed or reset seed 001's call queue: the client's admins hear the queue
/// as it now is (`queueStatus`, as `/api/admin/system/control` answers it), so every admin's
/// screen shows the same queue.
pub fn queue_updated(
    events: &Events,
    client_id: i64,
    by: i64,
    action: &str,
    status: &impl Serialize,
) {
    to_admins(
        events,
        client_id,
        "queue_updated",
        &json!({ "action": action, "userId": by, "queueStatus": status, "timestamp": now() }),
    );
}

/// A person's sessions ended: their connections are told, then closed.
pub fn session_ended(events: &Events, client_id: i64, user_id: i64, why: &str) {
    if !events.wanted() {
        return;
    }
    events.publish(Event::new(
        client_id,
        false,
        vec![user_id],
        SESSION_ENDED,
        &ended_payload(user_id, why),
    ));
}

/// Who a connection belongs to, as events name them.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub id: i64,
    pub name: String,
    pub username: String,
    pub role: &'static str,
}

impl PersonView {
    /// What a connection is told when it signs in (Socket.io's and SSE's `authenticated`).
    pub fn signed_in(&self, client_id: i64) -> Value {
        json!({
            "success": true,
            "id": self.id,
            "userId": self.id,
            "name": self.name,
            "username": self.username,
            "role": self.role,
            "clientId": client_id,
        })
    }

    pub fn of(s: &crate::auth::Session) -> Self {
        Self {
            role: s.role.as_str(),
            ..Self::of_user(&s.user)
        }
    }

    /// A person as their stored record names them.
    pub fn of_user(u: &switchboard_store::users::User) -> Self {
        Self {
            id: u.id,
            name: u.full_name(),
            username: u.username.clone(),
            role: switchboard_core::Role::parse(&u.role).map_or("operator", |r| r.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn presence_counts_each_persons_connections() {
        let events = Events::new();
        let _listening = events.listener();
        let mut rx = events.subscribe();
        let ann = PersonView {
            id: 1,
            name: "Ann Lee".into(),
            username: "ann".into(),
            role: "operator",
        };
        let first = events.online(7, &ann);
        let ev = rx.try_recv().unwrap();
        assert_eq!(
            (&*ev.name, ev.client_id, ev.admins),
            ("user_online", 7, true)
        );
        let second = events.online(7, &ann);
        assert!(rx.try_recv().is_err(), "a second connection is not news");
        let online = events.online_in(7).await;
        assert_eq!(
            (online.len(), online[0].user_id, online[0].connections),
            (1, 1, 2)
        );
        assert!(
            events.online_in(8).await.is_empty(),
            "another client sees nobody"
        );
        drop(first);
        assert!(rx.try_recv().is_err(), "one connection is still open");
        drop(second);
        assert_eq!(&*rx.try_recv().unwrap().name, "user_offline");
        assert!(events.online_in(7).await.is_empty());
    }

    #[test]
    fn an_event_is_one_sse_frame_written_once() {
        let e = Event::new(1, true, vec![], "callUpdated", &json!({"a": "x"}));
        let frame = e.sse_frame();
        assert_eq!(&frame[..], b"event: callUpdated\ndata: {\"a\":\"x\"}\n\n");
        assert_eq!(
            frame.as_ptr(),
            e.sse_frame().as_ptr(),
            "written once, shared"
        );
        let mut buf = Vec::new();
        write_sse(&mut buf, "note", "one\r\ntwo");
        assert_eq!(buf, b"event: note\ndata: one\ndata: two\n\n");
    }

    fn ev(client: i64, admins: bool, users: Vec<i64>) -> Event {
        Event::new(client, admins, users, "x", &json!({"n": 1}))
    }

    #[test]
    fn events_reach_only_the_people_they_are_for() {
        let e = ev(1, true, vec![7]);
        assert!(e.is_for(1, 3, true), "an admin of the client");
        assert!(e.is_for(1, 7, false), "the person named");
        assert!(!e.is_for(1, 8, false), "another operator");
        assert!(!e.is_for(2, 7, true), "the same id in another client");
        let personal = ev(1, false, vec![7]);
        assert!(
            !personal.is_for(1, 3, true),
            "admins do not see a personal event"
        );
    }

    #[test]
    fn long_texts_are_left_out_of_shared_events() {
        let long = "x".repeat(5000);
        let d = shortened(&json!({"callId": "a", "transcript": long, "data": {"t": long, "n": 1}}));
        assert_eq!(
            d,
            json!({"callId": "a", "truncated": true, "data": {"n": 1, "truncated": true}})
        );
    }

    #[tokio::test]
    async fn events_published_here_are_heard_here() {
        let events = Events::new();
        let mut rx = events.subscribe();
        events.publish(ev(1, true, vec![7]));
        let got = rx.recv().await.unwrap();
        assert_eq!(
            (got.client_id, got.admins, &got.users[..]),
            (1, true, &[7][..])
        );
        assert_eq!((&*got.name, got.value()), ("x", json!({"n": 1})));
    }

    #[test]
    fn events_are_wanted_only_while_someone_listens() {
        let events = Events::new();
        assert!(!events.wanted(), "nobody listening: events are not built");
        let a = events.listener();
        let b = events.listener();
        assert!(events.wanted());
        drop(a);
        assert!(events.wanted(), "one listener left");
        drop(b);
        assert!(!events.wanted());
    }

    #[test]
    fn shared_events_keep_their_json_as_written() {
        let mut e = ev(3, false, vec![9]);
        e.origin = Some("abc".into());
        let wire = serde_json::to_string(&e).unwrap();
        assert_eq!(
            wire,
            r#"{"c":3,"a":false,"u":[9],"n":"x","d":{"n":1},"o":"abc"}"#
        );
        let back: Event = serde_json::from_str(&wire).unwrap();
        assert_eq!(
            (back.value(), back.origin.as_deref()),
            (json!({"n": 1}), Some("abc"))
        );
    }

    #[test]
    fn times_are_written_to_the_millisecond_in_utc() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-07T08:04:18.081999+02:00").unwrap();
        assert_eq!(
            serde_json::to_string(&Ms(t.with_timezone(&chrono::Utc))).unwrap(),
            r#""2026-12-07T06:04:18.081Z""#
        );
    }
}
