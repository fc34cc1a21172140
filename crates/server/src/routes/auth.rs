//! Sign-in (seed 001) and the signed-in user.

use axum::extract::State;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use switchboard_core::Role;
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
    if let Some(wait) = state.login_throttle.blocked_for(ip, &login) {
        return Err(ApiError::too_many(
            wait,
            "too many failed sign-ins; try again later",
        ));
    }
    let user = users::find_login(&state.db, &login).await?;
    let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let user = match user {
        Some(u) if ok && u.is_active => u,
        _ => {
            state.login_throttle.record_failure(ip, &login);
            return Err(ApiError::unauthorized("invalid email or password"));
        }
    };
    state.login_throttle.record_success(ip, &login);
    let role = Role::parse(&user.role).ok_or_else(ApiError::internal)?;
    let (token, exp) = state.jwt.issue(&user, role)?;
    users::touch_login(&state.db, user.id).await?;
    Ok(Json(LoginAnswer {
        success: true,
        message: "Login successful",
        token,
        expires_at: crate::extract::ts(
            &chrono::DateTime::from_timestamp(exp, 0).unwrap_or_default(),
        ),
        user: user_view(&user),
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
