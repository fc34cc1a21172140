//! Machine principals: API keys (`x-api-key`), dialer tokens and bot keys, kept as SHA-256
//! digests. The keys are 256-bit random strings, so a fast digest is enough: there is nothing
//! to brute-force, unlike a password.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{AsExec, Db, Result, now, sql};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Api,
    Dialer,
    Bot,
}

impl KeyKind {
    pub const ALL: [KeyKind; 3] = [KeyKind::Api, KeyKind::Dialer, KeyKind::Bot];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Api => "api",
            KeyKind::Dialer => "dialer",
            KeyKind::Bot => "bot",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Api => "sbk_",
            KeyKind::Dialer => "sbd_",
            KeyKind::Bot => "sbb_",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: i64,
    pub client_id: i64,
    /// `api`, `dialer` or `bot`.
    pub kind: String,
    pub name: String,
    /// The first characters of the key, to tell keys apart in a list; not a secret.
    pub prefix: String,
    pub created_by: Option<i64>,
    #[serde(serialize_with = "crate::api_time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::api_time::option")]
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, client_id, kind, name, prefix, created_by, created_at, revoked_at";

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Create a key; the plaintext is returned once and never stored.
pub async fn create(
    ex: &mut impl AsExec,
    client_id: i64,
    kind: KeyKind,
    name: &str,
    created_by: Option<i64>,
) -> Result<(ApiKey, String)> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{}{}", kind.prefix(), hex::encode(bytes));
    let key = sql(&format!(
        "INSERT INTO api_keys (client_id, kind, name, prefix, key_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .arg(client_id)
    .arg(kind.as_str())
    .arg(name)
    .arg(&secret[..12])
    .arg(digest(&secret))
    .arg(created_by)
    .arg(now())
    .fetch_one(ex)
    .await?;
    Ok((key, secret))
}

/// The live key whose digest matches `secret`, if any.
pub async fn find_live(db: &Db, secret: &str) -> Result<Option<ApiKey>> {
    db.fetch_optional(
        sql(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .arg(digest(secret)),
    )
    .await
}

pub async fn list(db: &Db, client_id: i64) -> Result<Vec<ApiKey>> {
    db.fetch_all(
        sql(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE client_id = $1 ORDER BY id"
        ))
        .arg(client_id),
    )
    .await
}

/// Revoke a key of `client_id`; false when no such live key exists.
pub async fn revoke(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<bool> {
    let n = sql("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND client_id = $3 AND revoked_at IS NULL")
        .arg(now())
        .arg(id)
        .arg(client_id)
        .execute(ex)
        .await?;
    Ok(n == 1)
}
