//! Seed 000: agent click-to-call, polling the active call, hang-up, live calls and call records
//! for the admin's monitoring, in the Smartflo shapes the agent dashboard reads.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use switchboard_core::call::{hms, to_smartflo_cdr, to_smartflo_live};
use switchboard_core::lead::people_may_edit;
use switchboard_core::{Disposition, PageRequest, Role};
use switchboard_store::calls::{self, Call, CallFilter, CallRow};
use switchboard_store::leads;

use crate::auth::{AdminSession, Session};
use crate::docs::Done;
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
    responses((status = 200, description = "`data.poll_url` to poll", body = SmartfloClickToCall), (status = 409, description = "Lead busy or locked", body = crate::docs::ErrorBody), crate::docs::AdminErrors, crate::docs::CallErrors)
)]
pub async fn call_lead(
    State(st): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
) -> ApiResult<Json<SmartfloClickToCall>> {
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
    Ok(Json(SmartfloClickToCall {
        success: true,
        message: "Call initiated. Poll the active call for its progress.",
        data: SmartfloClickToCallData {
            action: "poll_active_call",
            poll_url: format!("/api/v1/smartflo/active-call/{}", lead.id),
            lead_id: lead.id,
            call_id: public_call_id(&call),
        },
    }))
}

/// `POST /api/v1/leads/{id}/call`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SmartfloClickToCall {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
    pub data: SmartfloClickToCallData,
}

/// Where to follow the call just placed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SmartfloClickToCallData {
    /// Always `poll_active_call`.
    pub action: &'static str,
    /// The lead's active-call route, to poll.
    pub poll_url: String,
    pub lead_id: i64,
    /// The id to hang up with: the provider's call id, or ours while the provider has not
    /// given one.
    pub call_id: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/smartflo/active-call/{id}",
    tag = "seed 000: click-to-call",
    summary = "Poll a lead's call: `data.active` turns true once the call is live",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses((status = 200, description = "Active call or `active: false`", body = SmartfloActiveCall), crate::docs::AuthErrors)
)]
pub async fn active_call(
    State(st): State<AppState>,
    s: Session,
    Path(id): Path<i64>,
) -> ApiResult<Json<SmartfloActiveCall>> {
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
            SmartfloActiveCallState::Live(SmartfloActiveCallLive {
                active: true,
                call_id: public_call_id(c),
                status: to_smartflo_live(c.status()),
                duration: hms(c.talk_seconds(now)),
                direction: 2,
                agent_name: r.agent_name.clone(),
                customer_number: customer(c),
                created_at: local(&st, &c.started_at),
            })
        }
        Some(r) => SmartfloActiveCallState::Ended(SmartfloActiveCallEnded {
            active: false,
            call_id: public_call_id(&r.call),
            last_status: r.call.status.clone(),
            ended_at: r.call.ended_at.as_ref().map(|t| local(&st, t)),
        }),
        None => SmartfloActiveCallState::None(SmartfloActiveCallNone { active: false }),
    };
    Ok(Json(SmartfloActiveCall {
        success: true,
        data,
    }))
}

/// `GET /api/v1/smartflo/active-call/{id}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SmartfloActiveCall {
    /// Always true.
    pub success: bool,
    pub data: SmartfloActiveCallState,
}

/// The lead's latest call (the caller's own, for operators): live, ended, or none.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SmartfloActiveCallState {
    Live(SmartfloActiveCallLive),
    Ended(SmartfloActiveCallEnded),
    None(SmartfloActiveCallNone),
}

/// The lead's call is live.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmartfloActiveCallLive {
    /// Always true.
    pub active: bool,
    /// The id to hang up with: the provider's call id, or ours.
    pub call_id: String,
    /// `Ringing` or `Answered`.
    pub status: &'static str,
    /// Talked so far, `HH:MM:SS`.
    pub duration: String,
    /// Always 2 (outbound).
    pub direction: i64,
    pub agent_name: Option<String>,
    pub customer_number: Option<String>,
    /// When the call started, local time `YYYY-MM-DD HH:MM:SS`.
    pub created_at: String,
}

/// The lead's latest call has ended.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmartfloActiveCallEnded {
    /// Always false.
    pub active: bool,
    /// The provider's call id, or ours.
    pub call_id: String,
    #[schema(schema_with = crate::docs::field::call_status)]
    pub last_status: String,
    /// Local time `YYYY-MM-DD HH:MM:SS`.
    pub ended_at: Option<String>,
}

/// The lead has no call.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmartfloActiveCallNone {
    /// Always false.
    pub active: bool,
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
    responses((status = 200, description = "Ended", body = Done), (status = 404, description = "No such call", body = crate::docs::ErrorBody), (status = 409, description = "The provider has not taken the call yet, or it went through another provider", body = crate::docs::ErrorBody), (status = 502, description = "The provider refused to hang up", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn hangup(
    State(st): State<AppState>,
    s: Session,
    Json(b): Json<HangupBody>,
) -> ApiResult<Json<Done>> {
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
        return Ok(Json(Done::new("Call already ended")));
    }
    hang_up(&st, &call).await?;
    Ok(Json(Done::new("Call ended")))
}

/// A live call as Smartflo lists them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SmartfloLiveCall {
    pub id: i64,
    /// The provider's call id, or ours.
    pub call_id: String,
    /// 1 inbound, 2 outbound.
    pub direction: i64,
    pub source: Option<String>,
    /// Always `click-to-call`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub destination: Option<String>,
    /// `Ringing` or `Answered`.
    pub state: &'static str,
    /// When the call started, local time `YYYY-MM-DD HH:MM:SS`.
    pub created_at: String,
    /// Talked so far, `HH:MM:SS`.
    pub call_time: String,
    pub agent_name: Option<String>,
    pub customer_number: Option<String>,
    pub lead_id: Option<i64>,
    pub provider: String,
}

fn live_view(st: &AppState, r: &CallRow, now: DateTime<Utc>) -> SmartfloLiveCall {
    let c = &r.call;
    SmartfloLiveCall {
        id: c.id,
        call_id: public_call_id(c),
        direction: if c.direction == "inbound" { 1 } else { 2 },
        source: c.from_number.clone(),
        kind: "click-to-call",
        destination: c.to_number.clone(),
        state: to_smartflo_live(c.status()),
        created_at: local(st, &c.started_at),
        call_time: hms(c.talk_seconds(now)),
        agent_name: r.agent_name.clone(),
        customer_number: customer(c),
        lead_id: c.lead_id,
        provider: c.provider.clone(),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/smartflo/live-calls",
    tag = "seed 000: click-to-call",
    summary = "Every live call of the client, as Smartflo lists them (admins)",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "A bare array of live calls", body = [SmartfloLiveCall]), crate::docs::AdminErrors)
)]
pub async fn live_calls(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<Vec<SmartfloLiveCall>>> {
    let f = CallFilter {
        live_only: true,
        ..Default::default()
    };
    let (rows, _) = calls::list(&mut st.db.read().await?, s.client_id(), &f, 1000, 0).await?;
    let now = Utc::now();
    Ok(Json(rows.iter().map(|r| live_view(&st, r, now)).collect()))
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
    responses((status = 200, description = "A page of call detail records", body = SmartfloCallRecords), (status = 400, description = "Missing dates", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn call_records(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Query(q): Query<RecordsQuery>,
) -> ApiResult<Json<SmartfloCallRecords>> {
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
    let results = rows
        .iter()
        .map(|r| {
            let c = &r.call;
            let started = local(&st, &c.started_at);
            SmartfloCallRecord {
                id: c.id,
                call_id: public_call_id(c),
                uuid: c.provider_call_id.clone(),
                direction: c.direction.clone(),
                status: to_smartflo_cdr(c.status()),
                description: format!("Call {}", c.status),
                recording_url: c.recording_url.clone(),
                call_duration: c.duration_secs.unwrap_or(0),
                answered_seconds: c.talk_seconds(c.ended_at.unwrap_or(c.started_at)),
                agent_name: r.agent_name.clone(),
                customer_number: customer(c),
                date: started[..10].to_string(),
                time: started[11..].to_string(),
                end_stamp: c.ended_at.as_ref().map(|t| local(&st, t)),
                hangup_cause: c.hangup_cause.clone(),
                lead_id: c.lead_id,
            }
        })
        .collect();
    Ok(Json(SmartfloCallRecords {
        count: total,
        limit: page.limit,
        page: page.page,
        results,
    }))
}

/// `GET /api/v1/smartflo/call/records`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SmartfloCallRecords {
    /// Finished calls matching, in all pages.
    pub count: u64,
    pub limit: u32,
    pub page: u32,
    /// This page's records, newest first.
    pub results: Vec<SmartfloCallRecord>,
}

/// A finished call's detail record, in Smartflo's shape.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SmartfloCallRecord {
    pub id: i64,
    /// The provider's call id, or ours.
    pub call_id: String,
    /// The provider's call id.
    pub uuid: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `answered`, `missed` or `failed`.
    pub status: &'static str,
    /// `Call <status>`, with the call's status.
    pub description: String,
    pub recording_url: Option<String>,
    /// Seconds, as the provider reported (0 when it did not).
    pub call_duration: i64,
    /// Seconds talked.
    pub answered_seconds: i64,
    pub agent_name: Option<String>,
    pub customer_number: Option<String>,
    /// The day the call started, local `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub date: String,
    /// The time the call started, local `HH:MM:SS`.
    pub time: String,
    /// When the call ended, local time `YYYY-MM-DD HH:MM:SS`.
    pub end_stamp: Option<String>,
    pub hangup_cause: Option<String>,
    pub lead_id: Option<i64>,
}
