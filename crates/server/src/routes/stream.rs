//! `GET /api/events`: the real-time events as Server-Sent Events, for clients without a
//! Socket.io library (the same events Socket.io delivers; see [`crate::events`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use tokio::sync::broadcast;

use crate::auth::{AdminSession, Session};
use crate::events::{Event, PersonView, SESSION_ENDED, write_sse};
use crate::state::AppState;

/// A comment is sent this often on a quiet stream, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Counts the stream among open connections, and this instance's listeners, while it lives.
struct Open {
    _listener: crate::events::Listener,
}

impl Open {
    fn new(st: &AppState) -> Self {
        metrics::gauge!(crate::metrics::REALTIME_CONNECTIONS, "transport" => "sse").increment(1.0);
        Open {
            _listener: st.events.listener(),
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::REALTIME_CONNECTIONS, "transport" => "sse").decrement(1.0);
    }
}

struct Reader {
    rx: broadcast::Receiver<Arc<Event>>,
    closing: tokio::sync::watch::Receiver<bool>,
    /// The first frame: who the stream belongs to.
    hello: Option<Bytes>,
    ended: bool,
    expires: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// Fires after `KEEP_ALIVE` with nothing sent: a comment goes out.
    quiet: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// When to check again that the session holds (see `auth::session_lapsed`).
    check: tokio::time::Interval,
    token: String,
    st: AppState,
    _open: Open,
    /// The person counts as online while the stream is open.
    _online: crate::events::Online,
}

/// Who is connected now.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PresenceAnswer {
    /// The client's people with a Socket.io connection or an event stream open, on any
    /// instance sharing the database, by name.
    pub online: Vec<crate::events::OnlinePerson>,
}

#[utoipa::path(
    get,
    path = "/api/presence",
    tag = "real-time",
    summary = "Who is online: the client's people with a socket or an event stream open",
    description = "The list `user_online` and `user_offline` keep up to date. With several instances on one PostgreSQL database, each writes who is connected to it every 10 s and at each change, and this list adds the others' (an instance that died stops counting after 30 s).",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The people online", body = PresenceAnswer), crate::docs::AdminErrors)
)]
pub async fn presence(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> axum::Json<PresenceAnswer> {
    axum::Json(PresenceAnswer {
        online: st.events.online_in(s.client_id()).await,
    })
}

#[utoipa::path(
    get,
    path = "/api/events",
    tag = "real-time",
    summary = "Real-time events as Server-Sent Events",
    description = "The events Socket.io delivers, for the signed-in person (until the token expires: then `session_ended`, and the stream ends): each is an SSE `event:` (its name: `call_initiated`, `call_answered`, `call_status_updated`, `lead_assigned`, `callback_due`, `user_online`, `user_offline`, `callStarted`, `callUpdated`, `transcriptUpdated`, `callTerminated`, `session_ended`) with its JSON in `data:`. The first is `authenticated` (who the stream belongs to). Admins get their client's call and presence events, operators their own calls, leads and call backs. A `lagged` event (`{\"missed\": n}`) says events were skipped because the client read too slowly. The stream ends after `session_ended` (signed out, password or role changed, deactivated) and when the server stops; a comment is sent every 15 s on a quiet stream.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "An event stream (`text/event-stream`)", content_type = "text/event-stream", body = String),
        crate::docs::AuthErrors
    )
)]
pub async fn events(
    State(st): State<AppState>,
    s: Session,
    headers: axum::http::HeaderMap,
) -> Response {
    let (client, user, admin) = (s.client_id(), s.user.id, s.role.is_admin());
    // The stream ends when the token it was opened with does.
    let token = crate::auth::bearer_in(&headers)
        .unwrap_or_default()
        .to_string();
    let exp = st.jwt.verify(&token).map_or(0, |c| c.exp);
    let person = PersonView::of(&s);
    let mut hello = Vec::new();
    write_sse(
        &mut hello,
        "authenticated",
        &person.signed_in(client).to_string(),
    );
    let reader = Reader {
        rx: st.events.subscribe(),
        closing: st.events.closing(),
        hello: Some(hello.into()),
        ended: false,
        expires: Box::pin(tokio::time::sleep_until(crate::events::expires_at(exp))),
        quiet: Box::pin(tokio::time::sleep(KEEP_ALIVE)),
        check: crate::auth::session_checks(&st),
        token,
        _open: Open::new(&st),
        _online: st.events.online(client, &person),
        st,
    };
    let body = futures_util::stream::unfold(reader, move |mut r| async move {
        if let Some(hello) = r.hello.take() {
            return Some((Ok::<_, Infallible>(hello), r));
        }
        if r.ended {
            return None;
        }
        loop {
            let closing = &mut r.closing;
            let stop = async move {
                let _ = closing.wait_for(|c| *c).await;
            };
            let ended = |why: &str| {
                let mut buf = Vec::new();
                write_sse(
                    &mut buf,
                    SESSION_ENDED,
                    &crate::events::ended_payload(user, why).to_string(),
                );
                Bytes::from(buf)
            };
            let got = tokio::select! {
                got = r.rx.recv() => got,
                _ = stop => return None,
                _ = r.expires.as_mut() => {
                    r.ended = true;
                    return Some((Ok(ended(crate::events::TOKEN_EXPIRED)), r));
                }
                _ = r.check.tick() => {
                    match crate::auth::session_lapsed(&r.st, &r.token, admin).await {
                        Some(why) => {
                            r.ended = true;
                            return Some((Ok(ended(&why)), r));
                        }
                        None => continue,
                    }
                }
                _ = r.quiet.as_mut() => {
                    r.quiet.as_mut().reset(tokio::time::Instant::now() + KEEP_ALIVE);
                    return Some((Ok(Bytes::from_static(b":\n\n")), r));
                }
            };
            // What else is waiting goes out with it, in one write.
            let mut batch = Batch::default();
            let mut next = got;
            loop {
                match next {
                    Ok(ev) if ev.is_for(client, user, admin) => {
                        batch.push(ev.sse_frame());
                        if ev.name == SESSION_ENDED {
                            r.ended = true;
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        let mut buf = Vec::new();
                        write_sse(&mut buf, "lagged", &json!({ "missed": n }).to_string());
                        batch.push(buf.into());
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        r.ended = true;
                        break;
                    }
                }
                if batch.len >= BATCH_BYTES {
                    break;
                }
                next = match r.rx.try_recv() {
                    Ok(ev) => Ok(ev),
                    Err(broadcast::error::TryRecvError::Lagged(n)) => {
                        Err(broadcast::error::RecvError::Lagged(n))
                    }
                    Err(_) => break,
                };
            }
            if let Some(out) = batch.into_bytes() {
                r.quiet
                    .as_mut()
                    .reset(tokio::time::Instant::now() + KEEP_ALIVE);
                return Some((Ok(out), r));
            }
            if r.ended {
                return None;
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // A proxy (nginx) that buffers answers would hold events back.
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// A stream's write stops taking more waiting events past this many bytes.
const BATCH_BYTES: usize = 256 * 1024;

/// The frames of one write: one shared frame as it is, several copied into one buffer.
#[derive(Default)]
struct Batch {
    frames: Vec<Bytes>,
    len: usize,
}

impl Batch {
    fn push(&mut self, frame: Bytes) {
        self.len += frame.len();
        self.frames.push(frame);
    }

    fn into_bytes(mut self) -> Option<Bytes> {
        match self.frames.len() {
            0 => None,
            1 => self.frames.pop(),
            _ => {
                let mut buf = Vec::with_capacity(self.len);
                for f in &self.frames {
                    buf.extend_from_slice(f);
                }
                Some(buf.into())
            }
        }
    }
}
