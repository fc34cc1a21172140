//! The dialer's settings (issue: the dialer). So far: each client's calling schedule.

use axum::extract::State;
use serde_json::{Value, json};
use switchboard_core::schedule::{Schedule, ScheduleDoc};
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::schedules::{self, Stored};

use crate::auth::AdminSession;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Multipart, check_upload_size, multipart_error, ts_opt};
use crate::state::AppState;

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
    responses((status = 200, description = "`entries`, `pagination`", body = Object), crate::docs::AdminErrors)
)]
pub async fn list_dnc(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    crate::extract::Query(q): crate::extract::Query<DncQuery>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({
        "entries": rows.iter().map(|e| json!({ "id": e.id, "phone": e.phone, "reason": e.reason, "global": e.client_id.is_none(), "created_at": crate::extract::ts(&e.created_at) })).collect::<Vec<_>>(),
        "pagination": { "page": page.page, "limit": page.limit, "total": total, "pages": page.pages(total) },
    })))
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
    responses((status = 201, description = "Added", body = Object), (status = 200, description = "Already listed", body = Object), crate::docs::AdminErrors)
)]
pub async fn add_dnc(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(b): Json<DncBody>,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    if b.global && s.role != switchboard_core::Role::SuperAdmin {
        return Err(ApiError::forbidden(
            "only a super admin may block a number for every client",
        ));
    }
    if b.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::bad_request(
            "reason must be at most 500 characters",
        ));
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
        Json(json!({ "success": true, "phone": phone, "added": new })),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/dialer/dnc/{id}",
    tag = "dialer",
    summary = "Remove an entry (global entries: super admins)",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Entry id")),
    responses((status = 200, description = "Removed", body = Object), (status = 404, description = "No such entry", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn remove_dnc(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    crate::extract::Path(id): crate::extract::Path<i64>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(
        json!({ "success": true, "message": "Removed from the do-not-call list" }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/dialer/dnc/upload-csv",
    tag = "dialer",
    summary = "Add numbers from a CSV file (multipart field csvFile; a phone column and optional reason)",
    security(("bearerAuth" = [])),
    request_body(content = crate::docs::UploadForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "`added`, `duplicates`, `errors`", body = Object), (status = 400, description = "Not a CSV with a phone column", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn upload_dnc(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Multipart(mut form): Multipart,
) -> ApiResult<Json<Value>> {
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        if matches!(field.name(), Some("csvFile") | Some("file")) {
            file = Some(field.bytes().await.map_err(|e| multipart_error(&e))?);
        }
    }
    let bytes = file
        .ok_or_else(|| ApiError::bad_request("no file: send it as the multipart field csvFile"))?;
    check_upload_size(bytes.len(), st.config.upload_limit_bytes)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::bad_request("the file is not UTF-8 text"))?;
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().next().unwrap_or("");
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(switchboard_core::csv_columns::sniff_delimiter(
            first.as_bytes(),
        ))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| ApiError::bad_request(format!("cannot read the header row: {e}")))?
        .clone();
    use switchboard_core::csv_columns::{LeadColumn, match_header};
    let phone_col = headers
        .iter()
        .position(|h| match_header(h) == Some(LeadColumn::Phone))
        .ok_or_else(|| ApiError::bad_request("no phone column in the header row"))?;
    let reason_col = headers.iter().position(|h| {
        matches!(
            h.trim().to_ascii_lowercase().as_str(),
            "reason" | "notes" | "note"
        )
    });
    let (mut added, mut duplicates) = (0u64, 0u64);
    let mut errors = Vec::new();
    let mut tx = st.db.begin().await?;
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(json!({ "line": line, "reason": format!("malformed CSV: {e}") }));
                continue;
            }
        };
        if rec.iter().any(|f| f.contains('\0')) {
            errors.push(json!({ "line": line, "reason": "the row holds the NUL character" }));
            continue;
        }
        match st.phones.normalize(rec.get(phone_col).unwrap_or("")) {
            Ok(phone) => {
                let reason = reason_col
                    .and_then(|c| rec.get(c))
                    .map(str::trim)
                    .filter(|r| !r.is_empty());
                if switchboard_store::dnc::add(
                    &mut tx,
                    Some(s.client_id()),
                    &phone,
                    reason,
                    Some(s.user.id),
                )
                .await?
                {
                    added += 1;
                } else {
                    duplicates += 1;
                }
            }
            Err(e) => errors.push(json!({ "line": line, "reason": e.to_string() })),
        }
    }
    tx.commit().await?;
    Ok(Json(
        json!({ "success": true, "added": added, "duplicates": duplicates, "errorCount": errors.len(), "errors": errors }),
    ))
}
