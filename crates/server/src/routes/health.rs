use axum::extract::State;

use crate::extract::{Json, ts};
use crate::state::AppState;

/// Seed 003's basic health check (`GET /health`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthBasic {
    /// `healthy` when the database answers, `unhealthy` otherwise.
    pub status: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// Seconds since this process started.
    pub uptime: u64,
    /// The deployment's name for itself (`SWITCHBOARD_ENV`, default `production`).
    pub environment: String,
    /// The server's version.
    pub version: String,
    /// `connected` when the database answers, `disconnected` otherwise.
    pub database: String,
}

/// Seed 003's basic health check; public.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    summary = "Health check",
    description = "Public. `status` is `healthy` when the database answers.",
    responses((status = 200, description = "`status`, `database`, `uptime`, `version`", body = HealthBasic))
)]
pub async fn health(State(st): State<AppState>) -> Json<HealthBasic> {
    let db = st.db.ping().await;
    Json(HealthBasic {
        status: if db { "healthy" } else { "unhealthy" }.into(),
        timestamp: ts(&chrono::Utc::now()),
        uptime: st.started.elapsed().as_secs(),
        environment: environment(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: if db { "connected" } else { "disconnected" }.into(),
    })
}

/// The deployment's name for itself (`SWITCHBOARD_ENV`, default `production`).
pub fn environment() -> String {
    std::env::var("SWITCHBOARD_ENV").unwrap_or_else(|_| "production".into())
}

/// This process's resident memory in bytes (Linux; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
