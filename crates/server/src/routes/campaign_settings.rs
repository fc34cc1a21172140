//! Changing a campaign once it runs (an extension in seed 003's style: its routes are verbs
//! under `/plivo/`, the campaign named in the body): its name, caller id, voice bot and pace.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_core::campaign;
use switchboard_store::campaigns::{self, CampaignPatch};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, ts};
use crate::routes::campaigns::{admin, campaign_status, id_of, wss};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBody {
    #[schema(required = true, schema_with = crate::docs::field::loose_id)]
    campaign_id: Option<Value>,
    /// A new name (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    campaign_name: Option<String>,
    /// A new caller id for the calls still to place.
    #[schema(pattern = "\\S")]
    from_number: Option<String>,
    /// A new voice bot (`ws://` or `wss://`) for the calls still to place.
    #[schema(pattern = "^wss?://")]
    wss_url: Option<String>,
    /// A new cap on the campaign's live calls (1 to 100000); live calls over it finish.
    #[schema(minimum = 1, maximum = 100000)]
    max_concurrent_calls: Option<i64>,
    /// Detect answering machines on the calls still to place (and hang up on them).
    machine_detection: Option<bool>,
    /// A new message to leave on answering machines (at most 1000 characters; `""` drops it:
    /// they are hung up on).
    #[schema(max_length = 1000)]
    voicemail_message: Option<String>,
    /// Record the calls still to place (Twilio, Plivo).
    record_calls: Option<bool>,
}

/// A campaign as changed (`POST /plivo/update-campaign`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignUpdated {
    /// Always true.
    pub success: bool,
    pub message: String,
    /// The campaign's id, as a string.
    pub campaign_id: String,
    pub data: CampaignSettings,
}

/// A campaign's settings.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignSettings {
    pub campaign_id: String,
    pub campaign_name: String,
    #[schema(schema_with = campaign_status)]
    pub status: String,
    pub from_number: String,
    pub wss_url: Option<String>,
    pub max_concurrent_calls: i64,
    /// Whether its calls detect answering machines (its own choice, or the server's default).
    pub machine_detection: bool,
    /// The message left on answering machines (none: they are hung up on).
    pub voicemail_message: Option<String>,
    /// Whether its calls are recorded (its own choice, or the server's default).
    pub record_calls: bool,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[utoipa::path(
    post,
    path = "/plivo/update-campaign",
    tag = "campaigns",
    summary = "Change a campaign's name, caller id, voice bot, cap on live calls, machine detection or recording",
    description = "Fields left out stay as they are; at least one must be sent. New calls use the \
        new values; calls placed already are left alone (a lower cap lets live calls finish). A \
        campaign that has ended (completed, cancelled, failed) may only be renamed.",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body(content = UpdateBody, description = "`campaignId`, and any of `campaignName`, `fromNumber`, `wssUrl`, `maxConcurrentCalls`, `machineDetection`, `voicemailMessage`, `recordCalls`"),
    responses((status = 200, description = "Changed", body = CampaignUpdated), (status = 400, description = "Validation error, nothing to change, or the campaign has ended", body = crate::docs::ErrorBody), (status = 404, description = "Campaign not found", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn update(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<UpdateBody>,
) -> ApiResult<Json<CampaignUpdated>> {
    admin(&p)?;
    let id = id_of(&b.campaign_id, "campaignId")?;
    let name = b
        .campaign_name
        .as_deref()
        .map(campaign::name)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let from = match &b.from_number {
        None => None,
        Some(f) => Some(
            st.phones
                .normalize(f)
                .map_err(|e| ApiError::bad_request(format!("fromNumber: {e}")))?,
        ),
    };
    let wss_url = match &b.wss_url {
        None => None,
        url => Some(wss(url)?),
    };
    let max = b
        .max_concurrent_calls
        .map(campaign::cap)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let voicemail_message = crate::routes::campaigns::voicemail(&b.voicemail_message)?;
    let patch = CampaignPatch {
        name,
        from_number: from.as_deref(),
        wss_url: wss_url.as_deref(),
        max_concurrent: max,
        machine_detection: b.machine_detection,
        voicemail_message,
        record_calls: b.record_calls,
    };
    let calls_change = from.is_some()
        || wss_url.is_some()
        || max.is_some()
        || b.machine_detection.is_some()
        || voicemail_message.is_some()
        || b.record_calls.is_some();
    if name.is_none() && !calls_change {
        return Err(ApiError::bad_request(
            "nothing to change: send campaignName, fromNumber, wssUrl, maxConcurrentCalls, machineDetection, voicemailMessage or recordCalls",
        ));
    }
    let client = p.client_id();
    let mut tx = st.db.begin().await?;
    let before = campaigns::get(&mut tx, client, id)
        .await?
        .ok_or_else(|| ApiError::not_found("campaign"))?;
    if campaign::has_ended(&before.status) && calls_change {
        return Err(ApiError::bad_request(format!(
            "the campaign has {} and places no more calls: only its name may change",
            before.status
        )));
    }
    let after = campaigns::update(&mut tx, client, id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("campaign"))?;
    let mut changed = Map::new();
    let mut note = |field: &str, old: Value, new: Value| {
        if old != new {
            changed.insert(field.into(), json!([old, new]));
        }
    };
    note("name", json!(before.name), json!(after.name));
    note(
        "from_number",
        json!(before.from_number),
        json!(after.from_number),
    );
    note("wss_url", json!(before.wss_url), json!(after.wss_url));
    note(
        "max_concurrent",
        json!(before.max_concurrent),
        json!(after.max_concurrent),
    );
    note(
        "machine_detection",
        json!(before.machine_detection),
        json!(after.machine_detection),
    );
    note(
        "voicemail_message",
        json!(before.voicemail_message),
        json!(after.voicemail_message),
    );
    note(
        "record_calls",
        json!(before.record_calls),
        json!(after.record_calls),
    );
    switchboard_store::audit::record(
        &mut tx,
        switchboard_store::audit::AuditEntry {
            client_id: Some(client),
            user_id: p.user_id(),
            action: "update",
            entity: "campaign",
            entity_id: Some(id),
            detail: Value::Object(changed),
        },
    )
    .await?;
    tx.commit().await?;
    // A higher cap may let the engine place calls at once.
    st.wake_dialer();
    let detects = after.detects_machines(st.config.dialer.machine_detection);
    let records = after.records_calls(st.config.telephony.record_calls);
    Ok(Json(CampaignUpdated {
        success: true,
        message: "Campaign updated successfully".into(),
        campaign_id: id.to_string(),
        data: CampaignSettings {
            campaign_id: id.to_string(),
            campaign_name: after.name,
            status: after.status,
            from_number: after.from_number,
            wss_url: after.wss_url,
            max_concurrent_calls: after.max_concurrent,
            machine_detection: detects,
            record_calls: records,
            voicemail_message: after.voicemail_message,
            updated_at: ts(&after.updated_at),
        },
    }))
}
