//! Sign-in (seed 001) and the signed-in user.

use axum::extract::State;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use switchboard_core::Role;
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::users;
use utoipa::ToSchema;

use crate::auth::{Session, client_ip, verify_password};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::routes::views::{UserAnswer, UserView, user_view};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    email: Option<String>,
    username: Option<String>,
    #[schema(required = true, value_type = String)]
    password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    summary = "Sign in with email (or username) and password",
    description = "Returns a JWT (`token`, valid until `expiresAt`) to send as `Authorization: Bearer`.",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = LoginAnswer),
        (status = 400, description = "Missing or too long fields", body = crate::docs::ErrorBody),
        (status = 401, description = "Invalid email or password", body = crate::docs::ErrorBody),
        (status = 429, description = "Too many attempts; see the Retry-After header", body = crate::docs::ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    parts: Parts,
    Json(body): Json<LoginBody>,
) -> ApiResult<Json<LoginAnswer>> {
    let login = body
        .email
        .or(body.username)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| ApiError::bad_request("email (or username) is required"))?;
    let password = body
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("password is required"))?;
    if login.len() > 254 || password.len() > 1024 {
        return Err(ApiError::bad_request("email or password is too long"));
    }
    let ip = client_ip(&parts, state.config.trust_proxy);
    let attempt = match state.login_throttle.begin(&state.db, ip, &login).await? {
        Ok(a) => a,
        Err(wait) => {
            return Err(ApiError::too_many(
                wait,
                "too many failed sign-ins; try again later",
            ));
        }
    };
    let user = users::find_login(&state.db, &login).await?;
    let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let user = match user {
        Some(u) if ok && u.is_active => u,
        _ => {
            state.login_throttle.failed(&state.db, attempt).await?;
            return Err(ApiError::unauthorized("invalid email or password"));
        }
    };
    state
        .login_throttle
        .succeeded(&state.db, attempt, ip, &login)
        .await?;
    let role = Role::parse(&user.role).ok_or_else(ApiError::internal)?;
    users::touch_login(&state.db, user.id).await?;
    signed_in(&state, &user, role, "Login successful")
}

/// A new session of `user`: its token, and the user.
fn signed_in(
    state: &AppState,
    user: &users::User,
    role: Role,
    message: &'static str,
) -> ApiResult<Json<LoginAnswer>> {
    let (token, exp) = state.jwt.issue(user, role)?;
    Ok(Json(LoginAnswer {
        success: true,
        message,
        token,
        expires_at: crate::extract::ts(
            &chrono::DateTime::from_timestamp(exp, 0).unwrap_or_default(),
        ),
        user: user_view(user),
    }))
}

/// A signed-in user's token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginAnswer {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
    /// The JWT to send as `Authorization: Bearer`.
    pub token: String,
    /// When the token stops being accepted.
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub user: UserView,
}

#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    summary = "The signed-in user",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = UserAnswer),
        crate::docs::AuthErrors,
    )
)]
pub async fn me(session: Session) -> Json<UserAnswer> {
    Json(UserAnswer::new(None, &session.user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordBody {
    /// The password the user signs in with now.
    #[schema(required = true, value_type = String)]
    current_password: Option<String>,
    /// 8 to 128 characters, not the current one.
    #[schema(required = true, value_type = String, min_length = 8, max_length = 128)]
    new_password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/auth/change-password",
    tag = "auth",
    summary = "Change the signed-in user's own password",
    description = "Every session of the user signed before the change ends (their tokens are refused); \
        the answer carries a new token for this one. Wrong current passwords are throttled like sign-ins.",
    security(("bearerAuth" = [])),
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "Password changed; a new token", body = LoginAnswer),
        (status = 400, description = "A field missing, the new password too short or too long or the same, or the current password wrong", body = crate::docs::ErrorBody),
        crate::docs::AuthErrors,
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    session: Session,
    parts: Parts,
    Json(body): Json<ChangePasswordBody>,
) -> ApiResult<Json<LoginAnswer>> {
    let current = body
        .current_password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("currentPassword is required"))?;
    let new = body
        .new_password
        .ok_or_else(|| ApiError::bad_request("newPassword is required"))?;
    if current.len() > 1024 {
        return Err(ApiError::bad_request("currentPassword is too long"));
    }
    crate::auth::validate_password(&new)?;
    if new == current {
        return Err(ApiError::bad_request(
            "the new password is the same as the current one",
        ));
    }
    let user = &session.user;
    let ip = client_ip(&parts, state.config.trust_proxy);
    let attempt = match state
        .login_throttle
        .begin(&state.db, ip, &user.username)
        .await?
    {
        Ok(a) => a,
        Err(wait) => {
            return Err(ApiError::too_many(
                wait,
                "too many wrong passwords; try again later",
            ));
        }
    };
    if !verify_password(current, Some(user.password_hash.clone())).await {
        state.login_throttle.failed(&state.db, attempt).await?;
        return Err(ApiError::bad_request("the current password is not right"));
    }
    state
        .login_throttle
        .succeeded(&state.db, attempt, ip, &user.username)
        .await?;
    let patch = users::UserPatch {
        password_hash: Some(crate::auth::hash_password(new).await?),
        ..Default::default()
    };
    let mut tx = state.db.begin().await?;
    let user = users::update(&mut tx, user.id, &patch)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account is not active"))?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(user.client_id),
            user_id: Some(user.id),
            action: "change_password",
            entity: "user",
            entity_id: Some(user.id),
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    crate::events::session_ended(
        &state.events,
        user.client_id,
        user.id,
        "the password changed; sign in again",
    );
    signed_in(&state, &user, session.role, "Password changed")
}

/// A signed-out user.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutAnswer {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    summary = "Sign out everywhere",
    description = "Ends every session of the signed-in user: this token and every other one issued to them is refused from now on.",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Signed out", body = LogoutAnswer),
        crate::docs::AuthErrors,
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
) -> ApiResult<Json<LogoutAnswer>> {
    let mut tx = state.db.begin().await?;
    users::end_sessions(&mut tx, session.user.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account is not active"))?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(session.user.client_id),
            user_id: Some(session.user.id),
            action: "logout",
            entity: "user",
            entity_id: Some(session.user.id),
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    crate::events::session_ended(
        &state.events,
        session.user.client_id,
        session.user.id,
        "signed out",
    );
    Ok(Json(LogoutAnswer {
        success: true,
        message: "Signed out",
    }))
}
