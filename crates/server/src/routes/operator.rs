//! Seed 001's operator panel: available leads, claiming, starting and updating calls, call
//! history, availability.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::lead::people_may_edit;
use switchboard_core::{CallStatus, Disposition, LeadStatus, PageRequest, Priority};
use switchboard_store::calls::{self, CallFilter, CallPatch};
use switchboard_store::leads;
use switchboard_store::users::{self, UserPatch};
use switchboard_store::{now, sql};
use utoipa::ToSchema;

use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query, parse_id, ts};
use crate::routes::views::Pagination;
use crate::state::AppState;
use crate::telephony::{agent_calls_lead, report_status};

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailableQuery {
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
    #[param(schema_with = crate::docs::field::priorities)]
    priority: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/operator/leads/available",
    tag = "seed 001: operator",
    summary = "Leads waiting to be claimed, most urgent first",
    security(("bearerAuth" = [])),
    params(AvailableQuery),
    responses((status = 200, description = "One page of leads the operator may claim", body = AvailableLeads), crate::docs::AuthErrors)
)]
pub async fn available(
    State(st): State<AppState>,
    s: Session,
    Query(q): Query<AvailableQuery>,
) -> ApiResult<Json<AvailableLeads>> {
    let page = PageRequest::new(q.page, q.limit);
    let mut priorities = Vec::new();
    for p in q
        .priority
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        priorities.push(
            Priority::parse(p)
                .ok_or_else(|| ApiError::bad_request(format!("unknown priority '{p}'")))?,
        );
    }
    let available = available_to(&s, priorities);
    let mut rd = st.db.read().await?;
    let rows = available.page(&mut rd, page.limit, page.offset()).await?;
    let total = available.total(&mut rd).await?;
    Ok(Json(AvailableLeads {
        leads: rows
            .iter()
            .map(|l| AvailableLead {
                id: l.id,
                phone: l.phone.clone(),
                name: l.name.clone(),
                email: l.email.clone(),
                priority: l.priority.clone(),
                tags: l.tags.0.clone(),
                status: l.status.clone(),
            })
            .collect(),
        pagination: Pagination::new(&page, total),
    }))
}

/// Seed 001's available leads.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailableLeads {
    pub leads: Vec<AvailableLead>,
    pub pagination: Pagination,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailableLead {
    pub id: i64,
    /// E.164.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    #[schema(schema_with = crate::docs::field::priority)]
    pub priority: String,
    pub tags: Vec<String>,
    #[schema(schema_with = crate::docs::field::lead_status)]
    pub status: String,
}

/// The leads seed 001 calls available to the caller.
pub fn available_to(s: &Session, priorities: Vec<Priority>) -> leads::Available {
    leads::Available {
        client_id: s.client_id(),
        user_id: s.user.id,
        priorities,
    }
}

/// A call status as seed 001 names it: its list has no `canceled`, which it calls `failed`.
pub fn seed001_status(status: &str) -> &str {
    match CallStatus::parse(status) {
        Some(CallStatus::Canceled) => CallStatus::Failed.as_str(),
        _ => status,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LeadIdBody {
    #[serde(rename = "leadId", alias = "lead_id")]
    #[schema(required = true, schema_with = crate::docs::field::loose_id)]
    lead_id: Option<Value>,
}

fn lead_id(b: &LeadIdBody) -> ApiResult<i64> {
    parse_id(
        b.lead_id
            .as_ref()
            .ok_or_else(|| ApiError::bad_request("leadId is required"))?,
        "leadId",
    )
}

#[utoipa::path(
    post,
    path = "/api/operator/leads/claim",
    tag = "seed 001: operator",
    summary = "Claim a pending lead (first come, first served)",
    security(("bearerAuth" = [])),
    request_body = LeadIdBody,
    responses((status = 200, description = "The claimed lead", body = ClaimAnswer), (status = 404, description = "No such lead", body = crate::docs::ErrorBody), (status = 409, description = "Already taken", body = crate::docs::ErrorBody), crate::docs::AuthErrors)
)]
pub async fn claim(
    State(st): State<AppState>,
    s: Session,
    Json(b): Json<LeadIdBody>,
) -> ApiResult<Json<ClaimAnswer>> {
    let id = lead_id(&b)?;
    let mut tx = st.db.begin().await?;
    let lead = leads::get(&mut tx, s.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    // One conditional update: of two agents claiming at once, exactly one wins.
    let n = sql(
        "UPDATE leads SET status = 'claimed', assigned_user_id = $1, updated_at = $2 \
                 WHERE id = $3 AND client_id = $4 AND deleted_at IS NULL AND status = 'pending' \
                 AND (assigned_user_id IS NULL OR assigned_user_id = $1)",
    )
    .arg(s.user.id)
    .arg(now())
    .arg(id)
    .arg(s.client_id())
    .execute(&mut tx)
    .await?;
    if n == 0 {
        return Err(ApiError::conflict(format!(
            "lead is not available (status {})",
            lead.status
        )));
    }
    tx.commit().await?;
    if lead.assigned_user_id != Some(s.user.id) {
        let mut claimed = lead.clone();
        claimed.assigned_user_id = Some(s.user.id);
        claimed.status = LeadStatus::Claimed.as_str().into();
        crate::events::lead_assigned(&st.events, &claimed, Some(s.user.id));
    }
    Ok(Json(ClaimAnswer {
        message: "Lead claimed successfully",
        lead: ClaimedLead {
            id: lead.id,
            phone: lead.phone,
            name: lead.name,
            priority: lead.priority,
            status: LeadStatus::Claimed.as_str(),
        },
    }))
}

/// Seed 001's answer to a claim.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimAnswer {
    pub message: &'static str,
    pub lead: ClaimedLead,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimedLead {
    pub id: i64,
    /// E.164.
    pub phone: String,
    pub name: Option<String>,
    #[schema(schema_with = crate::docs::field::priority)]
    pub priority: String,
    /// Always `claimed`.
    pub status: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/operator/calls/start",
    tag = "seed 001: operator",
    summary = "Call a lead the operator has claimed (or an available one, claimed on the way)",
    security(("bearerAuth" = [])),
    request_body = LeadIdBody,
    responses((status = 200, description = "The call", body = StartCallAnswer), (status = 404, description = "No such lead", body = crate::docs::ErrorBody), (status = 409, description = "Lead busy, locked or someone else's", body = crate::docs::ErrorBody), crate::docs::AuthErrors, crate::docs::CallErrors)
)]
pub async fn start_call(
    State(st): State<AppState>,
    s: Session,
    Json(b): Json<LeadIdBody>,
) -> ApiResult<Json<StartCallAnswer>> {
    let id = lead_id(&b)?;
    let lead = leads::get(&mut st.db.read().await?, s.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    if lead.assigned_user_id.is_some_and(|u| u != s.user.id) {
        return Err(ApiError::conflict(
            "this lead is claimed by another operator",
        ));
    }
    people_may_edit(lead.disposition.as_deref().and_then(Disposition::parse))
        .map_err(ApiError::conflict)?;
    if !matches!(lead.status.as_str(), "pending" | "claimed") {
        return Err(ApiError::conflict(format!(
            "lead is {}; only pending or claimed leads can be called",
            lead.status
        )));
    }
    let call = agent_calls_lead(&st, &s, &lead, "operator").await?;
    Ok(Json(StartCallAnswer {
        message: "Call started successfully",
        call: StartedCall {
            id: call.id,
            lead: lead.phone,
            status: seed001_status(&call.status).to_string(),
            twilio_call_sid: call.provider_call_id,
            provider: call.provider,
        },
    }))
}

/// Seed 001's answer to start-call.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartCallAnswer {
    pub message: &'static str,
    pub call: StartedCall,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartedCall {
    pub id: i64,
    /// The number called (E.164).
    pub lead: String,
    #[schema(schema_with = crate::docs::field::call_status)]
    pub status: String,
    /// The provider's id of the call (any provider's, under seed 001's name for it).
    pub twilio_call_sid: Option<String>,
    /// `twilio`, `plivo`, `smartflo` or `simulator`.
    pub provider: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateCallBody {
    #[schema(schema_with = crate::docs::field::call_status_settable)]
    status: Option<String>,
    notes: Option<String>,
    duration: Option<i64>,
}

#[utoipa::path(
    put,
    path = "/api/operator/calls/{id}/update",
    tag = "seed 001: operator",
    summary = "Report a call's status, notes and duration (the operator's own calls)",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "Call id (ours or the provider's)")),
    request_body = UpdateCallBody,
    responses((status = 200, description = "The call", body = UpdateCallAnswer), crate::docs::AdminErrors)
)]
pub async fn update_call(
    State(st): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Json(b): Json<UpdateCallBody>,
) -> ApiResult<Json<UpdateCallAnswer>> {
    let call = crate::routes::smartflo::find_call(&st, s.client_id(), &id).await?;
    if !s.role.is_admin() && call.user_id != Some(s.user.id) {
        return Err(ApiError::forbidden(
            "operators may update only their own calls",
        ));
    }
    let status = b
        .status
        .as_deref()
        .map(|v| CallStatus::parse(v).filter(|s| *s != CallStatus::Canceled).ok_or_else(|| ApiError::bad_request(format!("status must be initiated, ringing, answered, completed, busy, no-answer or failed, not '{v}'"))))
        .transpose()?;
    if let Some(d) = b.duration
        && !(0..=24 * 3600).contains(&d)
    {
        return Err(ApiError::bad_request(
            "duration must be seconds between 0 and 86400",
        ));
    }
    if b.notes.as_ref().is_some_and(|n| n.chars().count() > 5000) {
        return Err(ApiError::bad_request(
            "notes must be at most 5000 characters",
        ));
    }
    if status.is_none() && b.notes.is_none() && b.duration.is_none() {
        return Err(ApiError::bad_request("send status, notes or duration"));
    }
    if let Some(status) = status {
        report_status(&st, &call, "operator", status, b.duration, None).await?;
    }
    let mut tx = st.db.begin().await?;
    calls::update_fields(
        &mut tx,
        call.id,
        &CallPatch {
            notes: b.notes.clone().map(Some),
            duration_secs: b.duration,
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    let c = calls::get(&mut st.db.read().await?, s.client_id(), call.id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    Ok(Json(UpdateCallAnswer {
        message: "Call updated successfully",
        call: UpdatedCall {
            id: c.id,
            status: seed001_status(&c.status).to_string(),
            notes: c.notes,
            duration: c.duration_secs,
            twilio_call_sid: c.provider_call_id,
        },
    }))
}

/// Seed 001's answer to a call update.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateCallAnswer {
    pub message: &'static str,
    pub call: UpdatedCall,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdatedCall {
    pub id: i64,
    #[schema(schema_with = crate::docs::field::call_status)]
    pub status: String,
    pub notes: Option<String>,
    /// Seconds talked, when known.
    pub duration: Option<i64>,
    /// The provider's id of the call.
    pub twilio_call_sid: Option<String>,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
    #[param(schema_with = crate::docs::field::call_status_settable)]
    status: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/operator/calls/history",
    tag = "seed 001: operator",
    summary = "The operator's own calls, newest first",
    security(("bearerAuth" = [])),
    params(HistoryQuery),
    responses((status = 200, description = "One page of the operator's calls, newest first", body = CallHistory), crate::docs::AuthErrors)
)]
pub async fn history(
    State(st): State<AppState>,
    s: Session,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<CallHistory>> {
    let page = PageRequest::new(q.page, q.limit);
    let mut f = CallFilter {
        user_id: Some(s.user.id),
        ..Default::default()
    };
    if let Some(v) = q.status.as_deref().filter(|v| !v.is_empty()) {
        let status = CallStatus::parse(v)
            .filter(|s| *s != CallStatus::Canceled)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status must be initiated, ringing, answered, completed, busy, no-answer or failed, not '{v}'"
                ))
            })?;
        f.statuses.push(status.as_str().into());
        // Seed 001's `failed` covers the calls canceled before anyone answered.
        if status == CallStatus::Failed {
            f.statuses.push(CallStatus::Canceled.as_str().into());
        }
    }
    let (rows, total) = calls::list(
        &mut st.db.read().await?,
        s.client_id(),
        &f,
        page.limit,
        page.offset(),
    )
    .await?;
    Ok(Json(CallHistory {
        calls: rows
            .iter()
            .map(|r| HistoryCall {
                id: r.call.id,
                lead: HistoryLead {
                    id: r.call.lead_id,
                    phone: r.lead_phone.clone().or(r.call.to_number.clone()),
                    name: r.lead_name.clone(),
                    priority: r.lead_priority.clone(),
                },
                status: seed001_status(&r.call.status).to_string(),
                duration: r.call.duration_secs.unwrap_or(0),
                notes: r.call.notes.clone(),
                created_at: ts(&r.call.started_at),
            })
            .collect(),
        pagination: Pagination::new(&page, total),
    }))
}

/// Seed 001's call history.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallHistory {
    pub calls: Vec<HistoryCall>,
    pub pagination: Pagination,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryCall {
    pub id: i64,
    pub lead: HistoryLead,
    #[schema(schema_with = crate::docs::field::call_status)]
    pub status: String,
    /// Seconds talked (0 when unknown).
    pub duration: i64,
    pub notes: Option<String>,
    /// When the call started.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The lead called (its fields are null for a call to a number that is no lead).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryLead {
    pub id: Option<i64>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub priority: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AvailabilityBody {
    #[serde(rename = "isAvailable", alias = "is_available")]
    #[schema(required = true, value_type = bool)]
    is_available: Option<bool>,
}

#[utoipa::path(
    put,
    path = "/api/operator/profile/availability",
    tag = "seed 001: operator",
    summary = "Set whether the operator takes calls",
    security(("bearerAuth" = [])),
    request_body = AvailabilityBody,
    responses((status = 200, description = "The availability now", body = AvailabilityAnswer), crate::docs::AuthErrors)
)]
pub async fn availability(
    State(st): State<AppState>,
    s: Session,
    Json(b): Json<AvailabilityBody>,
) -> ApiResult<Json<AvailabilityAnswer>> {
    let v = b
        .is_available
        .ok_or_else(|| ApiError::bad_request("isAvailable (true or false) is required"))?;
    let mut tx = st.db.begin().await?;
    users::update(
        &mut tx,
        s.user.id,
        &UserPatch {
            is_available: Some(v),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(AvailabilityAnswer {
        message: "Availability updated successfully",
        is_available: v,
    }))
}

/// Seed 001's answer to an availability change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityAnswer {
    pub message: &'static str,
    pub is_available: bool,
}
