//! What the three REST clients share: one HTTP client (rustls with the ring provider, a 10 s
//! timeout), retries on 429, and the translation of provider error bodies into [`ProviderError`]s.
//!
//! Credentials travel only in `Authorization` headers, which reqwest marks sensitive; nothing
//! here logs a request's headers or body.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

use crate::ProviderError;

/// How long one request may take, connect to last byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries after a 429 before giving up with [`ProviderError::RateLimited`].
pub const MAX_RETRIES: u32 = 3;
/// First wait after a 429 without `Retry-After`; doubles on each retry.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// The longest `Retry-After` we honor; a provider asking for more gets this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A reqwest client on rustls with the ring crypto provider.
pub fn client() -> reqwest::Client {
    builder()
        .build()
        .expect("the HTTP client builds with a static configuration")
}

/// The settings of [`client`], for a client that needs more of its own.
pub fn builder() -> reqwest::ClientBuilder {
    // The one TLS stack is rustls + ring; installing twice is harmless (the first one stays).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Result<serde_json::Value, ProviderError> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ProviderError::Protocol(format!(
                "HTTP {} with a body that is not JSON ({e}): {}",
                self.status.as_u16(),
                snippet(&self.body)
            ))
        })
    }
}

/// Sends the request `build` makes, retrying 429s with exponential backoff (honoring
/// `Retry-After` in seconds) up to [`MAX_RETRIES`] times. A 2xx is an [`Answer`]; anything else
/// is the matching [`ProviderError`].
pub async fn send(build: impl Fn() -> RequestBuilder) -> Result<Answer, ProviderError> {
    let mut attempt = 0;
    loop {
        let response = build()
            .send()
            .await
            .map_err(|e| ProviderError::Network(describe(&e)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let body = response
            .bytes()
            .await
            .map_err(|e| ProviderError::Network(describe(&e)))?
            .to_vec();
        if status.is_success() {
            return Ok(Answer { status, body });
        }
        if status == StatusCode::TOO_MANY_REQUESTS && attempt < MAX_RETRIES {
            let wait = retry_after.unwrap_or(BACKOFF_BASE * 2u32.pow(attempt));
            tracing::debug!(
                attempt,
                ?wait,
                "provider rate limited the request; retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
            continue;
        }
        return Err(error_for(status, &body));
    }
}

/// The [`ProviderError`] for a non-2xx answer.
pub fn error_for(status: StatusCode, body: &[u8]) -> ProviderError {
    let message = format!("HTTP {}: {}", status.as_u16(), provider_message(body));
    match status.as_u16() {
        401 | 403 => ProviderError::Auth(message),
        404 => ProviderError::NotFound(message),
        429 => ProviderError::RateLimited(message),
        400..=499 => ProviderError::Rejected(message),
        _ => ProviderError::Network(message),
    }
}

/// The provider's own words from an error body: Twilio's `code` + `message`, Plivo's `error`,
/// Smartflo's `message`, or the start of whatever text came back.
pub fn provider_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        };
        let message = v
            .get("message")
            .and_then(text)
            .or_else(|| v.get("error").and_then(text))
            .or_else(|| v.get("detail").and_then(text));
        if let Some(message) = message {
            return match v.get("code").and_then(text) {
                Some(code) => format!("{message} (code {code})"),
                None => message,
            };
        }
    }
    let s = snippet(body);
    if s.is_empty() {
        "no details".to_owned()
    } else {
        s
    }
}

/// At most 300 characters of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    }
}

/// Base URL without a trailing slash.
pub fn trim_base(base: &str) -> String {
    base.trim_end_matches('/').to_owned()
}

/// A string field of a JSON object; numbers are turned into their text.
pub fn str_field(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number of seconds from a number, a numeric string or `HH:MM:SS` / `MM:SS`.
pub fn seconds(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => parse_seconds(s),
        _ => None,
    }
}

pub fn parse_seconds(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(f) = s.parse::<f64>() {
        return Some(f as i64);
    }
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let mut total = 0i64;
    for p in parts {
        total = total * 60 + p.trim().parse::<i64>().ok()?;
    }
    Some(total)
}

/// Only the digits of a phone number (`+91 98…` → `9198…`).
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// Params as a JSON object; a repeated key becomes an array of its values.
pub fn params_json(params: &[(String, String)]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in params {
        match map.get_mut(k) {
            None => {
                map.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
            Some(serde_json::Value::Array(a)) => a.push(serde_json::Value::String(v.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = serde_json::Value::Array(vec![first, v.clone().into()]);
            }
        }
    }
    serde_json::Value::Object(map)
}

/// The first non-empty value of `key`.
pub fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, v)| k == key && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

/// Constant-time equality of two strings (length differences return early, which leaks only
/// the length).
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
