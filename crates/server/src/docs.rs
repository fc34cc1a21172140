//! API documentation: the OpenAPI document and a page that renders it with no internet access.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
