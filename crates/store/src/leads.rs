//! Leads: the numbers Switchboard calls.

use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use serde::Serialize;
use sqlx::types::Json;
use switchboard_core::Priority;
use switchboard_core::lead::CallbackFor;

use crate::{AsExec, Backend, Db, Result, Sql, now, sql};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Lead {
    pub id: i64,
    pub client_id: i64,
    pub list_id: Option<i64>,
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub priority: String,
    pub status: String,
    pub disposition: Option<String>,
    pub tags: Json<Vec<String>>,
    pub timezone: Option<String>,
    pub assigned_user_id: Option<i64>,
    pub attempts: i64,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Why `next_attempt_at` holds the lead: `retry`, `window`, `cap` (the dialer's) or
    /// `callback` (people's).
    pub wait_reason: Option<String>,
}

impl Lead {
    /// The call back people set, while it holds the lead.
    pub fn callback_at(&self) -> Option<DateTime<Utc>> {
        self.callback_for().and(self.next_attempt_at)
    }

    /// Who the call back that holds the lead is for, if one does.
    pub fn callback_for(&self) -> Option<CallbackFor> {
        match self.wait_reason.as_deref() {
            Some(CALLBACK) => Some(CallbackFor::Anyone),
            Some(AGENT_CALLBACK) => Some(CallbackFor::Agent),
            _ => None,
        }
        .filter(|_| self.next_attempt_at.is_some())
    }
}

/// `wait_reason` of a call back for anyone.
pub const CALLBACK: &str = "callback";
/// `wait_reason` of a call back kept for the lead's agent.
pub const AGENT_CALLBACK: &str = "agent_callback";

fn wait_reason_of(whom: CallbackFor) -> &'static str {
    match whom {
        CallbackFor::Anyone => CALLBACK,
        CallbackFor::Agent => AGENT_CALLBACK,
    }
}

/// SQL true when the lead `l` (a table alias) holds a call back kept for its agent: no dialer
/// takes such a lead but the call queue bridging it to that agent. Never NULL. A lead given to
/// nobody (`update`), or whose agent is deactivated (`users::update`), has its call back made
/// anyone's in the same transaction, so the agent is not looked up here.
pub fn kept_for_agent_sql(l: &str) -> String {
    format!("(COALESCE({l}.wait_reason, '') = '{AGENT_CALLBACK}')")
}

pub const COLUMNS: &str = "leads.id, leads.client_id, leads.list_id, leads.phone, leads.name, \
    leads.email, leads.priority, leads.status, leads.disposition, leads.tags, leads.timezone, \
    leads.assigned_user_id, leads.attempts, leads.last_attempt_at, leads.next_attempt_at, \
    leads.notes, leads.created_at, leads.updated_at, leads.deleted_at, leads.wait_reason";

/// Which leads a listing, an export or a bulk selection covers. Empty vectors mean "any".
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub ids: Option<Vec<i64>>,
    pub excluded_ids: Vec<i64>,
    pub statuses: Vec<String>,
    /// Seed 002 values; `IN_QUEUE` matches leads with no disposition.
    pub dispositions: Vec<String>,
    pub priorities: Vec<String>,
    /// Any of these tags.
    pub tags: Vec<String>,
    /// Substring of name, phone or email.
    pub search: Option<String>,
    /// A whole phone number (E.164) that `search` spells: matched exactly, from the phone
    /// index, in place of the substring search (which reads every lead of the client).
    pub search_phone: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub assigned_user_id: Option<i64>,
    pub list_id: Option<i64>,
    /// Only leads held for a call back (`true`), or only others (`false`).
    pub callback: Option<bool>,
}

impl LeadFilter {
    /// Filters on status and priority alone (or on nothing): the total can come from the kept
    /// counts.
    fn counted(&self) -> bool {
        let Self {
            ids,
            excluded_ids,
            statuses: _,
            dispositions,
            priorities: _,
            tags,
            search,
            search_phone,
            created_from,
            created_to,
            assigned_user_id,
            list_id,
            callback,
        } = self;
        ids.is_none()
            && excluded_ids.is_empty()
            && dispositions.is_empty()
            && tags.is_empty()
            && search.is_none()
            && search_phone.is_none()
            && created_from.is_none()
            && created_to.is_none()
            && assigned_user_id.is_none()
            && list_id.is_none()
            && callback.is_none()
    }
}

/// Columns a listing may sort on.
pub const SORTABLE: [&str; 10] = [
    "created_at",
    "updated_at",
    "name",
    "phone",
    "priority",
    "status",
    "attempts",
    "last_attempt_at",
    "next_attempt_at",
    "id",
];

#[derive(Debug, Clone)]
pub struct LeadSort {
    pub column: &'static str,
    pub descending: bool,
}

impl Default for LeadSort {
    fn default() -> Self {
        Self {
            column: "created_at",
            descending: true,
        }
    }
}

impl LeadSort {
    /// Accepts `createdAt` and `created_at` alike; unknown columns are refused.
    pub fn parse(column: Option<&str>, order: Option<&str>) -> std::result::Result<Self, String> {
        let mut s = Self::default();
        if let Some(c) = column.filter(|c| !c.is_empty()) {
            let snake: String = c
                .chars()
                .flat_map(|ch| {
                    if ch.is_ascii_uppercase() {
                        vec!['_', ch.to_ascii_lowercase()]
                    } else {
                        vec![ch]
                    }
                })
                .collect();
            s.column = SORTABLE.into_iter().find(|k| *k == snake).ok_or_else(|| {
                format!("cannot sort by '{c}'; use one of {}", SORTABLE.join(", "))
            })?;
        }
        if let Some(o) = order.filter(|o| !o.is_empty()) {
            s.descending = match o.to_ascii_lowercase().as_str() {
                "asc" | "ascending" | "1" => false,
                "desc" | "descending" | "-1" => true,
                _ => return Err(format!("sort order must be asc or desc, not '{o}'")),
            };
        }
        Ok(s)
    }

    fn push(&self, q: &mut Sql) {
        let dir = if self.descending { "DESC" } else { "ASC" };
        if self.column == "priority" {
            q.push(
                " ORDER BY CASE leads.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 \
                    WHEN 'medium' THEN 2 ELSE 3 END ",
            );
        } else {
            q.push(" ORDER BY leads.").push(self.column).push(" ");
        }
        q.push(dir).push(", leads.id ").push(dir);
    }
}

/// `s` as a case-insensitive `LIKE … ESCAPE '\'` pattern matching any text that holds it.
pub(crate) fn like_pattern(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{}%", escaped.to_lowercase())
}

impl LeadFilter {
    /// Append ` WHERE …` for live (not deleted) leads of `client_id` matching this filter.
    pub fn push_where(&self, q: &mut Sql, backend: Backend, client_id: i64) {
        q.push(" WHERE leads.client_id = ")
            .push_arg(client_id)
            .push(" AND leads.deleted_at IS NULL");
        if let Some(ids) = &self.ids {
            if ids.is_empty() {
                q.push(" AND 1 = 0");
            } else {
                q.push(" AND leads.id IN ").push_list(ids.iter().copied());
            }
        }
        if !self.excluded_ids.is_empty() {
            q.push(" AND leads.id NOT IN ")
                .push_list(self.excluded_ids.iter().copied());
        }
        if !self.statuses.is_empty() {
            q.push(" AND leads.status IN ")
                .push_list(self.statuses.iter());
        }
        if !self.dispositions.is_empty() {
            let in_queue = self.dispositions.iter().any(|d| d == "IN_QUEUE");
            let named: Vec<&String> = self
                .dispositions
                .iter()
                .filter(|d| *d != "IN_QUEUE")
                .collect();
            q.push(" AND (");
            if !named.is_empty() {
                q.push("leads.disposition IN ").push_list(named);
                if in_queue {
                    q.push(" OR ");
                }
            }
            if in_queue {
                q.push("leads.disposition IS NULL");
            }
            q.push(")");
        }
        if !self.priorities.is_empty() {
            q.push(" AND leads.priority IN ")
                .push_list(self.priorities.iter());
        }
        if !self.tags.is_empty() {
            if backend == Backend::Postgres {
                // Implied by any `@>` below; it lets PostgreSQL use the tags index, which
                // holds only leads with tags (migration 0015).
                q.push(" AND leads.tags <> '[]'::jsonb");
            }
            q.push(" AND (");
            for (i, tag) in self.tags.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                match backend {
                    Backend::Postgres => {
                        q.push("leads.tags @> ").push_arg(serde_json::json!([tag]));
                    }
                    Backend::Sqlite => {
                        q.push(
                            "EXISTS (SELECT 1 FROM json_each(leads.tags) WHERE json_each.value = ",
                        )
                        .push_arg(tag)
                        .push(")");
                    }
                }
            }
            q.push(")");
        }
        if let Some(p) = &self.search_phone {
            q.push(" AND leads.phone = ").push_arg(p.clone());
        } else if let Some(s) = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let pat = like_pattern(s);
            q.push(" AND (LOWER(leads.name) LIKE ")
                .push_arg(&pat)
                .push(" ESCAPE '\\'");
            q.push(" OR LOWER(leads.email) LIKE ")
                .push_arg(&pat)
                .push(" ESCAPE '\\'");
            q.push(" OR leads.phone LIKE ")
                .push_arg(&pat)
                .push(" ESCAPE '\\'");
            // People type national forms (0912…); match the digits after the trunk zero too.
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            let digits = digits.trim_start_matches('0');
            if digits.len() >= 3 {
                q.push(" OR leads.phone LIKE ")
                    .push_arg(format!("%{digits}%"));
            }
            q.push(")");
        }
        if let Some(t) = self.created_from {
            q.push(" AND leads.created_at >= ").push_arg(t);
        }
        if let Some(t) = self.created_to {
            q.push(" AND leads.created_at <= ").push_arg(t);
        }
        if let Some(u) = self.assigned_user_id {
            q.push(" AND leads.assigned_user_id = ").push_arg(u);
        }
        match self.callback {
            Some(true) => {
                q.push(" AND leads.wait_reason IN ('callback', 'agent_callback') AND leads.next_attempt_at IS NOT NULL");
            }
            Some(false) => {
                q.push(" AND (leads.wait_reason IS NULL OR leads.wait_reason NOT IN ('callback', 'agent_callback'))");
            }
            None => {}
        }
        if let Some(l) = self.list_id {
            // A list being deleted has no leads, even those it has not let go of yet.
            q.push(" AND leads.list_id = ").push_arg(l);
            q.push(" AND NOT EXISTS (SELECT 1 FROM lists WHERE lists.id = ")
                .push_arg(l)
                .push(" AND lists.deleted_at IS NOT NULL)");
        }
    }
}

/// One page of leads and the total that match.
pub async fn list(
    db: &Db,
    client_id: i64,
    filter: &LeadFilter,
    sort: &LeadSort,
    limit: u32,
    offset: u64,
) -> Result<(Vec<Lead>, u64)> {
    let mut conn = db.read().await?;
    let kept = if filter.counted() {
        crate::counters::live_leads(
            &mut conn,
            db.backend(),
            client_id,
            &filter.statuses,
            &filter.priorities,
        )
        .await?
    } else {
        None
    };
    let total = match kept {
        Some(n) => n as i64,
        None => {
            let mut count = sql("SELECT COUNT(*) FROM leads");
            filter.push_where(&mut count, db.backend(), client_id);
            count.fetch_one::<(i64,)>(&mut conn).await?.0
        }
    };
    let mut q = sql(&format!("SELECT {COLUMNS} FROM leads"));
    filter.push_where(&mut q, db.backend(), client_id);
    sort.push(&mut q);
    q.push(" LIMIT ")
        .push_arg(i64::from(limit))
        .push(" OFFSET ")
        .push_arg(offset as i64);
    Ok((q.fetch_all(&mut conn).await?, total as u64))
}

/// Which leads seed 001 calls available to a person: live `pending` leads of their client that
/// nobody else holds (unassigned, or assigned to them), of the given priorities (all when none).
#[derive(Debug, Clone)]
pub struct Available {
    pub client_id: i64,
    pub user_id: i64,
    pub priorities: Vec<Priority>,
}

impl Available {
    /// The priorities asked for, most urgent first.
    fn priorities(&self) -> Vec<Priority> {
        Priority::ALL
            .into_iter()
            .filter(|p| self.priorities.is_empty() || self.priorities.contains(p))
            .collect()
    }

    fn push_where(&self, q: &mut Sql) {
        q.push(" WHERE leads.client_id = ")
            .push_arg(self.client_id)
            .push(" AND leads.status = 'pending' AND leads.deleted_at IS NULL");
        if !self.priorities.is_empty() {
            q.push(" AND leads.priority IN ")
                .push_list(self.priorities().into_iter().map(Priority::as_str));
        }
    }

    /// One page, most urgent first, then in the order the leads were added (id).
    ///
    /// Each priority is read in two parts, each from its own index in id order: fresh leads
    /// from the queue's index, leads waiting for a retry from the due index (few, sorted).
    /// One sort of every pending lead by rank took 0.4 s at 1,000,000 leads; and a walk of
    /// the primary key, which PostgreSQL chose for `ORDER BY id` over the status index, passes
    /// every lead already called before it finds a pending one, when calling went in id order.
    pub async fn page(&self, ex: &mut impl AsExec, limit: u32, offset: u64) -> Result<Vec<Lead>> {
        // Each part needs at most the page's end; written out, not bound, so that PostgreSQL
        // plans each part for its limit (see `dialer::candidates`).
        let end = (offset.saturating_add(u64::from(limit))).min(i64::MAX as u64);
        let backend = ex.backend();
        let mut q = sql("SELECT * FROM (");
        let mut first = true;
        for p in self.priorities() {
            for waiting in [false, true] {
                if !std::mem::take(&mut first) {
                    q.push(" UNION ALL ");
                }
                let index = if waiting {
                    "leads_due_idx"
                } else {
                    "leads_queue_idx"
                };
                q.push(&format!(
                    "SELECT * FROM (SELECT {COLUMNS}, {} AS queue_rank FROM {}",
                    p.rank(),
                    from_leads(backend, index)
                ))
                .push(" WHERE leads.client_id = ")
                .push_arg(self.client_id)
                .push(" AND leads.priority = ")
                .push_arg(p.as_str())
                .push(" AND leads.status = 'pending' AND leads.deleted_at IS NULL")
                .push(if waiting {
                    " AND leads.next_attempt_at IS NOT NULL"
                } else {
                    " AND leads.next_attempt_at IS NULL"
                })
                .push(" AND (leads.assigned_user_id IS NULL OR leads.assigned_user_id = ")
                .push_arg(self.user_id)
                .push(") ORDER BY leads.id LIMIT ")
                .push(&end.to_string())
                .push(") AS part");
            }
        }
        q.push(") AS available ORDER BY queue_rank, id LIMIT ")
            .push_arg(i64::from(limit))
            .push(" OFFSET ")
            .push_arg(offset.min(i64::MAX as u64) as i64);
        q.fetch_all(ex).await
    }

    /// How many there are: the pending leads (from the kept counts where there are some)
    /// less the few that someone else holds (from the index of assigned leads).
    pub async fn total(&self, ex: &mut impl AsExec) -> Result<u64> {
        let backend = ex.backend();
        let priorities: Vec<String> = self.priorities.iter().map(|p| p.as_str().into()).collect();
        let kept = crate::counters::live_leads(
            &mut *ex,
            backend,
            self.client_id,
            &["pending".into()],
            &priorities,
        )
        .await?;
        let pending = match kept {
            Some(n) => n,
            None => {
                let mut q = sql("SELECT COUNT(*) FROM leads");
                self.push_where(&mut q);
                q.fetch_one::<(i64,)>(&mut *ex).await?.0.max(0) as u64
            }
        };
        let mut q = sql(&format!(
            "SELECT COUNT(*) FROM {}",
            from_leads(backend, "leads_assigned_idx")
        ));
        self.push_where(&mut q);
        q.push(" AND leads.assigned_user_id IS NOT NULL AND leads.assigned_user_id <> ")
            .push_arg(self.user_id);
        let held = q.fetch_one::<(i64,)>(ex).await?.0.max(0) as u64;
        Ok(pending.saturating_sub(held))
    }
}

/// The open leads (pending, claimed or calling) a person holds, most recently changed first:
/// a handful, read through the index of assigned leads whatever the client holds in all.
pub async fn held_by(
    ex: &mut impl AsExec,
    client_id: i64,
    user_id: i64,
    limit: u32,
) -> Result<Vec<Lead>> {
    let backend = ex.backend();
    sql(&format!(
        "SELECT {COLUMNS} FROM {} WHERE leads.assigned_user_id = $1 AND leads.client_id = $2 \
         AND leads.status IN ('pending', 'claimed', 'calling') AND leads.deleted_at IS NULL \
         ORDER BY leads.updated_at DESC, leads.id DESC LIMIT $3",
        from_leads(backend, "leads_assigned_idx")
    ))
    .arg(user_id)
    .arg(client_id)
    .arg(i64::from(limit))
    .fetch_all(ex)
    .await
}

/// `leads`, read through `index` on SQLite. Where its statistics are missing or stale (a
/// connection reads them once; a table that grew by an upload since), SQLite reads a whole
/// priority's pending leads from the status index for the few waiting for a retry (0.35 s at
/// 1,000,000 leads, against 1 ms). PostgreSQL keeps its own statistics and is left to choose.
fn from_leads(backend: Backend, index: &str) -> String {
    match backend {
        Backend::Sqlite => format!("leads INDEXED BY {index}"),
        Backend::Postgres => "leads".into(),
    }
}

/// A live lead of `client_id` (a lead of another client is simply not found).
pub async fn get(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<Option<Lead>> {
    sql(&format!(
        "SELECT {COLUMNS} FROM leads WHERE leads.client_id = $1 AND leads.id = $2 AND leads.deleted_at IS NULL"
    ))
    .arg(client_id)
    .arg(id)
    .fetch_optional(ex)
    .await
}

#[derive(Debug, Clone, Default)]
pub struct NewLead {
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub priority: Option<String>,
    pub tags: Vec<String>,
    pub timezone: Option<String>,
    pub list_id: Option<i64>,
    pub assigned_user_id: Option<i64>,
    pub notes: Option<String>,
}

pub async fn create(ex: &mut impl AsExec, client_id: i64, l: &NewLead) -> Result<Lead> {
    sql(&format!(
        "INSERT INTO leads (client_id, list_id, phone, name, email, priority, tags, timezone, \
         assigned_user_id, notes, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {}",
        COLUMNS.replace("leads.", "")
    ))
    .arg(client_id)
    .arg(l.list_id)
    .arg(&l.phone)
    .arg(l.name.as_ref())
    .arg(l.email.as_ref())
    .arg(l.priority.clone().unwrap_or_else(|| "medium".into()))
    .arg(serde_json::json!(l.tags))
    .arg(l.timezone.as_ref())
    .arg(l.assigned_user_id)
    .arg(l.notes.as_ref())
    .arg(now())
    .fetch_one(ex)
    .await
}

/// Fields a change may set; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct LeadPatch {
    pub phone: Option<String>,
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub priority: Option<String>,
    pub status: Option<String>,
    pub disposition: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub timezone: Option<Option<String>>,
    pub list_id: Option<Option<i64>>,
    pub assigned_user_id: Option<Option<i64>>,
    pub notes: Option<Option<String>>,
    /// When people asked the lead to be called next (a call back); `Some(None)`: no longer.
    /// The dialer calls it no sooner (and still only inside its calling window).
    pub callback_at: Option<Option<DateTime<Utc>>>,
    /// Who the call back is for: with `callback_at`, the new call back's (anyone's when
    /// `None`); alone, it changes the call back the lead holds (and nothing when none does).
    pub callback_for: Option<CallbackFor>,
}

impl LeadPatch {
    /// The names of the fields it changes.
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("phone", self.phone.is_some()),
            ("name", self.name.is_some()),
            ("email", self.email.is_some()),
            ("priority", self.priority.is_some()),
            ("status", self.status.is_some()),
            ("disposition", self.disposition.is_some()),
            ("tags", self.tags.is_some()),
            ("timezone", self.timezone.is_some()),
            ("list_id", self.list_id.is_some()),
            ("assigned_user_id", self.assigned_user_id.is_some()),
            ("notes", self.notes.is_some()),
            ("callback_at", self.callback_at.is_some()),
            ("callback_for", self.callback_for.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, set)| set.then_some(f))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.phone.is_none()
            && self.name.is_none()
            && self.email.is_none()
            && self.priority.is_none()
            && self.status.is_none()
            && self.disposition.is_none()
            && self.tags.is_none()
            && self.timezone.is_none()
            && self.list_id.is_none()
            && self.assigned_user_id.is_none()
            && self.notes.is_none()
            && self.callback_at.is_none()
            && self.callback_for.is_none()
    }
}

pub async fn update(
    ex: &mut impl AsExec,
    client_id: i64,
    id: i64,
    p: &LeadPatch,
) -> Result<Option<Lead>> {
    let mut q = sql("UPDATE leads SET updated_at = $1").arg(now());
    let set = |q: &mut Sql, col: &str, v: crate::Arg| {
        q.push(", ").push(col).push(" = ").push_arg(v);
    };
    if let Some(v) = &p.phone {
        set(&mut q, "phone", v.into());
    }
    if let Some(v) = &p.name {
        set(&mut q, "name", v.clone().into());
    }
    if let Some(v) = &p.email {
        set(&mut q, "email", v.clone().into());
    }
    if let Some(v) = &p.priority {
        set(&mut q, "priority", v.into());
    }
    if let Some(v) = &p.status {
        set(&mut q, "status", v.into());
    }
    if let Some(v) = &p.disposition {
        set(&mut q, "disposition", v.clone().into());
    }
    if let Some(v) = &p.tags {
        set(&mut q, "tags", serde_json::json!(v).into());
    }
    if let Some(v) = &p.timezone {
        set(&mut q, "timezone", v.clone().into());
    }
    if let Some(v) = &p.list_id {
        set(&mut q, "list_id", (*v).into());
    }
    if let Some(v) = &p.assigned_user_id {
        set(&mut q, "assigned_user_id", (*v).into());
    }
    if let Some(v) = &p.notes {
        set(&mut q, "notes", v.clone().into());
    }
    if let Some(v) = &p.callback_at {
        // Held apart from the dialer's own waits ('window', 'cap', 'retry'), which it clears
        // or replaces by itself.
        let whom = p.callback_for.unwrap_or(CallbackFor::Anyone);
        set(&mut q, "next_attempt_at", (*v).into());
        set(
            &mut q,
            "wait_reason",
            v.map(|_| wait_reason_of(whom)).into(),
        );
    } else if let Some(whom) = p.callback_for {
        q.push(", wait_reason = CASE WHEN wait_reason IN ('callback', 'agent_callback') THEN ")
            .push_arg(wait_reason_of(whom))
            .push(" ELSE wait_reason END");
    } else if p.assigned_user_id == Some(None) {
        // A lead with no agent has no call back kept for one.
        q.push(", wait_reason = CASE WHEN wait_reason = 'agent_callback' THEN 'callback' ELSE wait_reason END");
    }
    q.push(" WHERE client_id = ")
        .push_arg(client_id)
        .push(" AND id = ")
        .push_arg(id);
    q.push(" AND deleted_at IS NULL");
    if q.execute(&mut *ex).await? == 0 {
        return Ok(None);
    }
    if let Some(at) = p.callback_at {
        crate::callbacks::set(&mut *ex, client_id, id, at).await?;
    }
    get(ex, client_id, id).await
}

pub async fn soft_delete(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<bool> {
    let t = now();
    Ok(sql("UPDATE leads SET deleted_at = $1, updated_at = $1 WHERE client_id = $2 AND id = $3 AND deleted_at IS NULL")
        .arg(t)
        .arg(client_id)
        .arg(id)
        .execute(ex)
        .await?
        == 1)
}

/// A lead as an export row: the lead and its agent's name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    #[sqlx(flatten)]
    pub lead: Lead,
    pub agent_name: Option<String>,
}

/// Every lead an export selects, in its order, joined with its agent's name: one query whose
/// rows stream as the database sends them, whatever their number.
pub fn export<'e>(
    ex: &'e mut impl AsExec,
    client_id: i64,
    filter: &LeadFilter,
    sort: &LeadSort,
) -> BoxStream<'e, Result<ExportRow>> {
    let backend = ex.backend();
    let mut q = sql(&format!(
        "SELECT {COLUMNS}, CASE WHEN u.id IS NULL THEN NULL \
         WHEN u.first_name = '' AND u.last_name = '' THEN u.username \
         ELSE TRIM(u.first_name || ' ' || u.last_name) END AS agent_name \
         FROM leads LEFT JOIN users u ON u.id = leads.assigned_user_id"
    ));
    filter.push_where(&mut q, backend, client_id);
    sort.push(&mut q);
    q.fetch(ex)
}

/// A caller we could not put through is called back as soon as the dialer may: a call back due
/// at `t` on a lead still in the queue (for anyone, or still for its agent when it was theirs
/// alone; one already due stays as it is).
pub async fn call_back_now(ex: &mut impl AsExec, lead_id: i64, t: DateTime<Utc>) -> Result<()> {
    sql("UPDATE leads SET next_attempt_at = $2, updated_at = $2, \
         wait_reason = CASE WHEN wait_reason = 'agent_callback' THEN wait_reason ELSE 'callback' END \
         WHERE id = $1 AND status = 'pending' AND deleted_at IS NULL \
         AND (next_attempt_at IS NULL OR next_attempt_at > $2 \
              OR COALESCE(wait_reason, '') NOT IN ('callback', 'agent_callback'))")
    .arg(lead_id)
    .arg(t)
    .execute(ex)
    .await?;
    Ok(())
}
