//! Switchboard's storage: SQLite and PostgreSQL behind one query API.

pub mod api_keys;
pub mod audit;
pub mod callbacks;
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
pub mod presence;
pub mod reports;
pub mod schedules;
pub mod settings;
pub mod sign_ins;
#[cfg(feature = "testing")]
pub mod testing;
pub mod users;
pub mod webhooks;

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

/// Times in the rows the API answers with as they are: ISO 8601 to the millisecond with an
/// explicit `+00:00`, as every other answer writes them (serde's default would write
/// microseconds and `Z`).
pub mod api_time {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    /// The time as the API writes it.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, false)
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format(t))
    }

    /// The same, for a time that may be missing (`null`).
    pub fn option<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => serialize(t, s),
            None => s.serialize_none(),
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn times_are_written_to_the_millisecond_with_an_offset() {
            #[derive(serde::Serialize)]
            struct Row {
                #[serde(serialize_with = "super::serialize")]
                at: chrono::DateTime<chrono::Utc>,
                #[serde(serialize_with = "super::option")]
                gone: Option<chrono::DateTime<chrono::Utc>>,
            }
            let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:04:48.473602Z")
                .unwrap()
                .to_utc();
            let json = serde_json::to_string(&Row { at, gone: None }).unwrap();
            assert_eq!(
                json,
                r#"{"at":"2026-12-07T10:04:48.473+00:00","gone":null}"#
            );
        }
    }
}

/// The current time, truncated to microseconds (what PostgreSQL keeps), so values read back
/// equal values written on both backends.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    let t = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
