//! Telephony: one [`Provider`] trait over Twilio, Plivo, Smartflo and a built-in simulator,
//! the parsing and signature checks of their webhooks, and the call-control XML they fetch.
//!
//! Everything a provider says about a call becomes a [`ProviderEvent`] in the core's
//! vocabulary; the server stores those through one path whatever their origin.

pub mod http;
pub mod plivo;
pub mod simulator;
pub mod smartflo;
pub mod twilio;

pub use plivo::PlivoClient;
pub use smartflo::SmartfloClient;
pub use twilio::TwilioClient;

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_core::CallStatus;

/// Which provider a call went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Simulator,
    Twilio,
    Plivo,
    Smartflo,
}

impl ProviderKind {
    /// Every provider (the store's list of `calls.provider` values is checked against it).
    pub const ALL: [ProviderKind; 4] = [Self::Simulator, Self::Twilio, Self::Plivo, Self::Smartflo];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Simulator => "simulator",
            ProviderKind::Twilio => "twilio",
            ProviderKind::Plivo => "plivo",
            ProviderKind::Smartflo => "smartflo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "simulator" => Some(Self::Simulator),
            "twilio" => Some(Self::Twilio),
            "plivo" => Some(Self::Plivo),
            "smartflo" => Some(Self::Smartflo),
            _ => None,
        }
    }
}

/// Where an answered call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bridge {
    /// Ring an agent's phone (E.164) and connect the two.
    Agent { number: String },
    /// Stream the call's audio both ways to a voice bot's WebSocket.
    Bot {
        wss_url: String,
        parameters: Vec<(String, String)>,
    },
    /// Nothing to bridge (the provider's own routing decides, as on Smartflo).
    None,
}

impl Bridge {
    /// The form stored with a call (the answer webhook reads it back with [`Bridge::from_json`]).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Bridge::Agent { number } => serde_json::json!({ "agent": number }),
            Bridge::Bot {
                wss_url,
                parameters,
            } => serde_json::json!({ "bot": wss_url, "parameters": parameters }),
            Bridge::None => serde_json::Value::Null,
        }
    }

    pub fn from_json(b: &serde_json::Value) -> Self {
        if let Some(n) = b["agent"].as_str() {
            Bridge::Agent {
                number: n.to_string(),
            }
        } else if let Some(u) = b["bot"].as_str() {
            let parameters = b["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| {
                            Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Bridge::Bot {
                wss_url: u.to_string(),
                parameters,
            }
        } else {
            Bridge::None
        }
    }
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct Dial {
    /// Our call id, echoed back where the provider allows (custom identifier, URL parameter).
    pub reference: String,
    /// The lead's number, E.164.
    pub to: String,
    /// Caller id, E.164.
    pub from: String,
    /// Where the provider fetches call-control XML when the callee answers.
    pub answer_url: String,
    /// Where the provider posts status events.
    pub status_url: String,
    pub ring_timeout_secs: u32,
    pub time_limit_secs: Option<u32>,
    pub bridge: Bridge,
    /// Smartflo's agent-first click-to-call: the agent's Smartflo id or number.
    pub agent_id: Option<String>,
    /// Detect answering machines and hang up on them instead of bridging (Twilio's
    /// `MachineDetection`, Plivo's `machine_detection`, the simulator's machines). The verdict
    /// comes back as [`ProviderEvent::answered_by`]. Smartflo has none: ignored there.
    pub machine_detection: bool,
    /// With detection, a message to leave on a machine after its greeting (Twilio waits for
    /// the greeting's end, then says it; Plivo lets the call go on and the server moves it to
    /// the message with [`Provider::redirect`] once the verdict comes; the simulator plays it
    /// out). Smartflo has no detection.
    pub voicemail: Option<String>,
    /// Record the call: Twilio records it whole (`Record=true`) and posts the recording to the
    /// status URL; Plivo's answer XML starts a `<Record>` whose callbacks go there too. The
    /// recording's URL comes back as a [`ProviderEvent::recording`] event. The simulator and
    /// Smartflo (whose own records carry their recordings) ignore it.
    pub record: bool,
}

/// What the provider said when it accepted a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The provider's id for the call (Twilio CallSid, Plivo request_uuid, Smartflo ref_id).
    pub provider_call_id: String,
    pub status: CallStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A call as a provider lists it (live calls, call records).
#[derive(Debug, Clone, Serialize)]
pub struct ProviderCall {
    pub provider_call_id: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub direction: Direction,
    pub status: CallStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
    pub agent_name: Option<String>,
    pub recording_url: Option<String>,
    /// The provider's own object, for surfaces that pass it through.
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub page: u32,
    pub limit: u32,
    pub destination: Option<String>,
    pub caller_id: Option<String>,
    pub direction: Option<Direction>,
    pub agent_number: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RecordPage {
    pub count: u64,
    pub results: Vec<ProviderCall>,
}

/// A provider's word about one call, in the core's vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderEvent {
    pub provider: ProviderKind,
    pub provider_call_id: String,
    /// Names the event for idempotency: the same (provider, call id, event) is stored once.
    pub event: String,
    pub status: CallStatus,
    pub at: DateTime<Utc>,
    pub duration_secs: Option<i64>,
    pub hangup_cause: Option<String>,
    pub recording_url: Option<String>,
    pub answered_by: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Our call id when the provider echoes it back.
    pub reference: Option<String>,
    pub raw: serde_json::Value,
}

impl ProviderEvent {
    /// A callback that reports a recording, not the call's status: it carries `Initiated`,
    /// which never moves a call (calls only move forward), and is named by the recording so
    /// that each recording is kept once.
    pub fn recording(
        provider: ProviderKind,
        provider_call_id: &str,
        recording_id: &str,
        url: Option<&str>,
        raw: serde_json::Value,
    ) -> Self {
        ProviderEvent {
            provider,
            provider_call_id: provider_call_id.to_owned(),
            event: format!("recording:{recording_id}"),
            status: CallStatus::Initiated,
            at: Utc::now(),
            duration_secs: None,
            hangup_cause: None,
            recording_url: url.map(str::to_owned),
            answered_by: None,
            from: None,
            to: None,
            reference: None,
            raw,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider refused our credentials: {0}")]
    Auth(String),
    #[error("the provider does not know this call: {0}")]
    NotFound(String),
    #[error("the provider is rate limiting us: {0}")]
    RateLimited(String),
    #[error("the provider rejected the request: {0}")]
    Rejected(String),
    #[error("cannot reach the provider: {0}")]
    Network(String),
    #[error("unexpected answer from the provider: {0}")]
    Protocol(String),
    #[error("{0} is not supported by this provider")]
    Unsupported(&'static str),
}

/// A telephony provider.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Place an outbound call.
    async fn originate(&self, dial: &Dial) -> Result<Placed, ProviderError>;

    /// End a call, ringing or answered. A call that has already ended is not an error.
    async fn hangup(&self, provider_call_id: &str) -> Result<(), ProviderError>;

    /// Calls live right now.
    async fn live_calls(&self) -> Result<Vec<ProviderCall>, ProviderError>;

    /// Finished calls (call detail records).
    async fn call_records(&self, query: &RecordQuery) -> Result<RecordPage, ProviderError>;

    /// Move a live call (its callee's leg) to the call-control XML fetched from `url`,
    /// dropping whatever it was bridged to (Plivo's call transfer). `NotFound` when the call
    /// has ended.
    async fn redirect(&self, provider_call_id: &str, url: &str) -> Result<(), ProviderError> {
        let _ = (provider_call_id, url);
        Err(ProviderError::Unsupported("moving a live call"))
    }
}
