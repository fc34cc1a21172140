//! The dialer's settings (issue: the dialer). So far: each client's calling schedule.

use axum::extract::State;
use serde_json::{Value, json};
use switchboard_core::schedule::{Schedule, ScheduleDoc};
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::schedules::{self, Stored};

use crate::auth::AdminSession;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, ts_opt};
use crate::state::AppState;

/// The client's schedule, or a fresh install's: 09:00–20:00 every day in the server's zone
/// (version 1).
pub async fn current(st: &AppState, client_id: i64) -> ApiResult<Stored> {
    match schedules::get(&mut st.db.read().await?, client_id).await? {
        Some(s) => Ok(s),
        None => {
            let tz: chrono_tz::Tz = st.config.timezone.parse().unwrap_or(chrono_tz::UTC);
            Ok(Stored {
                doc: Schedule::default_in(tz).to_doc(),
                version: 1,
                updated_at: None,
            })
        }
    }
}

fn view(s: &Stored) -> Value {
    json!({
        "timezone": s.doc.timezone,
        "windows": s.doc.windows,
        "holidays": s.doc.holidays,
        "enabled": s.doc.enabled,
        "version": s.version,
        "updated_at": ts_opt(&s.updated_at),
    })
}

#[utoipa::path(
    get,
    path = "/api/dialer/schedule",
    tag = "dialer",
    summary = "The client's calling schedule (weekday 0 = Monday) and its version",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "`timezone, windows, holidays, enabled, version`", body = Object), crate::docs::AdminErrors)
)]
pub async fn get_schedule(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<Value>> {
    Ok(Json(view(&current(&st, s.client_id()).await?)))
}

#[utoipa::path(
    put,
    path = "/api/dialer/schedule",
    tag = "dialer",
    summary = "Replace the calling schedule; the version goes up by one",
    security(("bearerAuth" = [])),
    request_body(content = Object, description = "`{\"timezone\": \"Asia/Tehran\", \"windows\": [{\"weekday\": 0, \"start\": \"09:00\", \"end\": \"20:00\"}], \"holidays\": [\"2026-03-21\"], \"enabled\": true}`"),
    responses((status = 200, description = "The stored schedule", body = Object), (status = 400, description = "Unknown zone, bad time, a window ending before it starts", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn put_schedule(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(body): Json<Value>,
) -> ApiResult<Json<Value>> {
    let doc: ScheduleDoc = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid schedule: {e}")))?;
    let checked = Schedule::from_doc(&doc).map_err(ApiError::bad_request)?;
    let doc = checked.to_doc();
    let previous = current(&st, s.client_id()).await?.version;
    let mut tx = st.db.begin().await?;
    let version = schedules::put(&mut tx, s.client_id(), &doc, previous, Some(s.user.id)).await?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(s.client_id()),
            user_id: Some(s.user.id),
            action: "update",
            entity: "schedule",
            entity_id: None,
            detail: json!({ "version": version }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(view(&current(&st, s.client_id()).await?)))
}
