//! Seed 003: campaigns dialed by the server, single calls to a voice bot, concurrency and
//! active channels. Errors in seed 003's shape (`success: false`, `message`, `error`, `code`,
//! `timestamp`). Ids are strings on the wire (the seed's ObjectIds); ours are numbers in them.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::campaign;
use switchboard_store::campaigns::{self, Campaign, NewCampaign};
use switchboard_store::{calls, dialer, now};
use switchboard_telephony::Bridge;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query, ts};
use crate::state::AppState;

/// Seed 003 answers errors as `{"success": false, "message", "error", "code", "timestamp"}`.
pub async fn seed003_shape(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let res = next.run(req).await;
    match res.extensions().get::<ApiError>().cloned() {
        Some(e) => seed003_render(&e),
        None => res,
    }
}

/// An error in seed 003's shape.
pub fn seed003_render(e: &ApiError) -> axum::response::Response {
    let code = e.title().to_ascii_uppercase().replace([' ', '-'], "_");
    e.render(json!({
        "success": false,
        "message": e.message,
        "error": e.title(),
        "code": code,
        "timestamp": ts(&Utc::now()),
    }))
}

pub(crate) fn admin(p: &Principal) -> ApiResult<()> {
    if p.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("this needs an admin or an API key"))
    }
}

/// An id sent as a string (seed 003's ObjectIds) or a number.
pub(crate) fn id_of(v: &Option<Value>, field: &str) -> ApiResult<i64> {
    match v {
        None | Some(Value::Null) => Err(ApiError::bad_request(format!("{field} is required"))),
        Some(v) => crate::extract::parse_id(v, field),
    }
}

fn opt_client(v: &Option<Value>) -> ApiResult<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => crate::extract::parse_id(v, "clientId").map(Some),
    }
}

pub(crate) fn wss(v: &Option<String>) -> ApiResult<String> {
    let u = v
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("wssUrl is required"))?;
    if !(u.starts_with("ws://") || u.starts_with("wss://")) || u.len() > 2000 {
        return Err(ApiError::bad_request(
            "wssUrl must be a WebSocket URL (ws:// or wss://)",
        ));
    }
    Ok(u.to_string())
}

fn heartbeat_status(st: &AppState, c: &Campaign) -> &'static str {
    let stale = chrono::Duration::milliseconds((st.config.dialer.heartbeat_secs * 1500) as i64);
    match c.heartbeat_at {
        Some(h) if c.status == "running" && now() - h <= stale => "active",
        _ => "stale",
    }
}

use switchboard_core::percent as pct;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100, pattern = "\\S")]
    campaign_name: Option<String>,
    #[schema(required = true, schema_with = crate::docs::field::loose_id)]
    list_id: Option<Value>,
    #[schema(required = true, value_type = String, pattern = "\\S")]
    from_number: Option<String>,
    #[schema(required = true, value_type = String, pattern = "^wss?://")]
    wss_url: Option<String>,
    #[schema(schema_with = crate::docs::field::client_id)]
    client_id: Option<Value>,
    /// The campaign's own cap on live calls (default: the client's cap)
    max_concurrent_calls: Option<i64>,
    /// Detect answering machines and hang up on them (their leads are left `MISSED` and
    /// retried by rule); default: the server's `SWITCHBOARD_MACHINE_DETECTION`.
    machine_detection: Option<bool>,
    /// With detection, a message to leave on a machine once its greeting ends (Twilio and
    /// Plivo say it; Smartflo has no detection), at most 1000 characters.
    #[schema(max_length = 1000)]
    voicemail_message: Option<String>,
    /// Record its calls (Twilio, Plivo); default: the server's `SWITCHBOARD_RECORD_CALLS`.
    record_calls: Option<bool>,
}

/// A campaign's message for answering machines as sent (`None` when left out), checked:
/// trimmed, empty meaning none.
pub fn voicemail(m: &Option<String>) -> ApiResult<Option<&str>> {
    m.as_deref()
        .map(campaign::voicemail_message)
        .transpose()
        .map_err(ApiError::bad_request)
}

/// A campaign just created (`POST /plivo/create-campaign`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignCreated {
    /// Always true.
    pub success: bool,
    pub message: String,
    /// The new campaign's id, as a string.
    pub campaign_id: String,
    pub data: CampaignCreatedData,
}

/// The new campaign.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignCreatedData {
    /// The campaign's id, as a string.
    pub campaign_id: String,
    pub campaign_name: String,
    /// The campaign's status (`running` once created).
    #[schema(schema_with = campaign_status)]
    pub status: String,
    /// Leads of the list to call.
    pub total_contacts: i64,
    /// Contacts dialed so far.
    pub current_index: i64,
    /// The owner instance's last heartbeat.
    #[schema(format = DateTime)]
    pub heartbeat: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The campaign's own cap on live calls.
    pub max_concurrent_calls: i64,
    /// Whether its calls detect answering machines (its own choice, or the server's default).
    pub machine_detection: bool,
    /// The message left on answering machines (none: they are hung up on).
    pub voicemail_message: Option<String>,
    /// Whether its calls are recorded (its own choice, or the server's default).
    pub record_calls: bool,
}

#[utoipa::path(
    post,
    path = "/plivo/create-campaign",
    tag = "campaigns",
    summary = "Create and start a campaign over a list; its calls stream to a voice bot",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body(content = CreateBody, description = "`campaignName`, `listId`, `fromNumber`, `wssUrl`, `clientId` (optional), `maxConcurrentCalls` (optional), `machineDetection` (optional), `voicemailMessage` (optional), `recordCalls` (optional)"),
    responses((status = 200, description = "Created and started", body = CampaignCreated), (status = 400, description = "Validation error", body = crate::docs::ErrorBody), (status = 404, description = "No such list", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<CreateBody>,
) -> ApiResult<Json<CampaignCreated>> {
    admin(&p)?;
    let name = campaign::name(b.campaign_name.as_deref().unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    let list_id = id_of(&b.list_id, "listId")?;
    let from = b
        .from_number
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("fromNumber is required"))?;
    let from = st
        .phones
        .normalize(from)
        .map_err(|e| ApiError::bad_request(format!("fromNumber: {e}")))?;
    let wss_url = wss(&b.wss_url)?;
    let voicemail_message = voicemail(&b.voicemail_message)?.filter(|m| !m.is_empty());
    let client = p.scope_client(opt_client(&b.client_id)?)?;
    let client_cap =
        switchboard_store::clients::max_concurrent(&mut st.db.read().await?, client).await?;
    let max = match b.max_concurrent_calls {
        None => client_cap,
        Some(m) => campaign::cap(m).map_err(ApiError::bad_request)?,
    };
    let list = switchboard_store::lists::get(&st.db, client, list_id)
        .await?
        .ok_or_else(|| ApiError::not_found("list"))?;
    let mut tx = st.db.begin().await?;
    let owner = st.config.dialer.engine.then_some(&*st.instance_id);
    let camp = campaigns::create(
        &mut tx,
        &NewCampaign {
            client_id: client,
            name,
            list_id: list.id,
            from_number: &from,
            wss_url: Some(&wss_url),
            max_concurrent: max,
            created_by: p.user_id(),
            owner_instance: owner,
            machine_detection: b.machine_detection,
            voicemail_message,
            record_calls: b.record_calls,
        },
    )
    .await?;
    if camp.total_contacts == 0 {
        return Err(ApiError::bad_request("the list has no leads to call"));
    }
    switchboard_store::audit::record(
        &mut tx,
        switchboard_store::audit::AuditEntry {
            client_id: Some(client),
            user_id: p.user_id(),
            action: "create",
            entity: "campaign",
            entity_id: Some(camp.id),
            detail: json!({ "name": name, "list_id": list.id, "contacts": camp.total_contacts }),
        },
    )
    .await?;
    tx.commit().await?;
    st.wake_dialer();
    let id = camp.id.to_string();
    let detects = camp.detects_machines(st.config.dialer.machine_detection);
    let records = camp.records_calls(st.config.telephony.record_calls);
    Ok(Json(CampaignCreated {
        success: true,
        message: "Campaign created successfully".into(),
        campaign_id: id.clone(),
        data: CampaignCreatedData {
            campaign_id: id,
            campaign_name: camp.name,
            status: camp.status,
            total_contacts: camp.total_contacts,
            current_index: camp.current_index,
            heartbeat: camp.heartbeat_at.as_ref().map(ts),
            created_at: ts(&camp.created_at),
            max_concurrent_calls: camp.max_concurrent,
            machine_detection: detects,
            record_calls: records,
            voicemail_message: camp.voicemail_message,
        },
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseBody {
    #[schema(required = true, schema_with = crate::docs::field::loose_id)]
    campaign_id: Option<Value>,
    paused_by: Option<String>,
}

async fn transition(
    st: &AppState,
    client: i64,
    id: i64,
    from: &[&str],
    to: &str,
    by: Option<&str>,
    refusal: &str,
) -> ApiResult<Campaign> {
    let mut tx = st.db.begin().await?;
    let camp = campaigns::get(&mut tx, client, id)
        .await?
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::NOT_FOUND, refusal.to_string()))?;
    if !campaigns::transition(&mut tx, client, id, from, to, by).await? {
        // Seed 003 lists 400 for every refusal that is not auth or not found.
        return Err(ApiError::bad_request(refusal.to_string()));
    }
    tx.commit().await?;
    st.wake_dialer();
    Ok(camp)
}

/// A campaign paused (`POST /plivo/pause-campaign`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignPaused {
    /// Always true.
    pub success: bool,
    pub message: String,
    /// The campaign's id, as a string.
    pub campaign_id: String,
}

#[utoipa::path(
    post,
    path = "/plivo/pause-campaign",
    tag = "campaigns",
    summary = "Pause a running campaign: no new calls; live calls finish",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body(content = PauseBody, description = "`campaignId`, `pausedBy` (optional)"),
    responses((status = 200, description = "Paused", body = CampaignPaused), (status = 404, description = "Campaign not found", body = crate::docs::ErrorBody), (status = 400, description = "Not running", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn pause(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<PauseBody>,
) -> ApiResult<Json<CampaignPaused>> {
    admin(&p)?;
    let id = id_of(&b.campaign_id, "campaignId")?;
    if b.paused_by
        .as_ref()
        .is_some_and(|s| s.chars().count() > 200)
    {
        return Err(ApiError::bad_request(
            "pausedBy is longer than 200 characters",
        ));
    }
    transition(
        &st,
        p.client_id(),
        id,
        &["running"],
        "paused",
        b.paused_by.as_deref(),
        "Campaign not found or already paused",
    )
    .await?;
    Ok(Json(CampaignPaused {
        success: true,
        message: "Campaign paused successfully".into(),
        campaign_id: id.to_string(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResumeBody {
    #[schema(required = true, schema_with = crate::docs::field::loose_id)]
    campaign_id: Option<Value>,
}

/// A campaign resumed (`POST /plivo/resume-campaign`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignResumed {
    /// Always true.
    pub success: bool,
    pub message: String,
    /// The campaign's id, as a string.
    pub campaign_id: String,
    pub resumed_from: CampaignResumedFrom,
}

/// Where a resumed campaign picks up.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignResumedFrom {
    /// Contacts dialed so far; dialing goes on from here.
    pub current_index: i64,
    pub remaining_contacts: i64,
}

#[utoipa::path(
    post,
    path = "/plivo/resume-campaign",
    tag = "campaigns",
    summary = "Resume a paused campaign from its currentIndex",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body(content = ResumeBody, description = "`campaignId`"),
    responses((status = 200, description = "Resumed, with `resumedFrom`", body = CampaignResumed), (status = 404, description = "Campaign not found", body = crate::docs::ErrorBody), (status = 400, description = "Not paused", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn resume(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<ResumeBody>,
) -> ApiResult<Json<CampaignResumed>> {
    admin(&p)?;
    let id = id_of(&b.campaign_id, "campaignId")?;
    transition(
        &st,
        p.client_id(),
        id,
        &["paused"],
        "running",
        None,
        "Campaign not found or not paused",
    )
    .await?;
    let c = campaigns::get(&mut st.db.read().await?, p.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("campaign"))?;
    Ok(Json(CampaignResumed {
        success: true,
        message: "Campaign resumed successfully".into(),
        campaign_id: id.to_string(),
        resumed_from: CampaignResumedFrom {
            current_index: c.current_index,
            remaining_contacts: (c.total_contacts - c.current_index).max(0),
        },
    }))
}

/// A campaign's progress (`GET /plivo/campaign-progress/{campaignId}`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignProgress {
    /// Always true.
    pub success: bool,
    /// The campaign's id, as a string.
    pub campaign_id: String,
    pub progress: CampaignProgressCounts,
    pub statistics: CampaignProgressStatistics,
    pub timing: CampaignProgressTiming,
    pub container: CampaignProgressContainer,
}

/// How far a campaign has got through its list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignProgressCounts {
    /// running | paused | completed | cancelled | failed
    #[schema(schema_with = campaign_status)]
    pub status: String,
    pub current_index: i64,
    pub total_contacts: i64,
    /// Contacts dialed so far (the same as `currentIndex`).
    pub processed_contacts: i64,
    /// `processedContacts` over `totalContacts`, in percent (two decimals).
    pub progress_percentage: f64,
    pub remaining_contacts: i64,
}

/// A campaign's calls.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignProgressStatistics {
    /// Calls answered.
    pub connected_calls: i64,
    /// Calls that ended without a conversation.
    pub failed_calls: i64,
    pub total_calls_attempted: i64,
    /// Calls in progress.
    pub active_calls: i64,
    /// Mean talk time of answered calls, in seconds (one decimal).
    pub avg_call_duration: f64,
}

/// When a campaign started, paused, resumed, last did something, and should complete.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignProgressTiming {
    #[schema(format = DateTime)]
    pub start_time: String,
    #[schema(format = DateTime)]
    pub paused_at: Option<String>,
    #[schema(format = DateTime)]
    pub resumed_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_activity: String,
    /// From the pace so far while running; the completion time once completed; null otherwise.
    #[schema(format = DateTime)]
    pub estimated_completion: Option<String>,
}

/// The instance that dials a campaign.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignProgressContainer {
    /// The owner instance's id.
    pub container_id: Option<String>,
    /// The owner's last heartbeat.
    #[schema(format = DateTime)]
    pub heartbeat: Option<String>,
    /// `active` when the campaign runs and its heartbeat is fresh, `stale` otherwise.
    pub heartbeat_status: String,
}

#[utoipa::path(
    get,
    path = "/plivo/campaign-progress/{campaignId}",
    tag = "campaigns",
    summary = "A campaign's progress, call statistics, timing (with an estimated completion) and owner",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("campaignId" = i64, Path, description = "The campaign")),
    responses((status = 200, description = "The campaign's progress", body = CampaignProgress), (status = 404, description = "Campaign not found", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn progress(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignProgress>> {
    admin(&p)?;
    let id = crate::extract::parse_id(&json!(id), "campaignId")?;
    let mut rd = st.db.read().await?;
    let c = campaigns::get(&mut rd, p.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("campaign"))?;
    let s = campaigns::call_stats(&mut rd, id).await?;
    drop(rd);
    let processed = c.current_index;
    let remaining = (c.total_contacts - processed).max(0);
    let t = now();
    // From the pace so far (since start or the last resume): remaining × time per contact.
    let estimated = if c.status == "running" && processed > 0 && remaining > 0 {
        let elapsed = (t - c.started_at).num_milliseconds().max(1) as f64;
        let per = elapsed / processed as f64;
        Some(t + chrono::Duration::milliseconds((per * remaining as f64) as i64))
    } else if c.status == "completed" {
        c.completed_at
    } else {
        None
    };
    let hb = heartbeat_status(&st, &c).to_string();
    Ok(Json(CampaignProgress {
        success: true,
        campaign_id: id.to_string(),
        progress: CampaignProgressCounts {
            current_index: c.current_index,
            total_contacts: c.total_contacts,
            processed_contacts: processed,
            progress_percentage: pct(processed, c.total_contacts),
            remaining_contacts: remaining,
            status: c.status,
        },
        statistics: CampaignProgressStatistics {
            connected_calls: s.connected,
            failed_calls: s.failed,
            total_calls_attempted: s.total,
            active_calls: s.live,
            avg_call_duration: (s.avg_duration * 10.0).round() / 10.0,
        },
        timing: CampaignProgressTiming {
            start_time: ts(&c.started_at),
            paused_at: c.paused_at.as_ref().map(ts),
            resumed_at: c.resumed_at.as_ref().map(ts),
            last_activity: ts(&c.last_activity_at),
            estimated_completion: estimated.as_ref().map(ts),
        },
        container: CampaignProgressContainer {
            container_id: c.owner_instance,
            heartbeat: c.heartbeat_at.as_ref().map(ts),
            heartbeat_status: hb,
        },
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct DashboardQuery {
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
    #[param(schema_with = dashboard_statuses)]
    status: Option<String>,
    #[param(schema_with = dashboard_sorts)]
    sort_by: Option<String>,
    #[param(schema_with = crate::docs::field::sort_order)]
    sort_order: Option<String>,
}

const STATUSES: [&str; 5] = ["running", "paused", "completed", "cancelled", "failed"];

/// The dashboard's sort keys and the columns they sort on.
const SORTS: [(&str, &str); 5] = [
    ("createdAt", "created_at"),
    ("campaignName", "name"),
    ("status", "status"),
    ("lastActivity", "last_activity_at"),
    ("totalContacts", "total_contacts"),
];

fn dashboard_sorts() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        SORTS.map(|(key, _)| key),
        "What to sort on; default `createdAt`.",
    )
}

/// A campaign's status.
pub(crate) fn campaign_status() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(STATUSES, "The campaign's status.")
}

fn dashboard_statuses() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(STATUSES, "Only campaigns in this status.")
}

/// What `POST /plivo/dashboard/bulk-operations` does, as the handler matches them.
const BULK_ACTIONS: [&str; 3] = ["pause", "resume", "cancel"];

fn bulk_actions() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(BULK_ACTIONS, "What to do with each campaign.")
}

/// A page of the client's campaigns (`GET /plivo/dashboard/campaigns`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDashboard {
    /// Always true.
    pub success: bool,
    pub campaigns: Vec<CampaignDashboardEntry>,
    pub pagination: CampaignDashboardPagination,
    pub summary: CampaignDashboardSummary,
}

/// A campaign on the dashboard.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDashboardEntry {
    /// The campaign's id, as a string.
    pub campaign_id: String,
    pub campaign_name: String,
    /// running | paused | completed | cancelled | failed
    #[schema(schema_with = campaign_status)]
    pub status: String,
    pub progress: CampaignDashboardProgress,
    pub statistics: CampaignDashboardStatistics,
    pub timing: CampaignDashboardTiming,
    /// `active` when the campaign runs and its heartbeat is fresh, `stale` otherwise.
    pub heartbeat: String,
    /// What `POST /plivo/update-campaign` changes (an addition to seed 003's entry).
    pub settings: CampaignDashboardSettings,
}

/// A campaign's caller id, voice bot and cap on live calls.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDashboardSettings {
    pub from_number: String,
    pub wss_url: Option<String>,
    pub max_concurrent_calls: i64,
    /// Whether its calls detect answering machines (its own choice, or the server's default).
    pub machine_detection: bool,
    /// The message left on answering machines (none: they are hung up on).
    pub voicemail_message: Option<String>,
    /// Whether its calls are recorded (its own choice, or the server's default).
    pub record_calls: bool,
}

/// How far a campaign has got through its list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignDashboardProgress {
    /// `processed` over `total`, in percent (two decimals).
    pub percentage: f64,
    /// Contacts dialed so far.
    pub processed: i64,
    pub total: i64,
}

/// A campaign's calls answered and failed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignDashboardStatistics {
    pub connected: i64,
    pub failed: i64,
}

/// When a campaign was created and last did something.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDashboardTiming {
    #[schema(format = DateTime)]
    pub created: String,
    #[schema(format = DateTime)]
    pub last_activity: String,
}

/// Where the page is.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDashboardPagination {
    pub current_page: u32,
    pub total_pages: u64,
    /// Campaigns that match the filter.
    pub total_campaigns: i64,
    pub has_next: bool,
    pub has_previous: bool,
}

/// The client's campaigns per status (whatever the filter).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDashboardSummary {
    /// Running campaigns.
    pub total_active: i64,
    pub total_paused: i64,
    pub total_completed: i64,
}

#[utoipa::path(
    get,
    path = "/plivo/dashboard/campaigns",
    tag = "campaigns",
    summary = "Campaigns with progress and statistics, paginated, with a summary",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(DashboardQuery),
    responses((status = 200, description = "A page of campaigns, with a summary", body = CampaignDashboard), (status = 400, description = "Bad filter or sort", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn dashboard(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<DashboardQuery>,
) -> ApiResult<Json<CampaignDashboard>> {
    admin(&p)?;
    let page = switchboard_core::PageRequest::new(q.page, q.limit);
    if let Some(s) = &q.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "status must be one of {}",
            STATUSES.join(", ")
        )));
    }
    let wanted = q.sort_by.as_deref().unwrap_or("createdAt");
    let Some(&(_, sort)) = SORTS.iter().find(|(key, _)| *key == wanted) else {
        return Err(ApiError::bad_request(format!(
            "sortBy '{wanted}' is not one of {}",
            SORTS.map(|(key, _)| key).join(", ")
        )));
    };
    let desc = match q.sort_order.as_deref().unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        _ => return Err(ApiError::bad_request("sortOrder must be asc or desc")),
    };
    let client = p.client_id();
    let mut rd = st.db.read().await?;
    let (rows, total) = campaigns::list(
        &mut rd,
        client,
        q.status.as_deref(),
        sort,
        desc,
        i64::from(page.limit),
        page.offset() as i64,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for c in &rows {
        let s = campaigns::call_stats(&mut rd, c.id).await?;
        out.push(CampaignDashboardEntry {
            campaign_id: c.id.to_string(),
            campaign_name: c.name.clone(),
            status: c.status.clone(),
            progress: CampaignDashboardProgress {
                percentage: pct(c.current_index, c.total_contacts),
                processed: c.current_index,
                total: c.total_contacts,
            },
            statistics: CampaignDashboardStatistics {
                connected: s.connected,
                failed: s.failed,
            },
            timing: CampaignDashboardTiming {
                created: ts(&c.created_at),
                last_activity: ts(&c.last_activity_at),
            },
            heartbeat: heartbeat_status(&st, c).to_string(),
            settings: CampaignDashboardSettings {
                from_number: c.from_number.clone(),
                wss_url: c.wss_url.clone(),
                max_concurrent_calls: c.max_concurrent,
                machine_detection: c.detects_machines(st.config.dialer.machine_detection),
                voicemail_message: c.voicemail_message.clone(),
                record_calls: c.records_calls(st.config.telephony.record_calls),
            },
        });
    }
    let counts = campaigns::status_counts(&mut rd, client).await?;
    let count = |s: &str| {
        counts
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let pages = page.pages(total as u64);
    Ok(Json(CampaignDashboard {
        success: true,
        campaigns: out,
        pagination: CampaignDashboardPagination {
            current_page: page.page,
            total_pages: pages,
            total_campaigns: total,
            has_next: u64::from(page.page) < pages,
            has_previous: page.page > 1,
        },
        summary: CampaignDashboardSummary {
            total_active: count("running"),
            total_paused: count("paused"),
            total_completed: count("completed"),
        },
    }))
}

/// Named apart from the leads' bulk body: the document's schemas share one namespace.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CampaignBulkBody)]
#[serde(rename_all = "camelCase")]
pub struct BulkBody {
    #[schema(schema_with = bulk_actions, required = true)]
    action: Option<String>,
    #[schema(required = true, schema_with = crate::docs::field::campaign_ids)]
    campaign_ids: Option<Vec<Value>>,
    reason: Option<String>,
}

/// What a bulk operation did (`POST /plivo/dashboard/bulk-operations`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignBulkResult {
    /// Always true, even when every campaign failed.
    pub success: bool,
    pub results: CampaignBulkResults,
    pub summary: CampaignBulkSummary,
}

/// The campaigns done and those refused.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignBulkResults {
    /// The ids done, as sent (as strings).
    pub successful: Vec<String>,
    pub failed: Vec<CampaignBulkFailure>,
}

/// A campaign a bulk operation could not act on.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignBulkFailure {
    /// The id as sent (as a string).
    pub campaign_id: String,
    /// Why: not a campaign id, not found, or the campaign's status.
    pub error: String,
}

/// How many campaigns were sent, done and refused.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignBulkSummary {
    pub total: usize,
    pub successful: usize,
    pub failed: usize,
}

#[utoipa::path(
    post,
    path = "/plivo/dashboard/bulk-operations",
    tag = "campaigns",
    summary = "Pause, resume or cancel several campaigns; each is reported on its own",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body(content = BulkBody, description = "`action` (pause | resume | cancel), `campaignIds`, `reason` (optional)"),
    responses((status = 200, description = "What happened to each campaign", body = CampaignBulkResult), (status = 400, description = "Bad action or ids", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn bulk(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<BulkBody>,
) -> ApiResult<Json<CampaignBulkResult>> {
    admin(&p)?;
    let (from, to): (&[&str], &str) = match b.action.as_deref() {
        Some("pause") => (&["running"], "paused"),
        Some("resume") => (&["paused"], "running"),
        Some("cancel") => (&["running", "paused"], "cancelled"),
        _ => {
            return Err(ApiError::bad_request(format!(
                "action must be one of {}",
                BULK_ACTIONS.join(", ")
            )));
        }
    };
    let ids = b
        .campaign_ids
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("campaignIds must be a non-empty array"))?;
    if ids.len() > 100 {
        return Err(ApiError::bad_request("at most 100 campaignIds at once"));
    }
    if b.reason.as_ref().is_some_and(|s| s.chars().count() > 500) {
        return Err(ApiError::bad_request(
            "reason is longer than 500 characters",
        ));
    }
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for raw in &ids {
        let shown = match raw {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let Ok(id) = crate::extract::parse_id(raw, "campaignId") else {
            failed.push(CampaignBulkFailure {
                campaign_id: shown,
                error: "not a campaign id".into(),
            });
            continue;
        };
        let mut tx = st.db.begin().await?;
        match campaigns::get(&mut tx, p.client_id(), id).await? {
            None => failed.push(CampaignBulkFailure {
                campaign_id: shown,
                error: "Campaign not found".into(),
            }),
            Some(c) => {
                if campaigns::transition(&mut tx, p.client_id(), id, from, to, b.reason.as_deref())
                    .await?
                {
                    ok.push(shown);
                } else {
                    failed.push(CampaignBulkFailure {
                        campaign_id: shown,
                        error: format!("campaign is {}", c.status),
                    });
                }
            }
        }
        tx.commit().await?;
    }
    st.wake_dialer();
    let summary = CampaignBulkSummary {
        total: ids.len(),
        successful: ok.len(),
        failed: failed.len(),
    };
    Ok(Json(CampaignBulkResult {
        success: true,
        results: CampaignBulkResults {
            successful: ok,
            failed,
        },
        summary,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SingleCallBody {
    #[schema(required = true, value_type = String, pattern = "\\S")]
    from: Option<String>,
    #[schema(required = true, value_type = String, pattern = "\\S")]
    to: Option<String>,
    #[schema(required = true, value_type = String, pattern = "^wss?://")]
    wss_url: Option<String>,
    #[schema(schema_with = crate::docs::field::client_id)]
    client_id: Option<Value>,
    assistant_id: Option<String>,
    custom_prompt: Option<String>,
}

/// A call placed (`POST /plivo/single-call`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignSingleCall {
    /// Always true.
    pub success: bool,
    pub message: String,
    pub data: CampaignSingleCallData,
}

/// The call placed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignSingleCallData {
    /// The provider's id for the call (our id, as a string, until the provider gives one).
    #[serde(rename = "callUUID")]
    pub call_uuid: String,
    /// Our id for the call.
    pub call_id: i64,
    /// The caller id, E.164.
    pub from: String,
    /// The number called, E.164.
    pub to: String,
    /// Always `active`.
    pub status: String,
    #[schema(format = DateTime)]
    pub start_time: String,
}

#[utoipa::path(
    post,
    path = "/plivo/single-call",
    tag = "campaigns",
    summary = "Place one call whose audio streams to a voice bot",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body(content = SingleCallBody, description = "`from`, `to`, `wssUrl`, `clientId`, `assistantId`, `customPrompt` (≤ 1000 characters)"),
    responses((status = 200, description = "The call was placed", body = CampaignSingleCall), (status = 400, description = "Validation error", body = crate::docs::ErrorBody), crate::docs::AdminErrors, crate::docs::CallErrors)
)]
pub async fn single_call(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<SingleCallBody>,
) -> ApiResult<Json<CampaignSingleCall>> {
    admin(&p)?;
    let norm = |v: &Option<String>, field: &str| -> ApiResult<String> {
        let raw = v
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("{field} is required")))?;
        st.phones
            .normalize(raw)
            .map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
    };
    let from = norm(&b.from, "from")?;
    let to = norm(&b.to, "to")?;
    let wss_url = wss(&b.wss_url)?;
    if b.custom_prompt
        .as_ref()
        .is_some_and(|s| s.chars().count() > 1000)
    {
        return Err(ApiError::bad_request(
            "customPrompt is longer than 1000 characters",
        ));
    }
    if b.assistant_id
        .as_ref()
        .is_some_and(|s| s.chars().count() > 100)
    {
        return Err(ApiError::bad_request(
            "assistantId is longer than 100 characters",
        ));
    }
    let client = p.scope_client(opt_client(&b.client_id)?)?;
    let mut parameters = Vec::new();
    if let Some(a) = &b.assistant_id {
        parameters.push(("assistantId".to_string(), a.clone()));
    }
    if let Some(c) = &b.custom_prompt {
        parameters.push(("customPrompt".to_string(), c.clone()));
    }
    let call = crate::telephony::place_call(
        &st,
        crate::telephony::CallRequest {
            client_id: client,
            lead: None,
            to: to.clone(),
            user_id: p.user_id(),
            agent_id: None,
            from: Some(from.clone()),
            bridge: Bridge::Bot {
                wss_url,
                parameters,
            },
            metadata: json!({ "surface": "single-call", "assistantId": b.assistant_id }),
        },
    )
    .await?;
    Ok(Json(CampaignSingleCall {
        success: true,
        message: "Call initiated successfully".into(),
        data: CampaignSingleCallData {
            call_uuid: call
                .provider_call_id
                .clone()
                .unwrap_or_else(|| call.id.to_string()),
            call_id: call.id,
            from,
            to,
            status: "active".into(),
            start_time: ts(&call.started_at),
        },
    }))
}

/// Live calls we placed for a client (or every client), newest first.
async fn live_calls(st: &AppState, client: Option<i64>) -> ApiResult<Vec<calls::Call>> {
    let mut q = switchboard_store::sql(&format!(
        "SELECT {} FROM calls WHERE calls.slots > 0",
        calls::COLUMNS
    ));
    if let Some(c) = client {
        q.push(" AND calls.client_id = ").push_arg(c);
    }
    q.push(" ORDER BY calls.started_at DESC LIMIT 1000");
    Ok(q.fetch_all(&mut st.db.read().await?).await?)
}

/// A live call (`GET /plivo/get-active-channels`, `GET /plivo/monitoring/active-calls`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignLiveCall {
    /// The provider's id for the call (our id, as a string, until the provider gives one).
    #[serde(rename = "callUUID")]
    pub call_uuid: String,
    pub from: Option<String>,
    pub to: Option<String>,
    #[schema(format = DateTime)]
    pub start_time: String,
    /// Seconds since the call started.
    pub duration: i64,
    /// The campaign that placed it, as a string; null for other calls.
    pub campaign_id: Option<String>,
    /// With `includeDetails` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::docs::field::call_status)]
    pub status: Option<String>,
    /// Our id for the call; with `includeDetails` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub call_id: Option<i64>,
    /// The lead called, or null; with `includeDetails` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub lead_id: Option<Option<i64>>,
}

fn call_view(c: &calls::Call, details: bool) -> CampaignLiveCall {
    let t = now();
    CampaignLiveCall {
        call_uuid: c
            .provider_call_id
            .clone()
            .unwrap_or_else(|| c.id.to_string()),
        from: c.from_number.clone(),
        to: c.to_number.clone(),
        start_time: ts(&c.started_at),
        duration: (t - c.started_at).num_seconds().max(0),
        campaign_id: c.campaign_id.map(|i| i.to_string()),
        status: details.then(|| c.status.clone()),
        call_id: details.then_some(c.id),
        lead_id: details.then_some(c.lead_id),
    }
}

/// Slots in use and caps, globally and for a client.
pub struct Usage {
    pub global_active: i64,
    pub global_max: i64,
    pub client_active: i64,
    pub client_max: i64,
}

pub async fn usage(st: &AppState, client: i64) -> ApiResult<Usage> {
    let mut rd = st.db.read().await?;
    let u = dialer::in_use(&mut rd, client, None).await?;
    Ok(Usage {
        global_active: u.global,
        global_max: st.config.dialer.max_concurrent_calls,
        client_active: u.client,
        client_max: switchboard_store::clients::max_concurrent(&mut rd, client).await?,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ChannelsQuery {
    include_calls: Option<bool>,
    #[param(schema_with = crate::docs::field::id_query)]
    client_id: Option<String>,
}

/// Concurrency in use and the live calls (`GET /plivo/get-active-channels`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignActiveChannels {
    /// Always true.
    pub success: bool,
    pub data: CampaignActiveChannelsData,
}

/// Slots in use globally and for the client, and the client's live calls.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignActiveChannelsData {
    /// The whole installation.
    pub global: CampaignChannelUsage,
    /// The client.
    pub client: CampaignChannelUsage,
    /// The client's live calls, newest first; empty unless `includeCalls`.
    pub calls: Vec<CampaignLiveCall>,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// Concurrency slots in use against a cap.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignChannelUsage {
    /// Slots in use (live calls).
    pub active: i64,
    /// The cap.
    pub max: i64,
    /// Slots free.
    pub available: i64,
    /// `active` over `max`, in percent (two decimals).
    pub utilization: f64,
}

impl CampaignChannelUsage {
    fn of(active: i64, max: i64) -> Self {
        Self {
            active,
            max,
            available: (max - active).max(0),
            utilization: pct(active, max),
        }
    }
}

#[utoipa::path(
    get,
    path = "/plivo/get-active-channels",
    tag = "campaigns",
    summary = "Concurrency in use globally and for the client, with the live calls",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(ChannelsQuery),
    responses((status = 200, description = "Concurrency in use and the live calls", body = CampaignActiveChannels), crate::docs::AdminErrors)
)]
pub async fn active_channels(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ChannelsQuery>,
) -> ApiResult<Json<CampaignActiveChannels>> {
    admin(&p)?;
    let requested = match q.client_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(crate::extract::parse_id(&json!(s), "clientId")?),
    };
    let client = p.scope_client(requested)?;
    let u = usage(&st, client).await?;
    let calls = if q.include_calls.unwrap_or(false) {
        live_calls(&st, Some(client))
            .await?
            .iter()
            .map(|c| call_view(c, false))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Json(CampaignActiveChannels {
        success: true,
        data: CampaignActiveChannelsData {
            global: CampaignChannelUsage::of(u.global_active, u.global_max),
            client: CampaignChannelUsage::of(u.client_active, u.client_max),
            calls,
            timestamp: ts(&now()),
        },
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ActiveCallsQuery {
    include_details: Option<bool>,
}

/// Live calls with utilization and limits (`GET /plivo/monitoring/active-calls`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignActiveCalls {
    /// Always true.
    pub success: bool,
    pub monitoring: CampaignActiveCallsMonitoring,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// Utilization, limits and the client's live calls.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CampaignActiveCallsMonitoring {
    pub summary: CampaignActiveCallsSummary,
    pub limits: CampaignActiveCallsLimits,
    /// The client's live calls, newest first.
    pub calls: Vec<CampaignLiveCall>,
}

/// Slots in use, globally and for the client.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignActiveCallsSummary {
    /// Slots in use in the whole installation.
    pub total_active: i64,
    /// Slots the client uses.
    pub client_active: i64,
    /// In percent of the global cap (two decimals).
    pub global_utilization: f64,
    /// In percent of the client's cap (two decimals).
    pub client_utilization: f64,
}

/// The caps and the slots still free under them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignActiveCallsLimits {
    pub client_max: i64,
    pub global_max: i64,
    pub client_available: i64,
    pub global_available: i64,
}

#[utoipa::path(
    get,
    path = "/plivo/monitoring/active-calls",
    tag = "campaigns",
    summary = "Live calls with utilization and limits",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(ActiveCallsQuery),
    responses((status = 200, description = "Live calls with utilization and limits", body = CampaignActiveCalls), crate::docs::AdminErrors)
)]
pub async fn active_calls(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ActiveCallsQuery>,
) -> ApiResult<Json<CampaignActiveCalls>> {
    admin(&p)?;
    let client = p.client_id();
    let u = usage(&st, client).await?;
    let details = q.include_details.unwrap_or(false);
    let calls: Vec<CampaignLiveCall> = live_calls(&st, Some(client))
        .await?
        .iter()
        .map(|c| call_view(c, details))
        .collect();
    Ok(Json(CampaignActiveCalls {
        success: true,
        monitoring: CampaignActiveCallsMonitoring {
            summary: CampaignActiveCallsSummary {
                total_active: u.global_active,
                client_active: u.client_active,
                global_utilization: pct(u.global_active, u.global_max),
                client_utilization: pct(u.client_active, u.client_max),
            },
            limits: CampaignActiveCallsLimits {
                client_max: u.client_max,
                global_max: u.global_max,
                client_available: (u.client_max - u.client_active).max(0),
                global_available: (u.global_max - u.global_active).max(0),
            },
            calls,
        },
        timestamp: ts(&now()),
    }))
}
