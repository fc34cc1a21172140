//! Small key/value settings the server keeps in its database (e.g. a generated JWT secret).

use crate::{Backend, Db, Result, Tx, sql};

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

/// Make `tx` the only first-start setup running against this database until it ends: several
/// instances (or `serve` and `import`) started together on an empty database would otherwise
/// each see no client and each create one. PostgreSQL: a transaction-scoped advisory lock.
/// SQLite: a write statement that changes nothing, which takes the file's write lock (another
/// process waits on the busy timeout). Call it first in the transaction, before any read, so
/// what the transaction reads next is what the previous setup committed.
pub async fn lock_first_start(tx: &mut Tx) -> Result<()> {
    match tx.backend() {
        Backend::Postgres => {
            // Keyed by schema too: installations (or tests) in other schemas of the same
            // database need not wait for each other.
            sql("SELECT pg_advisory_xact_lock(5309002, hashtext(current_schema()))")
                .execute(tx)
                .await?;
        }
        Backend::Sqlite => {
            sql("UPDATE settings SET value = value WHERE 1 = 0")
                .execute(tx)
                .await?;
        }
    }
    Ok(())
}
