//! The dialer's settings (issue: the dialer). So far: each client's calling schedule.

use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_core::schedule::{Schedule, ScheduleDoc, WindowDoc};
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::import::RowError;
use switchboard_store::schedules::{self, Stored};
use utoipa::ToSchema;

use crate::auth::AdminSession;
use crate::docs::Done;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Multipart, multipart_error, ts};
use crate::routes::dnc_file;
use crate::routes::files::spool;
use crate::routes::views::Pagination;
use crate::state::AppState;
use switchboard_store::dnc;

/// The client's schedule, or a fresh install's: 09:00–20:00 every day in the server's zone
/// (version 1).
pub async fn current(st: &AppState, client_id: i64) -> ApiResult<Stored> {
    current_in(&mut st.db.read().await?, st, client_id).await
}

/// [`current`], read through `ex` (inside a transaction).
pub async fn current_in(
    ex: &mut impl switchboard_store::AsExec,
    st: &AppState,
    client_id: i64,
) -> ApiResult<Stored> {
    Ok(stored_or_default(ex, &st.config.timezone, client_id).await?)
}

/// The client's schedule, or the default one in the server's zone `timezone`.
pub async fn stored_or_default(
    ex: &mut impl switchboard_store::AsExec,
    timezone: &str,
    client_id: i64,
) -> switchboard_store::Result<Stored> {
    Ok(match schedules::get(ex, client_id).await? {
        Some(s) => s,
        None => default_schedule(timezone),
    })
}

/// A fresh install's schedule in the server's zone `timezone`, at version 1.
pub fn default_schedule(timezone: &str) -> Stored {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    Stored {
        doc: Schedule::default_in(tz).to_doc(),
        version: 1,
        updated_at: None,
    }
}

fn view(s: &Stored) -> ScheduleView {
    ScheduleView {
        timezone: s.doc.timezone.clone(),
        windows: s.doc.windows.clone(),
        holidays: s.doc.holidays.clone(),
        enabled: s.doc.enabled,
        number_zones: s.doc.number_zones,
        version: s.version,
        updated_at: s.updated_at.as_ref().map(ts),
    }
}

/// A client's calling schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// IANA time zone the windows and holidays are in.
    pub timezone: String,
    /// When calls may be placed; a day without a window is closed.
    pub windows: Vec<WindowDoc>,
    /// Closed days, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// False: no calls at all.
    pub enabled: bool,
    /// A lead without a time zone of its own is called in its number's (the area code's in
    /// North America, the country's elsewhere, when it keeps one time); false: in this
    /// schedule's.
    pub number_zones: bool,
    /// Goes up by one with each change (seed 002's `schedule_version`).
    pub version: i64,
    /// Null for the schedule a fresh install starts with.
    #[schema(format = DateTime)]
    pub updated_at: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/dialer/schedule",
    tag = "dialer",
    summary = "The client's calling schedule (weekday 0 = Monday) and its version",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The schedule", body = ScheduleView), crate::docs::AdminErrors)
)]
pub async fn get_schedule(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<ScheduleView>> {
    Ok(Json(view(&current(&st, s.client_id()).await?)))
}

#[utoipa::path(
    put,
    path = "/api/dialer/schedule",
    tag = "dialer",
    summary = "Replace the calling schedule; the version goes up by one",
    security(("bearerAuth" = [])),
    request_body(content = ScheduleDoc, description = "`{\"timezone\": \"Asia/Tehran\", \"windows\": [{\"weekday\": 0, \"start\": \"09:00\", \"end\": \"20:00\"}], \"holidays\": [\"2026-03-21\"], \"enabled\": true}`, and `number_zones` (default true)"),
    responses((status = 200, description = "The stored schedule", body = ScheduleView), (status = 400, description = "Unknown zone, bad time, a window ending before it starts", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn put_schedule(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(body): Json<Value>,
) -> ApiResult<Json<ScheduleView>> {
    let doc: ScheduleDoc = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid schedule: {e}")))?;
    let checked = Schedule::from_doc(&doc).map_err(ApiError::bad_request)?;
    let doc = checked.to_doc();
    let previous = current(&st, s.client_id()).await?.version;
    let mut tx = st.db.begin().await?;
    let version = schedules::put(&mut tx, s.client_id(), &doc, previous, Some(s.user.id)).await?;
    // Leads held back for the old windows are judged again under the new ones.
    switchboard_store::dialer::release_window_holds(&mut tx, s.client_id()).await?;
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

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DncQuery {
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
    /// Digits the number contains
    search: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/dialer/dnc",
    tag = "dialer",
    summary = "The do-not-call list (the client's and the global one)",
    security(("bearerAuth" = [])),
    params(DncQuery),
    responses((status = 200, description = "One page of entries", body = DncPage), crate::docs::AdminErrors)
)]
pub async fn list_dnc(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    crate::extract::Query(q): crate::extract::Query<DncQuery>,
) -> ApiResult<Json<DncPage>> {
    let page = switchboard_core::PageRequest::new(q.page, q.limit);
    let search: Option<String> = q
        .search
        .map(|s| s.chars().filter(char::is_ascii_digit).collect());
    let (rows, total) = switchboard_store::dnc::list(
        &mut st.db.read().await?,
        s.client_id(),
        search.as_deref(),
        page.limit,
        page.offset(),
    )
    .await?;
    Ok(Json(DncPage {
        entries: rows
            .iter()
            .map(|e| DncView {
                id: e.id,
                phone: e.phone.clone(),
                reason: e.reason.clone(),
                global: e.client_id.is_none(),
                created_at: ts(&e.created_at),
            })
            .collect(),
        pagination: Pagination::new(&page, total),
    }))
}

/// A page of the do-not-call list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncPage {
    pub entries: Vec<DncView>,
    pub pagination: Pagination,
}

/// A number no call may reach.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncView {
    pub id: i64,
    /// E.164.
    pub phone: String,
    pub reason: Option<String>,
    /// On every client's list (super admins' entries), not only this client's.
    pub global: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A number put on the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncAdded {
    /// Always true.
    pub success: bool,
    /// E.164.
    pub phone: String,
    /// False when it was listed already (200 instead of 201).
    pub added: bool,
}

/// What a do-not-call upload did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DncUploaded {
    /// Always true.
    pub success: bool,
    pub added: u64,
    /// Rows whose number was listed already.
    pub duplicates: u64,
    /// Rows refused (all of them).
    pub error_count: usize,
    /// The refused rows by line (the first 1,000).
    pub errors: Vec<RowError>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct DncBody {
    phone: String,
    reason: Option<String>,
    /// Block the number for every client (super admins only)
    #[serde(default)]
    global: bool,
}

#[utoipa::path(
    post,
    path = "/api/dialer/dnc",
    tag = "dialer",
    summary = "Add a number to the do-not-call list",
    security(("bearerAuth" = [])),
    request_body = DncBody,
    responses((status = 201, description = "Added", body = DncAdded), (status = 200, description = "Already listed", body = DncAdded), crate::docs::AdminErrors)
)]
pub async fn add_dnc(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(b): Json<DncBody>,
) -> ApiResult<(axum::http::StatusCode, Json<DncAdded>)> {
    if b.global && s.role != switchboard_core::Role::SuperAdmin {
        return Err(ApiError::forbidden(
            "only a super admin may block a number for every client",
        ));
    }
    if b.reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > dnc_file::MAX_REASON)
    {
        return Err(ApiError::bad_request(format!(
            "reason must be at most {} characters",
            dnc_file::MAX_REASON
        )));
    }
    let phone = st
        .phones
        .normalize(&b.phone)
        .map_err(|e| ApiError::bad_request(format!("phone: {e}")))?;
    let mut tx = st.db.begin().await?;
    let new = switchboard_store::dnc::add(
        &mut tx,
        (!b.global).then_some(s.client_id()),
        &phone,
        b.reason.as_deref(),
        Some(s.user.id),
    )
    .await?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(s.client_id()),
            user_id: Some(s.user.id),
            action: "add",
            entity: "dnc",
            entity_id: None,
            detail: json!({ "phone": phone, "global": b.global }),
        },
    )
    .await?;
    tx.commit().await?;
    let status = if new {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((
        status,
        Json(DncAdded {
            success: true,
            phone,
            added: new,
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/dialer/dnc/{id}",
    tag = "dialer",
    summary = "Remove an entry (global entries: super admins)",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Entry id")),
    responses((status = 200, description = "Removed", body = Done), (status = 404, description = "No such entry", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn remove_dnc(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    crate::extract::Path(id): crate::extract::Path<i64>,
) -> ApiResult<Json<Done>> {
    let mut tx = st.db.begin().await?;
    let mut removed = switchboard_store::dnc::remove(&mut tx, Some(s.client_id()), id).await?;
    if !removed && s.role == switchboard_core::Role::SuperAdmin {
        removed = switchboard_store::dnc::remove(&mut tx, None, id).await?;
    }
    if !removed {
        return Err(ApiError::not_found("do-not-call entry"));
    }
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(s.client_id()),
            user_id: Some(s.user.id),
            action: "remove",
            entity: "dnc",
            entity_id: Some(id),
            detail: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Done::new("Removed from the do-not-call list")))
}

#[utoipa::path(
    post,
    path = "/api/dialer/dnc/upload-csv",
    tag = "dialer",
    summary = "Add numbers from a CSV file (multipart field csvFile; a phone column and optional reason)",
    security(("bearerAuth" = [])),
    request_body(content = crate::docs::DncUploadForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "What was added, and the rows refused", body = DncUploaded), (status = 400, description = "Not a CSV with a phone column", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn upload_dnc(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Multipart(mut form): Multipart,
) -> ApiResult<Json<DncUploaded>> {
    let (mut file, mut global) = (None, false);
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        match field.name() {
            Some("csvFile") | Some("file") => {
                file = Some(spool(field, st.config.upload_limit_bytes).await?);
            }
            Some("global") => {
                let v = field.text().await.map_err(|e| multipart_error(&e))?;
                global = match v.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "on" | "yes" => true,
                    "false" | "0" | "off" | "no" | "" => false,
                    _ => return Err(ApiError::bad_request("global must be true or false")),
                };
            }
            _ => {}
        }
    }
    if global && s.role != switchboard_core::Role::SuperAdmin {
        return Err(ApiError::forbidden(
            "only a super admin may block numbers for every client",
        ));
    }
    let file = file
        .ok_or_else(|| ApiError::bad_request("no file: send it as the multipart field csvFile"))?;
    let owner = (!global).then_some(s.client_id());
    // Read on a blocking thread, a chunk at a time, while the chunks before are written; all in
    // one transaction, so a failure adds nothing.
    let (out, mut chunks) = tokio::sync::mpsc::channel(4);
    let phones = st.phones.clone();
    let reader = tokio::task::spawn_blocking(move || dnc_file::read(file, &phones, &out));
    let mut tx = st.db.begin().await?;
    let (mut added, mut numbers) = (0u64, 0u64);
    while let Some(chunk) = chunks.recv().await {
        numbers += chunk.len() as u64;
        added += dnc::add_many(&mut tx, owner, &chunk, Some(s.user.id)).await?;
    }
    let refused = reader.await.map_err(|_| ApiError::internal())??;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(s.client_id()),
            user_id: Some(s.user.id),
            action: "upload",
            entity: "dnc",
            entity_id: None,
            detail: json!({"added": added, "duplicates": numbers - added, "errors": refused.count, "global": global}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(DncUploaded {
        success: true,
        added,
        duplicates: numbers - added,
        error_count: refused.count,
        errors: refused.errors,
    }))
}
