//! PostgreSQL's `LISTEN`/`NOTIFY`, so that what one instance publishes reaches every instance
//! sharing the database (real-time events). SQLite has one process and needs none of it.

use futures_util::Stream;
use sqlx::postgres::PgListener;

use crate::StoreError;
use crate::db::{Db, Pools};

/// The most a notification may carry: PostgreSQL refuses payloads of 8,000 bytes or more.
pub const MAX_PAYLOAD: usize = 7_900;

/// The channel this database's instances share their events on, or `None` on SQLite.
pub async fn channel(db: &Db) -> Result<Option<String>, StoreError> {
    channel_for(db, "events").await
}

/// The channel this database's instances share about `topic` (a short word), or `None` on
/// SQLite. Named after the schema, so databases that hold several schemas (tests do) keep
/// their notifications apart.
pub async fn channel_for(db: &Db, topic: &str) -> Result<Option<String>, StoreError> {
    let Pools::Pg(pool) = &*db.pools else {
        return Ok(None);
    };
    let (schema,): (String,) = sqlx::query_as("SELECT current_schema()::text")
        .fetch_one(pool)
        .await?;
    // A channel is an identifier (at most 63 bytes): the schema's digest keeps it short.
    let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
        schema.as_bytes(),
    ));
    Ok(Some(format!(
        "switchboard_{topic}_{}",
        hex::encode(&digest[..8])
    )))
}

/// Send `payloads` on `channel`, in one round trip. Each must be under [`MAX_PAYLOAD`].
pub async fn publish(db: &Db, channel: &str, payloads: &[String]) -> Result<(), StoreError> {
    let Pools::Pg(pool) = &*db.pools else {
        return Ok(());
    };
    if payloads.is_empty() {
        return Ok(());
    }
    let mut q = crate::sql("SELECT 1 FROM (VALUES ");
    for (i, p) in payloads.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(pg_notify(")
            .push_arg(channel)
            .push(", ")
            .push_arg(p.as_str())
            .push("))");
    }
    q.push(") AS sent(x)");
    q.execute(&mut crate::db::Conn::Pg(pool.acquire().await?))
        .await?;
    Ok(())
}

/// Every payload sent on `channel` from now on. The stream reconnects by itself when the
/// connection drops (what was sent meanwhile is lost) and yields an error each time it does.
pub async fn subscribe(
    db: &Db,
    channel: &str,
) -> Result<impl Stream<Item = Result<String, StoreError>> + Send + 'static, StoreError> {
    let Pools::Pg(pool) = &*db.pools else {
        return Err(StoreError::Invalid("LISTEN needs PostgreSQL".into()));
    };
    // A connection of its own, outside the pool: the pool's `close` waits for every connection
    // it lent, and a listener keeps its connection for as long as it listens.
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(channel).await?;
    Ok(futures_util::stream::unfold(listener, |mut l| async move {
        let next = l
            .recv()
            .await
            .map(|n| n.payload().to_string())
            .map_err(StoreError::from);
        Some((next, l))
    }))
}
