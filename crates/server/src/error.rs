//! Errors as every surface answers them.
//!
//! Handlers return [`ApiError`]; it renders in the native shape `{"error", "message"}` (which is
//! also seed 001's). Surfaces with another documented shape re-render it in their middleware
//! from the [`ApiError`] kept in the response's extensions.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use switchboard_store::StoreError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            details: None,
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, m)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, m)
    }
    pub fn too_many(retry_after: u64, m: impl Into<String>) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, m)
        }
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
    }
    pub fn with_details(mut self, d: Value) -> Self {
        self.details = Some(d);
        self
    }

    /// The short title in `error`.
    pub fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    pub fn native_body(&self) -> Value {
        let mut body = json!({ "error": self.title(), "message": self.message });
        if let Some(d) = &self.details {
            body["details"] = d.clone();
        }
        body
    }

    /// Render with `body` instead of the native shape (for surfaces with their own).
    pub fn render(&self, body: Value) -> Response {
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res.extensions_mut().insert(self.clone());
        res
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(self.native_body())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("record"),
            StoreError::Conflict(what) => ApiError::conflict(format!("{what} already exists")),
            StoreError::Invalid(m) => ApiError::bad_request(m),
            StoreError::Busy(m) => ApiError::conflict(m),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

impl From<switchboard_store::import::ImportError> for ApiError {
    fn from(e: switchboard_store::import::ImportError) -> Self {
        match e {
            switchboard_store::import::ImportError::NotCsv(m) => ApiError::bad_request(m),
            switchboard_store::import::ImportError::Store(s) => s.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Seeds 000 and 004 answer errors as `{"success": false, "message": …}`; this middleware
/// re-renders any [`ApiError`] from the routes it wraps in that shape.
pub async fn success_false_shape(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let res = next.run(req).await;
    match res.extensions().get::<ApiError>().cloned() {
        Some(e) => success_false_render(&e),
        None => res,
    }
}

/// An error in seeds 000's and 004's shape.
pub fn success_false_render(e: &ApiError) -> Response {
    e.render(json!({ "success": false, "message": e.message, "error": e.title() }))
}
