//! The audit log, read back: who changed what, when (DESIGN §2). Entries are written where the
//! changes are made, in the same transaction.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_store::audit;
use utoipa::ToSchema;

use crate::auth::AdminSession;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query, ts};
use crate::routes::leads::parse_time;
use crate::routes::views::Pagination;
use crate::state::AppState;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
    /// What was changed: `lead`, `list`, `user`, `api_key`, `schedule`, `dnc`, `queue`, …
    entity: Option<String>,
    /// Which one (with `entity`): its id.
    entity_id: Option<i64>,
    /// Who changed it (a user id; machines' entries have none).
    user_id: Option<i64>,
    /// What was done: `create`, `update`, `delete`, …
    action: Option<String>,
    /// From this date (`YYYY-MM-DD`, the whole UTC day) or ISO 8601 time.
    start_date: Option<String>,
    /// Up to this date (`YYYY-MM-DD`, the whole UTC day) or ISO 8601 time.
    end_date: Option<String>,
    /// Super admins: another client's log.
    client_id: Option<i64>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    pub pagination: Pagination,
}

/// One change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    /// The user who made it; none when a machine did (an API key, the dialer, the command line).
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    /// What changed, as the change recorded it.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A word of the log's vocabulary: short, lower case.
fn word(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    match v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
        Some(v) if v.len() > 64 || !v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
            Err(ApiError::bad_request(format!(
                "{field} must be a lower-case word such as 'update'"
            )))
        }
        v => Ok(v),
    }
}

#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "users",
    summary = "The audit log: who changed what, when",
    description = "The client's entries, newest first: users, lists, leads changed by people, \
        API keys, schedules, the do-not-call list, the queue, campaigns, sign-outs and \
        password changes.",
    security(("bearerAuth" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of entries", body = AuditPage),
        (status = 400, description = "Invalid filter", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn list(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let client = s.scope_client(q.client_id)?;
    let page = switchboard_core::PageRequest::new(q.page, q.limit);
    let time = |field: &str, v: &Option<String>, end: bool| {
        v.as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(|v| parse_time(field, v, end))
            .transpose()
    };
    let filter = audit::Filter {
        user_id: q.user_id,
        action: word("action", q.action)?,
        entity: word("entity", q.entity)?,
        entity_id: q.entity_id,
        from: time("start_date", &q.start_date, false)?,
        to: time("end_date", &q.end_date, true)?,
    };
    let (rows, total) = audit::list(
        &mut st.db.read().await?,
        client,
        &filter,
        page.limit,
        page.offset(),
    )
    .await?;
    Ok(Json(AuditPage {
        entries: rows
            .into_iter()
            .map(|e| AuditView {
                id: e.id,
                user_id: e.user_id,
                username: e.username,
                action: e.action,
                entity: e.entity,
                entity_id: e.entity_id,
                detail: e.detail.0,
                created_at: ts(&e.created_at),
            })
            .collect(),
        pagination: Pagination::new(&page, total),
    }))
}
