//! JSON views of stored rows, shared by the native routes. Never includes secrets. Each is a
//! typed struct, so what a route answers and what its OpenAPI schema says are one definition.

use serde::Serialize;
use switchboard_core::PageRequest;
use switchboard_store::leads::Lead;
use switchboard_store::users::User;
use utoipa::ToSchema;

use crate::extract::ts;

/// A user as the native routes show one.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub id: i64,
    pub client_id: i64,
    pub username: String,
    pub email: Option<String>,
    #[schema(schema_with = crate::docs::field::role)]
    pub role: String,
    /// First and last name, or the username when both are empty.
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    /// The phone an agent's calls are bridged to (E.164).
    pub phone_number: Option<String>,
    /// The agent's id at the telephony provider (Smartflo).
    pub agent_id: Option<String>,
    pub is_active: bool,
    pub is_available: bool,
    #[schema(format = DateTime)]
    pub last_login_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

pub fn user_view(u: &User) -> UserView {
    UserView {
        id: u.id,
        client_id: u.client_id,
        username: u.username.clone(),
        email: u.email.clone(),
        role: u.role.clone(),
        name: u.full_name(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        phone_number: u.phone_number.clone(),
        agent_id: u.agent_id.clone(),
        is_active: u.is_active,
        is_available: u.is_available,
        last_login_at: u.last_login_at.as_ref().map(ts),
        created_at: ts(&u.created_at),
        updated_at: ts(&u.updated_at),
    }
}

/// Seed 002's roster entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntry {
    pub id: i64,
    pub username: String,
    #[schema(schema_with = crate::docs::field::role)]
    pub role: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: Option<String>,
    pub is_active: bool,
}

pub fn roster_view(u: &User) -> RosterEntry {
    RosterEntry {
        id: u.id,
        username: u.username.clone(),
        role: u.role.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        phone_number: u.phone_number.clone(),
        is_active: u.is_active,
    }
}

/// A lead as the native routes show one.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Lead)]
pub struct LeadView {
    pub id: i64,
    pub client_id: i64,
    pub list_id: Option<i64>,
    /// E.164.
    pub phone: String,
    /// The same as `phone` (seed 001's name for it).
    pub phone_number: String,
    pub name: Option<String>,
    pub email: Option<String>,
    #[schema(schema_with = crate::docs::field::priority)]
    pub priority: String,
    #[schema(schema_with = crate::docs::field::lead_status)]
    pub status: String,
    #[schema(schema_with = crate::docs::field::disposition_shown)]
    pub disposition: String,
    pub tags: Vec<String>,
    /// IANA time zone for calling hours (the client's when absent).
    pub timezone: Option<String>,
    pub assigned_user_id: Option<i64>,
    pub attempts: i64,
    #[schema(format = DateTime)]
    pub last_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    /// The call back people set (`next_attempt_at`, when it is one); null otherwise.
    #[schema(format = DateTime)]
    pub callback_at: Option<String>,
    /// Whose that call back is: `anyone`, or `agent` (kept for the lead's agent); null when
    /// no call back holds the lead.
    #[schema(value_type = Option<String>, example = "agent")]
    pub callback_for: Option<&'static str>,
    pub notes: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

pub fn lead_view(l: &Lead) -> LeadView {
    LeadView {
        id: l.id,
        client_id: l.client_id,
        list_id: l.list_id,
        phone: l.phone.clone(),
        phone_number: l.phone.clone(),
        name: l.name.clone(),
        email: l.email.clone(),
        priority: l.priority.clone(),
        status: l.status.clone(),
        disposition: l.disposition.as_deref().unwrap_or("IN_QUEUE").to_string(),
        tags: l.tags.0.clone(),
        timezone: l.timezone.clone(),
        assigned_user_id: l.assigned_user_id,
        attempts: l.attempts,
        last_attempt_at: l.last_attempt_at.as_ref().map(ts),
        next_attempt_at: l.next_attempt_at.as_ref().map(ts),
        callback_at: l.callback_at().as_ref().map(ts),
        callback_for: l.callback_for().map(|w| w.as_str()),
        notes: l.notes.clone(),
        created_at: ts(&l.created_at),
        updated_at: ts(&l.updated_at),
    }
}

/// One user, with what was done to it (on a change).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAnswer {
    /// Always true.
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<&'static str>,
    pub user: UserView,
}

impl UserAnswer {
    pub fn new(message: Option<&'static str>, u: &User) -> Self {
        Self {
            success: true,
            message,
            user: user_view(u),
        }
    }
}

/// One lead, with what was done to it (on a change).
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadAnswer {
    /// Always true.
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<&'static str>,
    pub lead: LeadView,
}

impl LeadAnswer {
    pub fn new(message: Option<&'static str>, l: &Lead) -> Self {
        Self {
            success: true,
            message,
            lead: lead_view(l),
        }
    }
}

/// Where a page sits in the whole (seed 001).
#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    /// This page, from 1.
    pub page: u32,
    /// Items per page (at most 100).
    pub limit: u32,
    /// Items in all pages.
    pub total: u64,
    /// How many pages there are (0 when there are no items).
    pub pages: u64,
}

impl Pagination {
    pub fn new(page: &PageRequest, total: u64) -> Self {
        Self {
            page: page.page,
            limit: page.limit,
            total,
            pages: page.pages(total),
        }
    }
}
