//! Request extractors whose rejections answer in our error shape.

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{
    JsonRejection, MissingJsonContentType, PathRejection, QueryRejection,
};
use axum::extract::{FromRequest, FromRequestParts};

use crate::error::ApiError;

/// JSON body; malformed, wrongly typed or oversized bodies become a 4xx with a clear message,
/// and so does text holding the NUL character (`\u0000`), which PostgreSQL cannot store.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        // As `axum::Json` does, with a look at the bytes between reading and parsing.
        if !json_content_type(req.headers()) {
            return Err(JsonRejection::from(MissingJsonContentType::default()).into());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(JsonRejection::from)?;
        if escapes_nul(&bytes) {
            return Err(ApiError::bad_request(NUL_TEXT));
        }
        // Every body this API takes is an object; serde would read a struct from an array too
        // (`[null]` as a body whose first field is null).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(ApiError::bad_request(
                "the body must be a JSON object, not an array",
            ));
        }
        let axum::Json(v) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Json(v))
    }
}

/// What a request holding the NUL character is told.
pub const NUL_TEXT: &str = "text may not contain the NUL character (\\u0000 or %00)";

/// Whether `Content-Type` says JSON (`application/json` or `application/…+json`), as axum reads it.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == "application"
                && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
        })
}

/// Whether a JSON text holds a string with the NUL character. JSON can carry it only as the
/// escape `\u0000` (a raw control byte is malformed JSON); `\\u0000` is a backslash and `u0000`.
pub fn escapes_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = json[i..].iter().position(|&b| b == b'\\') {
        let at = i + p;
        if json.get(at + 1) == Some(&b'u') && json.get(at + 2..at + 6) == Some(b"0000") {
            return true;
        }
        i = at + 2; // the escaped character is skipped, so `\\` never starts an escape
        if i >= json.len() {
            break;
        }
    }
    false
}

/// Whether a query string or path holds the NUL character, percent-encoded.
fn encodes_nul(s: &str) -> bool {
    s.contains("%00")
}

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

/// Query string; one that does not parse, or holds the NUL character, is a 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        if parts.uri.query().is_some_and(encodes_nul) {
            return Err(ApiError::bad_request(NUL_TEXT));
        }
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(v))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(format!("invalid query string: {}", r.body_text()))
    }
}

/// Path parameters; one that does not parse, or holds the NUL character, is a 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        if encodes_nul(parts.uri.path()) {
            return Err(ApiError::bad_request(NUL_TEXT));
        }
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(v))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(format!("invalid path: {}", r.body_text()))
    }
}

/// A multipart/form-data body; any other body is a 400 in our error shape (axum answers plain
/// text).
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Ok(Self(
            axum::extract::Multipart::from_request(req, state).await?,
        ))
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(r: MultipartRejection) -> Self {
        ApiError::bad_request(format!(
            "send the file as multipart/form-data: {}",
            r.body_text()
        ))
    }
}

/// A multipart body that breaks off or is malformed midway. A body that could not be read (it
/// stopped coming, see `client_timeout_secs`) is the client's doing: axum calls it a 500.
pub fn multipart_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    match e.status() {
        s if s.is_server_error() => ApiError::bad_request(format!(
            "bad upload: the body stopped before its end ({})",
            e.body_text()
        )),
        s => ApiError::new(s, format!("bad upload: {}", e.body_text())),
    }
}

/// An ISO 8601 time with a UTC offset: RFC 3339 (`2026-01-10T16:47:00+03:30`) and the other
/// common forms, minutes without seconds (`2026-01-10T16:47+03:30`), a space instead of the
/// `T`, an offset without a colon (`+0330`).
pub fn parse_iso8601(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    let s = s.replacen(' ', "T", 1);
    let s = match s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        Some(rest) => format!("{rest}+00:00"),
        None => s,
    };
    [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
    ]
    .iter()
    .find_map(|f| chrono::DateTime::parse_from_str(&s, f).ok())
    .map(|t| t.to_utc())
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
    switchboard_store::api_time::format(t)
}

pub fn ts_opt(t: &Option<chrono::DateTime<chrono::Utc>>) -> serde_json::Value {
    t.as_ref()
        .map(|t| serde_json::Value::String(ts(t)))
        .unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::parse_iso8601;

    #[test]
    fn iso8601_times_in_their_common_forms() {
        let want = "2026-01-10T13:17:00+00:00";
        for s in [
            "2026-01-10T16:47:00+03:30",
            "2026-01-10T16:47+03:30",
            "2026-01-10 16:47:00+03:30",
            "2026-01-10T16:47:00+0330",
            "2026-01-10T16:47+0330",
            "2026-01-10T13:17:00Z",
            "2026-01-10T13:17Z",
            "2026-01-10T13:17:00.000Z",
        ] {
            assert_eq!(
                parse_iso8601(s).map(|t| t.to_rfc3339()).as_deref(),
                Some(want),
                "{s}"
            );
        }
        for s in [
            "2026-01-10T16:47:00",
            "2026-01-10",
            "yesterday",
            "2026-01-10T25:00+03:30",
        ] {
            assert_eq!(parse_iso8601(s), None, "{s}");
        }
    }
}
