//! Machine principals: admins create, list and revoke API keys, dialer tokens and bot keys.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_store::api_keys::{self, ApiKey, KeyKind};
use switchboard_store::audit::{self, AuditEntry};
use utoipa::ToSchema;

use crate::auth::AdminSession;
use crate::docs::Done;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/api/api-keys",
    tag = "api-keys",
    operation_id = "list_api_keys",
    summary = "List the client's API keys (never their secrets)",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The keys, revoked ones included", body = KeyList), crate::docs::AdminErrors)
)]
pub async fn list(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<KeyList>> {
    let keys = api_keys::list(&st.db, s.client_id()).await?;
    Ok(Json(KeyList {
        success: true,
        keys,
    }))
}

/// `GET /api/api-keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Always true.
    pub success: bool,
    pub keys: Vec<ApiKey>,
}

/// A new key: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreated {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
    /// The secret, shown only this once (only its hash is kept).
    pub key: String,
    #[serde(rename = "apiKey")]
    pub api_key: ApiKey,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateKey {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    name: String,
    #[schema(schema_with = crate::docs::field::key_kind)]
    kind: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/api-keys",
    tag = "api-keys",
    operation_id = "create_api_key",
    summary = "Create a key",
    description = "`kind` is `api` (default), `dialer` or `bot`. The secret is in `key`, shown only once.",
    security(("bearerAuth" = [])),
    request_body = CreateKey,
    responses(
        (status = 201, description = "The key and its secret", body = KeyCreated),
        (status = 400, description = "Invalid name or kind", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn create(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(b): Json<CreateKey>,
) -> ApiResult<(StatusCode, Json<KeyCreated>)> {
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1-100 characters"));
    }
    let kind = KeyKind::parse(b.kind.as_deref().unwrap_or("api"))
        .ok_or_else(|| ApiError::bad_request("kind must be api, dialer or bot"))?;
    let mut tx = st.db.begin().await?;
    let (key, secret) =
        api_keys::create(&mut tx, s.client_id(), kind, name, Some(s.user.id)).await?;
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(s.client_id()),
            user_id: Some(s.user.id),
            action: "create",
            entity: "api_key",
            entity_id: Some(key.id),
            detail: json!({"kind": key.kind, "name": key.name}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            success: true,
            message: "Store this key now: it is shown only once",
            key: secret,
            api_key: key,
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/api-keys/{id}",
    tag = "api-keys",
    operation_id = "revoke_api_key",
    summary = "Revoke a key",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "API key id")),
    responses(
        (status = 200, description = "Revoked", body = Done),
        (status = 404, description = "No such key", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn revoke(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
) -> ApiResult<Json<Done>> {
    let mut tx = st.db.begin().await?;
    if !api_keys::revoke(&mut tx, s.client_id(), id).await? {
        return Err(ApiError::not_found("API key"));
    }
    audit::record(
        &mut tx,
        AuditEntry {
            client_id: Some(s.client_id()),
            user_id: Some(s.user.id),
            action: "revoke",
            entity: "api_key",
            entity_id: Some(id),
            detail: json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Done::new("API key revoked")))
}
