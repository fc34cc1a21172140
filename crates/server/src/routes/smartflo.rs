//! Seed 000: agent click-to-call, polling the active call, hang-up, live calls and call records
//! for the admin's monitoring, in the Smartflo shapes the agent dashboard reads.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::call::{hms, to_smartflo_cdr, to_smartflo_live};
use switchboard_core::lead::people_may_edit;
use switchboard_core::{Disposition, PageRequest, Role};
use switchboard_store::calls::{self, Call, CallFilter, CallRow};
use switchboard_store::leads;

use crate::auth::{AdminSession, Session};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::telephony::{agent_calls_lead, hang_up};

/// Smartflo writes local wall-clock times (`2026-01-10 16:47:26`) in the server's zone.
pub fn local(state: &AppState, t: &DateTime<Utc>) -> String {
    let tz: chrono_tz::Tz = state.config.timezone.parse().unwrap_or(chrono_tz::UTC);
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn parse_local(state: &AppState, field: &str, v: &str) -> ApiResult<DateTime<Utc>> {
    let tz: chrono_tz::Tz = state.config.timezone.parse().unwrap_or(chrono_tz::UTC);
    let naive = chrono::NaiveDateTime::parse_from_str(v.trim(), "%Y-%m-%d %H:%M:%S")
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
        .map_err(|_| {
            ApiError::bad_request(format!(
                "{field} must look like YYYY-MM-DD HH:MM:SS, not '{v}'"
            ))
        })?;
    naive
        .and_local_timezone(tz)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::bad_request(format!("{field} '{v}' does not exist in {tz}")))
}

/// The id the dashboard stores and sends back to hang up: the provider's, once known.
fn public_call_id(c: &Call) -> String {
    c.provider_call_id
        .clone()
        .unwrap_or_else(|| c.id.to_string())
}

/// The customer's number on a call.
fn customer(c: &Call) -> Option<String> {
    if c.direction == "inbound" {
        c.from_number.clone()
    } else {
        c.to_number.clone()
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/leads/{id}/call",
    tag = "seed 000: click-to-call",
    summary = "Call a lead from the agent's dashboard (bridged to the agent's phone)",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses((status = 200, description = "`data.poll_url` to poll", body = Object), (status = 409, description = "Lead busy or locked", body = crate::docs::ErrorBody), crate::docs::AdminErrors, crate::docs::CallErrors)
)]
pub async fn call_lead(
    State(st): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let mut conn = st.db.read().await?;
    let lead = leads::get(&mut conn, s.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    drop(conn);
    if s.role == Role::Operator && lead.assigned_user_id.is_some_and(|u| u != s.user.id) {
        return Err(ApiError::forbidden(
            "this lead is assigned to another agent",
        ));
    }
    people_may_edit(lead.disposition.as_deref().and_then(Disposition::parse))
        .map_err(ApiError::conflict)?;
    let call = agent_calls_lead(&st, &s, &lead, "click-to-call").await?;
    Ok(Json(json!({
        "success": true,
        "message": "Call initiated. Poll the active call for its progress.",
        "data": {
            "action": "poll_active_call",
            "poll_url": format!("/api/v1/smartflo/active-call/{}", lead.id),
            "lead_id": lead.id,
            "call_id": public_call_id(&call),
        }
    })))
}

#[utoipa::path(
    get,
    path = "/api/v1/smartflo/active-call/{id}",
    tag = "seed 000: click-to-call",
    summary = "Poll a lead's call: `data.active` turns true once the call is live",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses((status = 200, description = "Active call or `active: false`", body = Object), crate::docs::AuthErrors)
)]
pub async fn active_call(
    State(st): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let mut conn = st.db.read().await?;
    leads::get(&mut conn, s.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    let f = CallFilter {
        lead_id: Some(id),
        user_id: (s.role == Role::Operator).then_some(s.user.id),
        ..Default::default()
    };
    let (rows, _) = calls::list(&mut conn, s.client_id(), &f, 1, 0).await?;
    let now = Utc::now();
    let data = match rows.first() {
        Some(r) if r.call.status().is_live() => {
            let c = &r.call;
            json!({
                "active": true,
                "call_id": public_call_id(c),
                "status": to_smartflo_live(c.status()),
                "duration": hms(c.talk_seconds(now)),
                "direction": 2,
                "agent_name": r.agent_name,
                "customer_number": customer(c),
                "created_at": local(&st, &c.started_at),
            })
        }
        Some(r) => json!({
            "active": false,
            "call_id": public_call_id(&r.call),
            "last_status": r.call.status,
            "ended_at": r.call.ended_at.as_ref().map(|t| local(&st, t)),
        }),
        None => json!({ "active": false }),
    };
    Ok(Json(json!({ "success": true, "data": data })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct HangupBody {
    #[schema(required = true, value_type = String)]
    call_id: Option<Value>,
}

/// Find a client's call by the id the dashboard holds: the provider's call id or ours.
pub async fn find_call(st: &AppState, client_id: i64, id: &str) -> ApiResult<Call> {
    let mut conn = st.db.read().await?;
    if let Some(c) = calls::find_by_call_id(&mut conn, client_id, id).await? {
        return Ok(c);
    }
    if let Ok(n) = id.parse::<i64>()
        && let Some(c) = calls::get(&mut conn, client_id, n).await?
    {
        return Ok(c);
    }
    Err(ApiError::not_found("call"))
}

#[utoipa::path(
    post,
    path = "/api/v1/smartflo/call/hangup",
    tag = "seed 000: click-to-call",
    summary = "Hang up a call (operators: their own calls only)",
    security(("bearerAuth" = [])),
    request_body = HangupBody,
    responses((status = 200, description = "Ended", body = Object), (status = 404, description = "No such call", body = crate::docs::ErrorBody), (status = 409, description = "The provider has not taken the call yet, or it went through another provider", body = crate::docs::ErrorBody), (status = 502, description = "The provider refused to hang up", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn hangup(
    State(st): State<AppState>,
    s: Session,
    Json(b): Json<HangupBody>,
) -> ApiResult<Json<Value>> {
    let id = match b.call_id {
        Some(Value::String(v)) if !v.trim().is_empty() => v.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ApiError::bad_request("call_id is required")),
    };
    let call = find_call(&st, s.client_id(), &id).await?;
    if s.role == Role::Operator && call.user_id != Some(s.user.id) {
        return Err(ApiError::forbidden(
            "operators may hang up only their own calls",
        ));
    }
    if call.status().is_final() {
        return Ok(Json(
            json!({ "success": true, "message": "Call already ended" }),
        ));
    }
    hang_up(&st, &call).await?;
    Ok(Json(json!({ "success": true, "message": "Call ended" })))
}

fn live_view(st: &AppState, r: &CallRow, now: DateTime<Utc>) -> Value {
    let c = &r.call;
    json!({
        "id": c.id,
        "call_id": public_call_id(c),
        "direction": if c.direction == "inbound" { 1 } else { 2 },
        "source": c.from_number,
        "type": "click-to-call",
        "destination": c.to_number,
        "state": to_smartflo_live(c.status()),
        "created_at": local(st, &c.started_at),
        "call_time": hms(c.talk_seconds(now)),
        "agent_name": r.agent_name,
        "customer_number": customer(c),
        "lead_id": c.lead_id,
        "provider": c.provider,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/smartflo/live-calls",
    tag = "seed 000: click-to-call",
    summary = "Every live call of the client, as Smartflo lists them (admins)",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "A bare array of live calls", body = [Object]), crate::docs::AdminErrors)
)]
pub async fn live_calls(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<Value>> {
    let f = CallFilter {
        live_only: true,
        ..Default::default()
    };
    let (rows, _) = calls::list(&mut st.db.read().await?, s.client_id(), &f, 1000, 0).await?;
    let now = Utc::now();
    Ok(Json(Value::Array(
        rows.iter().map(|r| live_view(&st, r, now)).collect(),
    )))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// Start, `YYYY-MM-DD HH:MM:SS`
    #[param(required = true)]
    from_date: Option<String>,
    /// End, `YYYY-MM-DD HH:MM:SS`
    #[param(required = true)]
    to_date: Option<String>,
    /// Customer number on outbound calls
    destination: Option<String>,
    /// Customer number on inbound calls
    callerid: Option<String>,
    /// `inbound` or `outbound`
    direction: Option<String>,
    /// The agent's Smartflo id (or phone)
    agent_number: Option<String>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/smartflo/call/records",
    tag = "seed 000: click-to-call",
    summary = "Call detail records of finished calls (admins)",
    security(("bearerAuth" = [])),
    params(RecordsQuery),
    responses((status = 200, description = "`count, limit, results`", body = Object), (status = 400, description = "Missing dates", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn call_records(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Query(q): Query<RecordsQuery>,
) -> ApiResult<Json<Value>> {
    let (Some(from), Some(to)) = (
        q.from_date.as_deref().filter(|v| !v.is_empty()),
        q.to_date.as_deref().filter(|v| !v.is_empty()),
    ) else {
        return Err(ApiError::bad_request(
            "from_date and to_date are required (YYYY-MM-DD HH:MM:SS)",
        ));
    };
    let mut f = CallFilter {
        started_from: Some(parse_local(&st, "from_date", from)?),
        started_to: Some(parse_local(&st, "to_date", to)?),
        statuses: ["completed", "busy", "no-answer", "failed", "canceled"]
            .map(String::from)
            .to_vec(),
        agent_number: q.agent_number.clone().filter(|a| !a.is_empty()),
        ..Default::default()
    };
    if f.started_from > f.started_to {
        return Err(ApiError::bad_request("from_date must not be after to_date"));
    }
    match q
        .direction
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") => {}
        Some(d @ ("inbound" | "outbound")) => f.direction = Some(d.to_string()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "direction must be inbound or outbound, not '{other}'"
            )));
        }
    }
    if let Some(p) = q
        .destination
        .as_deref()
        .or(q.callerid.as_deref())
        .filter(|p| !p.trim().is_empty())
    {
        f.phone_prefixes = st.phones.search_prefixes(p);
        if f.phone_prefixes.is_empty() {
            return Err(ApiError::bad_request(
                "destination and callerid need at least 3 digits",
            ));
        }
    }
    let page = PageRequest::new(q.page, q.limit);
    let (rows, total) = calls::list(
        &mut st.db.read().await?,
        s.client_id(),
        &f,
        page.limit,
        page.offset(),
    )
    .await?;
    let results: Vec<Value> = rows
        .iter()
        .map(|r| {
            let c = &r.call;
            let started = local(&st, &c.started_at);
            json!({
                "id": c.id,
                "call_id": public_call_id(c),
                "uuid": c.provider_call_id,
                "direction": c.direction,
                "status": to_smartflo_cdr(c.status()),
                "description": format!("Call {}", c.status),
                "recording_url": c.recording_url,
                "call_duration": c.duration_secs.unwrap_or(0),
                "answered_seconds": c.talk_seconds(c.ended_at.unwrap_or(c.started_at)),
                "agent_name": r.agent_name,
                "customer_number": customer(c),
                "date": &started[..10],
                "time": &started[11..],
                "end_stamp": c.ended_at.as_ref().map(|t| local(&st, t)),
                "hangup_cause": c.hangup_cause,
                "lead_id": c.lead_id,
            })
        })
        .collect();
    Ok(Json(
        json!({ "count": total, "limit": page.limit, "page": page.page, "results": results }),
    ))
}
