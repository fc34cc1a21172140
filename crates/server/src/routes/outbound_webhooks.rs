//! Outbound webhooks (`/api/webhooks`): admins point a client's events at their own URLs
//! (a CRM, a data warehouse), each signed with a secret shown once; see [`crate::outbound`].

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::webhooks::{self, NewWebhook};
use utoipa::ToSchema;

use crate::auth::AdminSession;
use crate::docs::Done;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::outbound::EVENT_NAMES;
use crate::state::AppState;

/// A client may have this many live webhooks.
pub const MAX_PER_CLIENT: usize = 20;

/// A webhook as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    /// The events it hears; `["*"]` for all.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub created_by: Option<i64>,
    /// ISO 8601 with offset.
    pub created_at: String,
}

fn view(w: &webhooks::Webhook) -> WebhookView {
    WebhookView {
        id: w.id,
        url: w.url.clone(),
        events: w.event_names(),
        description: w.description.clone(),
        created_by: w.created_by,
        created_at: switchboard_store::api_time::format(&w.created_at),
    }
}

/// `GET /api/webhooks`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    /// Always true.
    pub success: bool,
    pub webhooks: Vec<WebhookView>,
    /// The event names a webhook may hear.
    pub events: Vec<&'static str>,
}

#[utoipa::path(
    get,
    path = "/api/webhooks",
    tag = "webhooks",
    operation_id = "list_webhooks",
    summary = "List the client's outbound webhooks (never their secrets)",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The webhooks, and the events they may hear", body = WebhookList), crate::docs::AdminErrors)
)]
pub async fn list(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<WebhookList>> {
    let hooks = webhooks::list(&st.db, s.client_id()).await?;
    Ok(Json(WebhookList {
        success: true,
        webhooks: hooks.iter().map(view).collect(),
        events: EVENT_NAMES.to_vec(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateWebhook {
    /// Where events are POSTed: `http` or `https`, no user name or password in it.
    #[schema(max_length = 2000)]
    url: String,
    /// Event names to hear (see `GET /api/webhooks`), or `["*"]` (the default) for all.
    events: Option<Vec<String>>,
    #[schema(max_length = 200)]
    description: Option<String>,
}

/// A new webhook: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookCreated {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
    /// The signing secret (`Switchboard-Signature`), shown only this once.
    pub secret: String,
    pub webhook: WebhookView,
}

/// Check a webhook's URL: absolute `http(s)`, no credentials, and (unless allowed) not a
/// literal internal address or `localhost`. Names are checked again when each delivery is
/// sent, after resolving them.
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    if url.len() > 2000 {
        return Err("url must be at most 2000 characters".into());
    }
    let u = reqwest::Url::parse(url).map_err(|e| format!("url is not a URL ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("url must start with http:// or https://".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("url may not hold a user name or password (it is listed to admins)".into());
    }
    let host = u.host_str().ok_or("url has no host")?;
    if !allow_private {
        // A name may end with the root's dot ("localhost." is localhost).
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let internal = bare == "localhost"
            || bare.ends_with(".localhost")
            || bare.parse().is_ok_and(crate::outbound::is_internal);
        if internal {
            return Err(format!(
                "{host} is an internal address (the server's administrator may allow them with SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE)"
            ));
        }
    }
    Ok(())
}

/// Event names as a webhook keeps them: trimmed, known, sorted, each once; `["*"]` alone when
/// all are asked for.
fn checked_events(mut events: Vec<String>) -> ApiResult<Vec<String>> {
    events.iter_mut().for_each(|e| *e = e.trim().to_string());
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(ApiError::bad_request(
            "events must name at least one event, or \"*\"",
        ));
    }
    if let Some(bad) = events
        .iter()
        .find(|e| *e != "*" && !EVENT_NAMES.contains(&e.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "'{bad}' is not an event; one of: *, {}",
            EVENT_NAMES.join(", ")
        )));
    }
    if events.iter().any(|e| e == "*") {
        events = vec!["*".into()];
    }
    Ok(events)
}

/// A description trimmed (empty: none), at most 200 characters.
fn checked_description(d: Option<String>) -> ApiResult<Option<String>> {
    let d = d.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    if d.as_ref().is_some_and(|d| d.chars().count() > 200) {
        return Err(ApiError::bad_request(
            "description must be at most 200 characters",
        ));
    }
    Ok(d)
}

#[utoipa::path(
    post,
    path = "/api/webhooks",
    tag = "webhooks",
    operation_id = "create_webhook",
    summary = "Create an outbound webhook",
    description = "The client's events are POSTed to `url` as JSON (`id`, `event`, `clientId`, `createdAt`, `data`), signed: `Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the secret>`. A delivery not answered with a 2xx is retried (8 attempts in all, waits growing sixfold). The secret is in `secret`, shown only once.",
    security(("bearerAuth" = [])),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "The webhook and its secret", body = WebhookCreated),
        (status = 400, description = "Invalid url, events or description", body = crate::docs::ErrorBody),
        (status = 409, description = "The client has the most webhooks it may", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn create(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Json(b): Json<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookCreated>)> {
    let url = b.url.trim();
    check_url(url, st.config.webhook_allow_private).map_err(ApiError::bad_request)?;
    let events = checked_events(b.events.unwrap_or_else(|| vec!["*".into()]))?;
    let description = checked_description(b.description)?;
    let mut tx = st.db.begin().await?;
    if webhooks::count_live(&mut tx, s.client_id()).await? >= MAX_PER_CLIENT as i64 {
        return Err(ApiError::conflict(format!(
            "a client may have at most {MAX_PER_CLIENT} webhooks; delete one first"
        )));
    }
    let (hook, secret) = webhooks::create(
        &mut tx,
        &NewWebhook {
            client_id: s.client_id(),
            url,
            events: &events,
            description: description.as_deref(),
            created_by: Some(s.user.id),
        },
    )
    .await?;
    audited(
        &mut tx,
        &s,
        "create",
        hook.id,
        json!({"url": hook.url, "events": events}),
    )
    .await?;
    tx.commit().await?;
    st.events.outbound().changed(&st.db).await;
    Ok((
        StatusCode::CREATED,
        Json(WebhookCreated {
            success: true,
            message: "Store this secret now: it is shown only once",
            secret,
            webhook: view(&hook),
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}",
    tag = "webhooks",
    operation_id = "delete_webhook",
    summary = "Delete a webhook (what it was still owed is dropped)",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "Deleted", body = Done),
        (status = 404, description = "No such webhook", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn delete(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
) -> ApiResult<Json<Done>> {
    let mut tx = st.db.begin().await?;
    if !webhooks::delete(&mut tx, s.client_id(), id).await? {
        return Err(ApiError::not_found("webhook"));
    }
    audited(&mut tx, &s, "delete", id, json!({})).await?;
    tx.commit().await?;
    st.events.outbound().changed(&st.db).await;
    Ok(Json(Done::new("Webhook deleted")))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateWebhook {
    #[schema(max_length = 2000)]
    url: Option<String>,
    events: Option<Vec<String>>,
    /// `null` or `""` removes it.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(max_length = 200, nullable)]
    description: Option<Option<String>>,
}

/// `PATCH /api/webhooks/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// Always true.
    pub success: bool,
    pub webhook: WebhookView,
}

#[utoipa::path(
    patch,
    path = "/api/webhooks/{id}",
    tag = "webhooks",
    operation_id = "update_webhook",
    summary = "Change a webhook's URL, events or description (deliveries owed go to the new URL)",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, description = "The webhook as it now is", body = WebhookAnswer),
        (status = 400, description = "Invalid or no field", body = crate::docs::ErrorBody),
        (status = 404, description = "No such webhook", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn update(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
    Json(b): Json<UpdateWebhook>,
) -> ApiResult<Json<WebhookAnswer>> {
    if b.url.is_none() && b.events.is_none() && b.description.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: give url, events or description",
        ));
    }
    let url = b.url.as_deref().map(str::trim);
    if let Some(url) = url {
        check_url(url, st.config.webhook_allow_private).map_err(ApiError::bad_request)?;
    }
    let events = b.events.map(checked_events).transpose()?;
    let description = b.description.map(checked_description).transpose()?;
    let mut tx = st.db.begin().await?;
    let hook = webhooks::update(
        &mut tx,
        s.client_id(),
        id,
        &webhooks::WebhookPatch {
            url,
            events: events.as_deref(),
            description: description.as_ref().map(|d| d.as_deref()),
        },
    )
    .await?
    .ok_or_else(|| ApiError::not_found("webhook"))?;
    audited(
        &mut tx,
        &s,
        "update",
        id,
        json!({"url": url, "events": events, "description": description}),
    )
    .await?;
    tx.commit().await?;
    st.events.outbound().changed(&st.db).await;
    Ok(Json(WebhookAnswer {
        success: true,
        webhook: view(&hook),
    }))
}

/// `POST /api/webhooks/{id}/secret`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretRotated {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
    /// The new signing secret, shown only this once; the old one no longer signs.
    pub secret: String,
}

#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/secret",
    tag = "webhooks",
    operation_id = "rotate_webhook_secret",
    summary = "Give a webhook a new signing secret (shown once; deliveries owed are signed with it)",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The new secret", body = SecretRotated),
        (status = 404, description = "No such webhook", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn rotate_secret(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
) -> ApiResult<Json<SecretRotated>> {
    let mut tx = st.db.begin().await?;
    let secret = webhooks::rotate_secret(&mut tx, s.client_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    audited(&mut tx, &s, "rotate_secret", id, json!({})).await?;
    tx.commit().await?;
    Ok(Json(SecretRotated {
        success: true,
        message: "Store this secret now: it is shown only once",
        secret,
    }))
}

#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/deliveries/{delivery_id}/retry",
    tag = "webhooks",
    operation_id = "retry_webhook_delivery",
    summary = "Send a delivery again now (one more attempt after it was given up on, or no more wait)",
    security(("bearerAuth" = [])),
    params(
        ("id" = i64, Path, description = "Webhook id"),
        ("delivery_id" = i64, Path, description = "Delivery id"),
    ),
    responses(
        (status = 202, description = "Queued", body = Done),
        (status = 404, description = "No such webhook, or no such delivery not yet taken", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn retry_delivery(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> ApiResult<(StatusCode, Json<Done>)> {
    own_webhook(&st, s.client_id(), id).await?;
    let mut tx = st.db.begin().await?;
    if !webhooks::retry_now(&mut tx, id, delivery_id).await? {
        return Err(ApiError::not_found("delivery not yet taken"));
    }
    tx.commit().await?;
    st.events.outbound().wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(Done::new("Delivery queued again")),
    ))
}

/// Record `action` on webhook `id` by `s` in the audit log.
async fn audited(
    tx: &mut switchboard_store::Tx,
    s: &crate::auth::Session,
    action: &'static str,
    id: i64,
    detail: serde_json::Value,
) -> ApiResult<()> {
    audit::record(
        tx,
        AuditEntry {
            client_id: Some(s.client_id()),
            user_id: Some(s.user.id),
            action,
            entity: "webhook",
            entity_id: Some(id),
            detail,
        },
    )
    .await?;
    Ok(())
}

/// Live webhook `id` of `client_id`, or 404 (another client's included).
async fn own_webhook(st: &AppState, client_id: i64, id: i64) -> ApiResult<webhooks::Webhook> {
    webhooks::find(&mut st.db.read().await?, client_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// `POST /api/webhooks/{id}/ping`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PingSent {
    /// Always true.
    pub success: bool,
    pub message: &'static str,
    /// The `id` in the body sent (see the webhook's deliveries for the outcome).
    pub id: String,
}

#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/ping",
    tag = "webhooks",
    operation_id = "ping_webhook",
    summary = "Send the webhook a `ping` event now (to check the receiver and its signature check)",
    description = "The body is as for any event, with `event: \"ping\"` and `data: {\"webhookId\"}`; it is delivered (and retried) like the others.",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Webhook id")),
    responses(
        (status = 202, description = "Queued for delivery", body = PingSent),
        (status = 404, description = "No such webhook", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn ping(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<PingSent>)> {
    own_webhook(&st, s.client_id(), id).await?;
    let (body_id, body) = crate::outbound::body(
        "ping",
        s.client_id(),
        &serde_json::value::to_raw_value(&json!({ "webhookId": id }))
            .map_err(|_| ApiError::internal())?,
    );
    webhooks::enqueue(
        &st.db,
        &[webhooks::Owed {
            webhook_id: id,
            event: "ping".into(),
            body,
        }],
    )
    .await?;
    st.events.outbound().wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(PingSent {
            success: true,
            message: "Ping queued; its outcome is listed with the deliveries",
            id: body_id,
        }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// How many, newest first (default 50, at most 200).
    limit: Option<i64>,
}

/// One delivery of a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub event: String,
    /// `pending` (due, or waiting for a retry), `delivered` or `failed` (given up on).
    pub status: &'static str,
    pub attempts: i64,
    /// The body sent (the same at every attempt).
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub failed_at: Option<String>,
    /// The HTTP status of the last attempt, when it got an answer.
    pub last_status: Option<i64>,
    /// Why the last attempt was not taken.
    pub last_error: Option<String>,
}

/// `GET /api/webhooks/{id}/deliveries`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Always true.
    pub success: bool,
    pub deliveries: Vec<DeliveryView>,
}

#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/deliveries",
    tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    summary = "A webhook's latest deliveries and their outcomes (kept a week after they end)",
    security(("bearerAuth" = [])),
    params(("id" = i64, Path, description = "Webhook id"), DeliveriesQuery),
    responses(
        (status = 200, description = "Newest first", body = DeliveryList),
        (status = 400, description = "Invalid limit", body = crate::docs::ErrorBody),
        (status = 404, description = "No such webhook", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn deliveries(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Path(id): Path<i64>,
    Query(q): Query<DeliveriesQuery>,
) -> ApiResult<Json<DeliveryList>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("limit must be from 1 to 200"));
    }
    own_webhook(&st, s.client_id(), id).await?;
    let ts = |t: &Option<chrono::DateTime<chrono::Utc>>| {
        t.as_ref().map(switchboard_store::api_time::format)
    };
    let deliveries = webhooks::deliveries(&st.db, id, limit)
        .await?
        .into_iter()
        .map(|d| DeliveryView {
            id: d.id,
            status: if d.delivered_at.is_some() {
                "delivered"
            } else if d.failed_at.is_some() {
                "failed"
            } else {
                "pending"
            },
            event: d.event,
            attempts: d.attempts,
            body: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
            created_at: switchboard_store::api_time::format(&d.created_at),
            next_attempt_at: ts(&d.next_attempt_at),
            delivered_at: ts(&d.delivered_at),
            failed_at: ts(&d.failed_at),
            last_status: d.last_status,
            last_error: d.last_error,
        })
        .collect();
    Ok(Json(DeliveryList {
        success: true,
        deliveries,
    }))
}
