//! Seed 004: the voice bot's call log. The bot writes with its key (`x-api-key` or bearer);
//! the dashboard reads with a session or an API key. The bot's own words (`in-progress`,
//! `success`, …) read back as written, while the same calls count in every other surface.

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::call::{from_bot, to_bot};
use switchboard_core::{CallStatus, PageRequest};
use switchboard_store::calls::{self, Call, CallFilter, CallPatch, NewCall};
use switchboard_store::leads::LeadFilter;

use crate::auth::{BotPrincipal, Principal};
use crate::docs::Done;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query, ts};
use crate::routes::export;
use crate::state::AppState;
use crate::telephony::{hang_up, report_status};

/// The bot with its key, or a signed-in admin (who may correct the log by hand). A wrong
/// `x-api-key` is refused even beside an admin's token, as on every other route: a request
/// presenting a bad secret is not let through on another one.
pub struct Writer {
    pub client_id: i64,
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match BotPrincipal::from_request_parts(parts, state).await {
            Ok(b) => Ok(Writer {
                client_id: b.client_id,
            }),
            Err(bot_err) if parts.headers.contains_key("x-api-key") => Err(bot_err),
            Err(bot_err) => match crate::auth::AdminSession::from_request_parts(parts, state).await
            {
                Ok(s) => Ok(Writer {
                    client_id: s.0.client_id(),
                }),
                Err(_) => Err(bot_err),
            },
        }
    }
}

/// The status as the bot log shows it: the bot's own word while it still fits the call.
fn bot_status(c: &Call) -> String {
    status_word_of(c).to_string()
}

/// The id the bot call log names a call by (`callId`): the provider's or bot's id, else ours.
pub fn call_id_of(c: &Call) -> std::borrow::Cow<'_, str> {
    match &c.provider_call_id {
        Some(id) => std::borrow::Cow::Borrowed(id),
        None => std::borrow::Cow::Owned(c.id.to_string()),
    }
}

/// The word the bot call log shows for a call's status: the bot's own while it still fits.
pub fn status_word_of(c: &Call) -> &str {
    let now = to_bot(c.status());
    match c.surface_status.as_deref() {
        Some(w) if from_bot(w).map(to_bot) == Some(now) => w,
        _ => now,
    }
}

/// A call as the bot call log shows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotCall {
    /// Our id, as a string.
    #[serde(rename = "_id")]
    pub mongo_id: String,
    pub id: i64,
    /// The bot's call id (the provider's), or our id as a string when there is none.
    pub call_id: String,
    /// `inbound` or `outbound`.
    #[serde(rename = "type")]
    pub kind: String,
    pub caller: Option<String>,
    pub receiver: Option<String>,
    #[schema(format = DateTime)]
    pub start_time: String,
    #[schema(format = DateTime)]
    pub end_time: Option<String>,
    /// Seconds: as the bot reported, else talked so far (live) or in all (ended).
    pub duration: i64,
    /// The status as the bot wrote it (`in-progress`, `success`, `missed`, `failed`, or another
    /// word the bot uses, as written) while it still fits the call, else the bot's word for the
    /// call's status.
    pub status: String,
    pub transcript: String,
    pub language: Option<String>,
    pub satisfaction: Option<String>,
    pub notes: Option<String>,
    pub recording_url: Option<String>,
    pub lead_id: Option<i64>,
    /// The provider that carried the call (`external` for calls the bot logged).
    pub provider: String,
    /// What the bot attached to the call.
    #[schema(value_type = Object)]
    pub metadata: Value,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

pub fn view(c: &Call) -> BotCall {
    BotCall {
        mongo_id: c.id.to_string(),
        id: c.id,
        call_id: call_id_of(c).into_owned(),
        kind: c.direction.clone(),
        caller: c.from_number.clone(),
        receiver: c.to_number.clone(),
        start_time: ts(&c.started_at),
        end_time: c.ended_at.as_ref().map(ts),
        duration: c
            .duration_secs
            .unwrap_or_else(|| c.talk_seconds(c.ended_at.unwrap_or_else(Utc::now))),
        status: bot_status(c),
        transcript: c.transcript.clone(),
        language: c.language.clone(),
        satisfaction: c.satisfaction.clone(),
        notes: c.notes.clone(),
        recording_url: c.recording_url.clone(),
        lead_id: c.lead_id,
        provider: c.provider.clone(),
        metadata: c.metadata.0.clone(),
        created_at: ts(&c.created_at),
        updated_at: ts(&c.updated_at),
    }
}

/// One call, with what was done to it (logging, updating, terminating).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotCallAnswer {
    /// Always true.
    pub success: bool,
    /// What was done, for people.
    pub message: &'static str,
    pub data: BotCall,
}

impl BotCallAnswer {
    fn new(message: &'static str, c: &Call) -> Self {
        Self {
            success: true,
            message,
            data: view(c),
        }
    }
}

fn time(field: &str, v: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::bad_request(format!("{field} must be an ISO 8601 time, not '{v}'")))
}

fn status_word(v: &str) -> ApiResult<CallStatus> {
    from_bot(v).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown status '{v}' (in-progress, success, failed, missed, …)"
        ))
    })
}

fn text(field: &str, v: &Option<String>, max: usize) -> ApiResult<()> {
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        return Err(ApiError::bad_request(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallBody {
    call_id: Option<String>,
    /// inbound or outbound
    #[serde(rename = "type")]
    kind: Option<String>,
    caller: Option<String>,
    receiver: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    status: Option<String>,
    duration: Option<i64>,
    language: Option<String>,
    transcript: Option<String>,
    satisfaction: Option<String>,
    notes: Option<String>,
    recording_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
}

impl CallBody {
    fn check(&self) -> ApiResult<()> {
        text("callId", &self.call_id, 200)?;
        text("caller", &self.caller, 64)?;
        text("receiver", &self.receiver, 64)?;
        text("language", &self.language, 32)?;
        text("satisfaction", &self.satisfaction, 64)?;
        text("notes", &self.notes, 10_000)?;
        text("recordingUrl", &self.recording_url, 2000)?;
        text("transcript", &self.transcript, 1_000_000)?;
        if let Some(d) = self.duration
            && !(0..=7 * 24 * 3600).contains(&d)
        {
            return Err(ApiError::bad_request(
                "duration must be a number of seconds",
            ));
        }
        if self.metadata.as_ref().is_some_and(|m| !m.is_object()) {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        Ok(())
    }

    fn patch(&self) -> ApiResult<CallPatch> {
        Ok(CallPatch {
            surface_status: self.status.clone(),
            notes: self.notes.clone().map(Some),
            language: self.language.clone().map(Some),
            satisfaction: self.satisfaction.clone().map(Some),
            transcript: self.transcript.clone(),
            recording_url: self.recording_url.clone().map(Some),
            from_number: self.caller.clone().map(Some),
            to_number: self.receiver.clone().map(Some),
            started_at: self
                .start_time
                .as_deref()
                .map(|t| time("startTime", t))
                .transpose()?,
            duration_secs: self.duration,
            metadata: self.metadata.clone(),
        })
    }
}

/// Apply a body to a call: fields first, then the status through the one event path.
async fn write(st: &AppState, call: &Call, b: &CallBody) -> ApiResult<Call> {
    let status = b.status.as_deref().map(status_word).transpose()?;
    let end = b
        .end_time
        .as_deref()
        .map(|t| time("endTime", t))
        .transpose()?;
    let mut tx = st.db.begin().await?;
    calls::update_fields(&mut tx, call.id, &b.patch()?).await?;
    tx.commit().await?;
    let applied = match status {
        Some(s) => Some(
            report_status(
                st,
                call,
                "bot",
                s,
                b.duration,
                if s.is_final() { end } else { None },
            )
            .await?,
        ),
        None => None,
    };
    let now = calls::get(&mut st.db.read().await?, call.client_id, call.id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    // A status that changed the call was told by `report_status`; fields alone are told here.
    if !matches!(applied, Some(calls::Applied::Updated { .. })) {
        crate::events::call_changed(&st.events, &now, now.status());
    }
    Ok(now)
}

/// A call by the bot's `callId` (the provider's id) or by our id.
async fn find(st: &AppState, client_id: i64, id: &str) -> ApiResult<Call> {
    crate::routes::smartflo::find_call(st, client_id, id).await
}

#[utoipa::path(
    post,
    path = "/api/calls",
    tag = "seed 004: bot call log",
    summary = "Log a call (the bot's key); the same callId again updates it",
    security(("apiKey" = []), ("bearerAuth" = [])),
    request_body = CallBody,
    responses((status = 201, description = "Logged", body = BotCallAnswer), (status = 200, description = "Already logged: updated", body = BotCallAnswer), (status = 409, description = "The customer number's lead is already in a live call", body = crate::docs::ErrorBody), crate::docs::AuthErrors)
)]
pub async fn create(
    State(st): State<AppState>,
    w: Writer,
    Json(b): Json<CallBody>,
) -> ApiResult<(StatusCode, Json<BotCallAnswer>)> {
    b.check()?;
    let call_id = b
        .call_id
        .clone()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("callId is required"))?;
    let direction = match b.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => "inbound".to_string(),
        Some(d @ ("inbound" | "outbound")) => d.to_string(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "type must be inbound or outbound, not '{other}'"
            )));
        }
    };
    let status = status_word(b.status.as_deref().unwrap_or("in-progress"))?;
    if let Ok(existing) = find(&st, w.client_id, &call_id).await {
        let call = write(&st, &existing, &b).await?;
        return Ok((
            StatusCode::OK,
            Json(BotCallAnswer::new("Call updated", &call)),
        ));
    }
    let started = b
        .start_time
        .as_deref()
        .map(|t| time("startTime", t))
        .transpose()?
        .unwrap_or_else(switchboard_store::now);
    // The customer's number finds the lead, when it is one of this client's.
    let customer = if direction == "outbound" {
        b.receiver.as_deref()
    } else {
        b.caller.as_deref()
    };
    let lead_id = match customer.and_then(|p| st.phones.normalize(p).ok()) {
        Some(phone) => {
            let f = LeadFilter {
                search: None,
                ..Default::default()
            };
            let mut q = switchboard_store::sql("SELECT leads.id FROM leads");
            f.push_where(&mut q, st.db.backend(), w.client_id);
            q.push(" AND leads.phone = ").push_arg(phone);
            q.fetch_optional::<(i64,)>(&mut st.db.read().await?)
                .await?
                .map(|(id,)| id)
        }
        None => None,
    };
    let new = NewCall {
        client_id: w.client_id,
        provider: calls::BOT.into(),
        provider_call_id: Some(call_id),
        direction,
        from_number: b.caller.clone(),
        to_number: b.receiver.clone(),
        lead_id,
        user_id: None,
        status: CallStatus::Initiated,
        surface_status: b.status.clone(),
        started_at: started,
        language: b.language.clone(),
        metadata: b.metadata.clone().unwrap_or_else(|| json!({})),
        campaign_id: None,
        instance_id: None,
        slots: 0,
    };
    let mut tx = st.db.begin().await?;
    let call = match calls::create(&mut tx, &new).await {
        Ok(c) => c,
        Err(switchboard_store::StoreError::Conflict(_)) => {
            return Err(ApiError::conflict("this lead is already in a live call"));
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    crate::events::call_started(&st.events, &call);
    let b = CallBody {
        status: Some(
            b.status
                .clone()
                .unwrap_or_else(|| to_bot(status).to_string()),
        ),
        ..b
    };
    let call = write(&st, &call, &b).await?;
    Ok((
        StatusCode::CREATED,
        Json(BotCallAnswer::new("Call logged", &call)),
    ))
}

#[utoipa::path(
    patch,
    path = "/api/calls/{id}",
    tag = "seed 004: bot call log",
    summary = "Update a call by its callId (or id): status, end time, duration, transcript, …",
    security(("apiKey" = []), ("bearerAuth" = [])),
    params(("id" = String, Path, description = "callId or id")),
    request_body = CallBody,
    responses((status = 200, description = "Updated", body = BotCallAnswer), crate::docs::AuthErrors)
)]
pub async fn update(
    State(st): State<AppState>,
    w: Writer,
    Path(id): Path<String>,
    Json(b): Json<CallBody>,
) -> ApiResult<Json<BotCallAnswer>> {
    b.check()?;
    let call = find(&st, w.client_id, &id).await?;
    let call = write(&st, &call, &b).await?;
    Ok(Json(BotCallAnswer::new("Call updated", &call)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TranscriptBody {
    /// Text appended to the call's transcript
    #[schema(required = true, value_type = String)]
    transcript: Option<Value>,
}

#[utoipa::path(
    patch,
    path = "/api/calls/{id}/transcript",
    tag = "seed 004: bot call log",
    summary = "Append to a call's transcript",
    security(("apiKey" = []), ("bearerAuth" = [])),
    params(("id" = String, Path, description = "callId or id")),
    request_body = TranscriptBody,
    responses((status = 200, description = "Updated", body = BotTranscript), crate::docs::AuthErrors)
)]
pub async fn transcript(
    State(st): State<AppState>,
    w: Writer,
    Path(id): Path<String>,
    Json(b): Json<TranscriptBody>,
) -> ApiResult<Json<BotTranscript>> {
    let text = match b.transcript {
        Some(Value::String(s)) => s,
        _ => return Err(ApiError::bad_request("transcript (a string) is required")),
    };
    if text.chars().count() > 100_000 {
        return Err(ApiError::bad_request(
            "transcript updates must be at most 100000 characters",
        ));
    }
    let call = find(&st, w.client_id, &id).await?;
    if call.transcript.len() + text.len() > 2_000_000 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "this call's transcript is full (2 MB)",
        ));
    }
    let mut tx = st.db.begin().await?;
    calls::append_transcript(&mut tx, call.id, &text).await?;
    tx.commit().await?;
    let call = calls::get(&mut st.db.read().await?, w.client_id, call.id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    crate::events::transcript_updated(&st.events, &call, &text);
    Ok(Json(BotTranscript {
        success: true,
        message: "Transcript updated",
        data: BotTranscriptData {
            call_id: view(&call).call_id,
            transcript: call.transcript,
        },
    }))
}

/// `PATCH /api/calls/{id}/transcript`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotTranscript {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
    pub data: BotTranscriptData,
}

/// A call's transcript after the update.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotTranscriptData {
    /// The bot's call id (the provider's), or our id as a string when there is none.
    pub call_id: String,
    /// The whole transcript, with the new text appended.
    pub transcript: String,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct LogQuery {
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
    #[param(schema_with = crate::docs::field::bot_call_status)]
    status: Option<String>,
    #[serde(rename = "type")]
    #[param(schema_with = log_kinds)]
    kind: Option<String>,
    /// From (date or ISO time)
    #[serde(alias = "start_date", alias = "from")]
    start_date: Option<String>,
    /// To (date or ISO time)
    #[serde(alias = "end_date", alias = "to")]
    end_date: Option<String>,
    /// One day (YYYY-MM-DD)
    date: Option<String>,
    /// Part of the caller's or receiver's number
    #[serde(alias = "phone")]
    search: Option<String>,
    #[param(schema_with = periods)]
    period: Option<String>,
    #[param(schema_with = export_formats)]
    format: Option<String>,
}

/// The periods of the stats and analytics routes, in hours (`1d` is taken as `24h`).
const PERIODS: [(&str, i64); 5] = [
    ("1h", 1),
    ("6h", 6),
    ("24h", 24),
    ("7d", 24 * 7),
    ("30d", 24 * 30),
];

fn periods() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        PERIODS.map(|(p, _)| p).into_iter().chain(["all"]),
        "Only the calls started in this last period (default `all`).",
    )
}

fn log_kinds() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        ["inbound", "outbound", "all"],
        "The calls' direction (default `all`).",
    )
}

/// The export's file formats; the first is the default.
const FORMATS: [&str; 2] = ["csv", "xlsx"];

fn export_formats() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(FORMATS, "Export: the file's format (default `csv`).")
}

/// The core statuses a bot word covers.
fn statuses_for(word: &str) -> ApiResult<Vec<String>> {
    let s = status_word(word)?;
    let group = to_bot(s);
    Ok(CallStatus::ALL
        .into_iter()
        .filter(|c| to_bot(*c) == group)
        .map(|c| c.as_str().to_string())
        .collect())
}

fn filter(st: &AppState, q: &LogQuery) -> ApiResult<CallFilter> {
    let mut f = CallFilter::default();
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
        f.statuses = match CallStatus::parse(s) {
            Some(core) if !matches!(s, "in-progress") => vec![core.as_str().to_string()],
            _ => statuses_for(s)?,
        };
    }
    match q.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("all") => {}
        Some(d @ ("inbound" | "outbound")) => f.direction = Some(d.to_string()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "type must be inbound or outbound, not '{other}'"
            )));
        }
    }
    if let Some(d) = q.date.as_deref().filter(|d| !d.is_empty()) {
        f.started_from = Some(crate::routes::leads::parse_time("date", d, false)?);
        f.started_to = Some(crate::routes::leads::parse_time("date", d, true)?);
    }
    if let Some(d) = q.start_date.as_deref().filter(|d| !d.is_empty()) {
        f.started_from = Some(crate::routes::leads::parse_time("startDate", d, false)?);
    }
    if let Some(d) = q.end_date.as_deref().filter(|d| !d.is_empty()) {
        f.started_to = Some(crate::routes::leads::parse_time("endDate", d, true)?);
    }
    if q.search.as_ref().is_some_and(|s| s.len() > 64) {
        return Err(ApiError::bad_request(
            "search must be at most 64 characters",
        ));
    }
    if let Some(s) = q.search.as_deref().filter(|s| !s.trim().is_empty()) {
        f.phone_prefixes = st.phones.search_prefixes(s);
        if f.phone_prefixes.is_empty() {
            return Err(ApiError::bad_request(
                "search needs at least 3 digits of a phone number",
            ));
        }
    }
    Ok(f)
}

/// The log counts matches exactly up to this many; past it, `total` is a lower bound (with no
/// filter on PostgreSQL the total is always exact).
const COUNT_CAP: u64 = 10_000;

#[utoipa::path(
    get,
    path = "/api/calls",
    tag = "seed 004: bot call log",
    summary = "The call log: filter by status, type and date, search by phone, paginate",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(LogQuery),
    responses((status = 200, description = "A page of the log", body = BotCallPage), crate::docs::AuthErrors)
)]
pub async fn list(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<BotCallPage>> {
    let f = period_filter(&st, &q)?;
    let page = PageRequest::new(q.page, q.limit);
    let (rows, total) = calls::list_counted(
        &mut st.db.read().await?,
        p.client_id(),
        &f,
        page.limit,
        page.offset(),
        Some(COUNT_CAP),
    )
    .await?;
    Ok(Json(BotCallPage {
        success: true,
        data: rows.iter().map(|r| view(&r.call)).collect(),
        pagination: BotCallPagination {
            page: page.page,
            limit: page.limit,
            total: total.n,
            pages: page.pages(total.n),
            total_is_lower_bound: total.at_least,
        },
    }))
}

/// `GET /api/calls`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotCallPage {
    /// Always true.
    pub success: bool,
    /// The page's calls, newest first.
    pub data: Vec<BotCall>,
    pub pagination: BotCallPagination,
}

/// Where a page of the call log sits.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotCallPagination {
    pub page: u32,
    pub limit: u32,
    /// Calls matching; a lower bound when `totalIsLowerBound`.
    pub total: u64,
    pub pages: u64,
    /// `total` is the count cap (10000), and more calls may match.
    pub total_is_lower_bound: bool,
}

/// The listing filter, starting no earlier than `period` ago (stats and analytics).
fn period_filter(st: &AppState, q: &LogQuery) -> ApiResult<CallFilter> {
    let mut f = filter(st, q)?;
    if let Some(t) = period_start(q)? {
        f.started_from = Some(t);
    }
    Ok(f)
}

fn period_start(q: &LogQuery) -> ApiResult<Option<DateTime<Utc>>> {
    let hours = match q.period.as_deref().unwrap_or("") {
        "" | "all" => return Ok(None),
        "1d" => 24,
        other => match PERIODS.iter().find(|(p, _)| *p == other) {
            Some(&(_, hours)) => hours,
            None => {
                return Err(ApiError::bad_request(format!(
                    "period must be {}, not '{other}'",
                    PERIODS.map(|(p, _)| p).join(", ")
                )));
            }
        },
    };
    Ok(Some(Utc::now() - chrono::Duration::hours(hours)))
}

use switchboard_core::percent as pct;

#[utoipa::path(
    get,
    path = "/api/calls/stats",
    tag = "seed 004: bot call log",
    summary = "Totals: calls, active, successful, failed, missed, success rate, durations",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(LogQuery),
    responses((status = 200, description = "The totals", body = BotStats), crate::docs::AuthErrors)
)]
pub async fn stats(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<BotStats>> {
    let f = period_filter(&st, &q)?;
    let mut conn = st.db.read().await?;
    let c = calls::status_counts(&mut conn, p.client_id(), &f).await?;
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let t = calls::status_counts(
        &mut conn,
        p.client_id(),
        &CallFilter {
            started_from: Some(today),
            ..f.clone()
        },
    )
    .await?;
    use CallStatus::*;
    let successful = c.count(&[Completed]);
    let ended = c.count(&[Completed, Busy, NoAnswer, Failed, Canceled]);
    Ok(Json(BotStats {
        success: true,
        data: BotStatsData {
            total_calls: c.total,
            active_calls: c.count(&[Initiated, Ringing, Answered]),
            successful_calls: successful,
            failed_calls: c.count(&[Failed, Canceled]),
            missed_calls: c.count(&[Busy, NoAnswer]),
            success_rate: pct(successful, ended),
            total_duration: c.total_duration,
            average_duration: if successful > 0 {
                c.total_duration / successful
            } else {
                0
            },
            today_calls: t.total,
        },
    }))
}

/// `GET /api/calls/stats`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotStats {
    /// Always true.
    pub success: bool,
    pub data: BotStatsData,
}

/// Totals over the calls the filter (and period) covers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotStatsData {
    pub total_calls: i64,
    /// Initiated, ringing or answered.
    pub active_calls: i64,
    /// Completed.
    pub successful_calls: i64,
    /// Failed or canceled.
    pub failed_calls: i64,
    /// Busy or not answered.
    pub missed_calls: i64,
    /// Successful calls as a percentage of ended ones, to two decimals.
    pub success_rate: f64,
    /// Seconds, summed over the calls with a duration.
    pub total_duration: i64,
    /// Seconds per successful call (whole seconds; 0 with none).
    pub average_duration: i64,
    /// Calls started today (UTC).
    pub today_calls: i64,
}

#[utoipa::path(
    get,
    path = "/api/calls/active",
    tag = "seed 004: bot call log",
    summary = "Calls live now",
    security(("bearerAuth" = []), ("apiKey" = [])),
    responses((status = 200, description = "The live calls", body = BotActiveCalls), crate::docs::AuthErrors)
)]
pub async fn active(State(st): State<AppState>, p: Principal) -> ApiResult<Json<BotActiveCalls>> {
    let f = CallFilter {
        live_only: true,
        ..Default::default()
    };
    let (rows, total) = calls::list(&mut st.db.read().await?, p.client_id(), &f, 500, 0).await?;
    Ok(Json(BotActiveCalls {
        success: true,
        count: total,
        data: rows.iter().map(|r| view(&r.call)).collect(),
    }))
}

/// `GET /api/calls/active`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotActiveCalls {
    /// Always true.
    pub success: bool,
    /// How many calls are live (`data` holds at most 500 of them).
    pub count: u64,
    /// The live calls, newest first.
    pub data: Vec<BotCall>,
}

#[utoipa::path(
    get,
    path = "/api/calls/analytics",
    tag = "seed 004: bot call log",
    summary = "Success and failure rates, average duration, hourly, language and daily distributions",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(LogQuery),
    responses((status = 200, description = "The analytics", body = BotAnalytics), crate::docs::AuthErrors)
)]
pub async fn analytics(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<BotAnalytics>> {
    let f = period_filter(&st, &q)?;
    let backend = st.db.backend();
    let mut conn = st.db.read().await?;
    let c = calls::status_counts(&mut conn, p.client_id(), &f).await?;
    let hourly = calls::hourly(&mut conn, backend, p.client_id(), &f).await?;
    let daily = calls::daily(&mut conn, backend, p.client_id(), &f).await?;
    let languages = calls::by_language(&mut conn, p.client_id(), &f).await?;
    use CallStatus::*;
    let successful = c.count(&[Completed]);
    let failed = c.count(&[Failed, Canceled]);
    let missed = c.count(&[Busy, NoAnswer]);
    let ended = successful + failed + missed;
    let mut hours = [0i64; 24];
    for (h, n) in hourly {
        if (0..24).contains(&h) {
            hours[h as usize] = n;
        }
    }
    Ok(Json(BotAnalytics {
        success: true,
        data: BotAnalyticsData {
            period: q.period.clone().unwrap_or_else(|| "all".into()),
            total_calls: c.total,
            successful_calls: successful,
            failed_calls: failed,
            missed_calls: missed,
            success_rate: pct(successful, ended),
            failure_rate: pct(failed + missed, ended),
            average_duration: if successful > 0 {
                c.total_duration / successful
            } else {
                0
            },
            hourly_distribution: hours
                .iter()
                .enumerate()
                .map(|(hour, &count)| BotHourCount { hour, count })
                .collect(),
            language_distribution: languages
                .iter()
                .map(|(l, n)| BotLanguageCount {
                    language: l.clone().unwrap_or_else(|| "unknown".into()),
                    count: *n,
                })
                .collect(),
            daily_trends: daily
                .iter()
                .map(|(d, n, a)| BotDayCount {
                    date: d.clone(),
                    total: *n,
                    successful: *a,
                })
                .collect(),
        },
    }))
}

/// `GET /api/calls/analytics`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotAnalytics {
    /// Always true.
    pub success: bool,
    pub data: BotAnalyticsData,
}

/// Rates and distributions over the calls the filter (and period) covers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BotAnalyticsData {
    /// The `period` asked for, as given (`all` when none).
    pub period: String,
    pub total_calls: i64,
    /// Completed.
    pub successful_calls: i64,
    /// Failed or canceled.
    pub failed_calls: i64,
    /// Busy or not answered.
    pub missed_calls: i64,
    /// Successful calls as a percentage of ended ones, to two decimals.
    pub success_rate: f64,
    /// Failed and missed calls as a percentage of ended ones, to two decimals.
    pub failure_rate: f64,
    /// Seconds per successful call (whole seconds; 0 with none).
    pub average_duration: i64,
    /// Calls started in each hour of the day (UTC): always 24 entries, hours 0 to 23.
    pub hourly_distribution: Vec<BotHourCount>,
    /// Calls per language, most first.
    pub language_distribution: Vec<BotLanguageCount>,
    /// Calls per day (UTC), oldest first.
    pub daily_trends: Vec<BotDayCount>,
}

/// Calls started in one hour of the day.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotHourCount {
    /// 0 to 23 (UTC).
    #[schema(maximum = 23)]
    pub hour: usize,
    pub count: i64,
}

/// Calls in one language.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotLanguageCount {
    /// The call's language, `unknown` when none was given.
    pub language: String,
    pub count: i64,
}

/// Calls started on one day.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotDayCount {
    /// The day (UTC), `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub date: String,
    pub total: i64,
    /// Answered or completed.
    pub successful: i64,
}

#[utoipa::path(
    get,
    path = "/api/calls/export",
    tag = "seed 004: bot call log",
    summary = "Export the filtered log as CSV (default) or XLSX",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(LogQuery),
    responses((status = 200, description = "A CSV file (`format=csv`, the default) or an XLSX workbook (`format=xlsx`)", content(
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    )), crate::docs::AuthErrors)
)]
pub async fn export(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> ApiResult<Response> {
    let f = period_filter(&st, &q)?;
    let format = q
        .format
        .clone()
        .unwrap_or_else(|| "csv".into())
        .to_ascii_lowercase();
    if !FORMATS.contains(&format.as_str()) {
        return Err(ApiError::bad_request("format must be csv or xlsx"));
    }
    const COLUMNS: [&str; 12] = [
        "callId",
        "type",
        "caller",
        "receiver",
        "startTime",
        "endTime",
        "duration",
        "status",
        "language",
        "satisfaction",
        "notes",
        "transcript",
    ];
    let cells = |r: &calls::CallRow| {
        let v = view(&r.call);
        let s = |o: Option<String>| o.unwrap_or_default();
        [
            v.call_id,
            v.kind,
            s(v.caller),
            s(v.receiver),
            v.start_time,
            s(v.end_time),
            v.duration.to_string(),
            v.status,
            s(v.language),
            s(v.satisfaction),
            s(v.notes),
            v.transcript,
        ]
    };
    let turn = export::turn(&st).await?;
    let mut conn = st.db.read().await?;
    let client = p.client_id();
    let (tx, rows) = export::rows();
    tokio::spawn(async move {
        let _query = turn.query;
        match calls::export(&mut conn, client, &f).await {
            Ok(found) => export::feed(found, cells, tx).await,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
            }
        }
    });
    export::table_file(&format, "calls", &COLUMNS, rows, turn.download).await
}

#[utoipa::path(
    get,
    path = "/api/calls/{id}",
    tag = "seed 004: bot call log",
    summary = "One call by callId or id, with its event timeline",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = String, Path, description = "callId or id")),
    responses((status = 200, description = "The call and its events", body = BotCallFound), crate::docs::AuthErrors)
)]
pub async fn get(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<BotCallFound>> {
    let call = find(&st, p.client_id(), &id).await?;
    let events = calls::events(&mut st.db.read().await?, call.id).await?;
    Ok(Json(BotCallFound {
        success: true,
        data: BotCallDetail {
            call: view(&call),
            events: events
                .iter()
                .map(|e| BotCallEvent {
                    event: e.event.clone(),
                    status: e.status.clone(),
                    at: ts(&e.occurred_at),
                })
                .collect(),
        },
    }))
}

/// `GET /api/calls/{id}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotCallFound {
    /// Always true.
    pub success: bool,
    pub data: BotCallDetail,
}

/// A call of the log with its event timeline.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotCallDetail {
    #[serde(flatten)]
    pub call: BotCall,
    /// What the providers (and the bot) reported, oldest first.
    pub events: Vec<BotCallEvent>,
}

/// One event of a call's timeline.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BotCallEvent {
    /// The event's name, as its reporter gave it.
    pub event: String,
    /// The call's status the event reported.
    #[schema(schema_with = crate::docs::field::call_status)]
    pub status: String,
    #[schema(format = DateTime)]
    pub at: String,
}

#[utoipa::path(
    delete,
    path = "/api/calls/{id}",
    tag = "seed 004: bot call log",
    summary = "Remove a finished call from the log (admins)",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = String, Path, description = "callId or id")),
    responses((status = 200, description = "Deleted", body = Done), (status = 409, description = "Still live", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn delete(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    if !p.is_admin() {
        return Err(ApiError::forbidden("this needs an admin"));
    }
    let call = find(&st, p.client_id(), &id).await?;
    if call.status().is_live() {
        return Err(ApiError::conflict(
            "this call is still live; terminate it first",
        ));
    }
    let mut tx = st.db.begin().await?;
    calls::soft_delete(&mut tx, p.client_id(), call.id).await?;
    tx.commit().await?;
    Ok(Json(Done::new("Call deleted")))
}

#[utoipa::path(
    post,
    path = "/api/calls/{id}/terminate",
    tag = "seed 004: bot call log",
    summary = "End a live call: through the provider when we placed it, else in the log",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = String, Path, description = "callId or id")),
    responses((status = 200, description = "Terminated (or already ended)", body = BotCallAnswer), (status = 409, description = "The provider has not taken the call yet, or it went through another provider", body = crate::docs::ErrorBody), (status = 502, description = "The provider refused to hang up", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn terminate(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<BotCallAnswer>> {
    if !p.is_admin() {
        return Err(ApiError::forbidden("this needs an admin"));
    }
    let call = find(&st, p.client_id(), &id).await?;
    if call.status().is_final() {
        return Ok(Json(BotCallAnswer::new("Call already ended", &call)));
    }
    let through_provider = call.provider == st.telephony.kind.as_str();
    if through_provider {
        hang_up(&st, &call).await?;
    } else {
        // Not ours to hang up: the log records the end; the bot learns it from its own side.
        report_status(&st, &call, "dashboard", CallStatus::Canceled, None, None).await?;
    }
    let call = calls::get(&mut st.db.read().await?, p.client_id(), call.id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    Ok(Json(BotCallAnswer::new(
        if through_provider {
            "Hang-up sent to the provider"
        } else {
            "Call marked as terminated"
        },
        &call,
    )))
}
