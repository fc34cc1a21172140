//! Lists and leads: `/api/lists`, `/api/leads`, and seed 001's bulk actions.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_core::lead::{
    CallbackFor, DispositionInput, callback_for_ok, normalize_tag, people_may_edit,
};
use switchboard_core::{Disposition, LeadStatus, PageRequest, Priority};
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::leads::{self, LeadFilter, LeadPatch, LeadSort, NewLead};
use switchboard_store::lists::List;
use switchboard_store::{AsExec, lists, users};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::docs::Done;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query, nullable, parse_id};
use crate::routes::views::{LeadAnswer, LeadView, Pagination, lead_view};
use crate::state::AppState;

// ---- lists ----

#[utoipa::path(
    get,
    path = "/api/lists",
    tag = "lists",
    summary = "List the client's lead lists",
    security(("bearerAuth" = []), ("apiKey" = [])),
    responses((status = 200, description = "The lists", body = ListList), crate::docs::AuthErrors)
)]
pub async fn list_lists(State(st): State<AppState>, p: Principal) -> ApiResult<Json<ListList>> {
    Ok(Json(ListList {
        success: true,
        lists: lists::list(&st.db, p.client_id()).await?,
    }))
}

/// `GET /api/lists`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListList {
    /// Always true.
    pub success: bool,
    pub lists: Vec<List>,
}

/// One list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListAnswer {
    /// Always true.
    pub success: bool,
    pub list: List,
}

impl ListAnswer {
    fn new(list: List) -> Json<Self> {
        Json(Self {
            success: true,
            list,
        })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ListBody {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
}

/// A new list: `ListBody` with its name required.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewListBody {
    #[schema(required = true, value_type = String, min_length = 1, max_length = 100, pattern = "\\S")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
}

fn list_name(n: &str) -> ApiResult<&str> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1-100 characters"));
    }
    Ok(n)
}

fn require_admin(p: &Principal) -> ApiResult<()> {
    if p.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("this needs an admin"))
    }
}

#[utoipa::path(
    post,
    path = "/api/lists",
    tag = "lists",
    summary = "Create a list",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body = NewListBody,
    responses(
        (status = 201, description = "The new list", body = ListAnswer),
        (status = 400, description = "Missing or invalid name", body = crate::docs::ErrorBody),
        (status = 409, description = "Name taken (by a list being deleted too)", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn create_list(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<NewListBody>,
) -> ApiResult<(StatusCode, Json<ListAnswer>)> {
    require_admin(&p)?;
    let name = list_name(
        b.name
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("name is required"))?,
    )?;
    let mut tx = st.db.begin().await?;
    let l = lists::create(
        &mut tx,
        p.client_id(),
        name,
        b.description.flatten().as_deref(),
    )
    .await?;
    list_audit(&mut tx, &p, "create", l.id, json!({"name": l.name})).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ListAnswer::new(l)))
}

#[utoipa::path(
    get,
    path = "/api/lists/{id}",
    tag = "lists",
    summary = "One list",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = i64, Path, description = "List id")),
    responses(
        (status = 200, description = "The list", body = ListAnswer),
        (status = 404, description = "No such list", body = crate::docs::ErrorBody),
        crate::docs::AuthErrors,
    )
)]
pub async fn get_list(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<ListAnswer>> {
    let l = lists::get(&st.db, p.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("list"))?;
    Ok(ListAnswer::new(l))
}

#[utoipa::path(
    method(put, patch),
    path = "/api/lists/{id}",
    tag = "lists",
    summary = "Rename a list or change its description",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = i64, Path, description = "List id")),
    request_body = ListBody,
    responses(
        (status = 200, description = "The list as changed", body = ListAnswer),
        (status = 400, description = "Invalid name", body = crate::docs::ErrorBody),
        (status = 409, description = "Another list has this name (one being deleted too)", body = crate::docs::ErrorBody),
        (status = 404, description = "No such list", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn update_list(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<ListBody>,
) -> ApiResult<Json<ListAnswer>> {
    require_admin(&p)?;
    let name = b.name.as_deref().map(list_name).transpose()?;
    let mut tx = st.db.begin().await?;
    let l = lists::update(
        &mut tx,
        p.client_id(),
        id,
        name,
        b.description.as_ref().map(|d| d.as_deref()),
    )
    .await?
    .ok_or_else(|| ApiError::not_found("list"))?;
    let changed = json!({"name": name, "description_changed": b.description.is_some()});
    list_audit(&mut tx, &p, "update", l.id, changed).await?;
    tx.commit().await?;
    Ok(ListAnswer::new(l))
}

#[utoipa::path(
    delete,
    path = "/api/lists/{id}",
    tag = "lists",
    summary = "Delete a list (its leads are kept)",
    description = "The list is gone at once for every route; its leads lose it a batch at a \
        time, so a list of a million leads does not hold up other writes meanwhile. Campaigns \
        made from it keep their contacts. The answer comes when every lead is cleared.",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = i64, Path, description = "List id")),
    responses(
        (status = 200, description = "Deleted", body = Done),
        (status = 404, description = "No such list", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn delete_list(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Done>> {
    require_admin(&p)?;
    let (db, client) = (st.db.clone(), p.client_id());
    // In a task of its own: a client that stops waiting does not stop the deletion midway
    // (a list of a million leads takes seconds).
    let deleted = tokio::spawn(async move { lists::delete(&db, client, id).await })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the list deletion stopped");
            ApiError::internal()
        })??;
    if !deleted {
        return Err(ApiError::not_found("list"));
    }
    list_audit(&mut st.db.write().await?, &p, "delete", id, json!({})).await?;
    Ok(Json(Done::new("List deleted; its leads were kept")))
}

/// `detail`, with the API key that acted when no person did.
fn with_key(p: &Principal, mut detail: serde_json::Value) -> serde_json::Value {
    if let Principal::Key { id, .. } = p {
        detail["api_key_id"] = json!(id);
    }
    detail
}

async fn list_audit(
    ex: &mut impl switchboard_store::AsExec,
    p: &Principal,
    action: &'static str,
    id: i64,
    detail: serde_json::Value,
) -> ApiResult<()> {
    let entry = AuditEntry {
        client_id: Some(p.client_id()),
        user_id: p.user_id(),
        action,
        entity: "list",
        entity_id: Some(id),
        detail: with_key(p, detail),
    };
    audit::record(ex, entry).await?;
    Ok(())
}

// ---- leads ----

/// Query parameters of a lead listing; names follow seed 001/002 (camelCase accepted too).
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadQuery {
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
    #[param(schema_with = crate::docs::field::lead_statuses)]
    status: Option<String>,
    #[param(schema_with = crate::docs::field::dispositions)]
    disposition: Option<String>,
    #[param(schema_with = crate::docs::field::priorities)]
    priority: Option<String>,
    tags: Option<String>,
    tag: Option<String>,
    search: Option<String>,
    #[serde(alias = "startDate", alias = "from")]
    start_date: Option<String>,
    #[serde(alias = "endDate", alias = "to")]
    end_date: Option<String>,
    #[serde(alias = "assignedTo", alias = "assigned_user_id", alias = "agentId")]
    agent_id: Option<i64>,
    #[serde(alias = "listId")]
    list_id: Option<i64>,
    /// `true`: only leads held for a call back (sort them with `sort_by=next_attempt_at`);
    /// `false`: only others.
    callback: Option<bool>,
    #[serde(alias = "sortBy")]
    #[param(schema_with = crate::docs::field::lead_sort)]
    sort_by: Option<String>,
    #[serde(alias = "sortOrder")]
    #[param(schema_with = crate::docs::field::sort_order)]
    sort_order: Option<String>,
}

fn split_csv(s: &Option<String>) -> Vec<&str> {
    s.as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// A date (`2024-01-31`, taken as that whole UTC day) or an ISO 8601 time with an offset.
pub fn parse_time(
    field: &str,
    v: &str,
    end_of_day: bool,
) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    let v = v.trim();
    if let Some(t) = crate::extract::parse_iso8601(v) {
        return Ok(t);
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let t = if end_of_day {
            d.and_hms_micro_opt(23, 59, 59, 999_999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        return Ok(t.expect("valid time of day").and_utc());
    }
    Err(ApiError::bad_request(format!(
        "{field} must be a date (YYYY-MM-DD) or an ISO 8601 time, not '{v}'"
    )))
}

pub struct Selection {
    pub filter: LeadFilter,
    pub sort: LeadSort,
}

/// Build a filter from named parts, checking every value.
#[allow(clippy::too_many_arguments)]
pub fn build_filter(
    phones: &switchboard_core::PhoneNormalizer,
    status: &Option<String>,
    disposition: &Option<String>,
    priority: &Option<String>,
    tags: &Option<String>,
    search: &Option<String>,
    start: &Option<String>,
    end: &Option<String>,
    agent_id: Option<i64>,
    list_id: Option<i64>,
    sort_by: Option<&str>,
    sort_order: Option<&str>,
) -> ApiResult<Selection> {
    let mut f = LeadFilter::default();
    // `status` takes lead statuses and, as seed 002 uses it, dispositions. `failed` is both:
    // written in capitals (seed 002's `FAILED`) it is the disposition.
    for s in split_csv(status) {
        let seed002 = s.bytes().all(|b| !b.is_ascii_lowercase());
        let lead_status =
            LeadStatus::parse(s).filter(|_| !seed002 || DispositionInput::parse(s).is_none());
        if let Some(st) = lead_status {
            f.statuses.push(st.as_str().into());
        } else if let Some(d) = DispositionInput::parse(s) {
            f.dispositions.push(match d {
                DispositionInput::InQueue => "IN_QUEUE".into(),
                DispositionInput::Set(d) => d.as_str().into(),
            });
        } else {
            return Err(ApiError::bad_request(format!("unknown status '{s}'")));
        }
    }
    for d in split_csv(disposition) {
        f.dispositions.push(
            match DispositionInput::parse(d)
                .ok_or_else(|| ApiError::bad_request(format!("unknown disposition '{d}'")))?
            {
                DispositionInput::InQueue => "IN_QUEUE".into(),
                DispositionInput::Set(d) => d.as_str().into(),
            },
        );
    }
    for p in split_csv(priority) {
        f.priorities.push(
            Priority::parse(p)
                .ok_or_else(|| ApiError::bad_request(format!("unknown priority '{p}'")))?
                .as_str()
                .into(),
        );
    }
    f.tags = split_csv(tags)
        .into_iter()
        .filter_map(normalize_tag)
        .collect();
    f.search = search.clone().filter(|s| !s.trim().is_empty());
    if f.search.as_ref().is_some_and(|s| s.len() > 200) {
        return Err(ApiError::bad_request(
            "search must be at most 200 characters",
        ));
    }
    // A whole phone number is found exactly; a part of one stays a substring search.
    f.search_phone = f.search.as_deref().and_then(|s| phones.whole_number(s));
    f.created_from = start
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time("start_date", s, false))
        .transpose()?;
    f.created_to = end
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_time("end_date", s, true))
        .transpose()?;
    f.assigned_user_id = agent_id;
    f.list_id = list_id;
    let sort = LeadSort::parse(sort_by, sort_order).map_err(ApiError::bad_request)?;
    Ok(Selection { filter: f, sort })
}

#[utoipa::path(
    get,
    path = "/api/leads",
    tag = "leads",
    summary = "List leads, filtered, sorted and paged",
    params(LeadQuery),
    description = "Comma-separated values are accepted for `status`, `disposition`, `priority` and `tags`; \
        dates are `YYYY-MM-DD` or ISO 8601. camelCase aliases (`startDate`, `listId`, `sortBy`, ...) work too.",
    security(("bearerAuth" = []), ("apiKey" = [])),
    responses(
        (status = 200, description = "One page of leads", body = LeadPage),
        (status = 400, description = "Invalid filter", body = crate::docs::ErrorBody),
        crate::docs::AuthErrors,
    )
)]
pub async fn list_leads(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<LeadQuery>,
) -> ApiResult<Json<LeadPage>> {
    let page = PageRequest::new(q.page, q.limit);
    let tags = q.tags.clone().or(q.tag.clone());
    let sel = build_filter(
        &st.phones,
        &q.status,
        &q.disposition,
        &q.priority,
        &tags,
        &q.search,
        &q.start_date,
        &q.end_date,
        q.agent_id,
        q.list_id,
        q.sort_by.as_deref(),
        q.sort_order.as_deref(),
    )?;
    let mut sel = sel;
    sel.filter.callback = q.callback;
    let (rows, total) = leads::list(
        &st.db,
        p.client_id(),
        &sel.filter,
        &sel.sort,
        page.limit,
        page.offset(),
    )
    .await?;
    Ok(Json(LeadPage {
        leads: rows.iter().map(lead_view).collect(),
        pagination: Pagination::new(&page, total),
    }))
}

/// One page of leads (seed 001's shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadPage {
    pub leads: Vec<LeadView>,
    pub pagination: Pagination,
}

#[utoipa::path(
    get,
    path = "/api/leads/{id}",
    tag = "leads",
    summary = "One lead",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses(
        (status = 200, description = "The lead", body = LeadAnswer),
        (status = 404, description = "No such lead", body = crate::docs::ErrorBody),
        crate::docs::AuthErrors,
    )
)]
pub async fn get_lead(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<LeadAnswer>> {
    let l = leads::get(&mut st.db.read().await?, p.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    Ok(Json(LeadAnswer::new(None, &l)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LeadBody {
    #[serde(alias = "phone_number")]
    phone: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[schema(schema_with = crate::docs::field::priority)]
    priority: Option<String>,
    #[schema(schema_with = crate::docs::field::lead_status)]
    status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = crate::docs::field::disposition_input)]
    disposition: Option<Option<String>>,
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", alias = "listId")]
    list_id: Option<Option<i64>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        alias = "assignedTo",
        alias = "agent_id"
    )]
    assigned_user_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    notes: Option<Option<String>>,
    /// Call the lead back at this time (ISO 8601 with offset), and no sooner; `null` drops it.
    /// The lead must be pending (or set pending with it); its calling window still applies.
    #[serde(default, deserialize_with = "nullable", alias = "callbackAt")]
    #[schema(value_type = Option<String>, format = DateTime, nullable)]
    callback_at: Option<Option<String>>,
    /// Who calls back: `anyone` (the default: any dialer, once it is due) or `agent` (kept for
    /// the lead's agent: reminded, and bridged to them alone by the call queue). Sent without
    /// `callback_at`, it changes the call back the lead holds.
    #[serde(default, alias = "callbackFor")]
    #[schema(value_type = Option<String>, example = "agent")]
    callback_for: Option<String>,
}

/// A call back time: ISO 8601 with an offset, within the next year (the core's rule).
fn callback_time(s: &str) -> ApiResult<chrono::DateTime<chrono::Utc>> {
    let t = crate::extract::parse_iso8601(s).ok_or_else(|| {
        ApiError::bad_request(
            "callback_at must be a time with its offset, like 2026-12-08T15:00:00+05:30",
        )
    })?;
    switchboard_core::lead::callback_time_ok(t, chrono::Utc::now())
        .map_err(ApiError::bad_request)?;
    Ok(t)
}

fn opt_text(
    field: &str,
    v: Option<Option<String>>,
    max: usize,
) -> ApiResult<Option<Option<String>>> {
    v.map(|v| {
        let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if v.as_ref().is_some_and(|s| s.chars().count() > max) {
            return Err(ApiError::bad_request(format!(
                "{field} must be at most {max} characters"
            )));
        }
        Ok(v)
    })
    .transpose()
}

/// Check a body against the contract and this client's rows, and turn it into a patch.
async fn lead_patch(
    st: &AppState,
    ex: &mut impl AsExec,
    client_id: i64,
    b: LeadBody,
) -> ApiResult<LeadPatch> {
    let mut p = LeadPatch {
        name: opt_text("name", b.name, 200)?,
        notes: opt_text("notes", b.notes, 2000)?,
        callback_at: b
            .callback_at
            .map(|c| c.as_deref().map(callback_time).transpose())
            .transpose()?,
        callback_for: b
            .callback_for
            .as_deref()
            .map(|w| {
                CallbackFor::parse(w)
                    .ok_or_else(|| ApiError::bad_request("callback_for must be anyone or agent"))
            })
            .transpose()?,
        ..Default::default()
    };
    if p.callback_for.is_some() && p.callback_at == Some(None) {
        return Err(ApiError::bad_request(
            "callback_for goes with a call back, and callback_at null drops it",
        ));
    }
    if let Some(ph) = &b.phone {
        p.phone = Some(
            st.phones
                .normalize(ph)
                .map_err(|e| ApiError::bad_request(format!("phone: {e}")))?,
        );
    }
    if let Some(e) = opt_text("email", b.email, 254)? {
        if e.as_ref().is_some_and(|e| !e.contains('@')) {
            return Err(ApiError::bad_request("email is not an email address"));
        }
        p.email = Some(e.map(|e| e.to_lowercase()));
    }
    if let Some(pr) = &b.priority {
        p.priority = Some(
            Priority::parse(pr)
                .ok_or_else(|| {
                    ApiError::bad_request("priority must be urgent, high, medium or low")
                })?
                .as_str()
                .into(),
        );
    }
    if let Some(s) = &b.status {
        p.status = Some(
            LeadStatus::parse(s)
                .ok_or_else(|| ApiError::bad_request(format!("unknown status '{s}'")))?
                .as_str()
                .into(),
        );
    }
    if let Some(d) = &b.disposition {
        let input = match d.as_deref() {
            None => DispositionInput::InQueue,
            Some(d) => DispositionInput::parse(d)
                .ok_or_else(|| ApiError::bad_request(format!("unknown disposition '{d}'")))?,
        };
        if !input.settable_by_people() {
            return Err(ApiError::forbidden(
                "people may set only IN_QUEUE, MISSED, BUSY, POWER_OFF or BANNED",
            ));
        }
        p.disposition = Some(match input {
            DispositionInput::InQueue => None,
            DispositionInput::Set(d) => Some(d.as_str().to_string()),
        });
        if p.status.is_none() {
            p.status = Some(
                match input {
                    DispositionInput::InQueue => LeadStatus::Pending,
                    DispositionInput::Set(d) => d.lead_status(),
                }
                .as_str()
                .into(),
            );
        }
    }
    if let Some(tags) = b.tags {
        if tags.len() > 50 {
            return Err(ApiError::bad_request("at most 50 tags"));
        }
        let mut t: Vec<String> = tags.iter().filter_map(|t| normalize_tag(t)).collect();
        t.sort();
        t.dedup();
        p.tags = Some(t);
    }
    if let Some(tz) = opt_text("timezone", b.timezone, 64)? {
        if let Some(z) = &tz {
            z.parse::<chrono_tz::Tz>()
                .map_err(|_| ApiError::bad_request(format!("'{z}' is not an IANA time zone")))?;
        }
        p.timezone = Some(tz);
    }
    if let Some(l) = b.list_id {
        if let Some(id) = l
            && lists::get(&st.db, client_id, id).await?.is_none()
        {
            return Err(ApiError::bad_request(format!("list {id} does not exist")));
        }
        p.list_id = Some(l);
    }
    if let Some(u) = b.assigned_user_id {
        if let Some(id) = u
            && users::get(ex, id)
                .await?
                .is_none_or(|u| u.client_id != client_id)
        {
            return Err(ApiError::bad_request(format!("user {id} does not exist")));
        }
        p.assigned_user_id = Some(u);
    }
    Ok(p)
}

#[utoipa::path(
    post,
    path = "/api/leads",
    tag = "leads",
    summary = "Create a lead",
    description = "`phone` is required; a new lead starts pending, so `status` and `disposition` are refused.",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body = LeadBody,
    responses(
        (status = 201, description = "The new lead", body = LeadAnswer),
        (status = 400, description = "Invalid field", body = crate::docs::ErrorBody),
        (status = 409, description = "Phone already in use", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn create_lead(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<LeadBody>,
) -> ApiResult<(StatusCode, Json<LeadAnswer>)> {
    require_admin(&p)?;
    if b.phone.is_none() {
        return Err(ApiError::bad_request("phone is required"));
    }
    if b.disposition.is_some() || b.status.is_some() {
        return Err(ApiError::bad_request(
            "a new lead starts pending; set status or disposition later",
        ));
    }
    let mut tx = st.db.begin().await?;
    let patch = lead_patch(&st, &mut tx, p.client_id(), b).await?;
    let new = NewLead {
        phone: patch.phone.clone().unwrap_or_default(),
        name: patch.name.clone().flatten(),
        email: patch.email.clone().flatten(),
        priority: patch.priority.clone(),
        tags: patch.tags.clone().unwrap_or_default(),
        timezone: patch.timezone.clone().flatten(),
        list_id: patch.list_id.flatten(),
        assigned_user_id: patch.assigned_user_id.flatten(),
        notes: patch.notes.clone().flatten(),
    };
    if let Some(whom) = patch.callback_for {
        if patch.callback_at.is_none() {
            return Err(ApiError::bad_request("callback_for goes with callback_at"));
        }
        callback_for_ok(whom, new.assigned_user_id).map_err(ApiError::conflict)?;
    }
    let mut lead = leads::create(&mut tx, p.client_id(), &new).await?;
    if let Some(Some(at)) = patch.callback_at {
        let callback = LeadPatch {
            callback_at: Some(Some(at)),
            callback_for: patch.callback_for,
            ..Default::default()
        };
        lead = leads::update(&mut tx, p.client_id(), lead.id, &callback)
            .await?
            .ok_or_else(|| ApiError::not_found("lead"))?;
    }
    tx.commit().await?;
    crate::events::lead_assigned(&st.events, &lead, p.user_id());
    Ok((StatusCode::CREATED, Json(LeadAnswer::new(None, &lead))))
}

#[utoipa::path(
    method(put, patch),
    path = "/api/leads/{id}",
    tag = "leads",
    summary = "Change a lead (only the fields sent)",
    description = "Operators may change only the leads assigned to them, and may not assign leads.",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    request_body = LeadBody,
    responses(
        (status = 200, description = "The lead as changed", body = LeadAnswer),
        (status = 400, description = "Invalid field or nothing to change", body = crate::docs::ErrorBody),
        (status = 404, description = "No such lead", body = crate::docs::ErrorBody),
        (status = 409, description = "The lead's disposition is final", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn update_lead(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
    Json(b): Json<LeadBody>,
) -> ApiResult<Json<LeadAnswer>> {
    let mut tx = st.db.begin().await?;
    let lead = leads::get(&mut tx, p.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    // Operators may change the leads assigned to them; admins any of their client's.
    if !p.is_admin() && lead.assigned_user_id != p.user_id() {
        return Err(ApiError::forbidden(
            "operators may change only the leads assigned to them",
        ));
    }
    people_may_edit(lead.disposition.as_deref().and_then(Disposition::parse))
        .map_err(ApiError::conflict)?;
    let mut patch = lead_patch(&st, &mut tx, p.client_id(), b).await?;
    if patch.is_empty() {
        return Err(ApiError::bad_request("nothing to change"));
    }
    if !p.is_admin() && patch.assigned_user_id.is_some() {
        return Err(ApiError::forbidden("only admins assign leads"));
    }
    if matches!(patch.callback_at, Some(Some(_))) {
        let status = patch.status.as_deref().unwrap_or(&lead.status);
        switchboard_core::lead::callback_needs_pending(
            LeadStatus::parse(status).ok_or_else(ApiError::internal)?,
        )
        .map_err(ApiError::conflict)?;
    }
    if let Some(whom) = patch.callback_for {
        if patch.callback_at.is_none() && lead.callback_at().is_none() {
            return Err(ApiError::conflict(
                "the lead holds no call back; send callback_at with callback_for",
            ));
        }
        let agent = patch.assigned_user_id.unwrap_or(lead.assigned_user_id);
        callback_for_ok(whom, agent).map_err(ApiError::conflict)?;
    } else if matches!(patch.callback_at, Some(Some(_))) {
        // A call back moved to another time stays whose it was, while the lead keeps an agent.
        let agent = patch.assigned_user_id.unwrap_or(lead.assigned_user_id);
        patch.callback_for = lead.callback_for().filter(|_| agent.is_some());
    }
    let before = lead;
    let lead = leads::update(&mut tx, p.client_id(), id, &patch)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    // The fields changed, and where the lead's state went from and to.
    let mut detail = json!({"fields": patch.fields()});
    let moved = [
        ("status", json!(before.status), json!(lead.status)),
        (
            "disposition",
            json!(before.disposition),
            json!(lead.disposition),
        ),
        ("priority", json!(before.priority), json!(lead.priority)),
        (
            "assigned_user_id",
            json!(before.assigned_user_id),
            json!(lead.assigned_user_id),
        ),
        ("list_id", json!(before.list_id), json!(lead.list_id)),
    ];
    for (field, from, to) in moved {
        if from != to {
            detail[field] = json!({"from": from, "to": to});
        }
    }
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(p.client_id()),
            user_id: p.user_id(),
            action: "update",
            entity: "lead",
            entity_id: Some(id),
            detail: with_key(&p, detail),
        },
    )
    .await?;
    tx.commit().await?;
    if lead.assigned_user_id != before.assigned_user_id {
        crate::events::lead_assigned(&st.events, &lead, p.user_id());
    }
    Ok(Json(LeadAnswer::new(None, &lead)))
}

#[utoipa::path(
    delete,
    path = "/api/leads/{id}",
    tag = "leads",
    summary = "Delete a lead",
    security(("bearerAuth" = []), ("apiKey" = [])),
    params(("id" = i64, Path, description = "Lead id")),
    responses(
        (status = 200, description = "Deleted", body = Done),
        (status = 404, description = "No such lead", body = crate::docs::ErrorBody),
        (status = 409, description = "The lead's disposition is final", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn delete_lead(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<i64>,
) -> ApiResult<Json<Done>> {
    require_admin(&p)?;
    let mut tx = st.db.begin().await?;
    let lead = leads::get(&mut tx, p.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("lead"))?;
    people_may_edit(lead.disposition.as_deref().and_then(Disposition::parse))
        .map_err(ApiError::conflict)?;
    leads::soft_delete(&mut tx, p.client_id(), id).await?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(p.client_id()),
            user_id: p.user_id(),
            action: "delete",
            entity: "lead",
            entity_id: Some(id),
            detail: with_key(&p, json!({"phone": lead.phone})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Done::new("Lead deleted")))
}

// ---- seed 001: bulk actions ----

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BulkBody {
    #[schema(schema_with = bulk_actions, required = true)]
    action: Option<String>,
    #[serde(rename = "leadIds", alias = "lead_ids", alias = "ids")]
    #[schema(required = true, schema_with = crate::docs::field::lead_ids)]
    lead_ids: Option<Vec<Value>>,
    #[serde(default)]
    data: Value,
}

enum BulkAction {
    Priority(Priority),
    Status(LeadStatus),
    Disposition(DispositionInput),
    Tags(Vec<String>),
    Delete,
}

const MAX_BULK: usize = 10_000;

/// The bulk actions of seed 001, as the handler matches them.
const BULK_ACTIONS: [&str; 4] = ["update_priority", "update_status", "add_tags", "delete"];

fn bulk_actions() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        BULK_ACTIONS,
        "`update_priority` (`data.priority`), `update_status` (`data.status`), `add_tags` \
         (`data.tags`) or `delete` (soft).",
    )
}

#[utoipa::path(
    post,
    path = "/api/admin/leads/bulk-action",
    tag = "leads",
    summary = "Act on many leads at once",
    description = "`action` is `update_priority` (`data.priority`), `update_status` (`data.status`), \
        `add_tags` (`data.tags`) or `delete`, applied to `leadIds`.",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body = BulkBody,
    responses(
        (status = 200, description = "What was done to each lead", body = BulkResult),
        (status = 400, description = "Invalid action, data or ids", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn bulk_action(
    State(st): State<AppState>,
    p: Principal,
    Json(b): Json<BulkBody>,
) -> ApiResult<Json<BulkResult>> {
    require_admin(&p)?;
    let action_name = b
        .action
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("action is required"))?;
    let field = |k: &str| {
        b.data
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("data.{k} is required")))
    };
    let action = match action_name {
        "update_priority" => {
            BulkAction::Priority(Priority::parse(field("priority")?).ok_or_else(|| {
                ApiError::bad_request("data.priority must be urgent, high, medium or low")
            })?)
        }
        "update_status" => {
            let s = field("status")?;
            if let Some(st) = LeadStatus::parse(s) {
                BulkAction::Status(st)
            } else {
                let d = DispositionInput::parse(s)
                    .ok_or_else(|| ApiError::bad_request(format!("unknown status '{s}'")))?;
                if !d.settable_by_people() {
                    return Err(ApiError::forbidden(
                        "people may set only IN_QUEUE, MISSED, BUSY, POWER_OFF or BANNED",
                    ));
                }
                BulkAction::Disposition(d)
            }
        }
        "add_tags" => {
            let tags = b
                .data
                .get("tags")
                .ok_or_else(|| ApiError::bad_request("data.tags is required"))?;
            let list: Vec<String> = match tags {
                Value::Array(a) => a
                    .iter()
                    .map(|t| {
                        t.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| ApiError::bad_request("data.tags must be strings"))
                    })
                    .collect::<Result<_, _>>()?,
                Value::String(s) => s.split(',').map(str::to_string).collect(),
                _ => {
                    return Err(ApiError::bad_request(
                        "data.tags must be an array of strings",
                    ));
                }
            };
            let list: Vec<String> = list.iter().filter_map(|t| normalize_tag(t)).collect();
            if list.is_empty() {
                return Err(ApiError::bad_request("data.tags has no usable tag"));
            }
            BulkAction::Tags(list)
        }
        "delete" => BulkAction::Delete,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown action '{other}'; use {}",
                BULK_ACTIONS.join(", ")
            )));
        }
    };
    let raw_ids = b
        .lead_ids
        .ok_or_else(|| ApiError::bad_request("leadIds is required"))?;
    if raw_ids.is_empty() || raw_ids.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "leadIds must hold 1 to {MAX_BULK} ids"
        )));
    }
    let ids: Vec<i64> = raw_ids
        .iter()
        .map(|v| parse_id(v, "leadIds[]"))
        .collect::<Result<_, _>>()?;

    let mut tx = st.db.begin().await?;
    let mut updated = Vec::new();
    let mut refused = Vec::new();
    for id in ids {
        let Some(lead) = leads::get(&mut tx, p.client_id(), id).await? else {
            refused.push(Refusal {
                lead_id: id,
                reason: "not found".into(),
            });
            continue;
        };
        if let Err(why) = people_may_edit(lead.disposition.as_deref().and_then(Disposition::parse))
        {
            refused.push(Refusal {
                lead_id: id,
                reason: why,
            });
            continue;
        }
        let patch = match &action {
            BulkAction::Priority(pr) => LeadPatch {
                priority: Some(pr.as_str().into()),
                ..Default::default()
            },
            BulkAction::Status(s) => LeadPatch {
                status: Some(s.as_str().into()),
                ..Default::default()
            },
            BulkAction::Disposition(d) => match d {
                DispositionInput::InQueue => LeadPatch {
                    disposition: Some(None),
                    status: Some("pending".into()),
                    ..Default::default()
                },
                DispositionInput::Set(d) => LeadPatch {
                    disposition: Some(Some(d.as_str().into())),
                    status: Some(d.lead_status().as_str().into()),
                    ..Default::default()
                },
            },
            BulkAction::Tags(t) => {
                let mut tags = lead.tags.0.clone();
                tags.extend(t.iter().cloned());
                tags.sort();
                tags.dedup();
                LeadPatch {
                    tags: Some(tags),
                    ..Default::default()
                }
            }
            BulkAction::Delete => {
                leads::soft_delete(&mut tx, p.client_id(), id).await?;
                updated.push(id);
                continue;
            }
        };
        leads::update(&mut tx, p.client_id(), id, &patch).await?;
        updated.push(id);
    }
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(p.client_id()),
            user_id: p.user_id(),
            action: action_name,
            entity: "lead",
            entity_id: None,
            detail: with_key(&p, json!({"updated": updated, "refused": refused.len()})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(BulkResult {
        success: true,
        message: format!(
            "{} of {} leads updated",
            updated.len(),
            updated.len() + refused.len()
        ),
        action: action_name.to_string(),
        summary: BulkSummary {
            requested: raw_ids.len(),
            updated: updated.len(),
            refused: refused.len(),
        },
        results: BulkResults { updated, refused },
    }))
}

/// What a bulk action did, lead by lead.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    /// Always true (leads refused one by one do not fail the request).
    pub success: bool,
    pub message: String,
    #[schema(schema_with = bulk_action_field)]
    pub action: String,
    pub results: BulkResults,
    pub summary: BulkSummary,
}

fn bulk_action_field() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(BULK_ACTIONS, "The action taken.")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResults {
    /// The leads changed.
    pub updated: Vec<i64>,
    /// The leads left as they were, each with the reason.
    pub refused: Vec<Refusal>,
}

/// A lead a bulk action left alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refusal {
    #[serde(rename = "leadId")]
    pub lead_id: i64,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkSummary {
    /// Ids sent.
    pub requested: usize,
    pub updated: usize,
    pub refused: usize,
}
