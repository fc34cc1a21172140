//! People: `/api/users` (admins), `/api/admins` (seed 002's roster), `/api/clients` (super admins).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::PageRequest;
use switchboard_core::Role;
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::clients::Client;
use switchboard_store::users::{self, NewUser, User, UserFilter, UserPatch};
use switchboard_store::{Db, clients};
use utoipa::ToSchema;

use crate::auth::{AdminSession, Session, SuperAdminSession, hash_password, validate_password};
use crate::docs::Done;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query, nullable};
use crate::routes::views::{Pagination, RosterEntry, UserAnswer, UserView, roster_view, user_view};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    client_id: Option<i64>,
    #[param(schema_with = crate::docs::field::role)]
    role: Option<String>,
    /// Part of the username, the email or the name (any letter case).
    search: Option<String>,
    /// `true`: active accounts only; `false`: deactivated ones only.
    is_active: Option<bool>,
    /// With `page` or `limit` the answer is one page, with `pagination`; without, everyone.
    #[param(schema_with = crate::docs::field::page)]
    page: Option<u32>,
    #[param(schema_with = crate::docs::field::limit)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    operation_id = "list_users",
    params(ListQuery),
    summary = "List the users of a client",
    description = "The caller's client; a super admin may name another with `client_id`. Everyone, in the order they were added, unless `page` or `limit` asks for one page.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The users", body = UserList),
        (status = 400, description = "Invalid role", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn list(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<UserList>> {
    let client = s.scope_client(q.client_id)?;
    let role = q
        .role
        .as_deref()
        .map(|r| {
            Role::parse(r)
                .ok_or_else(|| ApiError::bad_request("role must be super_admin, admin or operator"))
        })
        .transpose()?;
    let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::bad_request(
            "search must be at most 200 characters",
        ));
    }
    let filter = UserFilter {
        role: role.map(|r| r.as_str().to_string()),
        active: q.is_active,
        search: search.map(String::from),
    };
    let paged = q.page.is_some() || q.limit.is_some();
    let page = PageRequest::new(q.page, q.limit);
    let (found, total) = if paged {
        users::page(&st.db, client, &filter, page.limit, page.offset()).await?
    } else {
        users::page(&st.db, client, &filter, u32::MAX, 0).await?
    };
    let users: Vec<UserView> = found.iter().map(user_view).collect();
    Ok(Json(UserList {
        success: true,
        count: users.len(),
        users,
        pagination: paged.then(|| Pagination::new(&page, total)),
    }))
}

/// `GET /api/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// Always true.
    pub success: bool,
    pub users: Vec<UserView>,
    /// How many `users` holds.
    pub count: usize,
    /// With `page` or `limit`: this page, and how many match in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub pagination: Option<Pagination>,
}

/// Seed 002: every user and agent of the caller's client, roster fields only.
#[utoipa::path(
    get,
    path = "/api/admins",
    tag = "users",
    summary = "Roster of the caller's client",
    description = "Every user and agent of the caller's client, roster fields only, as an array.",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "Array of roster entries", body = [RosterEntry]), crate::docs::AdminErrors)
)]
pub async fn roster(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<Vec<RosterEntry>>> {
    let users = users::list(&st.db, Some(s.client_id())).await?;
    Ok(Json(users.iter().map(roster_view).collect()))
}

fn validate_username(u: &str) -> Result<String, ApiError> {
    let u = u.trim().to_lowercase();
    if u.len() < 2
        || u.len() > 64
        || !u
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(ApiError::bad_request(
            "username must be 2-64 characters of letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(u)
}

fn validate_email(e: &str) -> Result<String, ApiError> {
    let e = e.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !d.starts_with('.'));
    if !ok {
        return Err(ApiError::bad_request(format!(
            "'{e}' is not an email address"
        )));
    }
    Ok(e)
}

fn validate_name(field: &str, v: &str) -> Result<String, ApiError> {
    let v = v.trim();
    if v.chars().count() > 100 {
        return Err(ApiError::bad_request(format!(
            "{field} must be at most 100 characters"
        )));
    }
    Ok(v.to_string())
}

fn parse_role(r: &str) -> Result<Role, ApiError> {
    Role::parse(r)
        .ok_or_else(|| ApiError::bad_request("role must be super_admin, admin or operator"))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateUser {
    #[schema(pattern = "^[A-Za-z0-9._-]{2,64}$")]
    username: String,
    email: Option<String>,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    #[schema(schema_with = crate::docs::field::role)]
    role: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone_number: Option<String>,
    agent_id: Option<String>,
    client_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/users",
    tag = "users",
    operation_id = "create_user",
    summary = "Create a user",
    description = "`role` defaults to `operator`; callers create only roles they may manage.",
    security(("bearerAuth" = [])),
    request_body = CreateUser,
    responses(
        (status = 201, description = "The new user", body = UserAnswer),
        (status = 400, description = "Invalid field", body = crate::docs::ErrorBody),
        (status = 404, description = "No such client", body = crate::docs::ErrorBody),
        (status = 409, description = "Username or email taken", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn create(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(b): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserAnswer>)> {
    let client_id = s.scope_client(b.client_id)?;
    let role = parse_role(b.role.as_deref().unwrap_or("operator"))?;
    if !s.role.may_manage(role) {
        return Err(ApiError::forbidden(format!(
            "a {} cannot create a {}",
            s.role, role
        )));
    }
    if clients::get(&st.db, client_id).await?.is_none() {
        return Err(ApiError::not_found("client"));
    }
    validate_password(&b.password)?;
    let new = NewUser {
        client_id,
        username: validate_username(&b.username)?,
        email: b.email.as_deref().map(validate_email).transpose()?,
        password_hash: hash_password(b.password).await?,
        role: role.as_str().into(),
        first_name: validate_name("first_name", b.first_name.as_deref().unwrap_or(""))?,
        last_name: validate_name("last_name", b.last_name.as_deref().unwrap_or(""))?,
        phone_number: b
            .phone_number
            .as_deref()
            .map(|p| st.phones.normalize(p))
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("phone_number: {e}")))?,
        agent_id: b
            .agent_id
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty()),
    };
    let mut tx = st.db.begin().await?;
    let user = users::create(&mut tx, &new).await?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(client_id),
            user_id: Some(s.user.id),
            action: "create",
            entity: "user",
            entity_id: Some(user.id),
            detail: json!({"username": user.username, "role": user.role}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(UserAnswer::new(Some("User created"), &user)),
    ))
}

/// A user the session may see: its own client's, or any for a super admin.
async fn visible_user(db: &Db, s: &Session, id: i64) -> ApiResult<User> {
    users::get(&mut db.read().await?, id)
        .await?
        .filter(|u| s.role == Role::SuperAdmin || u.client_id == s.client_id())
        .ok_or_else(|| ApiError::not_found("user"))
}

#[utoipa::path(
    get,
    path = "/api/users/{id}",
    tag = "users",
    operation_id = "get_user",
    summary = "One user",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserAnswer),
        (status = 404, description = "No such user", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn get(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
) -> ApiResult<Json<UserAnswer>> {
    let u = visible_user(&st.db, &s, id).await?;
    Ok(Json(UserAnswer::new(None, &u)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateUser {
    #[schema(pattern = "^[A-Za-z0-9._-]{2,64}$")]
    username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    email: Option<Option<String>>,
    #[schema(min_length = 8, max_length = 128)]
    password: Option<String>,
    #[schema(schema_with = crate::docs::field::role)]
    role: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    agent_id: Option<Option<String>>,
    is_active: Option<bool>,
    is_available: Option<bool>,
}

#[utoipa::path(
    method(put, patch),
    path = "/api/users/{id}",
    tag = "users",
    operation_id = "update_user",
    summary = "Change a user (only the fields sent)",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "The user as changed", body = UserAnswer),
        (status = 400, description = "Invalid field", body = crate::docs::ErrorBody),
        (status = 404, description = "No such user", body = crate::docs::ErrorBody),
        (status = 409, description = "Username or email taken", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn update(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
    Json(b): Json<UpdateUser>,
) -> ApiResult<Json<UserAnswer>> {
    let target = visible_user(&st.db, &s, id).await?;
    let target_role = parse_role(&target.role)?;
    if !s.role.may_manage(target_role) {
        return Err(ApiError::forbidden(format!(
            "a {} cannot change a {}",
            s.role, target_role
        )));
    }
    let mut p = UserPatch::default();
    if let Some(r) = &b.role {
        let r = parse_role(r)?;
        if !s.role.may_manage(r) {
            return Err(ApiError::forbidden(format!(
                "a {} cannot grant {}",
                s.role, r
            )));
        }
        if target.id == s.user.id && r < s.role {
            return Err(ApiError::bad_request("you cannot lower your own role"));
        }
        p.role = Some(r.as_str().into());
    }
    if b.is_active == Some(false) && target.id == s.user.id {
        return Err(ApiError::bad_request("you cannot deactivate yourself"));
    }
    p.username = b.username.as_deref().map(validate_username).transpose()?;
    p.email = b
        .email
        .map(|e| e.as_deref().map(validate_email).transpose())
        .transpose()?;
    if let Some(pw) = b.password {
        validate_password(&pw)?;
        p.password_hash = Some(hash_password(pw).await?);
    }
    p.first_name = b
        .first_name
        .as_deref()
        .map(|v| validate_name("first_name", v))
        .transpose()?;
    p.last_name = b
        .last_name
        .as_deref()
        .map(|v| validate_name("last_name", v))
        .transpose()?;
    p.phone_number = b
        .phone_number
        .map(|v| v.as_deref().map(|n| st.phones.normalize(n)).transpose())
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("phone_number: {e}")))?;
    p.agent_id = b.agent_id;
    p.is_active = b.is_active;
    p.is_available = b.is_available;
    let mut tx = st.db.begin().await?;
    let u = users::update(&mut tx, id, &p)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    audit::record(&mut tx, AuditEntry { client_id: Some(u.client_id), user_id: Some(s.user.id), action: "update", entity: "user", entity_id: Some(id), detail: json!({"password_changed": p.password_hash.is_some(), "role": p.role, "is_active": p.is_active}) }).await?;
    tx.commit().await?;
    // Open real-time connections were signed in with the old password or role: they end (a
    // role change keeps the token, and a new connection hears what the new role may).
    let why = if p.is_active == Some(false) {
        Some("this account was deactivated")
    } else if p.password_hash.is_some() {
        Some("the password changed; sign in again")
    } else if u.role != target.role {
        Some("your role changed; connect again")
    } else {
        None
    };
    if let Some(why) = why {
        crate::events::session_ended(&st.events, u.client_id, u.id, why);
    }
    Ok(Json(UserAnswer::new(Some("User updated"), &u)))
}

/// Users are deactivated, not erased: their calls and leads keep pointing at them.
#[utoipa::path(
    delete,
    path = "/api/users/{id}",
    tag = "users",
    operation_id = "delete_user",
    summary = "Deactivate a user",
    description = "Users are deactivated, not erased: their calls and leads keep pointing at them.",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "Deactivated", body = crate::docs::Done),
        (status = 400, description = "Cannot remove yourself", body = crate::docs::ErrorBody),
        (status = 404, description = "No such user", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn delete(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
) -> ApiResult<Json<Done>> {
    let target = visible_user(&st.db, &s, id).await?;
    if !s.role.may_manage(parse_role(&target.role)?) {
        return Err(ApiError::forbidden(format!(
            "a {} cannot remove a {}",
            s.role, target.role
        )));
    }
    if target.id == s.user.id {
        return Err(ApiError::bad_request("you cannot remove yourself"));
    }
    let mut tx = st.db.begin().await?;
    users::update(
        &mut tx,
        id,
        &UserPatch {
            is_active: Some(false),
            ..Default::default()
        },
    )
    .await?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(target.client_id),
            user_id: Some(s.user.id),
            action: "deactivate",
            entity: "user",
            entity_id: Some(id),
            detail: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    crate::events::session_ended(
        &st.events,
        target.client_id,
        id,
        "this account was deactivated",
    );
    Ok(Json(Done::new("User deactivated")))
}

#[utoipa::path(
    get,
    path = "/api/clients",
    tag = "clients",
    summary = "List clients (super admins)",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The clients", body = ClientList), crate::docs::AdminErrors)
)]
pub async fn list_clients(
    State(st): State<AppState>,
    _: SuperAdminSession,
) -> ApiResult<Json<ClientList>> {
    let list = clients::list(&st.db).await?;
    Ok(Json(ClientList {
        success: true,
        clients: list,
    }))
}

/// `GET /api/clients`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    /// Always true.
    pub success: bool,
    pub clients: Vec<Client>,
}

/// `POST /api/clients`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientAnswer {
    /// Always true.
    pub success: bool,
    pub client: Client,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateClient {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: String,
    #[schema(minimum = 0, maximum = 100_000)]
    max_concurrent_calls: Option<i64>,
    timezone: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/clients",
    tag = "clients",
    summary = "Create a client (super admins)",
    security(("bearerAuth" = [])),
    request_body = CreateClient,
    responses(
        (status = 201, description = "The new client", body = ClientAnswer),
        (status = 400, description = "Invalid field", body = crate::docs::ErrorBody),
        (status = 409, description = "Name taken", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn create_client(
    State(st): State<AppState>,
    SuperAdminSession(s): SuperAdminSession,
    Json(b): Json<CreateClient>,
) -> ApiResult<(StatusCode, Json<ClientAnswer>)> {
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1-100 characters"));
    }
    let cap = b.max_concurrent_calls.unwrap_or(10);
    if !(0..=100_000).contains(&cap) {
        return Err(ApiError::bad_request(
            "max_concurrent_calls must be between 0 and 100000",
        ));
    }
    let zone = b
        .timezone
        .as_deref()
        .map(|tz| {
            tz.parse::<chrono_tz::Tz>()
                .map_err(|_| ApiError::bad_request(format!("'{tz}' is not an IANA time zone")))
        })
        .transpose()?;
    let mut tx = st.db.begin().await?;
    let c = clients::create(&mut tx, name, cap, b.timezone.as_deref()).await?;
    // A client in a zone of its own calls in that zone: its first schedule (version 1, the
    // default's hours) is in it, not in the server's.
    if let Some(tz) = zone {
        let doc = switchboard_core::schedule::Schedule::default_in(tz).to_doc();
        switchboard_store::schedules::put(&mut tx, c.id, &doc, 0, Some(s.user.id)).await?;
    }
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(c.id),
            user_id: Some(s.user.id),
            action: "create",
            entity: "client",
            entity_id: Some(c.id),
            detail: json!({"name": c.name}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(ClientAnswer {
            success: true,
            client: c,
        }),
    ))
}
