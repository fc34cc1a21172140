//! Seed 001's call queue: the server dials a client's pending leads through the provider in
//! priority order, each bridged to a free agent, while the queue runs.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::{dialer, now};
use utoipa::ToSchema;

use crate::auth::AdminSession;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;

async fn queue_status(st: &AppState, client: i64) -> ApiResult<QueueState> {
    let mut rd = st.db.read().await?;
    let s = dialer::settings(&mut rd, client).await?;
    let c = dialer::queue_counts(&mut rd, client, now()).await?;
    let (active,): (i64,) =
        switchboard_store::sql("SELECT COUNT(*) FROM calls WHERE client_id = $1 AND slots = 3")
            .arg(client)
            .fetch_one(&mut rd)
            .await?;
    Ok(QueueState {
        is_running: s.queue_running,
        active_calls: active,
        max_concurrent_calls: s.queue_max_concurrent,
        pending_leads: c.pending,
        due_leads: c.due,
        calling_leads: c.calling,
        leased_leads: c.leased,
    })
}

/// The client's call queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueState {
    /// Whether the queue dials.
    pub is_running: bool,
    /// The client's live calls.
    pub active_calls: i64,
    /// The queue's cap on live calls.
    pub max_concurrent_calls: i64,
    pub pending_leads: i64,
    /// Pending leads that may be dialed now.
    pub due_leads: i64,
    pub calling_leads: i64,
    /// Leads handed out to a dialer and not yet back.
    pub leased_leads: i64,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControlBody {
    #[schema(schema_with = control_actions, required = true)]
    action: Option<String>,
    /// With `resume_queue`: the queue's cap on live calls
    #[schema(minimum = 0, maximum = 100_000)]
    max_concurrent_calls: Option<i64>,
}

/// What `POST /api/admin/system/control` does, as the handler matches them.
const CONTROL_ACTIONS: [&str; 4] = [
    "pause_queue",
    "resume_queue",
    "reset_stuck_leads",
    "get_queue_status",
];

fn control_actions() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(CONTROL_ACTIONS, "What to do with the client's call queue.")
}

#[utoipa::path(
    post,
    path = "/api/admin/system/control",
    tag = "admin",
    summary = "Queue control: pause_queue, resume_queue, reset_stuck_leads, get_queue_status",
    security(("bearerAuth" = [])),
    request_body(content = ControlBody, description = "`{\"action\": \"pause_queue\"}`; `resume_queue` also takes `maxConcurrentCalls`"),
    responses((status = 200, description = "`success`, `message`, `queueStatus`", body = QueueControlAnswer), (status = 400, description = "Unknown action", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn control(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(b): Json<ControlBody>,
) -> ApiResult<Json<QueueControlAnswer>> {
    let client = s.client_id();
    let action = b.action.as_deref().unwrap_or_default();
    if let Some(m) = b.max_concurrent_calls
        && !(0..=100_000).contains(&m)
    {
        return Err(ApiError::bad_request(
            "maxConcurrentCalls must be between 0 and 100000",
        ));
    }
    let (message, reset_count) = match action {
        "pause_queue" | "resume_queue" => {
            let running = action == "resume_queue";
            let mut tx = st.db.begin().await?;
            dialer::set_queue(&mut tx, client, Some(running), b.max_concurrent_calls).await?;
            audit::record(
                &mut tx,
                AuditEntry {
                    client_id: Some(client),
                    user_id: Some(s.user.id),
                    action,
                    entity: "queue",
                    entity_id: None,
                    detail: json!({ "maxConcurrentCalls": b.max_concurrent_calls }),
                },
            )
            .await?;
            tx.commit().await?;
            st.wake_dialer();
            (
                if running {
                    "Call queue resumed"
                } else {
                    "Call queue paused"
                },
                None,
            )
        }
        "reset_stuck_leads" => {
            let mut tx = st.db.begin().await?;
            let n = dialer::reset_stuck(&mut tx, client, now()).await?;
            audit::record(
                &mut tx,
                AuditEntry {
                    client_id: Some(client),
                    user_id: Some(s.user.id),
                    action,
                    entity: "queue",
                    entity_id: None,
                    detail: json!({ "reset": n }),
                },
            )
            .await?;
            tx.commit().await?;
            st.wake_dialer();
            ("Stuck leads reset", Some(n))
        }
        "get_queue_status" => ("Queue status", None),
        _ => {
            return Err(ApiError::bad_request(format!(
                "action must be one of {}",
                CONTROL_ACTIONS.join(", ")
            )));
        }
    };
    let queue_status = queue_status(&st, client).await?;
    if action != "get_queue_status" {
        crate::events::queue_updated(&st.events, client, s.user.id, action, &queue_status);
    }
    Ok(Json(QueueControlAnswer {
        success: true,
        message,
        action: action.to_string(),
        queue_status,
        reset_count,
    }))
}

/// `POST /api/admin/system/control`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueControlAnswer {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
    /// The action done.
    #[schema(schema_with = control_actions)]
    pub action: String,
    /// The queue after the action.
    pub queue_status: QueueState,
    /// With `reset_stuck_leads` only: how many leads went back to pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reset_count: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/admin/system-status",
    tag = "admin",
    summary = "Database, call queue, uptime and memory (seed 001)",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "`systemStatus`", body = SystemStatusAnswer), crate::docs::AdminErrors)
)]
pub async fn system_status(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<SystemStatusAnswer>> {
    let q = queue_status(&st, s.client_id()).await?;
    let rss = crate::routes::health::rss_bytes();
    Ok(Json(SystemStatusAnswer {
        system_status: SystemStatus {
            database: if st.db.ping().await {
                "connected"
            } else {
                "disconnected"
            },
            call_queue: SystemCallQueue {
                is_running: q.is_running,
                active_calls: q.active_calls,
                max_concurrent_calls: q.max_concurrent_calls,
            },
            active_connections: st.events.connections().await as i64,
            uptime: st.started.elapsed().as_secs(),
            memory: SystemMemory {
                rss,
                heap_total: rss,
                heap_used: rss,
            },
            environment: crate::routes::health::environment(),
            instance_id: st.instance_id.to_string(),
        },
    }))
}

/// `GET /api/admin/system-status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemStatusAnswer {
    pub system_status: SystemStatus,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemStatus {
    /// `connected` when the database answers, `disconnected` otherwise.
    pub database: &'static str,
    pub call_queue: SystemCallQueue,
    /// Seed 001's socket connections: signed-in Socket.io connections and open event streams,
    /// on every instance sharing the database.
    pub active_connections: i64,
    /// Seconds since this process started.
    pub uptime: u64,
    pub memory: SystemMemory,
    /// `SWITCHBOARD_ENV`, default `production`.
    pub environment: String,
    /// This server instance's id.
    pub instance_id: String,
}

/// The client's call queue.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemCallQueue {
    /// Whether the queue dials.
    pub is_running: bool,
    /// The client's live calls.
    pub active_calls: i64,
    /// The queue's cap on live calls.
    pub max_concurrent_calls: i64,
}

/// The process's memory, in bytes (seed 001's Node.js fields; all three are the resident set
/// size).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemMemory {
    pub rss: u64,
    pub heap_total: u64,
    pub heap_used: u64,
}
