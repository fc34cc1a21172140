use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::PhoneNormalizer;
use switchboard_store::Db;

use crate::auth::{JwtKeys, LoginThrottle};
use crate::config::Config;
use crate::ratelimit::RateLimiters;
use crate::telephony::{Ingestor, Telephony};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub jwt: JwtKeys,
    pub phones: PhoneNormalizer,
    pub login_throttle: Arc<LoginThrottle>,
    pub limits: Arc<RateLimiters>,
    pub default_client_id: i64,
    pub started: Instant,
    pub telephony: Telephony,
    /// Writes call events in batches (group commit).
    pub ingestor: Ingestor,
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
        let ingestor = Ingestor::spawn(db.clone());
        Ok(Self {
            ingestor,
            jwt: JwtKeys::new(
                jwt_secret,
                Duration::from_secs(u64::from(config.jwt_ttl_hours) * 3600),
            ),
            phones,
            login_throttle: Arc::new(LoginThrottle::new(Duration::from_secs(15 * 60), 5, 30)),
            limits: Arc::new(RateLimiters::new(&config.rate_limits)),
            config: Arc::new(config),
            db,
            default_client_id,
            started: Instant::now(),
            telephony,
        })
    }
}
