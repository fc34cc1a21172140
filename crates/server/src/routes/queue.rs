//! Seed 001's call queue: the server dials a client's pending leads through the provider in
//! priority order, each bridged to a free agent, while the queue runs.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::{dialer, now};

use crate::auth::AdminSession;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;

async fn queue_status(st: &AppState, client: i64) -> ApiResult<Value> {
    let mut rd = st.db.read().await?;
    let s = dialer::settings(&mut rd, client).await?;
    let c = dialer::queue_counts(&mut rd, client, now()).await?;
    let (active,): (i64,) =
        switchboard_store::sql("SELECT COUNT(*) FROM calls WHERE client_id = $1 AND slots = 3")
            .arg(client)
            .fetch_one(&mut rd)
            .await?;
    Ok(json!({
        "isRunning": s.queue_running,
        "activeCalls": active,
        "maxConcurrentCalls": s.queue_max_concurrent,
        "pendingLeads": c.pending,
        "dueLeads": c.due,
        "callingLeads": c.calling,
        "leasedLeads": c.leased,
    }))
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
    responses((status = 200, description = "`success`, `message`, `queueStatus`", body = Object), (status = 400, description = "Unknown action", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn control(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(b): Json<ControlBody>,
) -> ApiResult<Json<Value>> {
    let client = s.client_id();
    let action = b.action.as_deref().unwrap_or_default();
    if let Some(m) = b.max_concurrent_calls
        && !(0..=100_000).contains(&m)
    {
        return Err(ApiError::bad_request(
            "maxConcurrentCalls must be between 0 and 100000",
        ));
    }
    let (message, extra) = match action {
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
                json!({}),
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
            ("Stuck leads reset", json!({ "resetCount": n }))
        }
        "get_queue_status" => ("Queue status", json!({})),
        _ => {
            return Err(ApiError::bad_request(format!(
                "action must be one of {}",
                CONTROL_ACTIONS.join(", ")
            )));
        }
    };
    let mut body = json!({
        "success": true,
        "message": message,
        "action": action,
        "queueStatus": queue_status(&st, client).await?,
    });
    if let (Some(o), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    Ok(Json(body))
}

#[utoipa::path(
    get,
    path = "/api/admin/system-status",
    tag = "admin",
    summary = "Database, call queue, uptime and memory (seed 001)",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "`systemStatus`", body = Object), crate::docs::AdminErrors)
)]
pub async fn system_status(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<Value>> {
    let q = queue_status(&st, s.client_id()).await?;
    let rss = crate::routes::health::rss_bytes();
    Ok(Json(json!({
        "systemStatus": {
            "database": if st.db.ping().await { "connected" } else { "disconnected" },
            "callQueue": {
                "isRunning": q["isRunning"],
                "activeCalls": q["activeCalls"],
                "maxConcurrentCalls": q["maxConcurrentCalls"],
            },
            "activeConnections": 0,
            "uptime": st.started.elapsed().as_secs(),
            "memory": { "rss": rss, "heapTotal": rss, "heapUsed": rss },
            "environment": crate::routes::health::environment(),
            "instanceId": st.instance_id,
        }
    })))
}
