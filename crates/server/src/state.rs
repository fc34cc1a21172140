use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::PhoneNormalizer;
use switchboard_store::Db;

use crate::auth::{JwtKeys, LoginThrottle};
use crate::config::Config;
use crate::ratelimit::RateLimiters;
use crate::reports::Reporter;
use crate::telephony::{Ingestor, Telephony};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    pub phones: PhoneNormalizer,
    pub login_throttle: Arc<LoginThrottle>,
    pub limits: Arc<RateLimiters>,
    pub default_client_id: i64,
    pub started: Instant,
    pub telephony: Telephony,
    /// Writes call events in batches (group commit).
    pub ingestor: Ingestor,
    /// Writes external dialers' reports in batches.
    pub reporter: Reporter,
    /// This instance's name (calls it places and campaigns it owns carry it).
    pub instance_id: Arc<str>,
    /// The dialer engine, once started.
    pub engine: Arc<std::sync::OnceLock<switchboard_dialer::EngineHandle>>,
    /// Export queries running at once (see [`crate::routes::export::turn`]).
    pub exports: Arc<tokio::sync::Semaphore>,
    /// Export downloads served at once, each with its temporary file.
    pub downloads: Arc<tokio::sync::Semaphore>,
    /// `/health/integration-test` suites run one at a time: the route is public (seed 003)
    /// and a suite reads the call log (about 0.1 s over 1,000,000 calls), so a flood of them
    /// takes turns instead of the database.
    pub health_suites: Arc<tokio::sync::Semaphore>,
    /// Real-time events (Socket.io and SSE deliver them).
    pub events: crate::events::Events,
}

impl AppState {
    pub fn new(
        db: Db,
        config: Config,
        jwt_secret: &[u8],
        default_client_id: i64,
        telephony: Telephony,
    ) -> anyhow::Result<Self> {
        let phones =
            PhoneNormalizer::new(config.phone_region.as_deref()).map_err(anyhow::Error::msg)?;
        // Counted from the start: what happens before the recorder exists is not recorded.
        crate::metrics::handle();
        let ingestor = Ingestor::spawn(db.clone());
        let reporter = Reporter::spawn(
            db.clone(),
            config.timezone.clone(),
            config.dialer.report_writers,
            std::time::Duration::from_micros(config.dialer.report_linger_us),
        );
        let instance_id = config.dialer.instance_id.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "switchboard".into());
            format!(
                "{host}-{}-{:06x}",
                std::process::id(),
                rand::random::<u32>() & 0xff_ffff
            )
        });
        Ok(Self {
            instance_id: instance_id.into(),
            engine: Arc::new(std::sync::OnceLock::new()),
            exports: Arc::new(tokio::sync::Semaphore::new(crate::routes::export::AT_ONCE)),
            downloads: Arc::new(tokio::sync::Semaphore::new(
                crate::routes::export::DOWNLOADS_AT_ONCE,
            )),
            health_suites: Arc::new(tokio::sync::Semaphore::new(1)),
            events: crate::events::Events::new(),
            ingestor,
            reporter,
            jwt: Arc::new(JwtKeys::new(
                jwt_secret,
                Duration::from_secs(u64::from(config.jwt_ttl_hours) * 3600),
            )),
            phones,
            login_throttle: Arc::new(LoginThrottle::new(
                Duration::from_secs(15 * 60),
                5,
                30,
                jwt_secret,
            )),
            limits: Arc::new(RateLimiters::new(&config.rate_limits)),
            config: Arc::new(config),
            db,
            default_client_id,
            started: Instant::now(),
            telephony,
        })
    }

    /// Ask the dialer engine to look for work now.
    pub fn wake_dialer(&self) {
        if let Some(e) = self.engine.get() {
            e.wake();
        }
    }
}
