//! Small key/value settings the server keeps in its database (e.g. a generated JWT secret).

use crate::{Db, Result, sql};

pub async fn get(db: &Db, key: &str) -> Result<Option<String>> {
    Ok(db
        .fetch_optional::<(String,)>(sql("SELECT value FROM settings WHERE key = $1").arg(key))
        .await?
        .map(|(v,)| v))
}

/// Store `value` under `key` unless a value is there already; returns the value that holds.
pub async fn get_or_insert(db: &Db, key: &str, value: &str) -> Result<String> {
    db.execute(
        sql("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .arg(key)
            .arg(value),
    )
    .await?;
    Ok(get(db, key).await?.unwrap_or_else(|| value.to_string()))
}
