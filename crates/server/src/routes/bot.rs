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
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query, ts, ts_opt};
use crate::state::AppState;
use crate::telephony::{hang_up, report_status};

/// The bot with its key, or a signed-in admin (who may correct the log by hand).
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
    let now = to_bot(c.status());
    match c.surface_status.as_deref() {
        Some(w) if from_bot(w).map(to_bot) == Some(now) => w.to_string(),
        _ => now.to_string(),
    }
}

pub fn view(c: &Call) -> Value {
    json!({
        "_id": c.id.to_string(),
        "id": c.id,
        "callId": c.provider_call_id.clone().unwrap_or_else(|| c.id.to_string()),
        "type": c.direction,
        "caller": c.from_number,
        "receiver": c.to_number,
        "startTime": ts(&c.started_at),
        "endTime": ts_opt(&c.ended_at),
        "duration": c.duration_secs.unwrap_or_else(|| c.talk_seconds(c.ended_at.unwrap_or_else(Utc::now))),
        "status": bot_status(c),
        "transcript": c.transcript,
        "language": c.language,
        "satisfaction": c.satisfaction,
        "notes": c.notes,
        "recordingUrl": c.recording_url,
        "leadId": c.lead_id,
        "provider": c.provider,
        "metadata": c.metadata.0,
        "createdAt": ts(&c.created_at),
        "updatedAt": ts(&c.updated_at),
    })
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
    if let Some(s) = status {
        report_status(
            st,
            call,
            "bot",
            s,
            b.duration,
            if s.is_final() { end } else { None },
        )
        .await?;
    }
    calls::get(&mut st.db.read().await?, call.client_id, call.id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))
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
    responses((status = 201, description = "Logged", body = Object), (status = 200, description = "Already logged: updated", body = Object), (status = 409, description = "The customer number's lead is already in a live call", body = crate::docs::ErrorBody), crate::docs::AuthErrors)
)]
pub async fn create(
    State(st): State<AppState>,
    w: Writer,
    Json(b): Json<CallBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
            Json(json!({ "success": true, "message": "Call updated", "data": view(&call) })),
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
        Json(json!({ "success": true, "message": "Call logged", "data": view(&call) })),
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
    responses((status = 200, description = "Updated", body = Object), crate::docs::AuthErrors)
)]
pub async fn update(
    State(st): State<AppState>,
    w: Writer,
    Path(id): Path<String>,
    Json(b): Json<CallBody>,
) -> ApiResult<Json<Value>> {
    b.check()?;
    let call = find(&st, w.client_id, &id).await?;
    let call = write(&st, &call, &b).await?;
    Ok(Json(
        json!({ "success": true, "message": "Call updated", "data": view(&call) }),
    ))
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
    responses((status = 200, description = "Updated", body = Object), crate::docs::AuthErrors)
)]
pub async fn transcript(
    State(st): State<AppState>,
    w: Writer,
    Path(id): Path<String>,
    Json(b): Json<TranscriptBody>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(
        json!({ "success": true, "message": "Transcript updated", "data": { "callId": view(&call)["callId"], "transcript": call.transcript } }),
    ))
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
    responses((status = 200, description = "`data`, `pagination`", body = Object), crate::docs::AuthErrors)
)]
pub async fn list(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({
        "success": true,
        "data": rows.iter().map(|r| view(&r.call)).collect::<Vec<_>>(),
        "pagination": {
            "page": page.page,
            "limit": page.limit,
            "total": total.n,
            "pages": page.pages(total.n),
            "totalIsLowerBound": total.at_least,
        },
    })))
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
    responses((status = 200, description = "`data`", body = Object), crate::docs::AuthErrors)
)]
pub async fn stats(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({
        "success": true,
        "data": {
            "totalCalls": c.total,
            "activeCalls": c.count(&[Initiated, Ringing, Answered]),
            "successfulCalls": successful,
            "failedCalls": c.count(&[Failed, Canceled]),
            "missedCalls": c.count(&[Busy, NoAnswer]),
            "successRate": pct(successful, ended),
            "totalDuration": c.total_duration,
            "averageDuration": if successful > 0 { c.total_duration / successful } else { 0 },
            "todayCalls": t.total,
        }
    })))
}

#[utoipa::path(
    get,
    path = "/api/calls/active",
    tag = "seed 004: bot call log",
    summary = "Calls live now",
    security(("bearerAuth" = []), ("apiKey" = [])),
    responses((status = 200, description = "`data`", body = Object), crate::docs::AuthErrors)
)]
pub async fn active(State(st): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let f = CallFilter {
        live_only: true,
        ..Default::default()
    };
    let (rows, total) = calls::list(&mut st.db.read().await?, p.client_id(), &f, 500, 0).await?;
    Ok(Json(
        json!({ "success": true, "count": total, "data": rows.iter().map(|r| view(&r.call)).collect::<Vec<_>>() }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/calls/analytics",
    tag = "seed 004: bot call log",
    summary = "Success and failure rates, average duration, hourly, language and daily distributions",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(LogQuery),
    responses((status = 200, description = "`data`", body = Object), crate::docs::AuthErrors)
)]
pub async fn analytics(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({
        "success": true,
        "data": {
            "period": q.period.clone().unwrap_or_else(|| "all".into()),
            "totalCalls": c.total,
            "successfulCalls": successful,
            "failedCalls": failed,
            "missedCalls": missed,
            "successRate": pct(successful, ended),
            "failureRate": pct(failed + missed, ended),
            "averageDuration": if successful > 0 { c.total_duration / successful } else { 0 },
            "hourlyDistribution": hours.iter().enumerate().map(|(h, n)| json!({ "hour": h, "count": n })).collect::<Vec<_>>(),
            "languageDistribution": languages.iter().map(|(l, n)| json!({ "language": l.clone().unwrap_or_else(|| "unknown".into()), "count": n })).collect::<Vec<_>>(),
            "dailyTrends": daily.iter().map(|(d, n, a)| json!({ "date": d, "total": n, "successful": a })).collect::<Vec<_>>(),
        }
    })))
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
    let mut conn = st.db.read().await?;
    let mut rows = Vec::new();
    loop {
        let (part, _) = calls::list(&mut conn, p.client_id(), &f, 5000, rows.len() as u64).await?;
        let n = part.len();
        rows.extend(part.into_iter().map(|r| r.call));
        if n < 5000 || rows.len() >= 1_000_000 {
            break;
        }
    }
    drop(conn);
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
    let cells: Vec<[String; 12]> = rows
        .iter()
        .map(|c| {
            let v = view(c);
            let s = |k: &str| match &v[k] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            [
                s("callId"),
                s("type"),
                s("caller"),
                s("receiver"),
                s("startTime"),
                s("endTime"),
                s("duration"),
                s("status"),
                s("language"),
                s("satisfaction"),
                s("notes"),
                s("transcript"),
            ]
        })
        .collect();
    crate::routes::files::table_file(&format, "calls", &COLUMNS, cells).await
}

#[utoipa::path(
    get,
    path = "/api/calls/{id}",
    tag = "seed 004: bot call log",
    summary = "One call by callId or id, with its event timeline",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = String, Path, description = "callId or id")),
    responses((status = 200, description = "`data`", body = Object), crate::docs::AuthErrors)
)]
pub async fn get(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let call = find(&st, p.client_id(), &id).await?;
    let events = calls::events(&mut st.db.read().await?, call.id).await?;
    let mut v = view(&call);
    v["events"] = json!(
        events
            .iter()
            .map(|e| json!({ "event": e.event, "status": e.status, "at": ts(&e.occurred_at) }))
            .collect::<Vec<_>>()
    );
    Ok(Json(json!({ "success": true, "data": v })))
}

#[utoipa::path(
    delete,
    path = "/api/calls/{id}",
    tag = "seed 004: bot call log",
    summary = "Remove a finished call from the log (admins)",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = String, Path, description = "callId or id")),
    responses((status = 200, description = "Deleted", body = Object), (status = 409, description = "Still live", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn delete(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({ "success": true, "message": "Call deleted" })))
}

#[utoipa::path(
    post,
    path = "/api/calls/{id}/terminate",
    tag = "seed 004: bot call log",
    summary = "End a live call: through the provider when we placed it, else in the log",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = String, Path, description = "callId or id")),
    responses((status = 200, description = "Terminated", body = Object), (status = 409, description = "The provider has not taken the call yet, or it went through another provider", body = crate::docs::ErrorBody), (status = 502, description = "The provider refused to hang up", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn terminate(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    if !p.is_admin() {
        return Err(ApiError::forbidden("this needs an admin"));
    }
    let call = find(&st, p.client_id(), &id).await?;
    if call.status().is_final() {
        return Ok(Json(
            json!({ "success": true, "message": "Call already ended", "data": view(&call) }),
        ));
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
    Ok(Json(json!({
        "success": true,
        "message": if through_provider { "Hang-up sent to the provider" } else { "Call marked as terminated" },
        "data": view(&call),
    })))
}
