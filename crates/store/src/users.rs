//! People: super admins, admins and operators. Password hashing happens above this layer;
//! the store only keeps the hash.

use chrono::{DateTime, Utc};

use crate::{AsExec, Db, Result, Sql, now, sql};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub client_id: i64,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: Option<String>,
    pub agent_id: Option<String>,
    pub is_active: bool,
    pub is_available: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The generation of sessions now valid: tokens carry the one they were issued in. A new
    /// password (or signing out) starts the next one.
    pub token_generation: i64,
}

impl User {
    pub fn full_name(&self) -> String {
        full_name(&self.first_name, &self.last_name, &self.username)
    }
}

/// A person's first and last name, or their username when they have neither.
pub fn full_name(first: &str, last: &str, username: &str) -> String {
    let n = format!("{first} {last}");
    let n = n.trim();
    if n.is_empty() {
        username.to_string()
    } else {
        n.to_string()
    }
}

const COLUMNS: &str = "id, client_id, username, email, password_hash, role, first_name, last_name, \
    phone_number, agent_id, is_active, is_available, last_login_at, created_at, updated_at, \
    token_generation";

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub client_id: i64,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: Option<String>,
    pub agent_id: Option<String>,
}

pub async fn create(ex: &mut impl AsExec, u: &NewUser) -> Result<User> {
    sql(&format!(
        "INSERT INTO users (client_id, username, email, password_hash, role, first_name, last_name, \
         phone_number, agent_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {COLUMNS}"
    ))
    .arg(u.client_id)
    .arg(u.username.to_lowercase())
    .arg(u.email.as_ref().map(|e| e.to_lowercase()))
    .arg(&u.password_hash)
    .arg(&u.role)
    .arg(&u.first_name)
    .arg(&u.last_name)
    .arg(u.phone_number.as_ref())
    .arg(u.agent_id.as_ref())
    .arg(now())
    .fetch_one(ex)
    .await
}

pub async fn get(ex: &mut impl AsExec, id: i64) -> Result<Option<User>> {
    sql(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .arg(id)
        .fetch_optional(ex)
        .await
}

/// Find a login by email or username (both stored lower-case).
pub async fn find_login(db: &Db, login: &str) -> Result<Option<User>> {
    let l = login.trim().to_lowercase();
    db.fetch_optional(
        sql(&format!(
            "SELECT {COLUMNS} FROM users WHERE email = $1 OR username = $1 LIMIT 1"
        ))
        .arg(l),
    )
    .await
}

pub async fn list(db: &Db, client_id: Option<i64>) -> Result<Vec<User>> {
    let mut q = sql(&format!("SELECT {COLUMNS} FROM users"));
    if let Some(c) = client_id {
        q.push(" WHERE client_id = ").push_arg(c);
    }
    q.push(" ORDER BY id");
    db.fetch_all(q).await
}

/// Which of a client's users a listing shows. `None` and empty mean any.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<String>,
    pub active: Option<bool>,
    /// Part of the username, the email or the name, in any letter case.
    pub search: Option<String>,
}

/// One page of a client's users matching `f`, in the order they were added, and how many
/// match in all.
pub async fn page(
    db: &Db,
    client_id: i64,
    f: &UserFilter,
    limit: u32,
    offset: u64,
) -> Result<(Vec<User>, u64)> {
    let filtered = |select: &str| {
        let mut q = sql(select);
        q.push(" WHERE client_id = ").push_arg(client_id);
        if let Some(r) = &f.role {
            q.push(" AND role = ").push_arg(r.clone());
        }
        if let Some(a) = f.active {
            q.push(" AND is_active = ").push_arg(a);
        }
        if let Some(s) = f.search.as_deref().filter(|s| !s.is_empty()) {
            let p = crate::leads::like_pattern(s);
            q.push(" AND (LOWER(username) LIKE ")
                .push_arg(p.clone())
                .push(" ESCAPE '\\' OR LOWER(COALESCE(email, '')) LIKE ")
                .push_arg(p.clone())
                .push(" ESCAPE '\\' OR LOWER(first_name || ' ' || last_name) LIKE ")
                .push_arg(p)
                .push(" ESCAPE '\\')");
        }
        q
    };
    let (total,): (i64,) = db.fetch_one(filtered("SELECT COUNT(*) FROM users")).await?;
    let mut q = filtered(&format!("SELECT {COLUMNS} FROM users"));
    q.push(" ORDER BY id LIMIT ")
        .push_arg(i64::from(limit))
        .push(" OFFSET ")
        .push_arg(offset.min(i64::MAX as u64) as i64);
    Ok((db.fetch_all(q).await?, total.max(0) as u64))
}

pub async fn count(ex: &mut impl AsExec) -> Result<i64> {
    let (n,): (i64,) = sql("SELECT COUNT(*) FROM users").fetch_one(ex).await?;
    Ok(n)
}

/// Fields a change may set; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub role: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<Option<String>>,
    pub agent_id: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub is_available: Option<bool>,
}

pub async fn update(ex: &mut impl AsExec, id: i64, p: &UserPatch) -> Result<Option<User>> {
    let mut q = Sql::default();
    q.push("UPDATE users SET updated_at = ").push_arg(now());
    let set = |q: &mut Sql, col: &str, v: crate::Arg| {
        q.push(", ").push(col).push(" = ").push_arg(v);
    };
    if let Some(v) = &p.username {
        set(&mut q, "username", v.to_lowercase().into());
    }
    if let Some(v) = &p.email {
        set(&mut q, "email", v.as_ref().map(|e| e.to_lowercase()).into());
    }
    if let Some(v) = &p.password_hash {
        set(&mut q, "password_hash", v.into());
        // Every session signed before the new password ends.
        q.push(", token_generation = token_generation + 1");
    }
    if let Some(v) = &p.role {
        set(&mut q, "role", v.into());
    }
    if let Some(v) = &p.first_name {
        set(&mut q, "first_name", v.into());
    }
    if let Some(v) = &p.last_name {
        set(&mut q, "last_name", v.into());
    }
    if let Some(v) = &p.phone_number {
        set(&mut q, "phone_number", v.clone().into());
    }
    if let Some(v) = &p.agent_id {
        set(&mut q, "agent_id", v.clone().into());
    }
    if let Some(v) = p.is_active {
        set(&mut q, "is_active", v.into());
        if !v {
            // Sessions do not come back with the account if it is made active again.
            q.push(", token_generation = token_generation + 1");
        }
    }
    if let Some(v) = p.is_available {
        set(&mut q, "is_available", v.into());
    }
    q.push(" WHERE id = ")
        .push_arg(id)
        .push(" RETURNING ")
        .push(COLUMNS);
    let user: Option<User> = q.fetch_optional(&mut *ex).await?;
    if user.is_some() && p.is_active == Some(false) {
        // Call backs kept for a deactivated agent are anyone's now.
        sql("UPDATE leads SET wait_reason = 'callback' WHERE assigned_user_id = $1 AND wait_reason = 'agent_callback'")
            .arg(id)
            .execute(ex)
            .await?;
    }
    Ok(user)
}

/// End every session of user `id` (their tokens are refused from now on); the user as it is
/// now, `None` if there is no such user.
pub async fn end_sessions(ex: &mut impl AsExec, id: i64) -> Result<Option<User>> {
    sql(&format!(
        "UPDATE users SET token_generation = token_generation + 1, updated_at = $1 \
         WHERE id = $2 RETURNING {COLUMNS}"
    ))
    .arg(now())
    .arg(id)
    .fetch_optional(ex)
    .await
}

pub async fn touch_login(db: &Db, id: i64) -> Result<()> {
    db.execute(
        sql("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .arg(now())
            .arg(id),
    )
    .await?;
    Ok(())
}
