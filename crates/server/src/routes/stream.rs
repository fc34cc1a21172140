//! `GET /api/events`: the real-time events as Server-Sent Events, for clients without a
//! Socket.io library (the same events Socket.io delivers; see [`crate::events`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::json;
use tokio::sync::broadcast;

use crate::auth::{AdminSession, Session};
use crate::events::{Event, PersonView, SESSION_ENDED};
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
    ended: bool,
    expires: std::pin::Pin<Box<tokio::time::Sleep>>,
    _open: Open,
    /// The person counts as online while the stream is open.
    _online: crate::events::Online,
}

/// Who is connected now.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PresenceAnswer {
    /// The client's people with a Socket.io connection or an event stream open on this
    /// instance, by name.
    pub online: Vec<crate::events::OnlinePerson>,
}

#[utoipa::path(
    get,
    path = "/api/presence",
    tag = "real-time",
    summary = "Who is online: the client's people with a socket or an event stream open",
    description = "The list `user_online` and `user_offline` keep up to date. Counted per instance: with several instances behind a load balancer, each knows the connections it holds.",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The people online", body = PresenceAnswer), crate::docs::AdminErrors)
)]
pub async fn presence(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> axum::Json<PresenceAnswer> {
    axum::Json(PresenceAnswer {
        online: st.events.online_in(s.client_id()),
    })
}

#[utoipa::path(
    get,
    path = "/api/events",
    tag = "real-time",
    summary = "Real-time events as Server-Sent Events",
    description = "The events Socket.io delivers, for the signed-in person (until the token expires: then `session_ended`, and the stream ends): each is an SSE `event:` (its name: `call_initiated`, `call_answered`, `call_status_updated`, `lead_assigned`, `user_online`, `user_offline`, `callStarted`, `callUpdated`, `transcriptUpdated`, `callTerminated`, `session_ended`) with its JSON in `data:`. The first is `authenticated` (who the stream belongs to). Admins get their client's call and presence events, operators their own calls and leads. A `lagged` event (`{\"missed\": n}`) says events were skipped because the client read too slowly. The stream ends after `session_ended` (signed out, password or role changed, deactivated) and when the server stops; a comment is sent every 15 s on a quiet stream.",
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
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (client, user, admin) = (s.client_id(), s.user.id, s.role.is_admin());
    // The stream ends when the token it was opened with does.
    let exp = crate::auth::bearer_in(&headers)
        .and_then(|t| st.jwt.verify(t))
        .map_or(0, |c| c.exp);
    let person = PersonView::of(&s);
    let hello = SseEvent::default()
        .event("authenticated")
        .data(person.signed_in(client).to_string());
    let reader = Reader {
        rx: st.events.subscribe(),
        closing: st.events.closing(),
        ended: false,
        expires: Box::pin(tokio::time::sleep_until(crate::events::expires_at(exp))),
        _open: Open::new(&st),
        _online: st.events.online(client, &person),
    };
    let rest = futures_util::stream::unfold(reader, move |mut r| async move {
        if r.ended {
            return None;
        }
        loop {
            let closing = &mut r.closing;
            let stop = async move {
                let _ = closing.wait_for(|c| *c).await;
            };
            let got = tokio::select! {
                got = r.rx.recv() => got,
                _ = stop => return None,
                _ = r.expires.as_mut() => {
                    r.ended = true;
                    let e = SseEvent::default().event(SESSION_ENDED).data(
                        crate::events::ended_payload(user, crate::events::TOKEN_EXPIRED)
                            .to_string(),
                    );
                    return Some((Ok(e), r));
                }
            };
            match got {
                Ok(ev) if ev.is_for(client, user, admin) => {
                    r.ended = ev.name == SESSION_ENDED;
                    let e = SseEvent::default().event(&*ev.name).data(ev.data.get());
                    return Some((Ok(e), r));
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let e = SseEvent::default()
                        .event("lagged")
                        .data(json!({ "missed": n }).to_string());
                    return Some((Ok(e), r));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let all =
        futures_util::StreamExt::chain(futures_util::stream::once(async move { Ok(hello) }), rest);
    Sse::new(all).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
