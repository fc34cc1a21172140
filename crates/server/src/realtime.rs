//! Socket.io (seeds 001 and 004): people connect, sign in with their token, and hear the
//! events meant for them (see [`crate::events`]).
//!
//! A connection signs in either in the handshake (`io(url, { auth: { token } })`) or as seed
//! 001 shows, by emitting `authenticate` with `{ token }`; it is answered `authenticated` with
//! who it is, or `unauthorized` and closed. A connection that has not signed in within
//! [`SIGN_IN_WITHIN`] is closed, and hears nothing meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use engineioxide::service::NotFoundService;
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::service::SocketIoService;
use tokio::sync::broadcast;

use crate::auth::Session;
use crate::events::{self, Event, PersonView, SESSION_ENDED};
use crate::state::AppState;

/// Where Socket.io's requests arrive (the client's default).
pub const PATH: &str = "/socket.io/";
/// How long a connection may stay without signing in.
pub const SIGN_IN_WITHIN: Duration = Duration::from_secs(30);

/// Who a connection signed in as.
#[derive(Clone)]
struct SignedIn {
    person: PersonView,
    /// Counts the connection among this instance's listeners and signed-in sockets until it
    /// closes.
    _held: Arc<Held>,
}

/// What a signed-in connection holds until it closes: its places among the listeners and the
/// signed-in sockets, and the sender whose drop tells its expiry timer it is gone.
struct Held {
    _listener: events::Listener,
    _counted: Counted,
    _gone: tokio::sync::oneshot::Sender<()>,
}

/// The connection's place in the presence (see [`events::Events::online`]).
#[derive(Clone)]
struct OnlineHere {
    _online: Arc<events::Online>,
}

/// Counts a signed-in socket while it lives.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the handlers share.
#[derive(Clone)]
struct Ctx {
    st: AppState,
    /// Signed-in sockets on this instance: with none, events are not written out for them.
    signed: Arc<AtomicUsize>,
}

fn user_room(user: i64) -> String {
    format!("u:{user}")
}

fn admin_room(client: i64) -> String {
    format!("a:{client}")
}

/// The Socket.io service for the router's [`PATH`], its handlers, and the task that delivers
/// events.
pub fn service(state: &AppState) -> SocketIoService<NotFoundService> {
    let (svc, io) = SocketIo::builder()
        // What clients send is a token: no large packets.
        .max_payload(64 * 1024)
        .max_buffer_size(1024)
        .build_svc();
    let ctx = Ctx {
        st: state.clone(),
        signed: Arc::new(AtomicUsize::new(0)),
    };
    let signed = ctx.signed.clone();
    io.ns("/", move |s: SocketRef, TryData(auth): TryData<Value>| {
        let ctx = ctx.clone();
        async move { connected(ctx, s, auth.ok()).await }
    });
    tokio::spawn(deliver(
        state.events.subscribe(),
        state.events.closing(),
        signed,
        io,
    ));
    svc
}

/// The token in what a client sent: `{ token }`, `{ auth: { token } }` or the token itself,
/// with or without `Bearer `.
fn token_of(v: Option<Value>) -> Option<String> {
    let t = match v? {
        Value::String(s) => s,
        Value::Object(mut o) => match o.remove("token") {
            Some(Value::String(s)) => s,
            _ => match o.remove("auth") {
                Some(inner) => return token_of(Some(inner)),
                None => return None,
            },
        },
        _ => return None,
    };
    let t = t.trim();
    let t = crate::auth::bearer_token(t).unwrap_or(t);
    (!t.is_empty()).then(|| t.to_string())
}

async fn connected(ctx: Ctx, s: SocketRef, auth: Option<Value>) {
    metrics::gauge!(crate::metrics::REALTIME_CONNECTIONS, "transport" => "socketio").increment(1.0);
    {
        let ctx = ctx.clone();
        s.on(
            "authenticate",
            move |s: SocketRef, TryData(d): TryData<Value>| async move {
                authenticate(&ctx, &s, token_of(d.ok())).await;
            },
        );
    }
    {
        s.on_disconnect(move |s: SocketRef| async move {
            metrics::gauge!(crate::metrics::REALTIME_CONNECTIONS, "transport" => "socketio")
                .decrement(1.0);
            s.extensions.remove::<SignedIn>();
            // The last connection of the person closing tells admins `user_offline`.
            s.extensions.remove::<OnlineHere>();
        });
    }
    match token_of(auth) {
        Some(token) => authenticate(&ctx, &s, Some(token)).await,
        None => {
            tokio::spawn(async move {
                tokio::time::sleep(SIGN_IN_WITHIN).await;
                if s.connected() && s.extensions.get::<SignedIn>().is_none() {
                    refuse(
                        s,
                        "not signed in: emit 'authenticate' with { token } after connecting",
                    );
                }
            });
        }
    }
}

fn refuse(s: SocketRef, message: &str) {
    let _ = s.emit(
        "unauthorized",
        &json!({ "success": false, "message": message }),
    );
    let _ = s.disconnect();
}

async fn authenticate(ctx: &Ctx, s: &SocketRef, token: Option<String>) {
    let st = &ctx.st;
    let Some(token) = token else {
        return refuse(
            s.clone(),
            "a token is required: { token: '<JWT from /api/auth/login>' }",
        );
    };
    let session = match Session::from_token(st, &token).await {
        Ok(session) => session,
        Err(e) => return refuse(s.clone(), &e.message),
    };
    let person = PersonView::of(&session);
    let answer = person.signed_in(session.client_id());
    if let Some(me) = s.extensions.get::<SignedIn>() {
        if me.person.id == person.id {
            let _ = s.emit("authenticated", &answer);
        } else {
            let _ = s.emit(
                "unauthorized",
                &json!({ "success": false, "message": "this connection is signed in as someone else; open another to sign in again" }),
            );
        }
        return;
    }
    s.join(user_room(person.id));
    if session.role.is_admin() {
        s.join(admin_room(session.client_id()));
    }
    let (gone_tx, gone) = tokio::sync::oneshot::channel::<()>();
    s.extensions.insert(SignedIn {
        person: person.clone(),
        _held: Arc::new(Held {
            _listener: st.events.listener(),
            _counted: {
                ctx.signed.fetch_add(1, Ordering::Relaxed);
                Counted(ctx.signed.clone())
            },
            _gone: gone_tx,
        }),
    });
    let _ = s.emit("authenticated", &answer);
    // The connection ends when its token does (the timer goes with the connection).
    // It also ends when its session does in a way no event told (see `session_lapsed`).
    let exp = st.jwt.verify(&token).map_or(0, |c| c.exp);
    {
        let (s, user, st) = (s.clone(), person.id, st.clone());
        let admin = session.role.is_admin();
        tokio::spawn(async move {
            let mut check = crate::auth::session_checks(&st);
            let expiry = tokio::time::sleep_until(events::expires_at(exp));
            tokio::pin!(expiry, gone);
            let why = loop {
                tokio::select! {
                    _ = &mut expiry => break events::TOKEN_EXPIRED.to_string(),
                    _ = &mut gone => return,
                    _ = check.tick() => {
                        if let Some(why) = crate::auth::session_lapsed(&st, &token, admin).await {
                            break why;
                        }
                    }
                }
            };
            if s.connected() {
                let _ = s.emit(SESSION_ENDED, &events::ended_payload(user, &why));
                let _ = s.disconnect();
            }
        });
    }
    // Counted after `authenticated`, so a connection hears that first.
    s.extensions.insert(OnlineHere {
        _online: Arc::new(st.events.online(session.client_id(), &person)),
    });
}

/// Send each event to the rooms of the people it is for; close the connections of people
/// whose sessions ended, and every connection when the server stops.
async fn deliver(
    mut rx: broadcast::Receiver<Arc<Event>>,
    mut closing: tokio::sync::watch::Receiver<bool>,
    signed: Arc<AtomicUsize>,
    io: SocketIo,
) {
    loop {
        let stop = async {
            let _ = closing.wait_for(|c| *c).await;
        };
        let got = tokio::select! {
            got = rx.recv() => Some(got),
            _ = stop => None,
        };
        let Some(got) = got else {
            io.close().await;
            return;
        };
        match got {
            // Nobody signed in here: nothing to write out (events are still built for SSE
            // streams and other instances).
            Ok(_) if signed.load(Ordering::Relaxed) == 0 => {}
            Ok(ev) => {
                let mut rooms: Vec<String> = ev.users.iter().map(|u| user_room(*u)).collect();
                if ev.admins {
                    rooms.push(admin_room(ev.client_id));
                }
                if rooms.is_empty() {
                    continue;
                }
                if let Err(e) = io.to(rooms).emit(&*ev.name, &ev.data).await {
                    tracing::debug!(error = %e, event = %ev.name, "an event was not delivered to every socket");
                }
                if ev.name == SESSION_ENDED {
                    for u in &ev.users {
                        let _ = io.to(user_room(*u)).disconnect().await;
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "Socket.io delivery fell behind; events were skipped"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_where_clients_put_them() {
        assert_eq!(
            token_of(Some(json!({"token": "abc"}))).as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_of(Some(json!({"auth": {"token": "abc"}}))).as_deref(),
            Some("abc")
        );
        assert_eq!(token_of(Some(json!("Bearer abc"))).as_deref(), Some("abc"));
        assert_eq!(token_of(Some(json!({"token": " "}))), None);
        assert_eq!(token_of(Some(json!({"token": 5}))), None);
        assert_eq!(token_of(Some(json!(["abc"]))), None);
        assert_eq!(token_of(None), None);
    }
}
