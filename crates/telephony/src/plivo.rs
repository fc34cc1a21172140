//! Plivo: the Call REST API (JSON, HTTP Basic `AuthID:AuthToken`, paths ending in `/`),
//! callbacks, `X-Plivo-Signature-V3` checks and Plivo XML.

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use switchboard_core::CallStatus;
use switchboard_core::call::from_plivo;

use crate::http::{self, param, params_json, str_field};
use crate::twilio::xml_escape;
use crate::{
    Bridge, Dial, Direction, Placed, Provider, ProviderCall, ProviderError, ProviderEvent,
    ProviderKind, RecordPage, RecordQuery,
};

/// Plivo's REST host.
pub const DEFAULT_BASE_URL: &str = "https://api.plivo.com";
/// Plivo's largest page.
pub const MAX_LIMIT: u32 = 20;

/// A Plivo account's Call API.
#[derive(Clone)]
pub struct PlivoClient {
    pub auth_id: String,
    auth_token: String,
    /// Scheme and host, e.g. `https://api.plivo.com`.
    pub base_url: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for PlivoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlivoClient")
            .field("auth_id", &self.auth_id)
            .field("auth_token", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl PlivoClient {
    pub fn new(auth_id: impl Into<String>, auth_token: impl Into<String>) -> Self {
        Self::with_base_url(auth_id, auth_token, DEFAULT_BASE_URL)
    }

    pub fn with_base_url(
        auth_id: impl Into<String>,
        auth_token: impl Into<String>,
        base_url: impl AsRef<str>,
    ) -> Self {
        Self {
            auth_id: auth_id.into(),
            auth_token: auth_token.into(),
            base_url: http::trim_base(base_url.as_ref()),
            http: http::client(),
        }
    }

    /// `{base}/v1/Account/{auth_id}/{path}` where `path` ends with `/`.
    fn url(&self, path: &str) -> String {
        format!("{}/v1/Account/{}/{path}", self.base_url, self.auth_id)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .basic_auth(&self.auth_id, Some(&self.auth_token))
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// DELETE with an empty JSON body, as Plivo's SDK sends it. 404 → `Ok(false)`.
    async fn delete(&self, path: &str) -> Result<bool, ProviderError> {
        let url = self.url(path);
        match http::send(|| self.request(reqwest::Method::DELETE, &url).json(&json!({}))).await {
            Ok(_) => Ok(true),
            Err(ProviderError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The UUIDs of live calls.
    async fn live_uuids(&self) -> Result<Vec<String>, ProviderError> {
        let url = self.url("Call/");
        let body = http::send(|| {
            self.request(reqwest::Method::GET, &url)
                .query(&[("status", "live")])
        })
        .await?
        .json()?;
        match body.get("calls") {
            Some(serde_json::Value::Array(a)) => Ok(a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()),
            Some(serde_json::Value::Null) | None => Ok(Vec::new()),
            Some(_) => Err(ProviderError::Protocol(
                "Plivo's live call list has no `calls` array".into(),
            )),
        }
    }

    /// One live call's details; `None` when it ended meanwhile.
    async fn live_call(&self, uuid: &str) -> Result<Option<serde_json::Value>, ProviderError> {
        let url = self.url(&format!("Call/{uuid}/"));
        match http::send(|| {
            self.request(reqwest::Method::GET, &url)
                .query(&[("status", "live")])
        })
        .await
        {
            Ok(a) => Ok(Some(a.json()?)),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait::async_trait]
impl Provider for PlivoClient {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Plivo
    }

    /// Numbers are sent as digits (Plivo's own form). The id returned is Plivo's
    /// `request_uuid`; callbacks carry it as `RequestUUID`.
    async fn originate(&self, dial: &Dial) -> Result<Placed, ProviderError> {
        let mut body = json!({
            "from": http::digits(&dial.from),
            "to": http::digits(&dial.to),
            "answer_url": dial.answer_url,
            "answer_method": "POST",
            "hangup_url": dial.status_url,
            "hangup_method": "POST",
            "ring_url": dial.status_url,
            "ring_method": "POST",
            "ring_timeout": dial.ring_timeout_secs,
        });
        if let Some(limit) = dial.time_limit_secs {
            body["time_limit"] = json!(limit);
        }
        if dial.machine_detection {
            // Plivo posts its verdict (`Machine`) to the status URL. Without a message to
            // leave it hangs up on a machine itself; with one, the call goes on and the server
            // moves it to the message (`redirect`).
            let leave = dial
                .voicemail
                .as_deref()
                .is_some_and(|m| !m.trim().is_empty());
            body["machine_detection"] = json!(if leave { "true" } else { "hangup" });
            body["machine_detection_url"] = json!(dial.status_url);
            body["machine_detection_method"] = json!("POST");
        }
        let url = self.url("Call/");
        let answer = http::send(|| self.request(reqwest::Method::POST, &url).json(&body))
            .await?
            .json()?;
        let request_uuid = str_field(&answer, "request_uuid").ok_or_else(|| {
            ProviderError::Protocol(format!(
                "Plivo accepted the call but sent no `request_uuid`: {answer}"
            ))
        })?;
        Ok(Placed {
            provider_call_id: request_uuid,
            status: CallStatus::Initiated,
        })
    }

    /// `DELETE /Call/{id}/` hangs up a live call (for API calls the call UUID is usually the
    /// request UUID). On 404, `DELETE /Request/{id}/` cancels a call not yet answered. On a
    /// second 404 the live calls are searched for one whose `request_uuid` is `id` and that call
    /// is hung up; if there is none, the call has already ended, which is Ok.
    async fn hangup(&self, provider_call_id: &str) -> Result<(), ProviderError> {
        if self.delete(&format!("Call/{provider_call_id}/")).await? {
            return Ok(());
        }
        if self.delete(&format!("Request/{provider_call_id}/")).await? {
            return Ok(());
        }
        for uuid in self.live_uuids().await? {
            if uuid == provider_call_id {
                continue;
            }
            let Some(call) = self.live_call(&uuid).await? else {
                continue;
            };
            if str_field(&call, "request_uuid").as_deref() == Some(provider_call_id) {
                self.delete(&format!("Call/{uuid}/")).await?;
                return Ok(());
            }
        }
        Ok(())
    }

    /// `POST /Call/{uuid}/` with `legs=aleg` and `aleg_url` (Plivo's transfer): the callee's leg
    /// leaves its bridge and runs the XML fetched from `url`. `provider_call_id` is the live
    /// call's UUID (a callback's `CallUUID`).
    async fn redirect(&self, provider_call_id: &str, url: &str) -> Result<(), ProviderError> {
        let path = self.url(&format!("Call/{provider_call_id}/"));
        let body = json!({"legs": "aleg", "aleg_url": url, "aleg_method": "POST"});
        http::send(|| self.request(reqwest::Method::POST, &path).json(&body)).await?;
        Ok(())
    }

    /// `GET /Call/?status=live`, then each call's details. `provider_call_id` is the call's
    /// `request_uuid` when Plivo gives one (the id [`Provider::originate`] returned), else its
    /// `call_uuid`; `duration_secs` counts from `session_start` (UTC).
    async fn live_calls(&self) -> Result<Vec<ProviderCall>, ProviderError> {
        let mut out = Vec::new();
        for uuid in self.live_uuids().await? {
            let Some(call) = self.live_call(&uuid).await? else {
                continue;
            };
            let started_at = str_field(&call, "session_start").and_then(|s| parse_time(&s));
            out.push(ProviderCall {
                provider_call_id: str_field(&call, "request_uuid")
                    .or_else(|| str_field(&call, "call_uuid"))
                    .unwrap_or(uuid),
                from: str_field(&call, "from"),
                to: str_field(&call, "to"),
                direction: direction(str_field(&call, "direction").as_deref()),
                status: str_field(&call, "call_status")
                    .and_then(|s| from_plivo(&s, None))
                    .unwrap_or(CallStatus::Answered),
                started_at,
                duration_secs: started_at.map(|t| (Utc::now() - t).num_seconds().max(0)),
                agent_name: None,
                recording_url: None,
                raw: call,
            });
        }
        Ok(out)
    }

    /// `GET /Call/` (CDRs). Times are sent as UTC `YYYY-MM-DD HH:MM:SS` on `end_time`; `limit`
    /// is capped at Plivo's 20; `count` is Plivo's `meta.total_count`. A CDR has no status
    /// field: it is derived from `call_state`/`call_status` when present, else from the
    /// hang-up cause and whether the call was answered (see [`cdr_status`]).
    async fn call_records(&self, query: &RecordQuery) -> Result<RecordPage, ProviderError> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let offset = u64::from(query.page.max(1) - 1) * u64::from(limit);
        let mut params: Vec<(&str, String)> = Vec::new();
        let fmt = "%Y-%m-%d %H:%M:%S";
        if let Some(from) = query.from {
            params.push(("end_time__gte", from.format(fmt).to_string()));
        }
        if let Some(to) = query.to {
            params.push(("end_time__lte", to.format(fmt).to_string()));
        }
        if let Some(d) = &query.destination {
            params.push(("to_number", http::digits(d)));
        }
        if let Some(c) = &query.caller_id {
            params.push(("from_number", http::digits(c)));
        }
        if let Some(d) = query.direction {
            let d = match d {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            };
            params.push(("call_direction", d.to_owned()));
        }
        params.push(("limit", limit.to_string()));
        params.push(("offset", offset.to_string()));
        let url = self.url("Call/");
        let body = http::send(|| self.request(reqwest::Method::GET, &url).query(&params))
            .await?
            .json()?;
        let count = body
            .get("meta")
            .and_then(|m| m.get("total_count"))
            .and_then(|c| c.as_u64())
            .ok_or_else(|| {
                ProviderError::Protocol("Plivo's CDR list has no meta.total_count".into())
            })?;
        let objects = match body.get("objects") {
            Some(serde_json::Value::Array(a)) => a.clone(),
            _ => {
                return Err(ProviderError::Protocol(
                    "Plivo's CDR list has no `objects` array".into(),
                ));
            }
        };
        let results = objects
            .into_iter()
            .map(|o| ProviderCall {
                provider_call_id: str_field(&o, "call_uuid").unwrap_or_default(),
                from: str_field(&o, "from_number"),
                to: str_field(&o, "to_number"),
                direction: direction(str_field(&o, "call_direction").as_deref()),
                status: cdr_status(&o),
                started_at: str_field(&o, "initiation_time").and_then(|s| parse_time(&s)),
                duration_secs: o.get("call_duration").and_then(http::seconds),
                agent_name: None,
                recording_url: None,
                raw: o,
            })
            .collect();
        Ok(RecordPage { count, results })
    }
}

fn direction(s: Option<&str>) -> Direction {
    match s {
        Some(s) if s.eq_ignore_ascii_case("inbound") => Direction::Inbound,
        _ => Direction::Outbound,
    }
}

/// A CDR's status: its own `call_state`/`call_status` if any; else cancel codes (1000, 1010)
/// → canceled, a hang-up cause naming busy / no answer / timeout / cancel → that, an answered
/// call (answer time or billed seconds) → completed, anything else → failed.
pub fn cdr_status(cdr: &serde_json::Value) -> CallStatus {
    let code = cdr.get("hangup_cause_code").and_then(|c| match c {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    if let Some(s) = str_field(cdr, "call_state").or_else(|| str_field(cdr, "call_status"))
        && let Some(status) = from_plivo(&s, code)
    {
        return status;
    }
    if matches!(code, Some(1000 | 1010)) {
        return CallStatus::Canceled;
    }
    let cause = str_field(cdr, "hangup_cause_name")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if cause.contains("busy") {
        return CallStatus::Busy;
    }
    if cause.contains("no answer") || cause.contains("timeout") || cause.contains("not answered") {
        return CallStatus::NoAnswer;
    }
    if cause.contains("cancel") {
        return CallStatus::Canceled;
    }
    let answered = str_field(cdr, "answer_time").is_some()
        || cdr
            .get("bill_duration")
            .and_then(http::seconds)
            .is_some_and(|s| s > 0);
    if answered {
        CallStatus::Completed
    } else {
        CallStatus::Failed
    }
}

/// Plivo's times: `2015-07-26 15:44:49+05:30`, `2017-05-22 13:17:49.050872` (UTC when no
/// offset is given), or RFC 3339.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

// ---------------------------------------------------------------------------------------------
// Signatures (V3)
// ---------------------------------------------------------------------------------------------

/// Checks `X-Plivo-Signature-V3` (or `-Ma-V3`): `method` is the callback's method (`GET` or
/// `POST`), `url` the callback URL as configured, `params` the decoded request parameters,
/// `nonce` the `X-Plivo-Signature-V3-Nonce` header. The header may list several signatures
/// separated by commas; any match is enough.
pub fn verify_v3(
    auth_token: &str,
    method: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
    header_value: &str,
) -> bool {
    if header_value.trim().is_empty() {
        return false;
    }
    let expected = compute_v3(auth_token, method, url, params, nonce);
    let mut ok = false;
    for candidate in header_value.split(',') {
        ok |= http::ct_eq(&expected, candidate.trim());
    }
    ok
}

/// Base64(HMAC-SHA256(auth token, signed URL + "." + nonce)), as Plivo signs.
pub fn compute_v3(
    auth_token: &str,
    method: &str,
    url: &str,
    params: &[(String, String)],
    nonce: &str,
) -> String {
    let payload = format!("{}.{nonce}", signed_url_v3(method, url, params));
    let mut mac =
        Hmac::<Sha256>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Keys in byte order, each with its values in byte order.
type Grouped = std::collections::BTreeMap<String, Vec<String>>;

fn group(pairs: impl IntoIterator<Item = (String, String)>) -> Grouped {
    let mut map = Grouped::new();
    for (k, v) in pairs {
        map.entry(k).or_default().push(v);
    }
    for values in map.values_mut() {
        values.sort();
    }
    map
}

/// The string V3 signs before `.nonce`.
fn signed_url_v3(method: &str, url: &str, params: &[(String, String)]) -> String {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let (base, query) = match without_fragment.split_once('?') {
        Some((b, q)) => (b, q),
        None => (without_fragment, ""),
    };
    let url_params = group(
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    let query_string = |map: &Grouped| {
        map.iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join("&")
    };
    if method.eq_ignore_ascii_case("GET") {
        // The URL's own parameters win over request parameters of the same name.
        let mut merged = group(params.iter().cloned());
        merged.extend(url_params);
        let qs = query_string(&merged);
        return if qs.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{qs}")
        };
    }
    let qs = query_string(&url_params);
    let ps: String = group(params.iter().cloned())
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}{v}")))
        .collect();
    match (qs.is_empty(), ps.is_empty()) {
        (false, false) => format!("{base}?{qs}.{ps}"),
        (false, true) => format!("{base}?{qs}"),
        (true, false) => format!("{base}?{ps}"),
        (true, true) => base.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Callbacks
// ---------------------------------------------------------------------------------------------

/// A ring, answer or hang-up callback as a [`ProviderEvent`].
///
/// `provider_call_id` is `RequestUUID` when present (the id [`Provider::originate`] returned),
/// else `CallUUID`; `CallUUID` stays in `raw`. `event` is the `Event` parameter when present,
/// else the `CallStatus` value.
pub fn parse_callback(params: &[(String, String)]) -> Result<ProviderEvent, String> {
    let id = param(params, "RequestUUID")
        .or_else(|| param(params, "CallUUID"))
        .ok_or("the callback has neither RequestUUID nor CallUUID")?;
    // A `<Record>`'s callback (its `action` and `callbackUrl`): the recording, perhaps without
    // the call's status.
    if let Some(url) = param(params, "RecordUrl")
        && param(params, "CallStatus").is_none()
    {
        let rec = param(params, "RecordingID").unwrap_or(url);
        return Ok(ProviderEvent::recording(
            ProviderKind::Plivo,
            id,
            rec,
            Some(url),
            params_json(params),
        ));
    }
    let raw_status = param(params, "CallStatus").ok_or("the callback has no CallStatus")?;
    let code = param(params, "HangupCauseCode").and_then(|c| c.parse::<i64>().ok());
    let status = from_plivo(raw_status, code)
        .ok_or_else(|| format!("unknown Plivo CallStatus {raw_status:?}"))?;
    let at = ["EndTime", "AnswerTime", "StartTime", "SessionStart"]
        .iter()
        .find_map(|k| param(params, k).and_then(parse_time))
        .unwrap_or_else(Utc::now);
    Ok(ProviderEvent {
        provider: ProviderKind::Plivo,
        provider_call_id: id.to_owned(),
        event: param(params, "Event").unwrap_or(raw_status).to_owned(),
        status,
        at,
        duration_secs: param(params, "Duration").and_then(http::parse_seconds),
        hangup_cause: param(params, "HangupCauseName")
            .or_else(|| param(params, "HangupCause"))
            .map(str::to_owned),
        recording_url: param(params, "RecordUrl")
            .or_else(|| param(params, "RecordingUrl"))
            .map(str::to_owned),
        answered_by: param(params, "Machine").map(|m| {
            if m.eq_ignore_ascii_case("true") {
                "machine".to_owned()
            } else {
                "human".to_owned()
            }
        }),
        from: param(params, "From").map(str::to_owned),
        to: param(params, "To").map(str::to_owned),
        reference: None,
        raw: params_json(params),
    })
}

// ---------------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------------

/// How long a machine's greeting may last before the message is spoken anyway.
pub const VOICEMAIL_WAIT_SECS: u32 = 30;

/// The Plivo XML a call a machine answered is moved to: wait for the greeting's beep (at most
/// [`VOICEMAIL_WAIT_SECS`]), speak the message, hang up. Without a message, a hang-up.
pub fn xml_for_machine(voicemail: Option<&str>) -> String {
    match voicemail.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => format!(
            r#"<Response><Wait length="{VOICEMAIL_WAIT_SECS}" beep="true"/><Speak>{}</Speak><Hangup/></Response>"#,
            xml_escape(m)
        ),
        None => "<Response><Hangup/></Response>".into(),
    }
}

/// The Plivo XML an answered call fetches: dial the agent, stream both ways to the bot
/// (μ-law 8 kHz, the call kept alive while the socket is open), or hang up. Numbers are written
/// without `+`; bot parameters become `extraHeaders` (`k=v,k=v`).
pub fn xml_for(bridge: &Bridge, caller_id: &str) -> String {
    xml_for_recorded(bridge, caller_id, None)
}

/// `xml` with `notice` spoken first (`<Speak>`), before the recording and the bridge: how a
/// recorded call tells its callee so. A hang-up, or no notice, is left as it is.
pub fn speak_first(xml: &str, notice: Option<&str>) -> String {
    match (
        notice.map(str::trim).filter(|n| !n.is_empty()),
        xml.strip_prefix("<Response>"),
    ) {
        (Some(n), Some(rest)) if !rest.starts_with("<Hangup/>") => {
            format!("<Response><Speak>{}</Speak>{rest}", xml_escape(n))
        }
        _ => xml.to_owned(),
    }
}

/// How long a recording may run (Plivo's own cap on a call, 4 hours).
pub const RECORD_MAX_SECS: u32 = 14_400;

/// [`xml_for`], the call recorded when `record` names where Plivo posts the recording: a
/// `<Record>` (MP3, not redirecting the call) that starts when the agent answers, or with the
/// bot's stream (the whole session).
pub fn xml_for_recorded(bridge: &Bridge, caller_id: &str, record: Option<&str>) -> String {
    let record = |start: &str| match record {
        Some(url) => format!(
            r#"<Record action="{u}" method="POST" callbackUrl="{u}" callbackMethod="POST" redirect="false" fileFormat="mp3" maxLength="{RECORD_MAX_SECS}" {start}="true"/>"#,
            u = xml_escape(url)
        ),
        None => String::new(),
    };
    match bridge {
        Bridge::Agent { number } => format!(
            r#"<Response>{}<Dial callerId="{}"><Number>{}</Number></Dial></Response>"#,
            record("startOnDialAnswer"),
            xml_escape(caller_id.trim().trim_start_matches('+')),
            xml_escape(number.trim().trim_start_matches('+'))
        ),
        Bridge::Bot {
            wss_url,
            parameters,
        } => {
            let headers = parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let extra = if headers.is_empty() {
                String::new()
            } else {
                format!(r#" extraHeaders="{}""#, xml_escape(&headers))
            };
            format!(
                r#"<Response>{}<Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000"{extra}>{}</Stream></Response>"#,
                record("recordSession"),
                xml_escape(wss_url.trim())
            )
        }
        Bridge::None => "<Response><Hangup/></Response>".to_owned(),
    }
}
