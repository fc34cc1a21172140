//! Twilio: the Calls REST API (form-encoded, HTTP Basic `AccountSid:AuthToken`), status
//! callbacks, `X-Twilio-Signature` checks and TwiML.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use switchboard_core::CallStatus;
use switchboard_core::call::from_twilio;

use crate::http::{self, param, params_json, str_field};
use crate::{
    Bridge, Dial, Direction, Placed, Provider, ProviderCall, ProviderError, ProviderEvent,
    ProviderKind, RecordPage, RecordQuery,
};

/// Twilio's REST host.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
const API_VERSION: &str = "2010-04-01";
/// Pages followed at most when listing live calls (per status).
const MAX_PAGES: usize = 50;

/// A Twilio account's Calls API.
#[derive(Clone)]
pub struct TwilioClient {
    pub account_sid: String,
    auth_token: String,
    /// Scheme and host, e.g. `https://api.twilio.com` or a regional edge host.
    pub base_url: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioClient")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl TwilioClient {
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>) -> Self {
        Self::with_base_url(account_sid, auth_token, DEFAULT_BASE_URL)
    }

    pub fn with_base_url(
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
        base_url: impl AsRef<str>,
    ) -> Self {
        Self {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            base_url: http::trim_base(base_url.as_ref()),
            http: http::client(),
        }
    }

    fn calls_url(&self) -> String {
        format!(
            "{}/{API_VERSION}/Accounts/{}/Calls.json",
            self.base_url, self.account_sid
        )
    }

    fn call_url(&self, sid: &str) -> String {
        format!(
            "{}/{API_VERSION}/Accounts/{}/Calls/{sid}.json",
            self.base_url, self.account_sid
        )
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    fn post_form(&self, url: &str, form: &[(&str, String)]) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
    }

    async fn set_status(
        &self,
        sid: &str,
        status: &str,
    ) -> Result<serde_json::Value, ProviderError> {
        let url = self.call_url(sid);
        let form = [("Status", status.to_owned())];
        http::send(|| self.post_form(&url, &form)).await?.json()
    }

    /// Every page of a list, following `next_page_uri` (relative to the host).
    async fn list_all(&self, first: String) -> Result<Vec<serde_json::Value>, ProviderError> {
        let mut calls = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            let page = http::send(|| self.get(&url)).await?.json()?;
            calls.extend(calls_of(&page)?);
            pages += 1;
            if pages < MAX_PAGES {
                next = self.next_page(&page);
            }
        }
        Ok(calls)
    }

    fn next_page(&self, page: &serde_json::Value) -> Option<String> {
        let uri = str_field(page, "next_page_uri")?;
        Some(
            if uri.starts_with("http://") || uri.starts_with("https://") {
                uri
            } else {
                format!("{}{uri}", self.base_url)
            },
        )
    }
}

fn calls_of(page: &serde_json::Value) -> Result<Vec<serde_json::Value>, ProviderError> {
    match page.get("calls") {
        Some(serde_json::Value::Array(a)) => Ok(a.clone()),
        _ => Err(ProviderError::Protocol(
            "Twilio's call list has no `calls` array".into(),
        )),
    }
}

#[async_trait::async_trait]
impl Provider for TwilioClient {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Twilio
    }

    async fn originate(&self, dial: &Dial) -> Result<Placed, ProviderError> {
        let mut form: Vec<(&str, String)> = vec![
            ("To", dial.to.clone()),
            ("From", dial.from.clone()),
            ("Url", dial.answer_url.clone()),
            ("Method", "POST".into()),
            ("StatusCallback", dial.status_url.clone()),
            ("StatusCallbackMethod", "POST".into()),
        ];
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event.into()));
        }
        form.push(("Timeout", dial.ring_timeout_secs.to_string()));
        if let Some(limit) = dial.time_limit_secs {
            form.push(("TimeLimit", limit.to_string()));
        }
        if dial.machine_detection {
            // Synchronous: the voice URL is fetched once the verdict is in, with `AnsweredBy`
            // (our answer hangs up on a machine). With a message to leave, Twilio waits for
            // the greeting to end (`machine_end_beep`, …) before asking.
            let mode = if dial.voicemail.is_some() {
                "DetectMessageEnd"
            } else {
                "Enable"
            };
            form.push(("MachineDetection", mode.into()));
        }
        if dial.record {
            form.push(("Record", "true".into()));
            form.push(("RecordingStatusCallback", dial.status_url.clone()));
            form.push(("RecordingStatusCallbackMethod", "POST".into()));
            form.push(("RecordingStatusCallbackEvent", "completed".into()));
        }
        let url = self.calls_url();
        let call = http::send(|| self.post_form(&url, &form)).await?.json()?;
        let sid = str_field(&call, "sid").ok_or_else(|| {
            ProviderError::Protocol("Twilio accepted the call but sent no `sid`".into())
        })?;
        Ok(Placed {
            provider_call_id: sid,
            status: CallStatus::Initiated,
        })
    }

    /// `Status=completed` ends an answered call; when Twilio answers that the call is still
    /// queued or ringing, `Status=canceled` follows. A 404 (20404) means the call is gone: Ok.
    async fn hangup(&self, provider_call_id: &str) -> Result<(), ProviderError> {
        let call = match self.set_status(provider_call_id, "completed").await {
            Ok(call) => call,
            Err(ProviderError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let status = str_field(&call, "status").unwrap_or_default();
        if matches!(status.as_str(), "queued" | "ringing" | "initiated") {
            match self.set_status(provider_call_id, "canceled").await {
                Ok(_) | Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Calls `in-progress`, `ringing` and `queued`, every page of each.
    async fn live_calls(&self) -> Result<Vec<ProviderCall>, ProviderError> {
        let mut out = Vec::new();
        for status in ["in-progress", "ringing", "queued"] {
            let first = format!("{}?Status={status}", self.calls_url());
            for call in self.list_all(first).await? {
                out.push(provider_call(call, CallStatus::Answered));
            }
        }
        Ok(out)
    }

    /// One page of calls. Twilio filters by start **day** (UTC), so `from`/`to` select whole
    /// days. Twilio has no direction filter; `direction` is applied to the page fetched, which
    /// can make it shorter than `limit`. Page `n` (1-based) is reached by following
    /// `next_page_uri` from the first page, as Twilio's paging requires.
    ///
    /// Twilio gives no total: `count` is a lower bound, the records on this and earlier pages,
    /// plus one when Twilio reports a further page (so `count > page * limit` means "more").
    async fn call_records(&self, query: &RecordQuery) -> Result<RecordPage, ProviderError> {
        let limit = query.limit.clamp(1, 1000);
        let page = query.page.max(1);
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(from) = query.from {
            params.push(("StartTime>", from.format("%Y-%m-%d").to_string()));
        }
        if let Some(to) = query.to {
            params.push(("StartTime<", to.format("%Y-%m-%d").to_string()));
        }
        if let Some(d) = &query.destination {
            params.push(("To", d.clone()));
        }
        if let Some(c) = &query.caller_id {
            params.push(("From", c.clone()));
        }
        params.push(("PageSize", limit.to_string()));
        let url = self.calls_url();
        let mut body = http::send(|| self.get(&url).query(&params)).await?.json()?;
        for _ in 1..page {
            match self.next_page(&body) {
                Some(next) => body = http::send(|| self.get(&next)).await?.json()?,
                None => {
                    return Ok(RecordPage {
                        count: u64::from(page - 1) * u64::from(limit),
                        results: Vec::new(),
                    });
                }
            }
        }
        let calls = calls_of(&body)?;
        let fetched = calls.len() as u64;
        let results: Vec<ProviderCall> = calls
            .into_iter()
            .map(|c| provider_call(c, CallStatus::Completed))
            .filter(|c| query.direction.is_none_or(|d| d == c.direction))
            .collect();
        let more = u64::from(self.next_page(&body).is_some());
        Ok(RecordPage {
            count: u64::from(page - 1) * u64::from(limit) + fetched + more,
            results,
        })
    }
}

/// A Call resource as a [`ProviderCall`]; an unknown status becomes `fallback`.
fn provider_call(call: serde_json::Value, fallback: CallStatus) -> ProviderCall {
    let direction = match str_field(&call, "direction").as_deref() {
        Some("inbound") | Some("trunking-originating") => Direction::Inbound,
        _ => Direction::Outbound,
    };
    ProviderCall {
        provider_call_id: str_field(&call, "sid").unwrap_or_default(),
        from: str_field(&call, "from"),
        to: str_field(&call, "to"),
        direction,
        status: str_field(&call, "status")
            .and_then(|s| from_twilio(&s))
            .unwrap_or(fallback),
        started_at: str_field(&call, "start_time")
            .or_else(|| str_field(&call, "date_created"))
            .and_then(|s| parse_rfc2822(&s)),
        duration_secs: call.get("duration").and_then(http::seconds),
        agent_name: None,
        recording_url: None,
        raw: call,
    }
}

/// An RFC 2822 time (`Tue, 31 Aug 2010 20:36:28 +0000`).
pub fn parse_rfc2822(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

// ---------------------------------------------------------------------------------------------
// Webhook signatures
// ---------------------------------------------------------------------------------------------

/// Checks `X-Twilio-Signature` for a form-encoded (or GET) webhook.
///
/// `url` is the full public URL Twilio requested, query string included; `params` are the
/// decoded form fields (empty for GET), repeated keys kept. Like Twilio's SDKs, the URL is tried
/// with any port removed and with the scheme's default port added.
pub fn verify_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header_value: &str,
) -> bool {
    let header_value = header_value.trim();
    if header_value.is_empty() {
        return false;
    }
    let (without_port, with_port) = port_variants(url);
    let a = compute_signature(auth_token, &without_port, params);
    let b = compute_signature(auth_token, &with_port, params);
    // Both compares always run.
    http::ct_eq(&a, header_value) | http::ct_eq(&b, header_value)
}

/// Checks `X-Twilio-Signature` for a JSON-body webhook: the URL carries
/// `bodySHA256=<hex SHA-256 of the body>` and is signed with no parameters.
pub fn verify_json_signature(
    auth_token: &str,
    url_with_bodysha256: &str,
    body: &[u8],
    header_value: &str,
) -> bool {
    let Some(expected) = query_value(url_with_bodysha256, "bodySHA256") else {
        return false;
    };
    let actual = hex::encode(Sha256::digest(body));
    let body_ok = http::ct_eq(&actual, &expected.to_ascii_lowercase());
    let sig_ok = verify_signature(auth_token, url_with_bodysha256, &[], header_value);
    body_ok & sig_ok
}

/// Base64(HMAC-SHA1(auth token, url + sorted name/value pairs)), as Twilio signs.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    let mut names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let mut values: Vec<&str> = params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        values.sort_unstable();
        values.dedup();
        for value in values {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn query_value(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The URL with any port removed, and with the scheme's default port added when it has none
/// (unchanged if it has one). The rest of the URL is kept byte for byte.
fn port_variants(url: &str) -> (String, String) {
    let Some((scheme, after)) = url.split_once("://") else {
        return (url.to_owned(), url.to_owned());
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => authority.split_at(i + 1),
        None => ("", authority),
    };
    let (host, port) = split_port(hostport);
    let without = format!("{scheme}://{userinfo}{host}{rest}");
    let with = match port {
        Some(_) => url.to_owned(),
        None => match scheme.to_ascii_lowercase().as_str() {
            "https" => format!("{scheme}://{userinfo}{host}:443{rest}"),
            "http" => format!("{scheme}://{userinfo}{host}:80{rest}"),
            _ => url.to_owned(),
        },
    };
    (without, with)
}

fn split_port(hostport: &str) -> (&str, Option<&str>) {
    let search_from = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(i) => i,
            None => return (hostport, None),
        }
    } else {
        0
    };
    match hostport[search_from..].rfind(':') {
        Some(i) => {
            let i = search_from + i;
            let port = &hostport[i + 1..];
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                (&hostport[..i], Some(port))
            } else {
                (hostport, None)
            }
        }
        None => (hostport, None),
    }
}

// ---------------------------------------------------------------------------------------------
// Status callbacks
// ---------------------------------------------------------------------------------------------

/// The answering-machine verdict a voice-URL request (or callback) carries, if any.
pub fn answered_by(params: &[(String, String)]) -> Option<String> {
    param(params, "AnsweredBy")
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

/// A status callback (or voice-URL request) as a [`ProviderEvent`].
///
/// `event` is the raw `CallStatus`, so a repeated callback for the same state is the same
/// event. `reference` is left for the caller (it comes from our own URL, not from Twilio).
pub fn parse_status_callback(params: &[(String, String)]) -> Result<ProviderEvent, String> {
    let sid = param(params, "CallSid").ok_or("the callback has no CallSid")?;
    // A recording's status callback (`RecordingStatusCallback`): no `CallStatus`. Its URL is
    // kept once the recording is `completed`.
    if param(params, "CallStatus").is_none()
        && let Some(rec) = param(params, "RecordingSid")
    {
        let done = param(params, "RecordingStatus").is_none_or(|s| s == "completed");
        return Ok(ProviderEvent::recording(
            ProviderKind::Twilio,
            sid,
            rec,
            param(params, "RecordingUrl").filter(|_| done),
            params_json(params),
        ));
    }
    let raw_status = param(params, "CallStatus").ok_or("the callback has no CallStatus")?;
    let status = from_twilio(raw_status)
        .ok_or_else(|| format!("unknown Twilio CallStatus {raw_status:?}"))?;
    let at = param(params, "Timestamp")
        .and_then(parse_rfc2822)
        .unwrap_or_else(Utc::now);
    let hangup_cause = param(params, "ErrorCode")
        .map(|c| format!("error {c}"))
        .or_else(|| param(params, "SipResponseCode").map(|c| format!("SIP {c}")));
    Ok(ProviderEvent {
        provider: ProviderKind::Twilio,
        provider_call_id: sid.to_owned(),
        event: raw_status.to_owned(),
        status,
        at,
        duration_secs: param(params, "CallDuration").and_then(http::parse_seconds),
        hangup_cause,
        recording_url: param(params, "RecordingUrl").map(str::to_owned),
        answered_by: answered_by(params),
        from: param(params, "From").map(str::to_owned),
        to: param(params, "To").map(str::to_owned),
        reference: None,
        raw: params_json(params),
    })
}

// ---------------------------------------------------------------------------------------------
// TwiML
// ---------------------------------------------------------------------------------------------

/// The TwiML for a call a machine answered: the message said (after its greeting ended), or
/// a hang-up.
pub fn twiml_for_machine(voicemail: Option<&str>) -> String {
    match voicemail.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => format!("<Response><Say>{}</Say><Hangup/></Response>", xml_escape(m)),
        None => "<Response><Hangup/></Response>".into(),
    }
}

/// Ring timeout of the agent leg in `<Dial>`.
pub const AGENT_DIAL_TIMEOUT_SECS: u32 = 30;

/// The TwiML an answered call fetches: dial the agent, stream to the bot (bidirectional, which
/// needs a `wss://` URL on Twilio), or hang up.
pub fn twiml_for(bridge: &Bridge, caller_id: &str) -> Result<String, String> {
    Ok(match bridge {
        Bridge::Agent { number } => format!(
            r#"<Response><Dial callerId="{}" timeout="{AGENT_DIAL_TIMEOUT_SECS}"><Number>{}</Number></Dial></Response>"#,
            xml_escape(caller_id),
            xml_escape(number)
        ),
        Bridge::Bot {
            wss_url,
            parameters,
        } => {
            let url = wss_url.trim();
            if !url
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("wss://"))
            {
                return Err(format!(
                    "Twilio media streams need a secure WebSocket URL (wss://), got {url:?}"
                ));
            }
            let mut xml = format!(r#"<Response><Connect><Stream url="{}">"#, xml_escape(url));
            for (name, value) in parameters {
                xml.push_str(&format!(
                    r#"<Parameter name="{}" value="{}"/>"#,
                    xml_escape(name),
                    xml_escape(value)
                ));
            }
            xml.push_str("</Stream></Connect></Response>");
            xml
        }
        Bridge::None => "<Response><Hangup/></Response>".to_owned(),
    })
}

/// `twiml` with `notice` said first (`<Say>`), before the bridge: how a recorded call tells its
/// callee so. A hang-up, or no notice, is left as it is.
pub fn say_first(twiml: &str, notice: Option<&str>) -> String {
    match (
        notice.map(str::trim).filter(|n| !n.is_empty()),
        twiml.strip_prefix("<Response>"),
    ) {
        (Some(n), Some(rest)) if !rest.starts_with("<Hangup/>") => {
            format!("<Response><Say>{}</Say>{rest}", xml_escape(n))
        }
        _ => twiml.to_owned(),
    }
}

/// Escapes text and attribute values for XML.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
