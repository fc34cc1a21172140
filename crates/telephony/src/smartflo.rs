//! Tata Tele Smartflo: click-to-call, live calls, hang-up and call records (JSON, Bearer
//! token), and its webhooks, whose body is a template the account owner writes.
//!
//! Smartflo writes local times without an offset (`YYYY-MM-DD HH:MM:SS`). They are read as UTC
//! unless the client is given the account's offset with [`SmartfloClient::with_utc_offset`]
//! (India is `+05:30`); [`parse_webhook`] reads them as UTC, [`parse_webhook_at`] with an offset.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::{Value, json};
use switchboard_core::CallStatus;
use switchboard_core::call::from_smartflo;

use crate::http::{self, str_field};
use crate::{
    Dial, Direction, Placed, Provider, ProviderCall, ProviderError, ProviderEvent, ProviderKind,
    RecordPage, RecordQuery,
};

/// Smartflo's REST host.
pub const DEFAULT_BASE_URL: &str = "https://api-smartflo.tatateleservices.com";

/// A Smartflo account, through an API token (portal-made or from `/v1/auth/login`).
#[derive(Clone)]
pub struct SmartfloClient {
    api_token: String,
    /// Scheme and host.
    pub base_url: String,
    /// The offset of the times Smartflo writes without one (UTC by default).
    pub utc_offset: FixedOffset,
    http: reqwest::Client,
}

impl std::fmt::Debug for SmartfloClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartfloClient")
            .field("api_token", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("utc_offset", &self.utc_offset)
            .finish()
    }
}

impl SmartfloClient {
    pub fn new(api_token: impl Into<String>) -> Self {
        Self::with_base_url(api_token, DEFAULT_BASE_URL)
    }

    pub fn with_base_url(api_token: impl Into<String>, base_url: impl AsRef<str>) -> Self {
        Self {
            api_token: api_token.into(),
            base_url: http::trim_base(base_url.as_ref()),
            utc_offset: utc(),
            http: http::client(),
        }
    }

    /// Reads Smartflo's offset-less times at `offset` (e.g. `+05:30` for India).
    pub fn with_utc_offset(mut self, offset: FixedOffset) -> Self {
        self.utc_offset = offset;
        self
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_token)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, ProviderError> {
        http::send(|| self.request(reqwest::Method::POST, path).json(body))
            .await?
            .json()
    }

    fn format_time(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.utc_offset)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero is a valid offset")
}

/// `success: false` as a rejection with Smartflo's message.
fn check_success(body: &Value) -> Result<(), ProviderError> {
    if body.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(ProviderError::Rejected(
            str_field(body, "message").unwrap_or_else(|| "Smartflo said success: false".into()),
        ));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Provider for SmartfloClient {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Smartflo
    }

    /// Agent-first click-to-call (`async=1`): Smartflo rings `dial.agent_id`, then the lead.
    /// Our reference goes out as `custom_identifier`. The id returned is Smartflo's `ref_id`
    /// (top level or under `data`), else our reference; the live `call_id` arrives later in
    /// webhooks and the live-call list.
    async fn originate(&self, dial: &Dial) -> Result<Placed, ProviderError> {
        let Some(agent) = dial.agent_id.as_deref().filter(|a| !a.trim().is_empty()) else {
            return Err(ProviderError::Rejected(
                "Smartflo needs an agent for click-to-call".into(),
            ));
        };
        let mut body = json!({
            "agent_number": agent.trim(),
            "destination_number": http::digits(&dial.to),
            "caller_id": http::digits(&dial.from),
            "async": 1,
            "custom_identifier": dial.reference,
        });
        if let Some(limit) = dial.time_limit_secs {
            body["call_timeout"] = json!(limit);
        }
        let answer = self.post("/v1/click_to_call", &body).await?;
        check_success(&answer)?;
        let ref_id = str_field(&answer, "ref_id")
            .or_else(|| answer.get("data").and_then(|d| str_field(d, "ref_id")))
            .unwrap_or_else(|| dial.reference.clone());
        Ok(Placed {
            provider_call_id: ref_id,
            status: CallStatus::Initiated,
        })
    }

    /// `POST /v1/call/hangup {"call_id"}` with a live `call_id`. A 404, or `success: false`
    /// with a message saying the call is not live (not found / invalid / no active call /
    /// already ended), counts as already ended.
    async fn hangup(&self, provider_call_id: &str) -> Result<(), ProviderError> {
        let body = json!({ "call_id": provider_call_id });
        match self.post("/v1/call/hangup", &body).await {
            Ok(answer) => match check_success(&answer) {
                Ok(()) => Ok(()),
                Err(ProviderError::Rejected(m)) if says_call_is_gone(&m) => Ok(()),
                Err(e) => Err(e),
            },
            Err(ProviderError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/live_calls` (a bare array). `state` maps through the core's Smartflo words;
    /// `created_at` is read at the client's offset; `call_time` (`HH:MM:SS`) is the duration.
    async fn live_calls(&self) -> Result<Vec<ProviderCall>, ProviderError> {
        let body = http::send(|| self.request(reqwest::Method::GET, "/v1/live_calls"))
            .await?
            .json()?;
        let items = match body {
            Value::Array(a) => a,
            Value::Object(ref o) => match o.get("data").or_else(|| o.get("results")) {
                Some(Value::Array(a)) => a.clone(),
                _ => {
                    check_success(&body)?;
                    return Err(ProviderError::Protocol(
                        "Smartflo's live calls are not a list".into(),
                    ));
                }
            },
            Value::Null => Vec::new(),
            _ => {
                return Err(ProviderError::Protocol(
                    "Smartflo's live calls are not a list".into(),
                ));
            }
        };
        Ok(items
            .into_iter()
            .map(|c| {
                let direction = direction(c.get("direction"));
                let customer =
                    str_field(&c, "customer_number").or_else(|| str_field(&c, "destination"));
                let (from, to) = match direction {
                    Direction::Inbound => (
                        customer.or_else(|| str_field(&c, "source")),
                        str_field(&c, "did"),
                    ),
                    Direction::Outbound => (str_field(&c, "did"), customer),
                };
                let duration = c.get("call_time").and_then(http::seconds);
                let status = str_field(&c, "state")
                    .or_else(|| str_field(&c, "status"))
                    .and_then(|s| from_smartflo(&s, false))
                    .unwrap_or(if duration.unwrap_or(0) > 0 {
                        CallStatus::Answered
                    } else {
                        CallStatus::Ringing
                    });
                ProviderCall {
                    provider_call_id: str_field(&c, "call_id").unwrap_or_default(),
                    from,
                    to,
                    direction,
                    status,
                    started_at: str_field(&c, "created_at")
                        .and_then(|s| local_time(&s, self.utc_offset)),
                    duration_secs: duration,
                    agent_name: str_field(&c, "agent_name"),
                    recording_url: None,
                    raw: c,
                }
            })
            .collect())
    }

    /// `GET /v1/call/records`. Smartflo requires a date range: a missing `to` is now and a
    /// missing `from` is 30 days before `to`; both are written at the client's offset.
    async fn call_records(&self, query: &RecordQuery) -> Result<RecordPage, ProviderError> {
        let to = query.to.unwrap_or_else(Utc::now);
        let from = query.from.unwrap_or(to - chrono::Duration::days(30));
        let mut params: Vec<(&str, String)> = vec![
            ("from_date", self.format_time(from)),
            ("to_date", self.format_time(to)),
            ("page", query.page.max(1).to_string()),
            ("limit", query.limit.max(1).to_string()),
        ];
        if let Some(d) = &query.destination {
            params.push(("destination", http::digits(d)));
        }
        if let Some(c) = &query.caller_id {
            params.push(("callerid", http::digits(c)));
        }
        if let Some(d) = query.direction {
            let d = match d {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            };
            params.push(("direction", d.to_owned()));
        }
        if let Some(a) = &query.agent_number {
            params.push(("agent_number", a.clone()));
        }
        let body = http::send(|| {
            self.request(reqwest::Method::GET, "/v1/call/records")
                .query(&params)
        })
        .await?
        .json()?;
        check_success(&body)?;
        let results = match body.get("results") {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(ProviderError::Protocol(
                    "Smartflo's call records have no `results` list".into(),
                ));
            }
        };
        let count = body
            .get("count")
            .and_then(|c| c.as_u64().or_else(|| c.as_str()?.trim().parse().ok()))
            .unwrap_or(results.len() as u64);
        let results = results.into_iter().map(|r| self.record(r)).collect();
        Ok(RecordPage { count, results })
    }
}

impl SmartfloClient {
    fn record(&self, r: Value) -> ProviderCall {
        let direction = direction(r.get("direction"));
        let customer = str_field(&r, "client_number")
            .or_else(|| str_field(&r, "customer_number"))
            .or_else(|| str_field(&r, "destination"));
        let did = str_field(&r, "did_number").or_else(|| str_field(&r, "caller_id_number"));
        let (from, to) = match direction {
            Direction::Inbound => (customer, did),
            Direction::Outbound => (did, customer),
        };
        let started_at = str_field(&r, "start_stamp")
            .and_then(|s| local_time(&s, self.utc_offset))
            .or_else(|| {
                let date = NaiveDate::parse_from_str(&str_field(&r, "date")?, "%Y-%m-%d").ok()?;
                let time = str_field(&r, "time")
                    .and_then(|t| NaiveTime::parse_from_str(&t, "%H:%M:%S").ok())
                    .unwrap_or_default();
                at_offset(date.and_time(time), self.utc_offset)
            });
        ProviderCall {
            provider_call_id: str_field(&r, "call_id")
                .or_else(|| str_field(&r, "uuid"))
                .or_else(|| str_field(&r, "id"))
                .unwrap_or_default(),
            from,
            to,
            direction,
            status: str_field(&r, "status")
                .or_else(|| str_field(&r, "call_status"))
                .and_then(|s| from_smartflo(&s, true))
                .unwrap_or(CallStatus::Failed),
            started_at,
            duration_secs: ["call_duration", "duration", "answered_seconds"]
                .iter()
                .find_map(|k| r.get(*k).and_then(http::seconds)),
            agent_name: str_field(&r, "agent_name"),
            recording_url: str_field(&r, "recording_url"),
            raw: r,
        }
    }
}

fn says_call_is_gone(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "not found",
        "no active",
        "not active",
        "no live",
        "not live",
        "invalid call",
        "already",
        "does not exist",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// `1`/`"inbound"` → inbound; `2`/`"outbound"` and anything else → outbound.
fn direction(v: Option<&Value>) -> Direction {
    match v {
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Direction::Inbound,
        Some(Value::String(s)) if s.trim() == "1" || s.trim().eq_ignore_ascii_case("inbound") => {
            Direction::Inbound
        }
        _ => Direction::Outbound,
    }
}

/// A Smartflo time: `YYYY-MM-DD HH:MM:SS` at `offset`, or one that carries its own offset.
pub fn local_time(s: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()?;
    at_offset(naive, offset)
}

fn at_offset(t: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    offset
        .from_local_datetime(&t)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/// A webhook body as a [`ProviderEvent`], times read as UTC. See [`parse_webhook_at`].
pub fn parse_webhook(body: &Value) -> Result<ProviderEvent, String> {
    parse_webhook_at(body, utc())
}

/// A webhook body as a [`ProviderEvent`], offset-less times read at `offset`.
///
/// The body is the account's own template, so it is read defensively: fields may sit under
/// `data` (which wins over the top level) and keys may keep their template's `$` prefix.
/// - id: `call_id`, else `uuid`, else `ref_id`;
/// - status: `call_status`, else `status`; the call has ended when there is an `end_stamp`, a
///   `hangup_cause`, or an event/trigger name containing "hangup" (then `answered` means
///   completed); with no status at all, an ended call is answered if it has an `answer_stamp`
///   or billed seconds, else missed;
/// - `duration`, else `billsec`; `hangup_cause`; `recording_url`;
/// - the customer (`customer_number`, `customer_number_with_prefix`) is `to`, and
///   `caller_id_number` `from`, unless `direction` says inbound (then the other way round);
/// - reference: `custom_identifier` (a string, or an object's `ref_id`/`reference`), else
///   `ref_id`;
/// - `event` = the status word (lowercase), plus `:ended` when the call has ended.
pub fn parse_webhook_at(body: &Value, offset: FixedOffset) -> Result<ProviderEvent, String> {
    let Value::Object(top) = body else {
        return Err("the webhook body is not a JSON object".into());
    };
    // Normalized view: `$`-less keys, `data` fields over top-level ones.
    let mut fields = serde_json::Map::new();
    let mut add = |o: &serde_json::Map<String, Value>| {
        for (k, v) in o {
            let key = k.trim().trim_start_matches('$').to_owned();
            if key == "data" {
                continue;
            }
            fields.insert(key, v.clone());
        }
    };
    add(top);
    let data = top
        .get("data")
        .or_else(|| top.get("$data"))
        .and_then(|d| match d {
            Value::Object(o) => Some(o.clone()),
            // Some templates send `data` as a JSON string.
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(o)) => Some(o),
                _ => None,
            },
            _ => None,
        });
    if let Some(data) = &data {
        add(data);
    }
    let v = Value::Object(fields);
    let get = |k: &str| str_field(&v, k).filter(|s| !s.starts_with('$'));

    let id = get("call_id")
        .or_else(|| get("uuid"))
        .or_else(|| get("ref_id"))
        .ok_or("the webhook has no call_id, uuid or ref_id")?;
    let end_stamp = get("end_stamp");
    let hangup_cause = get("hangup_cause");
    let trigger_says_hangup = ["event", "trigger", "call_event", "type", "event_type"]
        .iter()
        .filter_map(|k| get(k))
        .any(|s| s.to_ascii_lowercase().contains("hangup"));
    let ended = end_stamp.is_some() || hangup_cause.is_some() || trigger_says_hangup;
    let duration = ["duration", "billsec", "call_duration"]
        .iter()
        .find_map(|k| v.get(*k).and_then(http::seconds));
    let billsec = v.get("billsec").and_then(http::seconds);

    let status_word = match get("call_status").or_else(|| get("status")) {
        Some(s) => s.to_ascii_lowercase(),
        None if ended => {
            if get("answer_stamp").is_some() || billsec.unwrap_or(0) > 0 {
                "answered".to_owned()
            } else {
                "missed".to_owned()
            }
        }
        None => return Err("the webhook has no call_status".into()),
    };
    let status = from_smartflo(&status_word, ended)
        .ok_or_else(|| format!("unknown Smartflo call status {status_word:?}"))?;

    let inbound = get("direction").is_some_and(|d| {
        let d = d.to_ascii_lowercase();
        d == "1" || d.contains("inbound") || d == "incoming"
    });
    let customer = get("customer_number").or_else(|| get("customer_number_with_prefix"));
    let other = get("caller_id_number").or_else(|| get("call_to_number"));
    let (from, to) = if inbound {
        (customer, get("call_to_number").or(other))
    } else {
        (
            get("caller_id_number"),
            customer.or_else(|| get("call_to_number")),
        )
    };

    let reference = match v.get("custom_identifier") {
        Some(Value::Object(o)) => ["ref_id", "reference", "call_id"]
            .iter()
            .find_map(|k| o.get(*k).and_then(|x| x.as_str().map(str::to_owned))),
        Some(Value::String(s)) if !s.trim().is_empty() && !s.starts_with('$') => {
            // A JSON-encoded object, or the plain reference.
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(o)) => ["ref_id", "reference"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(|x| x.as_str().map(str::to_owned))),
                _ => Some(s.trim().to_owned()),
            }
        }
        _ => None,
    }
    .or_else(|| get("ref_id"));

    let at = [
        end_stamp.as_deref(),
        get("answer_stamp").as_deref(),
        get("start_stamp").as_deref(),
    ]
    .into_iter()
    .flatten()
    .find_map(|s| local_time(s, offset))
    .unwrap_or_else(Utc::now);

    let event = if ended {
        format!("{status_word}:ended")
    } else {
        status_word
    };
    Ok(ProviderEvent {
        provider: ProviderKind::Smartflo,
        provider_call_id: id,
        event,
        status,
        at,
        duration_secs: duration,
        hangup_cause,
        recording_url: get("recording_url"),
        answered_by: None,
        from,
        to,
        reference,
        raw: body.clone(),
    })
}
