//! Seed 003's read-only monitoring: the dashboard's statistics and failure analysis, system
//! utilization and call analytics (`/plivo/*`, admins and API keys, errors in seed 003's shape),
//! and the public health routes (`/health/*`). Every number is read from the database or from
//! this process; the choices behind each one are listed in `docs/compat.md` ("Seed 003
//! monitoring and health").

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use switchboard_store::calls::{self, CallFilter};
use switchboard_store::{AsExec, Backend, Sql, StoreError, dialer, now, sql};
use switchboard_telephony::ProviderKind;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query, ts};
use crate::routes::campaigns::usage;
use crate::state::AppState;

/// Calls still in progress.
const LIVE: [&str; 3] = ["initiated", "ringing", "answered"];
/// Calls that ended without a conversation (the campaigns' "failed").
const FAILED: [&str; 4] = ["busy", "no-answer", "failed", "canceled"];

/// The failure reason of calls an answering machine took.
const MACHINE_REASON: &str = "answering machine";

use crate::routes::campaigns::admin;

use switchboard_core::percent as pct;

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Midnight (UTC) starting day `d`.
fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

/// healthy < warning < critical; a whole is as bad as its worst part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Healthy,
    Warning,
    Critical,
}

impl Level {
    const ALL: [Level; 3] = [Level::Healthy, Level::Warning, Level::Critical];

    fn as_str(self) -> &'static str {
        match self {
            Level::Healthy => "healthy",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    /// Concurrency in use against its cap: 90 % and over is critical, 70 % and over a warning.
    fn of_utilization(p: f64) -> Level {
        if p >= 90.0 {
            Level::Critical
        } else if p >= 70.0 {
            Level::Warning
        } else {
            Level::Healthy
        }
    }
}

/// A health level's schema: `healthy`, `warning` or `critical`.
fn level_schema() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(Level::ALL.map(Level::as_str), "How well it goes.")
}

/// A running campaign's heartbeat is stale once it is older than 1.5 × the heartbeat period.
fn stale_before(st: &AppState) -> DateTime<Utc> {
    now() - Duration::milliseconds((st.config.dialer.heartbeat_secs * 1500) as i64)
}

fn push_client(q: &mut Sql, col: &str, client: Option<i64>) {
    if let Some(c) = client {
        q.push(" AND ").push(col).push(" = ").push_arg(c);
    }
}

async fn count(ex: &mut impl AsExec, q: Sql) -> Result<i64, StoreError> {
    let (n,): (i64,) = q.fetch_one(ex).await?;
    Ok(n)
}

/// Running campaigns and how many of them have a fresh heartbeat (a client's, or all).
#[derive(Debug, Clone, Copy, Default)]
struct Heartbeats {
    running: i64,
    active: i64,
}

impl Heartbeats {
    fn stale(&self) -> i64 {
        (self.running - self.active).max(0)
    }
}

async fn heartbeats(
    st: &AppState,
    ex: &mut impl AsExec,
    client: Option<i64>,
    owner: Option<&str>,
) -> Result<Heartbeats, StoreError> {
    let mut q = sql(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN heartbeat_at >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM campaigns WHERE status = 'running'",
    )
    .arg(stale_before(st));
    push_client(&mut q, "client_id", client);
    if let Some(o) = owner {
        q.push(" AND owner_instance = ").push_arg(o);
    }
    let (running, active): (i64, i64) = q.fetch_one(ex).await?;
    Ok(Heartbeats { running, active })
}

/// Concurrency, campaigns and heartbeats right now, for a client (the `/plivo` routes) or the
/// whole installation (the health routes).
struct Utilization {
    global_active: i64,
    global_max: i64,
    /// The client's slots in use and cap.
    client: Option<(i64, i64)>,
    running: i64,
    paused: i64,
    /// Summed caps of the running campaigns, and the slots they hold.
    campaign_caps: i64,
    campaign_active: i64,
    heartbeats: Heartbeats,
    /// Calls started in the last five minutes (client scope only).
    last5: Option<i64>,
}

impl Utilization {
    fn concurrency_pct(&self) -> f64 {
        pct(self.global_active, self.global_max)
    }
    fn load_pct(&self) -> f64 {
        pct(self.campaign_active, self.campaign_caps)
    }
    fn level(&self) -> Level {
        let mut l = Level::of_utilization(self.concurrency_pct());
        if self.heartbeats.stale() > 0 {
            l = l.max(Level::Warning);
        }
        l
    }
}

async fn snapshot(st: &AppState, client: Option<i64>) -> ApiResult<Utilization> {
    let (global_active, global_max, client_use) = match client {
        Some(c) => {
            let u = usage(st, c).await?;
            (
                u.global_active,
                u.global_max,
                Some((u.client_active, u.client_max)),
            )
        }
        None => {
            let mut rd = st.db.read().await?;
            let u = dialer::in_use(&mut rd, st.default_client_id, None).await?;
            (u.global, st.config.dialer.max_concurrent_calls, None)
        }
    };
    let mut rd = st.db.read().await?;
    let mut q = sql("SELECT status, COUNT(*) FROM campaigns WHERE status IN ('running', 'paused')");
    push_client(&mut q, "client_id", client);
    q.push(" GROUP BY status");
    let by_status: Vec<(String, i64)> = q.fetch_all(&mut rd).await?;
    let of = |s: &str| {
        by_status
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let mut q = sql(
        "SELECT CAST(COALESCE(SUM(c.max_concurrent), 0) AS BIGINT), CAST(COALESCE(SUM(k.active), 0) AS BIGINT) \
         FROM campaigns c LEFT JOIN concurrency k ON k.scope = 'campaign' AND k.key = c.id \
         WHERE c.status = 'running'",
    );
    push_client(&mut q, "c.client_id", client);
    let (campaign_caps, campaign_active): (i64, i64) = q.fetch_one(&mut rd).await?;
    let hb = heartbeats(st, &mut rd, client, None).await?;
    let last5 = match client {
        Some(c) => Some(
            count(
                &mut rd,
                sql("SELECT COUNT(*) FROM calls WHERE client_id = $1 AND deleted_at IS NULL AND started_at >= $2")
                    .arg(c)
                    .arg(now() - Duration::minutes(5)),
            )
            .await?,
        ),
        None => None,
    };
    Ok(Utilization {
        global_active,
        global_max,
        client: client_use,
        running: of("running"),
        paused: of("paused"),
        campaign_caps,
        campaign_active,
        heartbeats: hb,
        last5,
    })
}

/// Something to do about the load (`/plivo/monitoring/utilization`, `/health/comprehensive`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringRecommendation {
    #[serde(rename = "type")]
    pub kind: RecommendationKind,
    /// What is wrong and what to do, for people.
    pub message: String,
    pub priority: Urgency,
}

/// What a recommendation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationKind {
    /// Live calls near the global cap.
    Capacity,
    /// A running campaign with no owner heartbeat.
    StaleHeartbeat,
    /// The client near its own cap.
    ClientCapacity,
    /// Campaigns running with no call started lately.
    IdleCampaigns,
    /// Running campaigns near their own caps.
    CampaignCaps,
}

/// How soon to act on a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    High,
    Medium,
    Low,
}

/// What to do about the numbers in `u`, most urgent first.
fn recommendations(st: &AppState, u: &Utilization) -> Vec<MonitoringRecommendation> {
    let mut out = Vec::new();
    let rec = |kind, priority, message: String| MonitoringRecommendation {
        kind,
        message,
        priority,
    };
    let g = u.concurrency_pct();
    if g >= 70.0 {
        out.push(rec(
            RecommendationKind::Capacity,
            if g >= 90.0 { Urgency::High } else { Urgency::Medium },
            format!(
                "Live calls use {g}% of the global cap ({} of {}): raise max_concurrent_calls or pause campaigns",
                u.global_active, u.global_max
            ),
        ));
    }
    let stale = u.heartbeats.stale();
    if stale > 0 {
        out.push(rec(
            RecommendationKind::StaleHeartbeat,
            Urgency::High,
            format!(
                "{stale} running campaign(s) have no owner heartbeat in the last {} s: check that an instance runs the dialer engine",
                st.config.dialer.heartbeat_secs * 3 / 2
            ),
        ));
    }
    if let Some((a, m)) = u.client {
        let c = pct(a, m);
        if c >= 90.0 {
            out.push(rec(
                RecommendationKind::ClientCapacity,
                Urgency::Medium,
                format!(
                    "This client uses {c}% of its own cap ({a} of {m}): its calls wait for free slots; raise the client's max_concurrent_calls"
                ),
            ));
        }
    }
    if u.running > 0 && u.last5 == Some(0) {
        out.push(rec(
            RecommendationKind::IdleCampaigns,
            Urgency::Medium,
            format!(
                "{} campaign(s) are running but no call started in the last 5 minutes: check the calling schedule, the do-not-call list and the contacts left",
                u.running
            ),
        ));
    }
    let l = u.load_pct();
    if u.running > 0 && l >= 90.0 {
        out.push(rec(
            RecommendationKind::CampaignCaps,
            Urgency::Low,
            format!(
                "Running campaigns hold {l}% of their own caps ({} of {}): raise maxConcurrentCalls to dial faster",
                u.campaign_active, u.campaign_caps
            ),
        ));
    }
    out
}

/// Calls per status over a filter, optionally of one campaign (or of campaigns only).
async fn status_rows(
    ex: &mut impl AsExec,
    client: i64,
    f: &CallFilter,
    campaign: Campaigns,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut q = sql("SELECT calls.status, COUNT(*) FROM calls");
    f.push_where(&mut q, client);
    campaign.push(&mut q);
    q.push(" GROUP BY calls.status");
    q.fetch_all(ex).await
}

#[derive(Clone, Copy)]
enum Campaigns {
    Any,
    One(i64),
    All,
}

impl Campaigns {
    fn push(self, q: &mut Sql) {
        match self {
            Campaigns::Any => {}
            Campaigns::One(id) => {
                q.push(" AND calls.campaign_id = ").push_arg(id);
            }
            Campaigns::All => {
                q.push(" AND calls.campaign_id IS NOT NULL");
            }
        }
    }
}

fn sum_of(rows: &[(String, i64)], statuses: &[&str]) -> i64 {
    rows.iter()
        .filter(|(s, _)| statuses.contains(&s.as_str()))
        .map(|(_, n)| n)
        .sum()
}

fn total_of(rows: &[(String, i64)]) -> i64 {
    rows.iter().map(|(_, n)| n).sum()
}

/// A campaign's status, start and completion.
type Span = (String, DateTime<Utc>, Option<DateTime<Utc>>);

/// Mean hours from start to completion of campaigns that completed.
fn mean_hours(rows: &[Span]) -> f64 {
    let spans: Vec<f64> = rows
        .iter()
        .filter(|(s, _, _)| s == "completed")
        .filter_map(|(_, start, end)| end.map(|e| (e - *start).num_milliseconds().max(0) as f64))
        .collect();
    if spans.is_empty() {
        0.0
    } else {
        round2(spans.iter().sum::<f64>() / spans.len() as f64 / 3_600_000.0)
    }
}

/// The client's dashboard figures (`GET /plivo/dashboard/stats`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringStats {
    /// Always true.
    pub success: bool,
    pub statistics: MonitoringStatistics,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// Campaigns, calls, concurrency and health.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringStatistics {
    pub campaigns: MonitoringCampaignCounts,
    pub calls: MonitoringCallCounts,
    pub concurrency: MonitoringConcurrency,
    pub performance: MonitoringPerformance,
}

/// The client's campaigns per status.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringCampaignCounts {
    pub total: i64,
    pub running: i64,
    pub paused: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// The client's calls started today, this week (from Monday) and this month (UTC).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringCallCounts {
    pub total_today: i64,
    pub total_this_week: i64,
    pub total_this_month: i64,
    /// This month's completed calls over those that ended, in percent (two decimals).
    pub success_rate: f64,
}

/// Concurrency slots in use, globally and for the client.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringConcurrency {
    pub current_active: i64,
    /// The global cap.
    pub max_allowed: i64,
    /// `currentActive` over `maxAllowed`, in percent (two decimals).
    pub utilization_percentage: f64,
    pub client_active: i64,
    pub client_max: i64,
}

/// How fast campaigns complete and calls start, and overall health.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringPerformance {
    /// Mean hours from start to completion of the completed campaigns.
    pub avg_campaign_duration: f64,
    /// Calls started per minute over the last hour.
    pub avg_calls_per_minute: f64,
    /// healthy | warning | critical
    #[schema(schema_with = level_schema)]
    pub system_health: String,
}

#[utoipa::path(
    get,
    path = "/plivo/dashboard/stats",
    tag = "monitoring",
    summary = "The client's campaigns per status, calls today, this week and this month, concurrency and health",
    security(("bearerAuth" = []), ("apiKey" = [])),
    responses((status = 200, description = "The client's campaigns, calls, concurrency and health", body = MonitoringStats), crate::docs::AdminErrors)
)]
pub async fn stats(State(st): State<AppState>, p: Principal) -> ApiResult<Json<MonitoringStats>> {
    admin(&p)?;
    let client = p.client_id();
    let t = now();
    let today = t.date_naive();
    let day_start = midnight(today);
    let week_start =
        midnight(today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday())));
    let month_start = midnight(today.with_day(1).expect("first of the month"));
    let u = usage(&st, client).await?;
    let mut rd = st.db.read().await?;
    let campaign_counts = switchboard_store::campaigns::status_counts(&mut rd, client).await?;
    let of = |s: &str| {
        campaign_counts
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    let since = |from: DateTime<Utc>| CallFilter {
        started_from: Some(from),
        ..Default::default()
    };
    let month = status_rows(&mut rd, client, &since(month_start), Campaigns::Any).await?;
    let week = status_rows(&mut rd, client, &since(week_start), Campaigns::Any).await?;
    let day = status_rows(&mut rd, client, &since(day_start), Campaigns::Any).await?;
    let last_hour = status_rows(
        &mut rd,
        client,
        &since(t - Duration::hours(1)),
        Campaigns::Any,
    )
    .await?;
    let completed = sum_of(&month, &["completed"]);
    let ended = completed + sum_of(&month, &FAILED);
    let finished: Vec<Span> = sql(
        "SELECT status, started_at, completed_at FROM campaigns WHERE client_id = $1 AND status = 'completed'",
    )
    .arg(client)
    .fetch_all(&mut rd)
    .await?;
    let hb = heartbeats(&st, &mut rd, Some(client), None).await?;
    drop(rd);
    let util = pct(u.global_active, u.global_max);
    let mut health = Level::of_utilization(util);
    if hb.stale() > 0 {
        health = health.max(Level::Warning);
    }
    Ok(Json(MonitoringStats {
        success: true,
        statistics: MonitoringStatistics {
            campaigns: MonitoringCampaignCounts {
                total: campaign_counts.iter().map(|(_, n)| n).sum::<i64>(),
                running: of("running"),
                paused: of("paused"),
                completed: of("completed"),
                failed: of("failed"),
                cancelled: of("cancelled"),
            },
            calls: MonitoringCallCounts {
                total_today: total_of(&day),
                total_this_week: total_of(&week),
                total_this_month: total_of(&month),
                success_rate: pct(completed, ended),
            },
            concurrency: MonitoringConcurrency {
                current_active: u.global_active,
                max_allowed: u.global_max,
                utilization_percentage: util,
                client_active: u.client_active,
                client_max: u.client_max,
            },
            performance: MonitoringPerformance {
                avg_campaign_duration: mean_hours(&finished),
                avg_calls_per_minute: round2(total_of(&last_hour) as f64 / 60.0),
                system_health: health.as_str().to_string(),
            },
        },
        timestamp: ts(&t),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct FailedQuery {
    /// Days to analyze, today included (1–365, default 7)
    days: Option<String>,
    #[param(schema_with = crate::docs::field::id_query)]
    campaign_id: Option<String>,
}

/// Something to try about failed calls (`/plivo/dashboard/failed-calls`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringFailureRecommendation {
    #[serde(rename = "type")]
    pub kind: FailureAdvice,
    /// What is wrong and what to do, for people.
    pub description: String,
    pub priority: Urgency,
}

/// What a failure recommendation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureAdvice {
    /// A large share of the ended calls failed.
    HighFailureRate,
    /// Calls failed at the provider or the network.
    ProviderErrors,
    /// Many busy lines.
    RetryBusy,
    /// Many calls not answered.
    RetryNoAnswer,
    /// Many calls canceled before an answer.
    CanceledCalls,
}

/// What to try about the failures, from their share of the calls.
fn failure_recommendations(
    ended: i64,
    failed: i64,
    by_status: &[(String, i64)],
) -> Vec<MonitoringFailureRecommendation> {
    let mut out = Vec::new();
    let rec = |kind, priority, description: String| MonitoringFailureRecommendation {
        kind,
        description,
        priority,
    };
    let rate = pct(failed, ended);
    if ended > 0 && rate >= 25.0 {
        out.push(rec(
            FailureAdvice::HighFailureRate,
            if rate >= 50.0 { Urgency::High } else { Urgency::Medium },
            format!(
                "{rate}% of the calls that ended in this period failed ({failed} of {ended}): check the lists' numbers and the calling schedule"
            ),
        ));
    }
    for (status, t, priority, advice) in [
        (
            "failed",
            FailureAdvice::ProviderErrors,
            Urgency::High,
            "failed at the provider or the network: check the from number, the numbers' format and the provider account",
        ),
        (
            "busy",
            FailureAdvice::RetryBusy,
            Urgency::Medium,
            "met a busy line: add a retry rule for busy with a delay (PUT /api/dialer/rules)",
        ),
        (
            "no-answer",
            FailureAdvice::RetryNoAnswer,
            Urgency::Medium,
            "were not answered: retry them later and dial in the hours the leads answer (the calling schedule)",
        ),
        (
            "canceled",
            FailureAdvice::CanceledCalls,
            Urgency::Low,
            "were canceled before anyone answered: check the ring timeout (SWITCHBOARD_RING_TIMEOUT_SECONDS)",
        ),
    ] {
        let n = sum_of(by_status, &[status]);
        let share = pct(n, failed);
        if n > 0 && share >= 20.0 {
            out.push(rec(
                t,
                priority,
                format!(
                    "{n} call{} ({share}% of the failures) {advice}",
                    if n == 1 { "" } else { "s" }
                ),
            ));
        }
    }
    out
}

/// Failed calls analyzed (`GET /plivo/dashboard/failed-calls`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringFailedCalls {
    /// Always true.
    pub success: bool,
    pub analysis: MonitoringFailureAnalysis,
}

/// Calls that ended without a conversation (busy, no-answer, failed, canceled) over the period.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringFailureAnalysis {
    pub total_failed: i64,
    /// Most frequent first.
    pub failure_reasons: Vec<MonitoringFailureReason>,
    pub recommendations: Vec<MonitoringFailureRecommendation>,
    pub trends: MonitoringFailureTrends,
    /// Calls started in the period, whatever their status.
    pub total_calls: i64,
    /// Failed calls over those that ended, in percent (two decimals).
    pub failure_rate: f64,
    pub period: MonitoringFailurePeriod,
}

/// A reason calls failed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringFailureReason {
    /// The provider's hangup cause, or the call's status when it gave none.
    pub reason: String,
    pub count: i64,
    /// Of the failed calls, in percent (two decimals).
    pub percentage: f64,
}

/// Failures over time.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringFailureTrends {
    /// One entry per day of the period, oldest first.
    pub daily_failures: Vec<MonitoringDailyFailures>,
}

/// Failed calls started on a day (UTC).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringDailyFailures {
    #[schema(format = Date)]
    pub date: String,
    pub count: i64,
}

/// The period analyzed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringFailurePeriod {
    pub days: i64,
    /// Midnight (UTC) of the first day.
    #[schema(format = DateTime)]
    pub from: String,
    /// The campaign analyzed, as a string; null for all calls.
    pub campaign_id: Option<String>,
}

#[utoipa::path(
    get,
    path = "/plivo/dashboard/failed-calls",
    tag = "monitoring",
    summary = "Calls that ended without a conversation: reasons, recommendations and failures per day",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(FailedQuery),
    responses((status = 200, description = "The failures, their reasons and what to try", body = MonitoringFailedCalls), (status = 400, description = "Bad days or campaignId", body = crate::docs::ErrorBody), (status = 404, description = "Campaign not found", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn failed_calls(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<FailedQuery>,
) -> ApiResult<Json<MonitoringFailedCalls>> {
    admin(&p)?;
    let days = match q.days.as_deref().map(str::trim) {
        None | Some("") => 7,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| ApiError::bad_request("days must be a whole number from 1 to 365"))?,
    };
    let client = p.client_id();
    let mut rd = st.db.read().await?;
    let campaign = match q.campaign_id.as_deref().map(str::trim) {
        None | Some("") => Campaigns::Any,
        Some(s) => {
            let id = crate::extract::parse_id(&json!(s), "campaignId")?;
            switchboard_store::campaigns::get(&mut rd, client, id)
                .await?
                .ok_or_else(|| ApiError::not_found("campaign"))?;
            Campaigns::One(id)
        }
    };
    let today = now().date_naive();
    let first = today - chrono::Days::new((days - 1) as u64);
    let all = CallFilter {
        started_from: Some(midnight(first)),
        ..Default::default()
    };
    let failed_only = CallFilter {
        statuses: FAILED.iter().map(|s| s.to_string()).collect(),
        ..all.clone()
    };
    let rows = status_rows(&mut rd, client, &all, campaign).await?;
    let failed = sum_of(&rows, &FAILED);
    let ended = failed + sum_of(&rows, &["completed"]);

    let mut rq =
        sql("SELECT calls.status, calls.hangup_cause, calls.answered_by, COUNT(*) FROM calls");
    failed_only.push_where(&mut rq, client);
    campaign.push(&mut rq);
    rq.push(" GROUP BY calls.status, calls.hangup_cause, calls.answered_by");
    let causes: Vec<(String, Option<String>, Option<String>, i64)> = rq.fetch_all(&mut rd).await?;
    let mut reasons: BTreeMap<String, i64> = BTreeMap::new();
    for (status, cause, by, n) in causes {
        // A machine's call ended `no-answer` with the provider's usual cause: the machine is
        // the reason.
        let reason = if by
            .as_deref()
            .is_some_and(switchboard_core::call::is_machine)
        {
            MACHINE_REASON.to_string()
        } else {
            cause
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .unwrap_or(status)
        };
        *reasons.entry(reason).or_default() += n;
    }
    let mut reasons: Vec<(String, i64)> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let day = match st.db.backend() {
        Backend::Sqlite => "substr(calls.started_at, 1, 10)",
        Backend::Postgres => "to_char(calls.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    };
    let mut dq = sql(&format!("SELECT {day} AS d, COUNT(*) FROM calls"));
    failed_only.push_where(&mut dq, client);
    campaign.push(&mut dq);
    dq.push(" GROUP BY d");
    let per_day: BTreeMap<String, i64> = dq
        .fetch_all::<(String, i64)>(&mut rd)
        .await?
        .into_iter()
        .collect();
    drop(rd);
    let daily: Vec<MonitoringDailyFailures> = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| {
            let key = d.format("%Y-%m-%d").to_string();
            let n = per_day.get(&key).copied().unwrap_or(0);
            MonitoringDailyFailures {
                date: key,
                count: n,
            }
        })
        .collect();
    let by_status: Vec<(String, i64)> = rows
        .iter()
        .filter(|(s, _)| FAILED.contains(&s.as_str()))
        .cloned()
        .collect();
    Ok(Json(MonitoringFailedCalls {
        success: true,
        analysis: MonitoringFailureAnalysis {
            total_failed: failed,
            failure_reasons: reasons
                .iter()
                .map(|(r, n)| MonitoringFailureReason {
                    reason: r.clone(),
                    count: *n,
                    percentage: pct(*n, failed),
                })
                .collect(),
            recommendations: failure_recommendations(ended, failed, &by_status),
            trends: MonitoringFailureTrends {
                daily_failures: daily,
            },
            total_calls: total_of(&rows),
            failure_rate: pct(failed, ended),
            period: MonitoringFailurePeriod {
                days,
                from: ts(&midnight(first)),
                campaign_id: match campaign {
                    Campaigns::One(id) => Some(id.to_string()),
                    _ => None,
                },
            },
        },
    }))
}

/// Utilization and what to do about it (`GET /plivo/monitoring/utilization`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringUtilization {
    /// Always true.
    pub success: bool,
    pub utilization: MonitoringUtilizationData,
    /// Most urgent first.
    pub recommendations: Vec<MonitoringRecommendation>,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// Concurrency, the client's running campaigns and its call rate.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringUtilizationData {
    pub concurrency: MonitoringUtilizationConcurrency,
    pub campaigns: MonitoringUtilizationCampaigns,
    pub call_rate: MonitoringCallRate,
    /// healthy | warning | critical
    #[schema(schema_with = level_schema)]
    pub system_status: String,
}

/// Global concurrency slots in use against the global cap.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringUtilizationConcurrency {
    /// `active` over `max`, in percent (two decimals).
    pub percentage: f64,
    pub active: i64,
    pub available: i64,
    pub max: i64,
    pub client: MonitoringClientConcurrency,
}

/// The client's concurrency slots in use against its cap.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringClientConcurrency {
    /// `active` over `max`, in percent (two decimals).
    pub percentage: f64,
    pub active: i64,
    pub available: i64,
    pub max: i64,
}

/// The client's campaigns and their load.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringUtilizationCampaigns {
    pub running: i64,
    pub paused: i64,
    /// Slots the running campaigns hold over their summed caps, in percent (two decimals).
    pub load: f64,
    /// Slots the running campaigns hold.
    pub active_calls: i64,
    /// The running campaigns' summed caps.
    pub capacity: i64,
    /// Running campaigns whose owner's heartbeat is stale.
    pub stale_heartbeats: i64,
}

/// Calls the client started in the last five minutes.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringCallRate {
    #[serde(rename = "last5Minutes")]
    pub last5_minutes: i64,
    pub rate_per_minute: f64,
}

#[utoipa::path(
    get,
    path = "/plivo/monitoring/utilization",
    tag = "monitoring",
    summary = "Concurrency against the caps, the client's campaigns' load, the call rate and what to do",
    security(("bearerAuth" = []), ("apiKey" = [])),
    responses((status = 200, description = "Utilization and what to do about it", body = MonitoringUtilization), crate::docs::AdminErrors)
)]
pub async fn utilization(
    State(st): State<AppState>,
    p: Principal,
) -> ApiResult<Json<MonitoringUtilization>> {
    admin(&p)?;
    let u = snapshot(&st, Some(p.client_id())).await?;
    let last5 = u.last5.unwrap_or(0);
    let (ca, cm) = u.client.unwrap_or((0, 0));
    Ok(Json(MonitoringUtilization {
        success: true,
        utilization: MonitoringUtilizationData {
            concurrency: MonitoringUtilizationConcurrency {
                percentage: u.concurrency_pct(),
                active: u.global_active,
                available: (u.global_max - u.global_active).max(0),
                max: u.global_max,
                client: MonitoringClientConcurrency {
                    percentage: pct(ca, cm),
                    active: ca,
                    available: (cm - ca).max(0),
                    max: cm,
                },
            },
            campaigns: MonitoringUtilizationCampaigns {
                running: u.running,
                paused: u.paused,
                load: u.load_pct(),
                active_calls: u.campaign_active,
                capacity: u.campaign_caps,
                stale_heartbeats: u.heartbeats.stale(),
            },
            call_rate: MonitoringCallRate {
                last5_minutes: last5,
                rate_per_minute: round2(last5 as f64 / 5.0),
            },
            system_status: u.level().as_str().to_string(),
        },
        recommendations: recommendations(&st, &u),
        timestamp: ts(&now()),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    #[param(schema_with = period)]
    period: Option<String>,
}

fn period() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        ["1h", "6h", "24h", "7d", "30d", ""],
        "The period analyzed, ending now; blank or absent for `24h`.",
    )
}

/// Call and campaign analytics over a period (`GET /plivo/monitoring/analytics`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringAnalytics {
    /// Always true.
    pub success: bool,
    pub analytics: MonitoringAnalyticsData,
    /// 1h | 6h | 24h | 7d | 30d
    pub period: String,
    #[schema(format = DateTime)]
    pub generated_at: String,
}

/// The client's calls and campaigns over the period.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringAnalyticsData {
    pub calls: MonitoringAnalyticsCalls,
    pub campaigns: MonitoringAnalyticsCampaigns,
    pub distribution: MonitoringAnalyticsDistribution,
    pub performance: MonitoringAnalyticsPerformance,
}

/// Calls started in the period.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringAnalyticsCalls {
    pub total: i64,
    /// Completed.
    pub successful: i64,
    /// Ended without a conversation (busy, no-answer, failed, canceled).
    pub failed: i64,
    /// Still in progress.
    pub live: i64,
    /// Mean duration of completed calls, in seconds (two decimals).
    pub avg_duration: f64,
    /// The busiest hour of the day (UTC) as `HH:00`; null when there were no calls.
    pub peak_hour: Option<String>,
}

/// Campaigns completed in the period and their calls.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringAnalyticsCampaigns {
    pub completed: usize,
    /// Mean hours from start to completion.
    pub avg_completion_time: f64,
    /// Campaigns' completed calls over those that ended, in percent (two decimals).
    pub success_rate: f64,
}

/// Calls per hour of the day and per outcome.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringAnalyticsDistribution {
    /// One entry per hour of the day (UTC), 0 to 23.
    pub hourly_volume: Vec<MonitoringHourlyVolume>,
    /// Most frequent first.
    pub call_outcomes: Vec<MonitoringCallOutcome>,
}

/// Calls started in an hour of the day (UTC).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringHourlyVolume {
    pub hour: i64,
    pub calls: i64,
}

/// Calls that are in a status.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringCallOutcome {
    #[schema(schema_with = crate::docs::field::call_status)]
    pub outcome: String,
    pub count: i64,
    /// Of the period's calls, in percent (two decimals).
    pub percentage: f64,
}

/// How fast calls were answered, how many failed, how many started.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringAnalyticsPerformance {
    /// Mean milliseconds from start to answer of answered calls.
    pub response_time: f64,
    /// Calls that failed (status `failed`) over all, in percent (two decimals).
    pub error_rate: f64,
    /// Calls started per minute.
    pub throughput: f64,
}

#[utoipa::path(
    get,
    path = "/plivo/monitoring/analytics",
    tag = "monitoring",
    summary = "Calls, campaigns, hourly volume, outcomes and performance over a period",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(AnalyticsQuery),
    responses((status = 200, description = "The period's analytics", body = MonitoringAnalytics), (status = 400, description = "Bad period", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn analytics(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<AnalyticsQuery>,
) -> ApiResult<Json<MonitoringAnalytics>> {
    admin(&p)?;
    let period = match q.period.as_deref().map(str::trim) {
        None | Some("") => "24h",
        Some(p) => p,
    };
    let hours: i64 = match period {
        "1h" => 1,
        "6h" => 6,
        "24h" => 24,
        "7d" => 24 * 7,
        "30d" => 24 * 30,
        other => {
            return Err(ApiError::bad_request(format!(
                "period must be 1h, 6h, 24h, 7d or 30d, not '{other}'"
            )));
        }
    };
    let client = p.client_id();
    let t = now();
    let since = t - Duration::hours(hours);
    let f = CallFilter {
        started_from: Some(since),
        ..Default::default()
    };
    let backend = st.db.backend();
    let mut rd = st.db.read().await?;
    let rows = status_rows(&mut rd, client, &f, Campaigns::Any).await?;
    let total = total_of(&rows);
    let successful = sum_of(&rows, &["completed"]);
    let failed = sum_of(&rows, &FAILED);

    let mut aq = sql(
        "SELECT CAST(AVG(CAST(calls.duration_secs AS DOUBLE PRECISION)) AS DOUBLE PRECISION) FROM calls",
    );
    CallFilter {
        statuses: vec!["completed".into()],
        ..f.clone()
    }
    .push_where(&mut aq, client);
    aq.push(" AND calls.duration_secs IS NOT NULL");
    let (avg_duration,): (Option<f64>,) = aq.fetch_one(&mut rd).await?;

    let wait = match backend {
        Backend::Sqlite => {
            "(julianday(calls.answered_at) - julianday(calls.started_at)) * 86400000.0"
        }
        Backend::Postgres => "EXTRACT(EPOCH FROM (calls.answered_at - calls.started_at)) * 1000",
    };
    let mut wq = sql(&format!(
        "SELECT CAST(AVG({wait}) AS DOUBLE PRECISION) FROM calls"
    ));
    f.push_where(&mut wq, client);
    wq.push(" AND calls.answered_at IS NOT NULL");
    let (answer_ms,): (Option<f64>,) = wq.fetch_one(&mut rd).await?;

    let hourly: BTreeMap<i64, i64> = calls::hourly(&mut rd, backend, client, &f)
        .await?
        .into_iter()
        .collect();
    let campaign_calls = status_rows(&mut rd, client, &f, Campaigns::All).await?;
    let finished: Vec<Span> = sql(
        "SELECT status, started_at, completed_at FROM campaigns WHERE client_id = $1 AND completed_at >= $2",
    )
    .arg(client)
    .arg(since)
    .fetch_all(&mut rd)
    .await?;
    drop(rd);

    let hourly_volume: Vec<MonitoringHourlyVolume> = (0..24)
        .map(|h| MonitoringHourlyVolume {
            hour: h,
            calls: hourly.get(&h).copied().unwrap_or(0),
        })
        .collect();
    // The busiest hour; the earliest of equals.
    let peak = hourly
        .iter()
        .filter(|(_, n)| **n > 0)
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(h, _)| format!("{h:02}:00"));
    let mut outcomes = rows.clone();
    outcomes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let camp_ok = sum_of(&campaign_calls, &["completed"]);
    let camp_ended = camp_ok + sum_of(&campaign_calls, &FAILED);
    Ok(Json(MonitoringAnalytics {
        success: true,
        analytics: MonitoringAnalyticsData {
            calls: MonitoringAnalyticsCalls {
                total,
                successful,
                failed,
                live: sum_of(&rows, &LIVE),
                avg_duration: round2(avg_duration.unwrap_or(0.0)),
                peak_hour: peak,
            },
            campaigns: MonitoringAnalyticsCampaigns {
                completed: finished.iter().filter(|(s, _, _)| s == "completed").count(),
                avg_completion_time: mean_hours(&finished),
                success_rate: pct(camp_ok, camp_ended),
            },
            distribution: MonitoringAnalyticsDistribution {
                hourly_volume,
                call_outcomes: outcomes
                    .iter()
                    .map(|(o, n)| MonitoringCallOutcome {
                        outcome: o.clone(),
                        count: *n,
                        percentage: pct(*n, total),
                    })
                    .collect(),
            },
            performance: MonitoringAnalyticsPerformance {
                response_time: answer_ms.unwrap_or(0.0).max(0.0).round(),
                error_rate: pct(sum_of(&rows, &["failed"]), total),
                throughput: round2(total as f64 / (hours * 60) as f64),
            },
        },
        period: period.to_string(),
        generated_at: ts(&t),
    }))
}

// ---- public health routes ----

/// A field of `/proc/self/status` in bytes (Linux; 0 elsewhere).
fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_string))
        })
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// This process's memory, in bytes (Linux; 0 elsewhere).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthMemoryUsage {
    /// Resident memory.
    pub rss: u64,
    /// The data segment (`VmData`).
    pub heap_total: u64,
    /// Resident anonymous memory (`RssAnon`).
    pub heap_used: u64,
}

fn memory() -> HealthMemoryUsage {
    HealthMemoryUsage {
        rss: crate::routes::health::rss_bytes(),
        heap_total: proc_status_bytes("VmData"),
        heap_used: proc_status_bytes("RssAnon"),
    }
}

/// A health route's answer when the database does not answer (503).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthUnavailable {
    /// Always `unhealthy`.
    pub status: String,
    pub error: String,
    /// This instance's id.
    pub container_id: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// The health routes answer 503 when the database does not answer at all.
fn unavailable(st: &AppState, e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "health check: the database does not answer");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(HealthUnavailable {
            status: "unhealthy".into(),
            error: "the database does not answer".into(),
            container_id: st.instance_id.to_string(),
            timestamp: ts(&now()),
        }),
    )
        .into_response()
}

/// The database's own figures and how fast it answers.
struct DbHealth {
    latency_ms: f64,
    size: i64,
    tables: i64,
    indexes: i64,
    campaigns: i64,
    live_calls: i64,
    clients: i64,
}

impl DbHealth {
    /// 100 when a round trip takes under 50 ms, 80 under 200 ms, 60 under 1 s, 40 beyond.
    fn score(&self) -> i64 {
        match self.latency_ms {
            l if l < 50.0 => 100,
            l if l < 200.0 => 80,
            l if l < 1000.0 => 60,
            _ => 40,
        }
    }
    fn level(&self) -> Level {
        match self.score() {
            s if s >= 80 => Level::Healthy,
            s if s >= 60 => Level::Warning,
            _ => Level::Critical,
        }
    }
}

async fn db_health(st: &AppState) -> Result<DbHealth, StoreError> {
    let start = Instant::now();
    let mut rd = st.db.read().await?;
    count(&mut rd, sql("SELECT CAST(1 AS BIGINT)")).await?;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let (size, tables, indexes) = match st.db.backend() {
        Backend::Sqlite => (
            count(
                &mut rd,
                sql("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"),
            )
            .await?,
            count(
                &mut rd,
                sql("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"),
            )
            .await?,
            count(
                &mut rd,
                sql("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'"),
            )
            .await?,
        ),
        Backend::Postgres => (
            count(
                &mut rd,
                sql("SELECT CAST(pg_database_size(current_database()) AS BIGINT)"),
            )
            .await?,
            count(
                &mut rd,
                sql("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"),
            )
            .await?,
            count(
                &mut rd,
                sql("SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema()"),
            )
            .await?,
        ),
    };
    let campaigns = count(&mut rd, sql("SELECT COUNT(*) FROM campaigns")).await?;
    let live_calls = count(
        &mut rd,
        sql("SELECT COUNT(*) FROM calls WHERE status IN ('initiated', 'ringing', 'answered')"),
    )
    .await?;
    let clients = count(&mut rd, sql("SELECT COUNT(*) FROM clients")).await?;
    Ok(DbHealth {
        latency_ms,
        size,
        tables,
        indexes,
        campaigns,
        live_calls,
        clients,
    })
}

/// This instance: its running campaigns and how many of their leases it failed to renew.
struct Container {
    managed: Heartbeats,
}

impl Container {
    fn level(&self) -> Level {
        if self.managed.stale() > 0 {
            Level::Warning
        } else {
            Level::Healthy
        }
    }
}

async fn container(st: &AppState) -> Result<Container, StoreError> {
    let mut rd = st.db.read().await?;
    Ok(Container {
        managed: heartbeats(st, &mut rd, None, Some(&st.instance_id)).await?,
    })
}

fn warnings(st: &AppState, u: &Utilization, c: &Container) -> Vec<String> {
    let mut w = Vec::new();
    let g = u.concurrency_pct();
    if g >= 70.0 {
        w.push(format!(
            "concurrency at {g}% of the global cap ({} of {})",
            u.global_active, u.global_max
        ));
    }
    if u.heartbeats.stale() > 0 {
        w.push(format!(
            "{} running campaign(s) have stale heartbeats (none in the last {} s)",
            u.heartbeats.stale(),
            st.config.dialer.heartbeat_secs * 3 / 2
        ));
    }
    if c.managed.stale() > 0 {
        w.push(format!(
            "this instance failed to renew {} of its campaign leases",
            c.managed.stale()
        ));
    }
    w
}

/// This container's health (`GET /health/cloud-run`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthCloudRun {
    /// healthy | warning | critical: the worst of the load and this container.
    #[schema(schema_with = level_schema)]
    pub status: String,
    /// What is wrong, for people.
    pub warnings: Vec<String>,
    pub container: HealthCloudRunContainer,
    pub campaigns: HealthHeartbeats,
    pub concurrency: HealthCloudRunConcurrency,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// This instance.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCloudRunContainer {
    /// healthy | warning (it failed to renew some of its campaign leases)
    #[schema(schema_with = level_schema)]
    pub status: String,
    /// This instance's id.
    pub container_id: String,
    /// Seconds since this process started.
    pub uptime: u64,
    /// Running campaigns this instance owns.
    pub managed_campaigns: i64,
    /// Whether this instance runs the dialer engine.
    pub dialer_engine: bool,
    pub memory_usage: HealthMemoryUsage,
}

/// Running campaigns whose owner's heartbeat is fresh, and those whose is stale.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthHeartbeats {
    pub active_heartbeats: i64,
    pub stale_heartbeats: i64,
}

/// Concurrency in the whole installation.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthCloudRunConcurrency {
    pub global: HealthGlobalConcurrency,
}

/// Global concurrency slots in use against the global cap.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthGlobalConcurrency {
    pub active: i64,
    pub max: i64,
    /// `active` over `max`, in percent (two decimals).
    pub utilization: f64,
}

#[utoipa::path(
    get,
    path = "/health/cloud-run",
    tag = "health",
    summary = "This container: uptime, memory, the campaigns it runs, heartbeats and global concurrency",
    description = "Public. 503 when the database does not answer.",
    responses((status = 200, description = "This container's health", body = HealthCloudRun), (status = 503, description = "The database does not answer", body = HealthUnavailable))
)]
pub async fn cloud_run(State(st): State<AppState>) -> Response {
    let u = match snapshot(&st, None).await {
        Ok(u) => u,
        Err(e) => return unavailable(&st, e.message),
    };
    let c = match container(&st).await {
        Ok(c) => c,
        Err(e) => return unavailable(&st, e),
    };
    let status = u.level().max(c.level());
    axum::Json(HealthCloudRun {
        status: status.as_str().to_string(),
        warnings: warnings(&st, &u, &c),
        container: HealthCloudRunContainer {
            status: c.level().as_str().to_string(),
            container_id: st.instance_id.to_string(),
            uptime: st.started.elapsed().as_secs(),
            managed_campaigns: c.managed.running,
            dialer_engine: st.engine.get().is_some(),
            memory_usage: memory(),
        },
        campaigns: HealthHeartbeats {
            active_heartbeats: u.heartbeats.active,
            stale_heartbeats: u.heartbeats.stale(),
        },
        concurrency: HealthCloudRunConcurrency {
            global: HealthGlobalConcurrency {
                active: u.global_active,
                max: u.global_max,
                utilization: u.concurrency_pct(),
            },
        },
        timestamp: ts(&now()),
    })
    .into_response()
}

/// The database's name for the health routes.
fn backend_name(st: &AppState) -> &'static str {
    match st.db.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    }
}

/// The database's health (`GET /health/database`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthDatabase {
    /// healthy | warning | critical, from the round trip's time.
    #[schema(schema_with = level_schema)]
    pub status: String,
    pub health: HealthDatabaseHealth,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// The database's score, figures and main row counts.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDatabaseHealth {
    /// healthy | warning | critical
    #[schema(schema_with = level_schema)]
    pub status: String,
    /// 100 when a round trip takes under 50 ms, 80 under 200 ms, 60 under 1 s, 40 beyond.
    pub score: i64,
    /// A round trip, in milliseconds (two decimals).
    pub response_time: f64,
    pub database: HealthDatabaseInfo,
    pub collections: HealthDatabaseCollections,
}

/// The database's kind and size.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthDatabaseInfo {
    /// sqlite | postgresql
    #[serde(rename = "type")]
    pub kind: String,
    /// In bytes.
    pub size: i64,
    /// Tables.
    pub collections: i64,
    pub indexes: i64,
}

/// Row counts of the main tables (every client's).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDatabaseCollections {
    /// Campaigns.
    pub plivo_campaign: i64,
    /// Calls in progress.
    pub active_calls: i64,
    /// Clients.
    pub client: i64,
}

#[utoipa::path(
    get,
    path = "/health/database",
    tag = "health",
    summary = "The database: round-trip score, size, tables, indexes and main row counts",
    description = "Public. 503 when the database does not answer.",
    responses((status = 200, description = "The database's health", body = HealthDatabase), (status = 503, description = "The database does not answer", body = HealthUnavailable))
)]
pub async fn database(State(st): State<AppState>) -> Response {
    let d = match db_health(&st).await {
        Ok(d) => d,
        Err(e) => return unavailable(&st, e),
    };
    let level = d.level().as_str();
    axum::Json(HealthDatabase {
        status: level.to_string(),
        health: HealthDatabaseHealth {
            status: level.to_string(),
            score: d.score(),
            response_time: round2(d.latency_ms),
            database: HealthDatabaseInfo {
                kind: backend_name(&st).to_string(),
                size: d.size,
                collections: d.tables,
                indexes: d.indexes,
            },
            collections: HealthDatabaseCollections {
                plivo_campaign: d.campaigns,
                active_calls: d.live_calls,
                client: d.clients,
            },
        },
        timestamp: ts(&now()),
    })
    .into_response()
}

/// Every component's health (`GET /health/comprehensive`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthComprehensive {
    /// healthy | warning | critical: the worst of the components.
    #[schema(schema_with = level_schema)]
    pub status: String,
    /// The database's score less 10 per component in warning and 30 per critical one (0 at least).
    pub score: i64,
    pub components: HealthComponents,
    pub database: HealthDatabaseScore,
    pub performance: HealthPerformance,
    /// Most urgent first.
    pub recommendations: Vec<MonitoringRecommendation>,
    /// What is wrong, for people.
    pub warnings: Vec<String>,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// Each component's health.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthComponents {
    /// The database (SQLite or PostgreSQL; named as seed 003 named its database).
    pub mongodb: HealthDatabaseComponent,
    pub container: HealthContainerComponent,
    pub campaigns: HealthCampaignsComponent,
    pub system: HealthSystemComponent,
}

/// The database as a component.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDatabaseComponent {
    /// healthy | warning | critical
    #[schema(schema_with = level_schema)]
    pub status: String,
    /// sqlite | postgresql
    #[serde(rename = "type")]
    pub kind: String,
    /// A round trip, in milliseconds (two decimals).
    pub response_time: f64,
}

/// This instance as a component.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthContainerComponent {
    /// healthy | warning (it failed to renew some of its campaign leases)
    #[schema(schema_with = level_schema)]
    pub status: String,
    /// This instance's id.
    pub container_id: String,
    /// Running campaigns this instance owns.
    pub managed_campaigns: i64,
    /// Whether this instance runs the dialer engine.
    pub dialer_engine: bool,
}

/// Running campaigns and their heartbeats.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCampaignsComponent {
    /// healthy | warning (some heartbeats are stale)
    #[schema(schema_with = level_schema)]
    pub status: String,
    pub running: i64,
    pub active_heartbeats: i64,
    pub stale_heartbeats: i64,
}

/// The load and this process.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthSystemComponent {
    /// healthy | warning | critical, from global concurrency in use
    #[schema(schema_with = level_schema)]
    pub status: String,
    /// Seconds since this process started.
    pub uptime: u64,
    pub memory_usage: HealthMemoryUsage,
}

/// The database's status and score.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthDatabaseScore {
    /// healthy | warning | critical
    #[schema(schema_with = level_schema)]
    pub status: String,
    /// 100 when a round trip takes under 50 ms, 80 under 200 ms, 60 under 1 s, 40 beyond.
    pub score: i64,
}

/// Utilization of the whole installation.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthPerformance {
    pub utilization: HealthUtilization,
}

/// Concurrency in use, the running campaigns' load and the overall status.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthUtilization {
    pub concurrency: HealthConcurrencyPercentage,
    pub campaigns: HealthCampaignLoad,
    /// healthy | warning | critical
    #[schema(schema_with = level_schema)]
    pub system_status: String,
}

/// Global concurrency in use.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthConcurrencyPercentage {
    /// Of the global cap, in percent (two decimals).
    pub percentage: f64,
}

/// The running campaigns' load.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthCampaignLoad {
    /// Slots held over their summed caps, in percent (two decimals).
    pub load: f64,
}

#[utoipa::path(
    get,
    path = "/health/comprehensive",
    tag = "health",
    summary = "Every component's status, an overall score, utilization, recommendations and warnings",
    description = "Public. `components.mongodb` reports this installation's database (SQLite or PostgreSQL). 503 when the database does not answer.",
    responses((status = 200, description = "Every component's health", body = HealthComprehensive), (status = 503, description = "The database does not answer", body = HealthUnavailable))
)]
pub async fn comprehensive(State(st): State<AppState>) -> Response {
    let d = match db_health(&st).await {
        Ok(d) => d,
        Err(e) => return unavailable(&st, e),
    };
    let u = match snapshot(&st, None).await {
        Ok(u) => u,
        Err(e) => return unavailable(&st, e.message),
    };
    let c = match container(&st).await {
        Ok(c) => c,
        Err(e) => return unavailable(&st, e),
    };
    let campaigns = if u.heartbeats.stale() > 0 {
        Level::Warning
    } else {
        Level::Healthy
    };
    let system = Level::of_utilization(u.concurrency_pct());
    let parts = [d.level(), c.level(), campaigns, system];
    let status = parts.iter().copied().max().unwrap_or(Level::Healthy);
    let penalty: i64 = parts
        .iter()
        .map(|l| match l {
            Level::Healthy => 0,
            Level::Warning => 10,
            Level::Critical => 30,
        })
        .sum();
    axum::Json(HealthComprehensive {
        status: status.as_str().to_string(),
        score: (d.score() - penalty).max(0),
        components: HealthComponents {
            mongodb: HealthDatabaseComponent {
                status: d.level().as_str().to_string(),
                kind: backend_name(&st).to_string(),
                response_time: round2(d.latency_ms),
            },
            container: HealthContainerComponent {
                status: c.level().as_str().to_string(),
                container_id: st.instance_id.to_string(),
                managed_campaigns: c.managed.running,
                dialer_engine: st.engine.get().is_some(),
            },
            campaigns: HealthCampaignsComponent {
                status: campaigns.as_str().to_string(),
                running: u.running,
                active_heartbeats: u.heartbeats.active,
                stale_heartbeats: u.heartbeats.stale(),
            },
            system: HealthSystemComponent {
                status: system.as_str().to_string(),
                uptime: st.started.elapsed().as_secs(),
                memory_usage: memory(),
            },
        },
        database: HealthDatabaseScore {
            status: d.level().as_str().to_string(),
            score: d.score(),
        },
        performance: HealthPerformance {
            utilization: HealthUtilization {
                concurrency: HealthConcurrencyPercentage {
                    percentage: u.concurrency_pct(),
                },
                campaigns: HealthCampaignLoad { load: u.load_pct() },
                system_status: u.level().as_str().to_string(),
            },
        },
        recommendations: recommendations(&st, &u),
        warnings: warnings(&st, &u, &c),
        timestamp: ts(&now()),
    })
    .into_response()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuiteQuery {
    #[param(schema_with = suite)]
    suite: Option<String>,
}

fn suite() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        ["basic", "full", "performance", ""],
        "The checks to run; blank or absent for `basic`.",
    )
}

/// The configured provider has what it needs to place calls (what start-up checks, in case
/// the configuration came another way).
fn provider_check(st: &AppState) -> Result<(), String> {
    let t = &st.config.telephony;
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let secret =
        |v: &Option<crate::config::Secret>| v.as_ref().is_some_and(|s| !s.0.trim().is_empty());
    let public = set(&st.config.public_url);
    let caller = set(&t.caller_id);
    let needs: Vec<(bool, &str)> = match t.provider {
        ProviderKind::Simulator => Vec::new(),
        ProviderKind::Twilio => vec![
            (set(&t.twilio_account_sid), "SWITCHBOARD_TWILIO_ACCOUNT_SID"),
            (
                secret(&t.twilio_auth_token),
                "SWITCHBOARD_TWILIO_AUTH_TOKEN",
            ),
            (caller, "SWITCHBOARD_CALLER_ID"),
            (public, "SWITCHBOARD_PUBLIC_URL"),
        ],
        ProviderKind::Plivo => vec![
            (set(&t.plivo_auth_id), "SWITCHBOARD_PLIVO_AUTH_ID"),
            (secret(&t.plivo_auth_token), "SWITCHBOARD_PLIVO_AUTH_TOKEN"),
            (caller, "SWITCHBOARD_CALLER_ID"),
            (public, "SWITCHBOARD_PUBLIC_URL"),
        ],
        ProviderKind::Smartflo => vec![
            (
                secret(&t.smartflo_api_token),
                "SWITCHBOARD_SMARTFLO_API_TOKEN",
            ),
            (
                secret(&t.smartflo_webhook_secret),
                "SWITCHBOARD_SMARTFLO_WEBHOOK_SECRET",
            ),
        ],
    };
    let missing: Vec<&str> = needs
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, var)| var)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "provider {} is missing {}",
            t.provider.as_str(),
            missing.join(", ")
        ))
    }
}

/// A check's result.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthTestResult {
    pub name: String,
    pub passed: bool,
    /// Why it failed; null when it passed.
    pub error: Option<String>,
    /// In milliseconds (three decimals).
    pub duration: f64,
}

struct Suite {
    tests: Vec<HealthTestResult>,
}

impl Suite {
    /// Run one check and note whether it passed and how long it took (ms).
    async fn run<F>(&mut self, name: &str, check: F)
    where
        F: std::future::Future<Output = Result<(), String>>,
    {
        let start = Instant::now();
        let r = check.await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        self.tests.push(HealthTestResult {
            name: name.to_string(),
            passed: r.is_ok(),
            error: r.err(),
            duration: (ms * 1000.0).round() / 1000.0,
        });
    }
}

fn db_err(e: impl std::fmt::Display) -> String {
    format!("database error: {e}")
}

/// A timed query must finish within `limit_ms`.
async fn within(st: &AppState, q: Sql, limit_ms: f64) -> Result<(), String> {
    let start = Instant::now();
    let mut rd = st.db.read().await.map_err(db_err)?;
    q.fetch_all::<(String, i64)>(&mut rd)
        .await
        .map_err(db_err)?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if ms <= limit_ms {
        Ok(())
    } else {
        Err(format!("took {ms:.1} ms, over {limit_ms} ms"))
    }
}

/// The checks run against the live system (`GET /health/integration-test`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthIntegrationTest {
    /// passed | failed: `passed` when every check passed.
    pub status: String,
    /// basic | full | performance
    pub suite: String,
    pub tests: Vec<HealthTestResult>,
    pub summary: HealthTestSummary,
    /// The whole suite, in milliseconds (two decimals).
    pub duration: f64,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// How many checks ran, passed and failed.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthTestSummary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
}

#[utoipa::path(
    get,
    path = "/health/integration-test",
    tag = "health",
    summary = "Run checks against the live system: database, tables, provider, dialer engine, timings",
    description = "Public. `basic`: database round trip, provider configured, dialer engine running. `full`: also a read of each main table and the concurrency counters against the live calls. `performance`: basic plus timed round trips and aggregate queries. Each test reports `duration` in ms.",
    params(SuiteQuery),
    responses((status = 200, description = "The checks run and their results", body = HealthIntegrationTest), (status = 400, description = "Unknown suite", body = crate::docs::ErrorBody))
)]
pub async fn integration_test(
    State(st): State<AppState>,
    Query(q): Query<SuiteQuery>,
) -> ApiResult<Json<HealthIntegrationTest>> {
    let suite = match q.suite.as_deref().map(str::trim) {
        None | Some("") => "basic",
        Some(s) => s,
    };
    if !["basic", "full", "performance"].contains(&suite) {
        return Err(ApiError::bad_request(format!(
            "suite must be basic, full or performance, not '{suite}'"
        )));
    }
    let _turn = st
        .health_suites
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal())?;
    let started = Instant::now();
    let mut s = Suite { tests: Vec::new() };
    s.run("database round trip", async {
        let mut rd = st.db.read().await.map_err(db_err)?;
        match count(&mut rd, sql("SELECT CAST(1 AS BIGINT)")).await {
            Ok(1) => Ok(()),
            Ok(n) => Err(format!("SELECT 1 answered {n}")),
            Err(e) => Err(db_err(e)),
        }
    })
    .await;
    s.run("telephony provider configured", async {
        provider_check(&st)
    })
    .await;
    s.run("dialer engine running", async {
        if st.engine.get().is_some() {
            Ok(())
        } else {
            Err("the dialer engine is not running in this instance (SWITCHBOARD_DIALER_ENGINE is off)".into())
        }
    })
    .await;
    if suite == "full" {
        for table in [
            "clients",
            "users",
            "lists",
            "leads",
            "calls",
            "campaigns",
            "campaign_leads",
            "concurrency",
        ] {
            s.run(&format!("read table {table}"), async {
                let mut rd = st.db.read().await.map_err(db_err)?;
                sql(&format!("SELECT CAST(1 AS BIGINT) FROM {table} LIMIT 1"))
                    .fetch_optional::<(i64,)>(&mut rd)
                    .await
                    .map(|_| ())
                    .map_err(db_err)
            })
            .await;
        }
        s.run("concurrency counters match live calls", async {
            let mut rd = st.db.read().await.map_err(db_err)?;
            let (slots, calls): (i64, i64) = sql(
                "SELECT (SELECT CAST(COALESCE(SUM(active), 0) AS BIGINT) FROM concurrency WHERE scope = 'global'), \
                 (SELECT COUNT(*) FROM calls WHERE slots > 0)",
            )
            .fetch_one(&mut rd)
            .await
            .map_err(db_err)?;
            if slots == calls {
                Ok(())
            } else {
                Err(format!(
                    "{slots} global slots are held but {calls} calls hold slots"
                ))
            }
        })
        .await;
    }
    if suite == "performance" {
        s.run("20 database round trips average under 50 ms", async {
            let start = Instant::now();
            for _ in 0..20 {
                let mut rd = st.db.read().await.map_err(db_err)?;
                count(&mut rd, sql("SELECT CAST(1 AS BIGINT)"))
                    .await
                    .map_err(db_err)?;
            }
            let avg = start.elapsed().as_secs_f64() * 1000.0 / 20.0;
            if avg < 50.0 {
                Ok(())
            } else {
                Err(format!("average round trip {avg:.1} ms"))
            }
        })
        .await;
        s.run("last day's calls per status in under 2000 ms", async {
            // The dashboards' query, over the default client's last day (indexed).
            let mut q = sql("SELECT calls.status, COUNT(*) FROM calls");
            CallFilter {
                started_from: Some(now() - Duration::hours(24)),
                ..Default::default()
            }
            .push_where(&mut q, st.default_client_id);
            q.push(" GROUP BY calls.status");
            within(&st, q, 2000.0).await
        })
        .await;
        s.run("campaigns per status in under 1000 ms", async {
            within(
                &st,
                sql("SELECT status, COUNT(*) FROM campaigns GROUP BY status"),
                1000.0,
            )
            .await
        })
        .await;
    }
    let passed = s.tests.iter().filter(|t| t.passed).count();
    let total = s.tests.len();
    Ok(Json(HealthIntegrationTest {
        status: if passed == total { "passed" } else { "failed" }.to_string(),
        suite: suite.to_string(),
        tests: s.tests,
        summary: HealthTestSummary {
            total,
            passed,
            failed: total - passed,
        },
        duration: round2(started.elapsed().as_secs_f64() * 1000.0),
        timestamp: ts(&now()),
    }))
}
