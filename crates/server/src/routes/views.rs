//! JSON views of stored rows, shared by the native routes. Never includes secrets.

use serde_json::{Value, json};
use switchboard_store::leads::Lead;
use switchboard_store::users::User;

use crate::extract::{ts, ts_opt};

pub fn user_view(u: &User) -> Value {
    json!({
        "id": u.id,
        "client_id": u.client_id,
        "username": u.username,
        "email": u.email,
        "role": u.role,
        "name": u.full_name(),
        "first_name": u.first_name,
        "last_name": u.last_name,
        "phone_number": u.phone_number,
        "agent_id": u.agent_id,
        "is_active": u.is_active,
        "is_available": u.is_available,
        "last_login_at": ts_opt(&u.last_login_at),
        "created_at": ts(&u.created_at),
        "updated_at": ts(&u.updated_at),
    })
}

/// Seed 002's roster entry.
pub fn roster_view(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "role": u.role,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "phone_number": u.phone_number,
        "is_active": u.is_active,
    })
}

pub fn lead_view(l: &Lead) -> Value {
    json!({
        "id": l.id,
        "client_id": l.client_id,
        "list_id": l.list_id,
        "phone": l.phone,
        "phone_number": l.phone,
        "name": l.name,
        "email": l.email,
        "priority": l.priority,
        "status": l.status,
        "disposition": l.disposition.as_deref().unwrap_or("IN_QUEUE"),
        "tags": l.tags.0,
        "timezone": l.timezone,
        "assigned_user_id": l.assigned_user_id,
        "attempts": l.attempts,
        "last_attempt_at": ts_opt(&l.last_attempt_at),
        "next_attempt_at": ts_opt(&l.next_attempt_at),
        "notes": l.notes,
        "created_at": ts(&l.created_at),
        "updated_at": ts(&l.updated_at),
    })
}
