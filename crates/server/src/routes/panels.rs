//! Seed 001's dashboards and performance reports: the admin's view of the client's people,
//! leads and calls, and each operator's view of their own work.
//!
//! Days ("today", the daily rows, `startDate`/`endDate` given as dates) are days of the
//! client's calling schedule's time zone, the call center's own. Counts follow
//! [`switchboard_store::performance`]: a call was answered when it reached `answered` or
//! `completed`, and the average duration is talk time per completed call.

use std::collections::HashMap;

use axum::extract::State;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use switchboard_core::days::{self, Day};
use switchboard_core::{CallStatus, Priority};
use switchboard_store::calls::{self, CallFilter, CallRow};
use switchboard_store::leads;
use switchboard_store::performance::{self, CallCounts, Calls, LeadsBy};
use switchboard_store::users::{self, User};
use utoipa::ToSchema;

use crate::auth::{AdminSession, Session};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query, ts};
use crate::routes::dialer::stored_or_default;
use crate::routes::operator::{available_to, seed001_status};
use crate::state::AppState;

/// Most days one report covers.
const MAX_DAYS: i64 = 366;
/// Days a report covers when it is not told (ending today).
const DEFAULT_DAYS: i64 = 30;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day (`YYYY-MM-DD`, in the client's time zone) or an ISO 8601 time; default 29
    /// days before `endDate`
    #[serde(rename = "startDate", alias = "start_date")]
    start_date: Option<String>,
    /// Last day, included (`YYYY-MM-DD`), or an ISO 8601 time; default today
    #[serde(rename = "endDate", alias = "end_date")]
    end_date: Option<String>,
}

/// The client's time zone: its schedule's.
async fn zone(st: &AppState, client: i64) -> ApiResult<Tz> {
    let s = stored_or_default(&mut st.db.read().await?, &st.config.timezone, client).await?;
    Ok(s.doc.timezone.parse().unwrap_or(chrono_tz::UTC))
}

/// A report's range: `[from, to)` and its days, each cut to the range.
struct Range {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    days: Vec<Day>,
}

/// One end of a range: a local date (its first instant, or with `end` the first instant of
/// the next day) or an exact time (with `end`, included).
fn bound(field: &str, v: &str, tz: Tz, end: bool) -> ApiResult<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        return Ok(days::day_start(tz, d));
    }
    if let Some(t) = crate::extract::parse_iso8601(v) {
        return Ok(if end {
            t + Duration::microseconds(1)
        } else {
            t
        });
    }
    Err(ApiError::bad_request(format!(
        "{field} must be a date (YYYY-MM-DD) or an ISO 8601 time, not '{v}'"
    )))
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.trim().is_empty())
}

fn range(q: &RangeQuery, tz: Tz, now: DateTime<Utc>) -> ApiResult<Range> {
    let today = days::day_of(tz, now);
    let to = match given(&q.end_date) {
        Some(v) => bound("endDate", v, tz, true)?,
        None => days::day_start(tz, today.succ_opt().unwrap_or(today)),
    };
    let from = match given(&q.start_date) {
        Some(v) => bound("startDate", v, tz, false)?,
        None => {
            let last = days::day_of(tz, to - Duration::microseconds(1));
            days::day_start(tz, last - Duration::days(DEFAULT_DAYS - 1))
        }
    };
    if to <= from {
        return Err(ApiError::bad_request(
            "endDate must not be before startDate",
        ));
    }
    let first = days::day_of(tz, from);
    let last = days::day_of(tz, to - Duration::microseconds(1));
    if (last - first).num_days() >= MAX_DAYS {
        return Err(ApiError::bad_request(format!(
            "startDate to endDate covers at most {MAX_DAYS} days"
        )));
    }
    let days = days::days(tz, first, last)
        .into_iter()
        .map(|d| Day {
            start: d.start.max(from),
            end: d.end.min(to),
            ..d
        })
        .collect();
    Ok(Range { from, to, days })
}

/// A date as seed 001's daily rows name it (a MongoDB `$group` key).
fn date_key(d: NaiveDate) -> PanelDate {
    PanelDate {
        year: d.year(),
        month: d.month(),
        day: d.day(),
    }
}

/// A day of the client's time zone, as seed 001's daily rows name it (a MongoDB `$group` key).
#[derive(Debug, Serialize, ToSchema)]
pub struct PanelDate {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
}

fn rate(c: &CallCounts) -> f64 {
    (c.success_rate() * 100.0).round() / 100.0
}

/// A call status as seed 001 shows it: `canceled` is shown as `failed`.
fn shown_call_status() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        CallStatus::ALL
            .into_iter()
            .filter(|s| *s != CallStatus::Canceled)
            .map(CallStatus::as_str),
        "The call's status (`canceled` is shown as `failed`).",
    )
}

/// The client's people by id.
async fn people(st: &AppState, client: i64) -> ApiResult<HashMap<i64, User>> {
    Ok(users::list(&st.db, Some(client))
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

/// Calls of `which` and how many of them started today.
async fn totals(
    st: &AppState,
    which: Calls,
    tz: Tz,
    now: DateTime<Utc>,
) -> ApiResult<(CallCounts, i64)> {
    let mut rd = st.db.read().await?;
    let all = performance::call_counts(&mut rd, &which).await?;
    let (from, to) = switchboard_core::dialer::day_bounds(now, tz);
    let today = performance::call_counts(
        &mut rd,
        &Calls {
            from: Some(from),
            to: Some(to),
            ..which
        },
    )
    .await?;
    Ok((all, today.total))
}

/// Calls counted over all time, and today's.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PanelCallStats {
    pub total_calls: i64,
    /// Calls started today, in the client's time zone.
    pub today_calls: i64,
    /// Calls that reached `answered` or `completed`.
    pub answered_calls: i64,
    pub completed_calls: i64,
    /// Seconds talked, summed.
    pub total_duration: i64,
    /// Seconds talked per completed call, rounded down (0 without completed calls).
    pub average_duration: i64,
}

impl PanelCallStats {
    fn new(c: &CallCounts, today: i64) -> Self {
        PanelCallStats {
            total_calls: c.total,
            today_calls: today,
            answered_calls: c.answered,
            completed_calls: c.completed,
            total_duration: c.duration,
            average_duration: c.average_duration(),
        }
    }
}

/// The newest `n` calls a filter matches.
async fn recent(st: &AppState, client: i64, f: &CallFilter, n: u32) -> ApiResult<Vec<CallRow>> {
    let (rows, _) = calls::list_counted(&mut st.db.read().await?, client, f, n, 0, Some(1)).await?;
    Ok(rows)
}

/// The lead a call was made to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PanelCallLead {
    /// Null when the call had no lead.
    pub id: Option<i64>,
    /// The lead's phone, else the number called.
    pub phone: Option<String>,
    pub name: Option<String>,
}

fn lead_of(r: &CallRow) -> PanelCallLead {
    PanelCallLead {
        id: r.call.lead_id,
        phone: r.lead_phone.clone().or_else(|| r.call.to_number.clone()),
        name: r.lead_name.clone(),
    }
}

/// `GET /api/admin/dashboard`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminDashboardAnswer {
    pub dashboard: AdminDashboard,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminDashboard {
    pub user_stats: AdminUserStats,
    pub lead_stats: AdminLeadStats,
    pub call_stats: PanelCallStats,
    /// Every priority, with how many leads have it.
    pub priority_breakdown: Vec<AdminPriorityCount>,
    /// The 50 people with the most calls.
    pub salesperson_performance: Vec<AdminSalespersonCalls>,
    /// The 10 newest calls.
    pub recent_activity: Vec<AdminRecentCall>,
}

/// The client's people.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserStats {
    pub total_users: usize,
    pub active_users: usize,
    /// Active operators who are available.
    pub available_salespeople: usize,
    /// People who are not operators.
    pub total_admins: usize,
}

/// The client's leads, per status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminLeadStats {
    pub total_leads: i64,
    pub pending_leads: i64,
    pub claimed_leads: i64,
    pub calling_leads: i64,
    pub answered_leads: i64,
    pub transferred_leads: i64,
    pub failed_leads: i64,
}

/// How many leads have a priority.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminPriorityCount {
    #[serde(rename = "_id")]
    #[schema(schema_with = crate::docs::field::priority)]
    pub priority: &'static str,
    pub count: i64,
}

/// One person's calls, over all time.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminSalespersonCalls {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub total_calls: i64,
    /// Calls that reached `answered` or `completed`.
    pub successful_calls: i64,
    /// Seconds talked, summed.
    pub total_duration: i64,
}

/// One of the newest calls.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminRecentCall {
    pub lead: PanelCallLead,
    /// Who made the call; null when nobody did.
    pub salesperson: Option<AdminCallPerson>,
    #[schema(schema_with = shown_call_status)]
    pub status: String,
    /// When the call started.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The person who made a call.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminCallPerson {
    pub id: i64,
    pub name: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/admin/dashboard",
    tag = "admin",
    summary = "The client's people, leads and calls at a glance (seed 001)",
    description = "Calls are counted over all time, `todayCalls` over today in the client's time zone; `salespersonPerformance` lists the 50 people with the most calls, `recentActivity` the 10 newest calls.",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "`dashboard`: `userStats`, `leadStats`, `callStats`, `priorityBreakdown`, `salespersonPerformance`, `recentActivity`", body = AdminDashboardAnswer), crate::docs::AdminErrors)
)]
pub async fn admin_dashboard(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<AdminDashboardAnswer>> {
    let client = s.client_id();
    let now = Utc::now();
    let tz = zone(&st, client).await?;
    let people = people(&st, client).await?;
    let operator = |u: &&User| u.role == "operator";
    let user_stats = AdminUserStats {
        total_users: people.len(),
        active_users: people.values().filter(|u| u.is_active).count(),
        available_salespeople: people
            .values()
            .filter(operator)
            .filter(|u| u.is_active && u.is_available)
            .count(),
        total_admins: people.values().filter(|u| u.role != "operator").count(),
    };

    let mut rd = st.db.read().await?;
    let leads = performance::live_lead_counts(&mut rd, client).await?;
    let by_status: HashMap<String, i64> = leads.by(LeadsBy::Status).into_iter().collect();
    let status = |s: &str| by_status.get(s).copied().unwrap_or(0);
    let lead_stats = AdminLeadStats {
        total_leads: by_status.values().sum::<i64>(),
        pending_leads: status("pending"),
        claimed_leads: status("claimed"),
        calling_leads: status("calling"),
        answered_leads: status("answered"),
        transferred_leads: status("transferred"),
        failed_leads: status("failed"),
    };
    let by_priority: HashMap<String, i64> = leads.by(LeadsBy::Priority).into_iter().collect();
    let priority_breakdown: Vec<AdminPriorityCount> = Priority::ALL
        .iter()
        .map(|p| AdminPriorityCount {
            priority: p.as_str(),
            count: by_priority.get(p.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let per_person = performance::per_person(&mut rd, &Calls::of_client(client)).await?;
    drop(rd);

    let (calls_all, calls_today) = totals(&st, Calls::of_client(client), tz, now).await?;
    let call_stats = PanelCallStats::new(&calls_all, calls_today);
    let salespeople: Vec<AdminSalespersonCalls> = per_person
        .iter()
        .filter_map(|(id, c)| Some((people.get(id)?, c)))
        .take(50)
        .map(|(u, c)| AdminSalespersonCalls {
            id: u.id,
            name: u.full_name(),
            email: u.email.clone(),
            total_calls: c.total,
            successful_calls: c.answered,
            total_duration: c.duration,
        })
        .collect();
    let recent_activity: Vec<AdminRecentCall> = recent(&st, client, &CallFilter::default(), 10)
        .await?
        .iter()
        .map(|r| AdminRecentCall {
            lead: lead_of(r),
            salesperson: r.call.user_id.map(|id| AdminCallPerson {
                id,
                name: r.agent_name.clone(),
            }),
            status: seed001_status(&r.call.status).to_string(),
            created_at: ts(&r.call.started_at),
        })
        .collect();
    Ok(Json(AdminDashboardAnswer {
        dashboard: AdminDashboard {
            user_stats,
            lead_stats,
            call_stats,
            priority_breakdown,
            salesperson_performance: salespeople,
            recent_activity,
        },
    }))
}

/// `GET /api/admin/reports/performance`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminPerformanceAnswer {
    pub performance: AdminPerformance,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPerformance {
    /// The people with calls in the range, most calls first.
    pub salesperson_stats: Vec<AdminPersonPerformance>,
    /// The leads created in the range, per status (statuses without leads are left out).
    pub lead_conversion: Vec<AdminLeadStatusCount>,
    /// The days with calls, in order.
    pub daily_calls: Vec<AdminDailyCalls>,
}

/// One person's calls in the range.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPersonPerformance {
    pub id: i64,
    pub name: String,
    pub total_calls: i64,
    /// Calls that reached `answered` or `completed`.
    pub answered_calls: i64,
    pub completed_calls: i64,
    /// Seconds talked, summed.
    pub total_duration: i64,
    /// `answeredCalls` / `totalCalls`, 0 to 1, rounded to 2 decimals (0 without calls).
    pub success_rate: f64,
}

/// How many leads created in the range have a status.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminLeadStatusCount {
    #[serde(rename = "_id")]
    #[schema(schema_with = crate::docs::field::lead_status)]
    pub status: String,
    pub count: i64,
}

/// One day's calls.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminDailyCalls {
    #[serde(rename = "_id")]
    pub date: PanelDate,
    pub total_calls: i64,
    /// Calls that reached `answered` or `completed`.
    pub answered_calls: i64,
}

#[utoipa::path(
    get,
    path = "/api/admin/reports/performance",
    tag = "admin",
    summary = "Calls per person and per day, and leads per status, over a range (seed 001)",
    description = "Dates are days of the client's time zone, both ends included (default: the last 30 days; at most 366). `leadConversion` counts the leads created in the range by status; `dailyCalls` lists the days with calls.",
    security(("bearerAuth" = [])),
    params(RangeQuery),
    responses((status = 200, description = "`performance`: `salespersonStats`, `leadConversion`, `dailyCalls`", body = AdminPerformanceAnswer), (status = 400, description = "A bad date or range", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn admin_performance(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<AdminPerformanceAnswer>> {
    let client = s.client_id();
    let tz = zone(&st, client).await?;
    let r = range(&q, tz, Utc::now())?;
    let which = Calls {
        from: Some(r.from),
        to: Some(r.to),
        ..Calls::of_client(client)
    };
    let people = people(&st, client).await?;
    let mut rd = st.db.read().await?;
    let salespeople: Vec<AdminPersonPerformance> = performance::per_person(&mut rd, &which)
        .await?
        .iter()
        .filter_map(|(id, c)| Some((people.get(id)?, c)))
        .map(|(u, c)| AdminPersonPerformance {
            id: u.id,
            name: u.full_name(),
            total_calls: c.total,
            answered_calls: c.answered,
            completed_calls: c.completed,
            total_duration: c.duration,
            success_rate: rate(c),
        })
        .collect();
    let conversion: Vec<AdminLeadStatusCount> =
        performance::leads_created_by(&mut rd, client, LeadsBy::Status, (r.from, r.to))
            .await?
            .into_iter()
            .map(|(status, count)| AdminLeadStatusCount { status, count })
            .collect();
    let periods: Vec<_> = r.days.iter().map(|d| (d.start, d.end)).collect();
    let daily: Vec<AdminDailyCalls> = performance::per_period(&mut rd, &which, &periods)
        .await?
        .iter()
        .zip(&r.days)
        .filter(|(c, _)| c.total > 0)
        .map(|(c, d)| AdminDailyCalls {
            date: date_key(d.date),
            total_calls: c.total,
            answered_calls: c.answered,
        })
        .collect();
    Ok(Json(AdminPerformanceAnswer {
        performance: AdminPerformance {
            salesperson_stats: salespeople,
            lead_conversion: conversion,
            daily_calls: daily,
        },
    }))
}

/// `GET /api/operator/dashboard`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorDashboardAnswer {
    pub dashboard: OperatorDashboard,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorDashboard {
    /// The caller's calls.
    pub personal_stats: PanelCallStats,
    /// The caller's open leads (pending, claimed or calling), last updated first, 20 at most.
    pub assigned_leads: Vec<OperatorAssignedLead>,
    /// The caller's 10 newest calls.
    pub recent_calls: Vec<OperatorRecentCall>,
    /// The 10 most urgent leads the caller may claim.
    pub available_leads: Vec<OperatorAvailableLead>,
    /// The client's 10 people with the most calls.
    pub performance_ranking: Vec<OperatorRankingEntry>,
    /// The caller's place in the ranking, from 1 (after everyone with calls when the caller
    /// has none).
    pub operator_rank: usize,
}

/// One of the caller's open leads.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorAssignedLead {
    pub id: i64,
    pub phone: String,
    pub name: Option<String>,
    #[schema(schema_with = crate::docs::field::priority)]
    pub priority: String,
    #[schema(schema_with = crate::docs::field::lead_status)]
    pub status: String,
}

/// One of the caller's newest calls.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorRecentCall {
    pub id: i64,
    pub lead: PanelCallLead,
    #[schema(schema_with = shown_call_status)]
    pub status: String,
    /// Seconds talked (0 when unknown).
    pub duration: i64,
    /// When the call started.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A lead the caller may claim.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorAvailableLead {
    pub id: i64,
    pub phone: String,
    pub name: Option<String>,
    #[schema(schema_with = crate::docs::field::priority)]
    pub priority: String,
}

/// One person in the ranking.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorRankingEntry {
    pub id: i64,
    pub name: String,
    pub total_calls: i64,
    /// Answered calls / calls, 0 to 1, rounded to 2 decimals (0 without calls).
    pub success_rate: f64,
}

#[utoipa::path(
    get,
    path = "/api/operator/dashboard",
    tag = "seed 001: operator",
    summary = "The caller's own calls and leads, the leads waiting, and the ranking (seed 001)",
    description = "`personalStats` counts the caller's calls over all time (`todayCalls`: today in the client's time zone); `assignedLeads` are the caller's open leads (pending, claimed or calling, 20 at most), `recentCalls` the 10 newest, `availableLeads` the 10 most urgent leads the caller may claim; `performanceRanking` ranks the client's 10 people with the most calls, and `operatorRank` is the caller's place (after everyone with calls when the caller has none).",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "`dashboard`: `personalStats`, `assignedLeads`, `recentCalls`, `availableLeads`, `performanceRanking`, `operatorRank`", body = OperatorDashboardAnswer), crate::docs::AuthErrors)
)]
pub async fn operator_dashboard(
    State(st): State<AppState>,
    s: Session,
) -> ApiResult<Json<OperatorDashboardAnswer>> {
    let client = s.client_id();
    let now = Utc::now();
    let tz = zone(&st, client).await?;
    let mine = Calls {
        user_id: Some(s.user.id),
        ..Calls::of_client(client)
    };
    let (c, calls_today) = totals(&st, mine, tz, now).await?;
    let personal = PanelCallStats::new(&c, calls_today);
    let assigned = leads::held_by(&mut st.db.read().await?, client, s.user.id, 20).await?;
    let mine_filter = CallFilter {
        user_id: Some(s.user.id),
        ..Default::default()
    };
    let recent_calls: Vec<OperatorRecentCall> = recent(&st, client, &mine_filter, 10)
        .await?
        .iter()
        .map(|r| OperatorRecentCall {
            id: r.call.id,
            lead: lead_of(r),
            status: seed001_status(&r.call.status).to_string(),
            duration: r.call.duration_secs.unwrap_or(0),
            created_at: ts(&r.call.started_at),
        })
        .collect();
    let available = available_to(&s, Vec::new())
        .page(&mut st.db.read().await?, 10, 0)
        .await?;
    let people = people(&st, client).await?;
    let ranked: Vec<(&User, CallCounts)> =
        performance::per_person(&mut st.db.read().await?, &Calls::of_client(client))
            .await?
            .into_iter()
            .filter_map(|(id, c)| Some((people.get(&id)?, c)))
            .collect();
    let rank = ranked
        .iter()
        .position(|(u, _)| u.id == s.user.id)
        .unwrap_or(ranked.len())
        + 1;
    Ok(Json(OperatorDashboardAnswer {
        dashboard: OperatorDashboard {
            personal_stats: personal,
            assigned_leads: assigned
                .into_iter()
                .map(|l| OperatorAssignedLead {
                    id: l.id,
                    phone: l.phone,
                    name: l.name,
                    priority: l.priority,
                    status: l.status,
                })
                .collect(),
            recent_calls,
            available_leads: available
                .into_iter()
                .map(|l| OperatorAvailableLead {
                    id: l.id,
                    phone: l.phone,
                    name: l.name,
                    priority: l.priority,
                })
                .collect(),
            performance_ranking: ranked
                .iter()
                .take(10)
                .map(|(u, c)| OperatorRankingEntry {
                    id: u.id,
                    name: u.full_name(),
                    total_calls: c.total,
                    success_rate: rate(c),
                })
                .collect(),
            operator_rank: rank,
        },
    }))
}

/// `GET /api/operator/profile/performance`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorPerformanceAnswer {
    /// The caller's calls in the range.
    pub performance: OperatorCallTotals,
    /// The days with calls, in order.
    pub daily_performance: Vec<OperatorDailyPerformance>,
    /// The caller's calls in the range per priority of the lead called, most urgent first.
    pub lead_conversion: Vec<OperatorPriorityCalls>,
}

/// The caller's calls in the range.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorCallTotals {
    pub total_calls: i64,
    /// Calls that reached `answered` or `completed`.
    pub answered_calls: i64,
    pub completed_calls: i64,
    /// Seconds talked, summed.
    pub total_duration: i64,
    /// Seconds talked per completed call, rounded down (0 without completed calls).
    pub average_duration: i64,
}

/// One day's calls of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorDailyPerformance {
    #[serde(rename = "_id")]
    pub date: PanelDate,
    pub calls: i64,
    /// Calls that reached `answered` or `completed`.
    pub answered: i64,
    pub completed: i64,
    /// Seconds talked, summed.
    pub duration: i64,
}

/// The caller's calls to leads of one priority.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorPriorityCalls {
    #[serde(rename = "_id")]
    #[schema(schema_with = crate::docs::field::priority)]
    pub priority: String,
    pub total_calls: i64,
    /// Calls that reached `answered` or `completed`.
    pub answered_calls: i64,
    pub completed_calls: i64,
}

#[utoipa::path(
    get,
    path = "/api/operator/profile/performance",
    tag = "seed 001: operator",
    summary = "The caller's calls over a range, per day and per lead priority (seed 001)",
    description = "Dates are days of the client's time zone, both ends included (default: the last 30 days; at most 366). `dailyPerformance` lists the days with calls; `leadConversion` the priorities of the leads called.",
    security(("bearerAuth" = [])),
    params(RangeQuery),
    responses((status = 200, description = "`performance`, `dailyPerformance`, `leadConversion`", body = OperatorPerformanceAnswer), (status = 400, description = "A bad date or range", body = crate::docs::ErrorBody), crate::docs::AuthErrors)
)]
pub async fn operator_performance(
    State(st): State<AppState>,
    s: Session,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<OperatorPerformanceAnswer>> {
    let client = s.client_id();
    let tz = zone(&st, client).await?;
    let r = range(&q, tz, Utc::now())?;
    let mine = Calls {
        user_id: Some(s.user.id),
        from: Some(r.from),
        to: Some(r.to),
        ..Calls::of_client(client)
    };
    let mut rd = st.db.read().await?;
    let c = performance::call_counts(&mut rd, &mine).await?;
    let periods: Vec<_> = r.days.iter().map(|d| (d.start, d.end)).collect();
    let daily: Vec<OperatorDailyPerformance> = performance::per_period(&mut rd, &mine, &periods)
        .await?
        .iter()
        .zip(&r.days)
        .filter(|(c, _)| c.total > 0)
        .map(|(c, d)| OperatorDailyPerformance {
            date: date_key(d.date),
            calls: c.total,
            answered: c.answered,
            completed: c.completed,
            duration: c.duration,
        })
        .collect();
    let conversion: Vec<OperatorPriorityCalls> = performance::per_priority(&mut rd, &mine)
        .await?
        .into_iter()
        .map(|(p, c)| OperatorPriorityCalls {
            priority: p,
            total_calls: c.total,
            answered_calls: c.answered,
            completed_calls: c.completed,
        })
        .collect();
    Ok(Json(OperatorPerformanceAnswer {
        performance: OperatorCallTotals {
            total_calls: c.total,
            answered_calls: c.answered,
            completed_calls: c.completed,
            total_duration: c.duration,
            average_duration: c.average_duration(),
        },
        daily_performance: daily,
        lead_conversion: conversion,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn q(start: Option<&str>, end: Option<&str>) -> RangeQuery {
        RangeQuery {
            start_date: start.map(String::from),
            end_date: end.map(String::from),
        }
    }

    #[test]
    fn ranges_are_local_days_both_ends_included() {
        let tehran: Tz = "Asia/Tehran".parse().unwrap();
        let now = at("2026-01-20T10:00:00Z");
        let r = range(&q(Some("2026-01-01"), Some("2026-01-31")), tehran, now).unwrap();
        assert_eq!(r.from, at("2025-12-31T20:30:00Z"));
        assert_eq!(r.to, at("2026-01-31T20:30:00Z"));
        assert_eq!(r.days.len(), 31);

        // Default: the 30 days ending today, local.
        let r = range(&q(None, None), tehran, at("2026-01-20T21:00:00Z")).unwrap();
        assert_eq!(r.days.len(), 30);
        assert_eq!(r.days[29].date.to_string(), "2026-01-21");

        // Exact times cut the first and last day.
        let r = range(
            &q(Some("2026-01-01T12:00:00Z"), Some("2026-01-02T06:00:00Z")),
            chrono_tz::UTC,
            now,
        )
        .unwrap();
        assert_eq!(r.days.len(), 2);
        assert_eq!(r.days[0].start, at("2026-01-01T12:00:00Z"));
        assert_eq!(r.days[1].end, at("2026-01-02T06:00:00.000001Z"));
    }

    #[test]
    fn bad_ranges_are_refused() {
        let now = at("2026-01-20T10:00:00Z");
        for (s, e) in [
            (Some("2026-02-01"), Some("2026-01-01")),
            (Some("yesterday"), None),
            (None, Some("2026-13-01")),
            (Some("2024-01-01"), Some("2026-01-01")),
        ] {
            assert!(range(&q(s, e), chrono_tz::UTC, now).is_err(), "{s:?} {e:?}");
        }
        assert!(
            range(
                &q(Some("2026-01-05"), Some("2026-01-05")),
                chrono_tz::UTC,
                now
            )
            .is_ok()
        );
    }
}
