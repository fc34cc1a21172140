//! The HTTP surfaces, one module per resource.

pub mod auth;
pub mod files;
pub mod health;
pub mod keys;
pub mod leads;
pub mod users;
pub mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::ratelimit;
use crate::state::AppState;

/// JSON bodies larger than this are refused with 413.
const JSON_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let login = Router::new()
        .route("/api/auth/login", post(auth::login))
        .layer(from_fn_with_state(state.clone(), ratelimit::login));

    let upload = Router::new()
        .route("/api/leads/upload-csv", post(files::upload_csv))
        .layer(DefaultBodyLimit::max(
            state.config.upload_limit_bytes + 64 * 1024,
        ))
        .layer(from_fn_with_state(state.clone(), ratelimit::upload));

    let api = Router::new()
        .route("/api/auth/me", get(auth::me))
        .route("/api/users", get(users::list).post(users::create))
        .route(
            "/api/users/{id}",
            get(users::get)
                .put(users::update)
                .patch(users::update)
                .delete(users::delete),
        )
        .route("/api/admins", get(users::roster))
        .route(
            "/api/clients",
            get(users::list_clients).post(users::create_client),
        )
        .route("/api/api-keys", get(keys::list).post(keys::create))
        .route("/api/api-keys/{id}", axum::routing::delete(keys::revoke))
        .route(
            "/api/lists",
            get(leads::list_lists).post(leads::create_list),
        )
        .route(
            "/api/lists/{id}",
            get(leads::get_list)
                .put(leads::update_list)
                .patch(leads::update_list)
                .delete(leads::delete_list),
        )
        .route(
            "/api/leads",
            get(leads::list_leads).post(leads::create_lead),
        )
        .route(
            "/api/leads/{id}",
            get(leads::get_lead)
                .put(leads::update_lead)
                .patch(leads::update_lead)
                .delete(leads::delete_lead),
        )
        .route("/api/admin/leads/bulk-action", post(leads::bulk_action))
        .route("/api/numbers/export", post(files::export))
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(from_fn_with_state(state.clone(), ratelimit::api));

    let public = Router::new().route("/health", get(health::health));

    Router::new()
        .merge(login)
        .merge(upload)
        .merge(api)
        .merge(public)
        .merge(crate::docs::router())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
        .with_state(state)
}
