//! Seed 002: batches of numbers for external dialers and AI agents, their results, and the
//! dialer's retry rules and `explain` (why a lead is or isn't next).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_core::Disposition;
use switchboard_core::dialer::{LeadFacts, Outcome, RetryRule, RetryRules, day_bounds, verdict};
use switchboard_core::lead::LeadStatus;
use switchboard_core::schedule::Schedule;
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::{dialer, leads, now};
use utoipa::ToSchema;

use crate::auth::{AdminSession, DialerPrincipal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query, ts};
use crate::reports::{Number, Report};
use crate::routes::dialer::current;
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// How many numbers (optional; capped by the server; 0 returns none)
    size: Option<String>,
}

fn zone_of(s: &Schedule) -> String {
    s.timezone.name().to_string()
}

/// Active agents of the client (seed 002's `active_agents`).
async fn active_agents(st: &AppState, client_id: i64) -> ApiResult<Vec<ActiveAgent>> {
    let rows: Vec<(i64, String, String, String, Option<String>)> = switchboard_store::sql(
        "SELECT id, username, first_name, last_name, phone_number FROM users \
         WHERE client_id = $1 AND is_active = $2 AND is_available = $2 AND role = 'operator' ORDER BY id",
    )
    .arg(client_id)
    .arg(true)
    .fetch_all(&mut st.db.read().await?)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, first, last, phone)| {
            let full = format!("{first} {last}").trim().to_string();
            ActiveAgent {
                id,
                full_name: if full.is_empty() { username } else { full },
                phone_number: phone,
            }
        })
        .collect())
}

#[utoipa::path(
    get,
    path = "/api/dialer/next-batch",
    tag = "dialer",
    summary = "The next batch of numbers to dial, leased to the caller until reported or expired",
    security(("dialerToken" = [])),
    params(BatchQuery),
    responses(
        (status = 200, description = "`call_allowed: true` with `batch` and `active_agents`, or `call_allowed: false` with `reason` and `retry_after_seconds`", body = NextBatch),
        (status = 400, description = "`size` is not a whole number", body = crate::docs::ErrorBody),
        (status = 401, description = "Missing or invalid dialer token", body = crate::docs::ErrorBody)
    )
)]
pub async fn next_batch(
    State(st): State<AppState>,
    p: DialerPrincipal,
    Query(q): Query<BatchQuery>,
) -> ApiResult<Json<NextBatch>> {
    let cfg = &st.config.dialer;
    let requested: i64 = match q.size.as_deref().map(str::trim) {
        None | Some("") => cfg.batch_size,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::bad_request("size must be a whole number, 0 or more"))?,
    };
    let stored = current(&st, p.client_id).await?;
    let schedule = Schedule::from_doc(&stored.doc).map_err(|_| ApiError::internal())?;
    let t = now();
    let mut body = NextBatch {
        call_allowed: false,
        timezone: zone_of(&schedule),
        server_time: ts(&t),
        schedule_version: stored.version,
        reason: None,
        retry_after_seconds: None,
        active_agents: None,
        batch: None,
    };
    if let Err(closed) = schedule.check(t, None) {
        let retry = match schedule.next_open(t, None) {
            Some(at) => (at - t).num_seconds().max(1),
            // Switched off or never open: ask again in ten minutes.
            None => 600,
        };
        body.reason = Some(closed.as_str());
        body.retry_after_seconds = Some(retry);
        return Ok(Json(body));
    }
    let size = requested.min(cfg.max_batch_size);
    let batch_id = uuid::Uuid::new_v4().to_string();
    let mut numbers = Vec::new();
    if size > 0 {
        let rules = dialer::rules(&mut st.db.read().await?, p.client_id).await?;
        let mut tx = st.db.begin().await?;
        dialer::expire_leases(&mut tx, t).await?;
        let picked =
            switchboard_dialer::claim_queue(&mut tx, p.client_id, size, t, &schedule, &rules)
                .await?;
        let ids: Vec<i64> = picked.iter().map(|c| c.id).collect();
        let until = t + chrono::Duration::seconds(cfg.lease_secs);
        dialer::mark_calling(&mut tx, &ids, Some((&batch_id, until))).await?;
        dialer::create_batch(
            &mut tx,
            &batch_id,
            p.client_id,
            (p.key_id > 0).then_some(p.key_id),
            requested,
            ids.len() as i64,
            until,
        )
        .await?;
        tx.commit().await?;
        metrics::counter!(crate::metrics::NUMBERS_HANDED_OUT).increment(ids.len() as u64);
        numbers = picked
            .iter()
            .map(|c| BatchNumber {
                id: c.id,
                phone_number: c.phone.clone(),
            })
            .collect();
    }
    body.call_allowed = true;
    body.active_agents = Some(active_agents(&st, p.client_id).await?);
    body.batch = Some(Batch {
        batch_id,
        size_requested: requested,
        size_returned: numbers.len(),
        numbers,
    });
    Ok(Json(body))
}

/// Seed 002's answer to `next-batch`: numbers to dial, or why not now.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextBatch {
    /// Whether the caller may dial now. When false, ask again after `retry_after_seconds`.
    pub call_allowed: bool,
    /// The schedule's IANA time zone.
    pub timezone: String,
    #[schema(format = DateTime)]
    pub server_time: String,
    /// Changes whenever the schedule does.
    pub schedule_version: i64,
    /// Why not now (`call_allowed: false` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = closed_reason)]
    pub reason: Option<&'static str>,
    /// When to ask again (`call_allowed: false` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub retry_after_seconds: Option<i64>,
    /// Operators signed in and available (`call_allowed: true` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub active_agents: Option<Vec<ActiveAgent>>,
    /// The numbers leased to the caller (`call_allowed: true` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub batch: Option<Batch>,
}

fn closed_reason() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        switchboard_core::schedule::Closed::ALL.map(|c| c.as_str()),
        "Why not now (`call_allowed: false` only).",
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveAgent {
    pub id: i64,
    pub full_name: String,
    pub phone_number: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Batch {
    /// Names the lease; the numbers go back to the queue if not reported before it ends.
    pub batch_id: String,
    pub size_requested: i64,
    /// At most the server's largest batch; fewer when fewer numbers are due.
    pub size_returned: usize,
    pub numbers: Vec<BatchNumber>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchNumber {
    /// The number's id (its lead's), for `report-result`.
    pub id: i64,
    /// E.164.
    pub phone_number: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReportBody {
    #[schema(schema_with = crate::docs::field::loose_id_or_null)]
    number_id: Option<Value>,
    phone_number: Option<String>,
    #[schema(schema_with = crate::docs::field::disposition, required = true)]
    status: Option<String>,
    reason: Option<String>,
    attempted_at: Option<String>,
    call_allowed: Option<bool>,
    #[schema(schema_with = crate::docs::field::loose_id_or_null)]
    agent_id: Option<Value>,
    agent_phone: Option<String>,
    user_message: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/dialer/report-result",
    tag = "dialer",
    summary = "Report one number's call result: status, attempt log, agent, latest note, and optionally the global switch",
    security(("dialerToken" = [])),
    request_body(content = ReportBody, description = "`number_id` (optional), `phone_number`, `status`, `reason`, `attempted_at`, `call_allowed`, `agent_id`, `agent_phone`, `user_message`"),
    responses(
        (status = 200, description = "The number as it is now", body = ReportAnswer),
        (status = 400, description = "Missing or invalid field", body = crate::docs::ErrorBody),
        (status = 401, description = "Missing or invalid dialer token", body = crate::docs::ErrorBody),
        (status = 404, description = "No such number", body = crate::docs::ErrorBody)
    )
)]
pub async fn report_result(
    State(st): State<AppState>,
    p: DialerPrincipal,
    Json(b): Json<ReportBody>,
) -> ApiResult<Json<ReportAnswer>> {
    let status_text = b
        .status
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("status is required"))?;
    let disposition = Disposition::parse(status_text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "status '{status_text}' is not one of CONNECTED, FAILED, NOT_INTERESTED, MISSED, HANGUP, DISCONNECTED, BUSY, POWER_OFF, BANNED, UNKNOWN"
        ))
    })?;
    let number_id = match &b.number_id {
        None | Some(Value::Null) => None,
        Some(v) => Some(crate::extract::parse_id(v, "number_id")?),
    };
    let attempted_at: DateTime<Utc> = match b.attempted_at.as_deref() {
        None | Some("") => now(),
        Some(s) => crate::extract::parse_iso8601(s).ok_or_else(|| {
            ApiError::bad_request("attempted_at must be an ISO 8601 timestamp with a time zone")
        })?,
    };
    for (field, v) in [("reason", &b.reason), ("user_message", &b.user_message)] {
        if v.as_ref().is_some_and(|s| s.chars().count() > 5000) {
            return Err(ApiError::bad_request(format!(
                "{field} is longer than 5000 characters"
            )));
        }
    }
    let raw_phone = b
        .phone_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let normalize = |raw: &str| {
        st.phones
            .normalize(raw)
            .map_err(|e| ApiError::bad_request(format!("phone_number: {e}")))
    };
    // Both given: they must name the same number (the lead is found by id, and must have this
    // phone), so that a result is never written onto a number the dialer did not call. A
    // dialer echoes the E.164 form next-batch gave it: compared as sent, and normalized (a
    // costly parse) only when that form finds nothing.
    let (number, phone_check, as_sent) = match (number_id, raw_phone) {
        (Some(id), Some(raw)) if switchboard_core::phone::looks_e164(raw) => {
            (Number::Id(id), Some(raw.to_string()), true)
        }
        (Some(id), Some(raw)) => (Number::Id(id), Some(normalize(raw)?), false),
        (Some(id), None) => (Number::Id(id), None, false),
        (None, Some(raw)) => (Number::Phone(normalize(raw)?), None, false),
        (None, None) => return Err(ApiError::bad_request("phone_number is required")),
    };
    let checked = phone_check.is_some();
    let agent = agent_of(&st, p.client_id, &b).await?;
    let report = Report {
        client_id: p.client_id,
        key_id: p.key_id,
        number,
        phone_check,
        disposition,
        attempted_at,
        agent,
        agent_phone: b.agent_phone,
        reason: b.reason,
        user_message: b.user_message,
        call_allowed: b.call_allowed,
    };
    let stopped = |e: String| {
        tracing::error!(error = %e, "could not store a dialer report");
        ApiError::internal()
    };
    // Kept only for a second look at a phone sent in E.164 form.
    let retry = as_sent.then(|| report.clone());
    let mut done = st.reporter.report(report).await.map_err(stopped)?;
    if done.is_none()
        && let Some(report) = retry
        && let Some(raw) = raw_phone
        && let Ok(n) = st.phones.normalize(raw)
        && n != raw
    {
        let again = Report {
            phone_check: Some(n),
            ..report
        };
        done = st.reporter.report(again).await.map_err(stopped)?;
    }
    let outcome = match &done {
        None => "unknown_number",
        Some(d) if d.duplicate => "repeat",
        Some(_) => "written",
    };
    metrics::counter!(crate::metrics::REPORTS, "outcome" => outcome).increment(1);
    let done = done.ok_or_else(|| match (number_id, checked) {
        (Some(id), true) => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!(
                "number {id} not found with this phone_number: no such number, or number_id and phone_number name different numbers"
            ),
        ),
        _ => ApiError::not_found("number"),
    })?;
    let lead = done.lead;
    Ok(Json(ReportAnswer {
        success: true,
        duplicate: done.duplicate,
        number: ReportedNumberView {
            id: lead.id,
            phone_number: lead.phone,
            status: lead.disposition.unwrap_or_else(|| "IN_QUEUE".into()),
            lead_status: lead.status,
            attempts: lead.attempts,
            next_attempt_at: lead.next_attempt_at.as_ref().map(ts),
            assigned_user_id: lead.assigned_user_id,
            last_user_message: lead.notes,
        },
        call_allowed: done.call_allowed,
        schedule_version: done.schedule_version,
    }))
}

/// Seed 002's answer to `report-result`: the number as it is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAnswer {
    /// Always true.
    pub success: bool,
    /// The same report was already taken (same number, status and time): nothing changed.
    pub duplicate: bool,
    pub number: ReportedNumberView,
    /// Whether the dialer is enabled (a report may switch it).
    pub call_allowed: bool,
    pub schedule_version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportedNumberView {
    pub id: i64,
    /// E.164.
    pub phone_number: String,
    /// The number's disposition (`IN_QUEUE` when it has none).
    #[schema(schema_with = crate::docs::field::disposition_shown)]
    pub status: String,
    /// Where its lead is in its life.
    #[schema(schema_with = crate::docs::field::lead_status)]
    pub lead_status: String,
    pub attempts: i64,
    /// When it is due again, if it will be.
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    pub assigned_user_id: Option<i64>,
    pub last_user_message: Option<String>,
}

/// The agent a report names: by id, else by phone; a 400 when it is no user of the client.
async fn agent_of(st: &AppState, client_id: i64, b: &ReportBody) -> ApiResult<Option<i64>> {
    match (&b.agent_id, b.agent_phone.as_deref()) {
        (Some(v), _) if !v.is_null() => {
            let id = crate::extract::parse_id(v, "agent_id")?;
            let found: Option<(i64,)> =
                switchboard_store::sql("SELECT id FROM users WHERE id = $1 AND client_id = $2")
                    .arg(id)
                    .arg(client_id)
                    .fetch_optional(&mut st.db.read().await?)
                    .await?;
            Ok(Some(
                found
                    .ok_or_else(|| ApiError::bad_request(format!("agent_id {id} is not a user")))?
                    .0,
            ))
        }
        (_, Some(phone)) if !phone.trim().is_empty() => {
            let wanted = st.phones.normalize(phone).ok();
            let users: Vec<(i64, Option<String>)> = switchboard_store::sql(
                "SELECT id, phone_number FROM users WHERE client_id = $1 AND phone_number IS NOT NULL ORDER BY id",
            )
            .arg(client_id)
            .fetch_all(&mut st.db.read().await?)
            .await?;
            let hit = users.into_iter().find(|(_, ph)| {
                let ph = ph.as_deref().unwrap_or_default();
                ph.trim() == phone.trim()
                    || (wanted.is_some() && st.phones.normalize(ph).ok() == wanted)
            });
            Ok(Some(
                hit.ok_or_else(|| {
                    ApiError::bad_request(format!("agent_phone {phone} is not a user's phone"))
                })?
                .0,
            ))
        }
        _ => Ok(None),
    }
}

fn rules_view(r: &RetryRules) -> RulesView {
    let rule = |o: Outcome| r.retry.get(&o).copied();
    RulesView {
        retry: RetrySet {
            busy: rule(Outcome::Busy),
            no_answer: rule(Outcome::NoAnswer),
            power_off: rule(Outcome::PowerOff),
            failed: rule(Outcome::Failed),
        },
        max_attempts_per_day: r.max_attempts_per_day,
        wrapup_seconds: r.wrapup_seconds,
    }
}

/// New retry rules. What is left out keeps its default (`{}` restores all the defaults).
///
/// The document's description of what the core reads (`RetryRules::from_json`); the API test
/// `documented_limits_are_the_servers` holds the two to the same limits.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RulesBody {
    #[serde(default)]
    #[schema(nullable = false)]
    retry: Option<RetrySet>,
    /// Attempts per lead per day (null: keep the default).
    #[schema(minimum = 1, maximum = 1000)]
    max_attempts_per_day: Option<i64>,
    /// Seconds an agent has after a call before the call queue bridges the next (null: the
    /// default, 0).
    #[schema(minimum = 0, maximum = 3600)]
    wrapup_seconds: Option<i64>,
}

/// When a lead is dialed again after each outcome, and how often a day.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesView {
    pub retry: RetrySet,
    /// Attempts per lead per day (in the lead's time zone), whatever the outcomes.
    pub max_attempts_per_day: i64,
    /// Seconds an agent has after a call ends before the call queue bridges them the next.
    pub wrapup_seconds: i64,
}

/// The rule for each outcome that may be retried (answered: all four; sent: those to change).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RetrySet {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub busy: Option<RetryRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub no_answer: Option<RetryRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub power_off: Option<RetryRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failed: Option<RetryRule>,
}

#[utoipa::path(
    get,
    path = "/api/dialer/rules",
    tag = "dialer",
    summary = "Retry rules per outcome (delay and max attempts) and the daily cap per lead",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The rules", body = RulesView), crate::docs::AdminErrors)
)]
pub async fn get_rules(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<RulesView>> {
    let r = dialer::rules(&mut st.db.read().await?, s.client_id()).await?;
    Ok(Json(rules_view(&r)))
}

#[utoipa::path(
    put,
    path = "/api/dialer/rules",
    tag = "dialer",
    summary = "Set retry rules; outcomes left out keep their defaults",
    security(("bearerAuth" = [])),
    request_body(content = RulesBody, description = "`{\"retry\": {\"busy\": {\"delay_seconds\": 300, \"max_attempts\": 3}, \"no-answer\": …, \"power-off\": …, \"failed\": …}, \"max_attempts_per_day\": 3, \"wrapup_seconds\": 30}`"),
    responses((status = 200, description = "The rules now in force", body = RulesView), (status = 400, description = "Unknown outcome or value out of range", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn put_rules(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(body): Json<Value>,
) -> ApiResult<Json<RulesView>> {
    if !body.is_object() {
        return Err(ApiError::bad_request("the rules must be a JSON object"));
    }
    let r = RetryRules::from_json(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid rules: {e}")))?;
    let mut tx = st.db.begin().await?;
    dialer::put_rules(&mut tx, s.client_id(), &r).await?;
    // Leads held back for the old daily cap are judged again under the new one.
    dialer::release_cap_holds(&mut tx, s.client_id()).await?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(s.client_id()),
            user_id: Some(s.user.id),
            action: "update",
            entity: "dialer_rules",
            entity_id: None,
            detail: json!(rules_view(&r)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(rules_view(&r)))
}

#[utoipa::path(
    get,
    path = "/api/dialer/explain/{lead_id}",
    tag = "dialer",
    summary = "Why this lead is or isn't next: window, holiday, do-not-call, cap, retry delay, paused, claimed — and when it will be dialable",
    security(("bearerAuth" = [])),
    params(("lead_id" = i64, Path, description = "The lead")),
    responses((status = 200, description = "`dialable`, `reasons`, `dialable_at`", body = Explanation), (status = 404, description = "No such lead in your client", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn explain(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Explanation>> {
    let id = crate::extract::parse_id(&json!(id), "lead_id")?;
    let client = s.client_id();
    let mut rd = st.db.read().await?;
    let lead: Option<switchboard_store::leads::Lead> = switchboard_store::sql(&format!(
        "SELECT {} FROM leads WHERE leads.client_id = $1 AND leads.id = $2",
        leads::COLUMNS
    ))
    .arg(client)
    .arg(id)
    .fetch_optional(&mut rd)
    .await?;
    let lead = lead.ok_or_else(|| ApiError::not_found("lead"))?;
    let extra: (Option<DateTime<Utc>>, Option<String>, Option<String>, bool) =
        switchboard_store::sql(&format!(
            "SELECT leased_until, batch_id, wait_reason, {} FROM leads WHERE id = $1",
            switchboard_store::leads::kept_for_agent_sql("leads")
        ))
        .arg(id)
        .fetch_one(&mut rd)
        .await?;
    let settings = dialer::settings(&mut rd, client).await?;
    let on_dnc = switchboard_store::dnc::is_blocked(&mut rd, client, &lead.phone).await?;
    let live: Option<(i64,)> = switchboard_store::sql(
        "SELECT id FROM calls WHERE lead_id = $1 AND status IN ('initiated', 'ringing', 'answered')",
    )
    .arg(id)
    .fetch_optional(&mut rd)
    .await?;
    drop(rd);
    let stored = current(&st, client).await?;
    let schedule = Schedule::from_doc(&stored.doc).map_err(|_| ApiError::internal())?;
    let t = now();
    let (tz, zone_source) = schedule.lead_zone(lead.timezone.as_deref(), &lead.phone, t);
    let (day_start, _) = day_bounds(t, tz.unwrap_or(schedule.timezone));
    let today = dialer::attempts_since(&mut st.db.read().await?, &[id], day_start)
        .await?
        .len() as i64;
    let facts = LeadFacts {
        status: LeadStatus::parse(&lead.status).unwrap_or(LeadStatus::Pending),
        disposition: lead.disposition.as_deref().and_then(Disposition::parse),
        deleted: lead.deleted_at.is_some(),
        attempts: lead.attempts,
        last_attempt_at: lead.last_attempt_at,
        // A hold for the window or the daily cap is shown as that reason, not as a retry delay.
        next_attempt_at: lead
            .next_attempt_at
            .filter(|_| !matches!(extra.2.as_deref(), Some("window") | Some("cap"))),
        callback: lead.callback_at().is_some(),
        kept_for_agent: extra.3,
        timezone: tz,
        on_dnc,
        in_live_call: live.is_some(),
        leased_until: extra.0,
        attempts_today: today,
        queue_running: settings.queue_running,
    };
    let v = verdict(&facts, &schedule, &settings.rules, t);
    Ok(Json(Explanation {
        lead_id: lead.id,
        phone: lead.phone,
        status: lead.status,
        disposition: lead.disposition,
        priority: lead.priority,
        attempts: lead.attempts,
        attempts_today: today,
        timezone: tz
            .map(|z| z.name())
            .unwrap_or(schedule.timezone.name())
            .to_string(),
        timezone_source: zone_source.as_str(),
        dialable: v.dialable,
        dialable_at: v.dialable_at.as_ref().map(ts),
        reasons: v
            .blockers
            .iter()
            .map(|b| Blocked {
                code: b.code,
                message: b.message.clone(),
                until: b.until.as_ref().map(ts),
            })
            .collect(),
        batch_id: extra.1,
        live_call_id: live.map(|l| l.0),
        schedule_version: stored.version,
        checked_at: ts(&t),
    }))
}

/// Whether the dialer would hand a lead out now, and every reason it would not.
#[derive(Debug, Serialize, ToSchema)]
pub struct Explanation {
    pub lead_id: i64,
    /// E.164.
    pub phone: String,
    #[schema(schema_with = crate::docs::field::lead_status)]
    pub status: String,
    /// Null when it has none (in the queue).
    pub disposition: Option<String>,
    #[schema(schema_with = crate::docs::field::priority)]
    pub priority: String,
    /// In all.
    pub attempts: i64,
    /// Since midnight in `timezone`.
    pub attempts_today: i64,
    /// The zone the lead's window and day are reckoned in: its own, else its number's, else
    /// the schedule's.
    pub timezone: String,
    /// Where `timezone` came from.
    #[schema(schema_with = zone_source)]
    pub timezone_source: &'static str,
    pub dialable: bool,
    /// When every reason has lifted, if they all lift by themselves.
    #[schema(format = DateTime)]
    pub dialable_at: Option<String>,
    /// Every reason it is not dialable now (empty when it is).
    pub reasons: Vec<Blocked>,
    /// The batch it is leased to, if any.
    pub batch_id: Option<String>,
    /// Its call in progress, if any.
    pub live_call_id: Option<i64>,
    pub schedule_version: i64,
    #[schema(format = DateTime)]
    pub checked_at: String,
}

/// One reason a lead is not dialable.
#[derive(Debug, Serialize, ToSchema)]
pub struct Blocked {
    /// A stable code for programs.
    pub code: &'static str,
    /// The reason, for people.
    pub message: String,
    /// When it lifts by itself, if it does.
    #[schema(format = DateTime)]
    pub until: Option<String>,
}

fn zone_source() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        ["lead", "number", "schedule"],
        "`lead`: its own `timezone`; `number`: its phone number's (the area code's in North America, the country's elsewhere); `schedule`: the calling schedule's.",
    )
}
