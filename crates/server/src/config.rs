//! Configuration: an optional TOML file, then `SWITCHBOARD_*` environment variables on top.
//! Every value is checked at start; a bad one stops the server with a message naming it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

/// A secret value: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Requests per window for one route group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub requests: u32,
    pub per_seconds: u32,
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    pub enabled: bool,
    pub login: Limit,
    pub api: Limit,
    pub poll: Limit,
    pub upload: Limit,
    /// The public health checks (`/health`, `/health/*`): probes poll them, but anyone may.
    pub health: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            login: Limit {
                requests: 20,
                per_seconds: 60,
            },
            api: Limit {
                requests: 1200,
                per_seconds: 60,
            },
            poll: Limit {
                requests: 6000,
                per_seconds: 60,
            },
            upload: Limit {
                requests: 30,
                per_seconds: 60,
            },
            health: Limit {
                requests: 600,
                per_seconds: 60,
            },
        }
    }
}

impl RateLimits {
    /// `off`, or a comma list such as `login=10/60,api=600/60` (requests / seconds).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut r = Self::default();
        let s = s.trim();
        if matches!(
            s.to_ascii_lowercase().as_str(),
            "off" | "false" | "0" | "none" | "disabled"
        ) {
            r.enabled = false;
            return Ok(r);
        }
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (group, spec) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' should look like group=requests/seconds"))?;
            let (n, secs) = spec
                .split_once('/')
                .ok_or_else(|| format!("'{spec}' should look like requests/seconds"))?;
            let limit = Limit {
                requests: n
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("'{n}' is not a positive count"))?,
                per_seconds: secs
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("'{secs}' is not a positive number of seconds"))?,
            };
            match group.trim() {
                "login" => r.login = limit,
                "api" => r.api = limit,
                "poll" => r.poll = limit,
                "upload" => r.upload = limit,
                "health" => r.health = limit,
                g => {
                    return Err(format!(
                        "unknown route group '{g}' (login, api, poll, upload, health)"
                    ));
                }
            }
        }
        Ok(r)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub jwt_secret: Option<Secret>,
    pub jwt_ttl_hours: u32,
    pub admin_password: Option<Secret>,
    pub admin_email: Option<String>,
    pub dialer_token: Option<Secret>,
    pub bot_api_key: Option<Secret>,
    /// Bearer token `GET /metrics` asks for; without one it answers only direct loopback callers.
    pub metrics_token: Option<Secret>,
    /// Region for phone numbers written without a country code (ISO 3166 alpha-2).
    pub phone_region: Option<String>,
    /// The server's own time zone (IANA), for schedules and reports.
    pub timezone: String,
    pub upload_limit_bytes: usize,
    pub rate_limits: RateLimits,
    /// Trust `X-Forwarded-For` for the client address (only behind a proxy you run).
    pub trust_proxy: bool,
    /// How long a client may take to send a request's head, or between two pieces of its
    /// body, and how long a kept-alive connection waits for its next request.
    pub client_timeout_secs: u64,
    /// How often an open event stream or socket checks that its session still holds (a
    /// password set from the command line, in another process, ends sessions without events).
    pub session_check_secs: u64,
    /// Outbound webhooks: the wait before the first retry of a refused delivery (each next
    /// retry waits six times longer, up to 12 hours).
    pub webhook_retry_secs: u64,
    /// Outbound webhooks may target loopback, private and link-local addresses (an internal
    /// CRM); off by default, so a client's admin cannot make the server call inside its network.
    pub webhook_allow_private: bool,
    pub telephony: TelephonyConfig,
    pub dialer: DialerConfig,
}

/// The dialer engine, batches and concurrency.
#[derive(Debug, Clone)]
pub struct DialerConfig {
    /// Live calls across the installation (seed 003's global cap).
    pub max_concurrent_calls: i64,
    /// Calls started per second across the installation.
    pub calls_per_second: u32,
    /// How often an instance renews its campaign leases.
    pub heartbeat_secs: u64,
    /// A live call with no news for this long is checked with the provider and ended if lost.
    pub call_timeout_secs: u64,
    /// `next-batch` size when none is asked for, and the most it returns.
    pub batch_size: i64,
    pub max_batch_size: i64,
    /// How long an external dialer holds a batch before unreported numbers return.
    pub lease_secs: i64,
    /// Writers of `report-result` batches. One writes a batch at a time, and reports that come
    /// meanwhile form the next; with more, batches overlap but are smaller (BENCHMARKS.md).
    pub report_writers: usize,
    /// Group commit of `report-result`s: how long after a batch lands the next one may wait
    /// for the callers just answered, in microseconds (0: never waits).
    pub report_linger_us: u64,
    /// How often the engine looks for work, in milliseconds.
    pub tick_ms: u64,
    /// This instance's name (default: host name, process id and a random suffix).
    pub instance_id: Option<String>,
    /// Run the engine (campaigns and the call queue) in this process.
    pub engine: bool,
    /// Ask the provider to detect answering machines on the calls the engine places (campaigns
    /// and the call queue) and hang up on them: the lead is left MISSED and retried by rule.
    pub machine_detection: bool,
}

impl Default for DialerConfig {
    fn default() -> Self {
        Self {
            max_concurrent_calls: 100,
            calls_per_second: 10,
            heartbeat_secs: 10,
            call_timeout_secs: 4 * 3600,
            batch_size: 50,
            max_batch_size: 500,
            lease_secs: 900,
            report_writers: 1,
            report_linger_us: 500,
            tick_ms: 200,
            instance_id: None,
            engine: true,
            machine_detection: false,
        }
    }
}

impl DialerConfig {
    fn set(&mut self, key: &str, v: &str) -> Result<bool, String> {
        fn num<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
            v: &str,
            lo: T,
            hi: T,
        ) -> Result<T, String> {
            v.trim()
                .parse::<T>()
                .ok()
                .filter(|n| *n >= lo && *n <= hi)
                .ok_or_else(|| format!("'{v}' is not a whole number from {lo} to {hi}"))
        }
        match key {
            "max_concurrent_calls" => self.max_concurrent_calls = num(v, 0, 1_000_000)?,
            "calls_per_second" => self.calls_per_second = num(v, 1, 100_000)?,
            "heartbeat_seconds" => self.heartbeat_secs = num(v, 1, 3600)?,
            "call_timeout_seconds" => self.call_timeout_secs = num(v, 10, 7 * 86_400)?,
            "dialer_batch_size" => self.batch_size = num(v, 1, 100_000)?,
            "dialer_max_batch_size" => self.max_batch_size = num(v, 1, 100_000)?,
            "dialer_lease_seconds" => self.lease_secs = num(v, 5, 7 * 86_400)?,
            "dialer_report_writers" => self.report_writers = num(v, 1, 64)?,
            "dialer_report_linger_us" => self.report_linger_us = num(v, 0, 100_000)?,
            "dialer_tick_ms" => self.tick_ms = num(v, 5, 60_000)?,
            "instance_id" => {
                let t = v.trim();
                if t.is_empty() || t.len() > 100 {
                    return Err("must be 1 to 100 characters".into());
                }
                self.instance_id = Some(t.to_string());
            }
            "dialer_engine" => self.engine = yes_or_no(v)?,
            "machine_detection" => self.machine_detection = yes_or_no(v)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Which provider places calls, and its settings.
#[derive(Debug, Clone)]
pub struct TelephonyConfig {
    pub provider: switchboard_telephony::ProviderKind,
    /// Caller id for calls we place (E.164).
    pub caller_id: Option<String>,
    pub ring_timeout_secs: u32,
    pub simulator: switchboard_telephony::simulator::SimulatorConfig,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<Secret>,
    pub twilio_base_url: String,
    pub plivo_auth_id: Option<String>,
    pub plivo_auth_token: Option<Secret>,
    pub plivo_base_url: String,
    pub smartflo_api_token: Option<Secret>,
    pub smartflo_base_url: String,
    pub smartflo_webhook_secret: Option<Secret>,
    /// Record the calls placed (Twilio, Plivo); the recording's URL is kept with the call.
    pub record_calls: bool,
    /// Said to the callee of a recorded call before it is bridged (Twilio `<Say>`, Plivo
    /// `<Speak>`); none by default.
    pub recording_notice: Option<String>,
    /// Said to a caller when no agent is free (default: `telephony::INBOUND_BUSY`).
    pub inbound_busy_message: Option<String>,
    /// Said to a caller when the agent rung did not answer (default:
    /// `telephony::INBOUND_MISSED`).
    pub inbound_missed_message: Option<String>,
}

impl Default for TelephonyConfig {
    fn default() -> Self {
        Self {
            provider: switchboard_telephony::ProviderKind::Simulator,
            caller_id: None,
            ring_timeout_secs: 30,
            simulator: Default::default(),
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_base_url: "https://api.twilio.com".into(),
            plivo_auth_id: None,
            plivo_auth_token: None,
            plivo_base_url: "https://api.plivo.com".into(),
            smartflo_api_token: None,
            smartflo_base_url: "https://api-smartflo.tatateleservices.com".into(),
            smartflo_webhook_secret: None,
            record_calls: false,
            recording_notice: None,
            inbound_busy_message: None,
            inbound_missed_message: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://switchboard.db".into(),
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            public_url: None,
            jwt_secret: None,
            jwt_ttl_hours: 12,
            admin_password: None,
            admin_email: None,
            dialer_token: None,
            bot_api_key: None,
            metrics_token: None,
            phone_region: Some("US".into()),
            timezone: "UTC".into(),
            upload_limit_bytes: 10 * 1024 * 1024,
            rate_limits: RateLimits::default(),
            trust_proxy: false,
            client_timeout_secs: 30,
            session_check_secs: 60,
            webhook_retry_secs: 10,
            webhook_allow_private: false,
            telephony: TelephonyConfig::default(),
            dialer: DialerConfig::default(),
        }
    }
}

/// The keys a file or the environment may set (as `SWITCHBOARD_<KEY>` in upper case).
const KEYS: &[&str] = &[
    "database_url",
    "listen",
    "public_url",
    "jwt_secret",
    "jwt_ttl_hours",
    "admin_password",
    "admin_email",
    "dialer_token",
    "bot_api_key",
    "metrics_token",
    "phone_region",
    "timezone",
    "upload_limit_mb",
    "rate_limits",
    "trust_proxy",
    "client_timeout_seconds",
    "session_check_seconds",
    "webhook_retry_seconds",
    "webhook_allow_private",
    "provider",
    "caller_id",
    "ring_timeout_seconds",
    "simulator_seed",
    "simulator_answer_rate",
    "simulator_busy_rate",
    "simulator_failed_rate",
    "simulator_machine_rate",
    "simulator_time_scale",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_base_url",
    "plivo_auth_id",
    "plivo_auth_token",
    "plivo_base_url",
    "smartflo_api_token",
    "smartflo_base_url",
    "smartflo_webhook_secret",
    "record_calls",
    "recording_notice",
    "inbound_busy_message",
    "inbound_missed_message",
    "max_concurrent_calls",
    "calls_per_second",
    "heartbeat_seconds",
    "call_timeout_seconds",
    "dialer_batch_size",
    "dialer_max_batch_size",
    "dialer_lease_seconds",
    "dialer_report_writers",
    "dialer_report_linger_us",
    "dialer_tick_ms",
    "instance_id",
    "dialer_engine",
    "machine_detection",
];

impl Config {
    /// Load from `file` (if given) and then from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    pub fn load_from(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, String> {
        let mut values: Vec<(String, String, String)> = Vec::new(); // (key, source name, value)
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| format!("config file {} is not valid TOML: {e}", path.display()))?;
            for (k, v) in table {
                if !KEYS.contains(&k.as_str()) {
                    return Err(format!("config file {}: unknown key '{k}'", path.display()));
                }
                let s = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    _ => {
                        return Err(format!(
                            "config file {}: '{k}' must be a string, number or boolean",
                            path.display()
                        ));
                    }
                };
                values.push((k.clone(), format!("{k} in {}", path.display()), s));
            }
        }
        for k in KEYS {
            let var = format!("SWITCHBOARD_{}", k.to_ascii_uppercase());
            if let Some(v) = env.get(&var) {
                values.push((k.to_string(), var, v.clone()));
            }
        }
        let mut c = Config::default();
        for (key, source, v) in values {
            let bad = |why: String| format!("{source}: {why}");
            let nonempty = |v: &str| -> Result<String, String> {
                let t = v.trim();
                if t.is_empty() {
                    Err(bad("must not be empty".into()))
                } else {
                    Ok(t.to_string())
                }
            };
            match key.as_str() {
                "database_url" => {
                    let u = nonempty(&v)?;
                    if !(u.starts_with("sqlite:")
                        || u.starts_with("postgres://")
                        || u.starts_with("postgresql://"))
                    {
                        return Err(bad(format!(
                            "'{u}' must start with sqlite:// or postgres://"
                        )));
                    }
                    c.database_url = u;
                }
                "listen" => {
                    c.listen = v.trim().parse().map_err(|_| {
                        bad(format!("'{v}' is not an address such as 127.0.0.1:8080"))
                    })?
                }
                "public_url" => {
                    let u = nonempty(&v)?.trim_end_matches('/').to_string();
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        return Err(bad(format!("'{u}' must start with http:// or https://")));
                    }
                    c.public_url = Some(u);
                }
                "jwt_secret" => {
                    if v.len() < 32 {
                        return Err(bad("must be at least 32 characters".into()));
                    }
                    c.jwt_secret = Some(Secret(v));
                }
                "jwt_ttl_hours" => {
                    c.jwt_ttl_hours = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|h| (1..=24 * 30).contains(h))
                        .ok_or_else(|| {
                            bad(format!("'{v}' is not a number of hours from 1 to 720"))
                        })?
                }
                "admin_password" => {
                    if v.chars().count() < 8 {
                        return Err(bad("must be at least 8 characters".into()));
                    }
                    c.admin_password = Some(Secret(v));
                }
                "admin_email" => {
                    let e = nonempty(&v)?;
                    if !e.contains('@') {
                        return Err(bad(format!("'{e}' is not an email address")));
                    }
                    c.admin_email = Some(e);
                }
                "dialer_token" | "bot_api_key" | "metrics_token" => {
                    if v.len() < 16 {
                        return Err(bad("must be at least 16 characters".into()));
                    }
                    match key.as_str() {
                        "dialer_token" => c.dialer_token = Some(Secret(v)),
                        "bot_api_key" => c.bot_api_key = Some(Secret(v)),
                        _ => c.metrics_token = Some(Secret(v)),
                    }
                }
                "phone_region" => {
                    let r = v.trim();
                    if r.is_empty() || r.eq_ignore_ascii_case("none") {
                        c.phone_region = None;
                    } else {
                        switchboard_core::PhoneNormalizer::new(Some(r)).map_err(bad)?;
                        c.phone_region = Some(r.to_ascii_uppercase());
                    }
                }
                "timezone" => {
                    let tz = nonempty(&v)?;
                    tz.parse::<chrono_tz::Tz>()
                        .map_err(|_| bad(format!("'{tz}' is not an IANA time zone")))?;
                    c.timezone = tz;
                }
                "upload_limit_mb" => {
                    let mb: usize = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|m| (1..=1024).contains(m))
                        .ok_or_else(|| bad(format!("'{v}' is not a size in MB from 1 to 1024")))?;
                    c.upload_limit_bytes = mb * 1024 * 1024;
                }
                "rate_limits" => c.rate_limits = RateLimits::parse(&v).map_err(bad)?,
                "trust_proxy" => c.trust_proxy = yes_or_no(&v).map_err(bad)?,
                "webhook_allow_private" => c.webhook_allow_private = yes_or_no(&v).map_err(bad)?,
                "webhook_retry_seconds" => c.webhook_retry_secs = up_to_an_hour(&v).map_err(bad)?,
                "client_timeout_seconds" => {
                    c.client_timeout_secs = up_to_an_hour(&v).map_err(bad)?
                }
                "session_check_seconds" => c.session_check_secs = up_to_an_hour(&v).map_err(bad)?,
                _ => {
                    if !c.dialer.set(&key, &v).map_err(bad)? {
                        c.telephony.set(&key, &v).map_err(bad)?
                    }
                }
            }
        }
        if c.dialer.batch_size > c.dialer.max_batch_size {
            c.dialer.batch_size = c.dialer.max_batch_size;
        }
        c.telephony.check(c.public_url.as_deref())?;
        Ok(c)
    }
}

fn rate(v: &str) -> Result<f64, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("'{v}' is not a rate between 0 and 1"))
}

fn base_url(v: &str) -> Result<String, String> {
    let u = v.trim().trim_end_matches('/');
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(format!("'{u}' must start with http:// or https://"));
    }
    Ok(u.to_string())
}

/// Words said to a caller: 1 to 500 characters, trimmed.
fn spoken(v: &str) -> Result<String, String> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > 500 {
        return Err("must be 1 to 500 characters".into());
    }
    Ok(t.to_string())
}

fn nonempty_secret(v: &str) -> Result<Secret, String> {
    if v.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(Secret(v.trim().to_string()))
    }
}

impl TelephonyConfig {
    fn set(&mut self, key: &str, v: &str) -> Result<(), String> {
        match key {
            "provider" => {
                self.provider = switchboard_telephony::ProviderKind::parse(v).ok_or_else(|| {
                    format!("'{v}' is not one of simulator, twilio, plivo, smartflo")
                })?
            }
            "caller_id" => {
                let t = v.trim();
                let digits = t.trim_start_matches('+');
                if !t.starts_with('+')
                    || !(8..=15).contains(&digits.len())
                    || !digits.chars().all(|c| c.is_ascii_digit())
                {
                    return Err(format!("'{t}' is not an E.164 number such as +14155550100"));
                }
                self.caller_id = Some(t.to_string());
            }
            "ring_timeout_seconds" => {
                self.ring_timeout_secs = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|s| (5..=600).contains(s))
                    .ok_or_else(|| format!("'{v}' is not a number of seconds from 5 to 600"))?
            }
            "simulator_seed" => {
                self.simulator.seed = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{v}' is not a whole number"))?
            }
            "simulator_answer_rate" => self.simulator.answer_rate = rate(v)?,
            "simulator_busy_rate" => self.simulator.busy_rate = rate(v)?,
            "simulator_failed_rate" => self.simulator.failed_rate = rate(v)?,
            "simulator_machine_rate" => self.simulator.machine_rate = rate(v)?,
            "simulator_time_scale" => {
                self.simulator.time_scale = v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|t| *t > 0.0 && *t <= 100_000.0)
                    .ok_or_else(|| {
                        format!("'{v}' is not a factor above 0 (20 = twenty times faster)")
                    })?
            }
            "record_calls" => self.record_calls = yes_or_no(v)?,
            "recording_notice" => self.recording_notice = Some(spoken(v)?),
            "inbound_busy_message" => self.inbound_busy_message = Some(spoken(v)?),
            "inbound_missed_message" => self.inbound_missed_message = Some(spoken(v)?),
            "twilio_account_sid" => self.twilio_account_sid = Some(nonempty_secret(v)?.0),
            "twilio_auth_token" => self.twilio_auth_token = Some(nonempty_secret(v)?),
            "twilio_base_url" => self.twilio_base_url = base_url(v)?,
            "plivo_auth_id" => self.plivo_auth_id = Some(nonempty_secret(v)?.0),
            "plivo_auth_token" => self.plivo_auth_token = Some(nonempty_secret(v)?),
            "plivo_base_url" => self.plivo_base_url = base_url(v)?,
            "smartflo_api_token" => self.smartflo_api_token = Some(nonempty_secret(v)?),
            "smartflo_base_url" => self.smartflo_base_url = base_url(v)?,
            "smartflo_webhook_secret" => {
                if v.trim().len() < 16 {
                    return Err("must be at least 16 characters".into());
                }
                self.smartflo_webhook_secret = Some(Secret(v.trim().to_string()));
            }
            _ => unreachable!("keys are checked above"),
        }
        Ok(())
    }

    /// What each provider needs, checked together once every value is read.
    fn check(&self, public_url: Option<&str>) -> Result<(), String> {
        use switchboard_telephony::ProviderKind::*;
        self.simulator
            .validate()
            .map_err(|e| format!("SWITCHBOARD_SIMULATOR_*: {e}"))?;
        let need = |ok: bool, var: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "{var}: required when SWITCHBOARD_PROVIDER={}",
                    self.provider.as_str()
                ))
            }
        };
        match self.provider {
            Simulator => Ok(()),
            Twilio => {
                need(
                    self.twilio_account_sid.is_some(),
                    "SWITCHBOARD_TWILIO_ACCOUNT_SID",
                )?;
                need(
                    self.twilio_auth_token.is_some(),
                    "SWITCHBOARD_TWILIO_AUTH_TOKEN",
                )?;
                need(self.caller_id.is_some(), "SWITCHBOARD_CALLER_ID")?;
                need(public_url.is_some(), "SWITCHBOARD_PUBLIC_URL")
            }
            Plivo => {
                need(self.plivo_auth_id.is_some(), "SWITCHBOARD_PLIVO_AUTH_ID")?;
                need(
                    self.plivo_auth_token.is_some(),
                    "SWITCHBOARD_PLIVO_AUTH_TOKEN",
                )?;
                need(self.caller_id.is_some(), "SWITCHBOARD_CALLER_ID")?;
                need(public_url.is_some(), "SWITCHBOARD_PUBLIC_URL")
            }
            Smartflo => {
                need(
                    self.smartflo_api_token.is_some(),
                    "SWITCHBOARD_SMARTFLO_API_TOKEN",
                )?;
                need(
                    self.smartflo_webhook_secret.is_some(),
                    "SWITCHBOARD_SMARTFLO_WEBHOOK_SECRET",
                )
            }
        }
    }
}

/// A whole number of seconds from 1 to 3600.
fn yes_or_no(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("'{v}' is not true or false")),
    }
}

fn up_to_an_hour(v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .ok()
        .filter(|s| (1..=3600).contains(s))
        .ok_or_else(|| format!("'{v}' is not a whole number from 1 to 3600"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn seconds_settings_take_1_to_3600() {
        for key in [
            "SWITCHBOARD_CLIENT_TIMEOUT_SECONDS",
            "SWITCHBOARD_SESSION_CHECK_SECONDS",
            "SWITCHBOARD_WEBHOOK_RETRY_SECONDS",
        ] {
            for bad in ["0", "3601", "ten", "-5"] {
                let e = Config::load_from(None, &env(&[(key, bad)])).unwrap_err();
                assert!(e.starts_with(&format!("{key}:")), "{e}");
            }
        }
        let c = Config::load_from(
            None,
            &env(&[
                ("SWITCHBOARD_CLIENT_TIMEOUT_SECONDS", "3600"),
                ("SWITCHBOARD_SESSION_CHECK_SECONDS", " 5 "),
            ]),
        )
        .unwrap();
        assert_eq!((c.client_timeout_secs, c.session_check_secs), (3600, 5));
        assert_eq!(Config::default().session_check_secs, 60);
        assert_eq!(Config::default().webhook_retry_secs, 10);
    }

    #[test]
    fn machine_detection_is_off_unless_asked_for() {
        let d = Config::default();
        assert!(!d.dialer.machine_detection);
        assert!(!d.telephony.record_calls);
        assert_eq!(d.telephony.simulator.machine_rate, 0.15);
        let c = Config::load_from(
            None,
            &env(&[
                ("SWITCHBOARD_MACHINE_DETECTION", "true"),
                ("SWITCHBOARD_SIMULATOR_MACHINE_RATE", "0.3"),
                ("SWITCHBOARD_RECORD_CALLS", "true"),
                ("SWITCHBOARD_RECORDING_NOTICE", "  This call is recorded. "),
                ("SWITCHBOARD_INBOUND_BUSY_MESSAGE", "Busy, sorry."),
            ]),
        )
        .unwrap();
        assert!(c.dialer.machine_detection);
        assert!(c.telephony.record_calls);
        assert_eq!(
            c.telephony.recording_notice.as_deref(),
            Some("This call is recorded.")
        );
        assert_eq!(
            c.telephony.inbound_busy_message.as_deref(),
            Some("Busy, sorry.")
        );
        assert_eq!(c.telephony.inbound_missed_message, None);
        assert_eq!(c.telephony.simulator.machine_rate, 0.3);
        for (var, bad) in [
            ("SWITCHBOARD_MACHINE_DETECTION", "sometimes"),
            ("SWITCHBOARD_SIMULATOR_MACHINE_RATE", "2"),
            ("SWITCHBOARD_RECORD_CALLS", "maybe"),
            ("SWITCHBOARD_RECORDING_NOTICE", "   "),
            ("SWITCHBOARD_INBOUND_MISSED_MESSAGE", "x".repeat(501).leak()),
        ] {
            let e = Config::load_from(None, &env(&[(var, bad)])).unwrap_err();
            assert!(e.starts_with(var), "{e}");
        }
    }

    #[test]
    fn webhooks_to_internal_addresses_are_off_unless_allowed() {
        assert!(!Config::default().webhook_allow_private);
        let c = Config::load_from(None, &env(&[("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE", "true")]));
        assert!(c.unwrap().webhook_allow_private);
        let e = Config::load_from(
            None,
            &env(&[("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE", "maybe")]),
        )
        .unwrap_err();
        assert!(e.starts_with("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE:"), "{e}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = Config::load_from(None, &env(&[("SWITCHBOARD_LISTEN", "nope")])).unwrap_err();
        assert!(e.starts_with("SWITCHBOARD_LISTEN:"), "{e}");
        let e = Config::load_from(None, &env(&[("SWITCHBOARD_JWT_SECRET", "short")])).unwrap_err();
        assert!(e.starts_with("SWITCHBOARD_JWT_SECRET:"), "{e}");
        let e =
            Config::load_from(None, &env(&[("SWITCHBOARD_RATE_LIMITS", "api=x/60")])).unwrap_err();
        assert!(e.starts_with("SWITCHBOARD_RATE_LIMITS:"), "{e}");
        let e =
            Config::load_from(None, &env(&[("SWITCHBOARD_TIMEZONE", "Mars/Base")])).unwrap_err();
        assert!(e.contains("SWITCHBOARD_TIMEZONE"), "{e}");
        for bad in ["-1", "100001", "0.5ms"] {
            let e = Config::load_from(None, &env(&[("SWITCHBOARD_DIALER_REPORT_LINGER_US", bad)]))
                .unwrap_err();
            assert!(e.starts_with("SWITCHBOARD_DIALER_REPORT_LINGER_US:"), "{e}");
        }
        let c = Config::load_from(None, &env(&[("SWITCHBOARD_DIALER_REPORT_LINGER_US", "0")]));
        assert_eq!(c.unwrap().dialer.report_linger_us, 0);
        assert_eq!(Config::default().dialer.report_linger_us, 500);
    }

    #[test]
    fn providers_need_their_credentials() {
        let e = Config::load_from(None, &env(&[("SWITCHBOARD_PROVIDER", "twilio")])).unwrap_err();
        assert!(e.starts_with("SWITCHBOARD_TWILIO_ACCOUNT_SID:"), "{e}");
        let e = Config::load_from(None, &env(&[("SWITCHBOARD_PROVIDER", "carrier-pigeon")]))
            .unwrap_err();
        assert!(e.starts_with("SWITCHBOARD_PROVIDER:"), "{e}");
        let e = Config::load_from(None, &env(&[("SWITCHBOARD_SIMULATOR_ANSWER_RATE", "1.5")]))
            .unwrap_err();
        assert!(e.starts_with("SWITCHBOARD_SIMULATOR_ANSWER_RATE:"), "{e}");
        let e = Config::load_from(
            None,
            &env(&[
                ("SWITCHBOARD_SIMULATOR_ANSWER_RATE", "0.9"),
                ("SWITCHBOARD_SIMULATOR_BUSY_RATE", "0.5"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("SIMULATOR"), "{e}");
        let ok = Config::load_from(
            None,
            &env(&[
                ("SWITCHBOARD_PROVIDER", "plivo"),
                ("SWITCHBOARD_PLIVO_AUTH_ID", "MA123"),
                ("SWITCHBOARD_PLIVO_AUTH_TOKEN", "tok"),
                ("SWITCHBOARD_CALLER_ID", "+14155550100"),
                ("SWITCHBOARD_PUBLIC_URL", "https://sb.example.com/"),
                ("SWITCHBOARD_SIMULATOR_TIME_SCALE", "20"),
            ]),
        )
        .unwrap();
        assert_eq!(ok.public_url.as_deref(), Some("https://sb.example.com"));
        assert_eq!(ok.telephony.simulator.time_scale, 20.0);
        assert!(!format!("{ok:?}").contains("\"tok\""));
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sb.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nupload_limit_mb = 5\n").unwrap();
        let c = Config::load_from(
            Some(&path),
            &env(&[("SWITCHBOARD_LISTEN", "127.0.0.1:9001")]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.upload_limit_bytes, 5 * 1024 * 1024);
        std::fs::write(&path, "bogus = 1\n").unwrap();
        assert!(
            Config::load_from(Some(&path), &env(&[]))
                .unwrap_err()
                .contains("unknown key 'bogus'")
        );
    }

    #[test]
    fn secrets_are_redacted_and_limits_parse() {
        let c = Config::load_from(
            None,
            &env(&[("SWITCHBOARD_ADMIN_PASSWORD", "correct horse battery")]),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("horse"));
        let e =
            Config::load_from(None, &env(&[("SWITCHBOARD_METRICS_TOKEN", "short")])).unwrap_err();
        assert!(e.starts_with("SWITCHBOARD_METRICS_TOKEN:"), "{e}");
        let c = Config::load_from(
            None,
            &env(&[("SWITCHBOARD_METRICS_TOKEN", "scrape-token-0123456789")]),
        )
        .unwrap();
        assert_eq!(
            c.metrics_token.as_ref().map(|s| s.0.as_str()),
            Some("scrape-token-0123456789")
        );
        assert!(!format!("{c:?}").contains("scrape-token"));
        let r = RateLimits::parse("login=5/60, api=100/900").unwrap();
        assert_eq!(
            r.login,
            Limit {
                requests: 5,
                per_seconds: 60
            }
        );
        assert_eq!(
            r.api,
            Limit {
                requests: 100,
                per_seconds: 900
            }
        );
        assert!(!RateLimits::parse("off").unwrap().enabled);
    }
}
