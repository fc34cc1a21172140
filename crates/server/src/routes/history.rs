//! `GET /api/leads/{id}/calls`: one lead's calls, newest first, each with its timeline (every
//! status change and webhook, in order). No seed names it; the dashboard's lead panel reads it.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_core::PageRequest;
use switchboard_store::calls::{self, CallFilter};
use switchboard_store::leads;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query, ts};
use crate::routes::views::Pagination;
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadCallsQuery {
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/leads/{id}/calls",
    tag = "leads",
    summary = "One lead's calls, newest first, each with its events in order",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = i64, Path, description = "Lead id"), LeadCallsQuery),
    responses(
        (status = 200, description = "One page of the lead's calls", body = LeadCalls),
        (status = 404, description = "No such lead", body = crate::docs::ErrorBody),
        crate::docs::AuthErrors,
    )
)]
pub async fn lead_calls(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Query(q): Query<LeadCallsQuery>,
) -> ApiResult<Json<LeadCalls>> {
    let page = PageRequest::new(q.page, q.limit);
    let mut rd = st.db.read().await?;
    leads::get(&mut rd, p.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    let f = CallFilter {
        lead_id: Some(id),
        ..Default::default()
    };
    let (rows, total) = calls::list(&mut rd, p.client_id(), &f, page.limit, page.offset()).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.call.id).collect();
    let mut by_call: std::collections::HashMap<i64, Vec<LeadCallEvent>> = Default::default();
    for (call, e) in calls::events_of(&mut rd, &ids).await? {
        by_call.entry(call).or_default().push(LeadCallEvent {
            event: e.event,
            status: e.status,
            at: ts(&e.occurred_at),
        });
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let c = r.call;
        out.push(LeadCall {
            events: by_call.remove(&c.id).unwrap_or_default(),
            id: c.id,
            call_id: c.provider_call_id,
            provider: c.provider,
            direction: c.direction,
            from_number: c.from_number,
            to_number: c.to_number,
            status: c.status,
            started_at: ts(&c.started_at),
            answered_at: c.answered_at.as_ref().map(ts),
            ended_at: c.ended_at.as_ref().map(ts),
            duration: c.duration_secs,
            hangup_cause: c.hangup_cause,
            recording_url: c.recording_url,
            answered_by: c.answered_by,
            notes: c.notes,
            agent_id: c.user_id,
            agent_name: r.agent_name,
            campaign_id: c.campaign_id,
        });
    }
    Ok(Json(LeadCalls {
        calls: out,
        pagination: Pagination::new(&page, total),
    }))
}

/// `GET /api/leads/{id}/calls`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadCalls {
    pub calls: Vec<LeadCall>,
    pub pagination: Pagination,
}

/// One call to the lead.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadCall {
    pub id: i64,
    /// The provider's id for it (Twilio CallSid, Plivo CallUUID, Smartflo call_id, the bot's
    /// callId).
    pub call_id: Option<String>,
    /// `simulator`, `twilio`, `plivo`, `smartflo`, or `external` (a voice bot's log).
    pub provider: String,
    /// `outbound` or `inbound`.
    pub direction: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    #[schema(schema_with = crate::docs::field::call_status)]
    pub status: String,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub answered_at: Option<String>,
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
    /// Seconds talked, once known.
    pub duration: Option<i64>,
    pub hangup_cause: Option<String>,
    pub recording_url: Option<String>,
    /// Who answered, when answering-machine detection said so: `human`, or a machine
    /// (`machine_start`, `machine_end_beep`, …, `fax`, `machine`); such a call leaves its lead
    /// `MISSED`.
    pub answered_by: Option<String>,
    pub notes: Option<String>,
    /// The agent the call was bridged to or placed by.
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub campaign_id: Option<i64>,
    /// Every status change and webhook of the call, in order.
    pub events: Vec<LeadCallEvent>,
}

/// One step of a call's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadCallEvent {
    /// What happened (`status`, a provider's event name, …).
    pub event: String,
    /// The call's status it brought.
    #[schema(schema_with = crate::docs::field::call_status)]
    pub status: String,
    #[schema(format = DateTime)]
    pub at: String,
}
