//! Request extractors whose rejections answer in our error shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};

use crate::error::ApiError;

/// JSON body; malformed, wrongly typed or oversized bodies become a 4xx with a clear message.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        // A body of the wrong shape is a bad request like any other (axum says 422).
        let status = match &r {
            JsonRejection::JsonDataError(_) => axum::http::StatusCode::BAD_REQUEST,
            _ => r.status(),
        };
        let msg = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "expected a JSON body with Content-Type: application/json".to_string()
            }
            JsonRejection::JsonSyntaxError(_) => format!("malformed JSON: {}", r.body_text()),
            JsonRejection::JsonDataError(_) => format!("invalid request body: {}", r.body_text()),
            _ => r.body_text(),
        };
        ApiError::new(status, msg)
    }
}

#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(format!("invalid query string: {}", r.body_text()))
    }
}

#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(format!("invalid path: {}", r.body_text()))
    }
}

/// An id in a body that clients send either as a number or as a numeric string
/// (seed 001 writes `"leadId": "lead_id_123"`-style strings).
pub fn parse_id(v: &serde_json::Value, field: &str) -> Result<i64, ApiError> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().filter(|&i| i > 0),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok().filter(|&i| i > 0),
        _ => None,
    }
    .ok_or_else(|| ApiError::bad_request(format!("{field} must be a positive integer id")))
}

/// For PATCH bodies: absent stays `None`, `null` becomes `Some(None)`.
pub fn nullable<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(d).map(Some)
}

/// Timestamps as ISO 8601 with an explicit offset.
pub fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

pub fn ts_opt(t: &Option<chrono::DateTime<chrono::Utc>>) -> serde_json::Value {
    t.as_ref()
        .map(|t| serde_json::Value::String(ts(t)))
        .unwrap_or(serde_json::Value::Null)
}
