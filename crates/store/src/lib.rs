//! Switchboard's storage: SQLite and PostgreSQL behind one query API.

pub mod api_keys;
pub mod audit;
pub mod calls;
pub mod campaigns;
pub mod clients;
pub mod counters;
pub mod db;
pub mod dialer;
pub mod dnc;
pub mod import;
pub mod leads;
pub mod lists;
pub mod notify;
pub mod performance;
pub mod reports;
pub mod schedules;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod users;

pub use db::{Arg, AsExec, Backend, ConnectOptions, Db, Sql, Tx, sql};
/// JSON columns as query results decode them.
pub use sqlx::types::Json as JsonColumn;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; the string names what clashed.
    #[error("{0} already exists")]
    Conflict(String),
    /// The row is in the middle of a change that refuses this one for now (a list being
    /// deleted); the string says what and when to retry.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(sqlx::Error),
    /// The SQLite bulk importer's own connection failed (busy past its timeout, I/O, …).
    #[error("SQLite: {0}")]
    Bulk(String),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                let what = d
                    .constraint()
                    .map(str::to_string)
                    .unwrap_or_else(|| d.message().to_string());
                return StoreError::Conflict(conflict_subject(&what).to_string());
            }
            if d.is_foreign_key_violation() {
                return StoreError::Invalid("a referenced row does not exist".into());
            }
        }
        StoreError::Db(e)
    }
}

/// Name the field behind a unique-violation message of either backend.
fn conflict_subject(msg: &str) -> &'static str {
    for (needle, subject) in [
        ("username", "username"),
        ("email", "email"),
        ("phone", "a lead with this phone number"),
        ("one_live", "a live call for this lead"),
        ("calls.lead_id", "a live call for this lead"),
        ("lists", "a list with this name"),
        ("clients", "a client with this name"),
        ("key_hash", "key"),
    ] {
        if msg.contains(needle) {
            return subject;
        }
    }
    "record"
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The current time, truncated to microseconds (what PostgreSQL keeps), so values read back
/// equal values written on both backends.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    let t = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
