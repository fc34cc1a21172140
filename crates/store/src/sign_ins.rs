//! Failed sign-ins, counted in the database so that a throttle on them holds across every
//! instance sharing it and across restarts.
//!
//! Under an *at once* key an attempt is counted as a failure before its password is checked
//! (and taken back when it succeeds), so attempts sent all at once are bounded as well as
//! attempts sent one after another: right for one person's login, where only a guesser sends
//! many at once. Under other keys (an address, which an office behind one NAT shares) only
//! failures count, recorded once they are known.
//!
//! Keys are opaque to this module: the caller hashes what it counts.

use chrono::{DateTime, Duration, Utc};

use crate::{Arg, Backend, Db, Result, sql};

/// At most `limit` failures counted under `key` within the window; `at_once`: attempts count
/// from their start (see the module's notes).
#[derive(Debug, Clone)]
pub struct Bound {
    pub key: String,
    pub limit: i64,
    pub at_once: bool,
}

/// An attempt let through: its rows under the at-once keys, counted as failures until it
/// succeeds, and the other keys, which count it once it [`failed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    ids: Vec<i64>,
    on_failure: Vec<String>,
}

/// Let an attempt through at `now`, or refuse it. Refused (`Err`: the time when the attempt
/// would be let through) when a key already has its limit of failures since `now - window`;
/// nothing is written then. Let through, the attempt counts as a failure under its at-once
/// keys until [`succeeded`].
pub async fn begin(
    db: &Db,
    bounds: &[Bound],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<std::result::Result<Attempt, DateTime<Utc>>> {
    let since = now - window;
    let mut tx = db.begin().await?;
    if tx.backend() == Backend::Postgres {
        // One attempt per at-once key at a time across instances, so two cannot both see room
        // for one. Every caller locks its keys in the order given, and a key of one kind never
        // equals one of another, so the locks cannot wait on each other in a circle.
        for b in bounds.iter().filter(|b| b.at_once) {
            sql("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
                .arg(b.key.as_str())
                .execute(&mut tx)
                .await?;
        }
    }
    let mut until: Option<DateTime<Utc>> = None;
    for b in bounds {
        // The limit-th newest failure: once it leaves the window, there is room for one more.
        let oldest_counted: Option<(DateTime<Utc>,)> = sql(
            "SELECT failed_at FROM sign_in_failures WHERE key = $1 AND failed_at > $2 \
             ORDER BY failed_at DESC LIMIT 1 OFFSET $3",
        )
        .arg(b.key.as_str())
        .arg(since)
        .arg(b.limit.max(1) - 1)
        .fetch_optional(&mut tx)
        .await?;
        if let Some((at,)) = oldest_counted {
            let free = at + window;
            until = Some(until.map_or(free, |u| u.max(free)));
        }
    }
    if let Some(until) = until {
        return Ok(Err(until));
    }
    let mut ids = Vec::with_capacity(bounds.len());
    for b in bounds.iter().filter(|b| b.at_once) {
        let (id,): (i64,) =
            sql("INSERT INTO sign_in_failures (key, failed_at) VALUES ($1, $2) RETURNING id")
                .arg(b.key.as_str())
                .arg(now)
                .fetch_one(&mut tx)
                .await?;
        ids.push(id);
    }
    tx.commit().await?;
    let on_failure = bounds
        .iter()
        .filter(|b| !b.at_once)
        .map(|b| b.key.clone())
        .collect();
    Ok(Ok(Attempt { ids, on_failure }))
}

/// The attempt failed: it now counts under its other keys too (at `at`).
pub async fn failed(db: &Db, attempt: Attempt, at: DateTime<Utc>) -> Result<()> {
    if attempt.on_failure.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    let mut q = sql("INSERT INTO sign_in_failures (key, failed_at) VALUES ");
    for (i, key) in attempt.on_failure.into_iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_list::<Arg>([key.into(), at.into()]);
    }
    q.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The attempt succeeded: it was no failure, and the failures under `clear` are forgiven
/// (a person who finally typed the right password starts afresh; an address's count stays).
pub async fn succeeded(db: &Db, attempt: Attempt, clear: &[&str]) -> Result<()> {
    if attempt.ids.is_empty() && clear.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    let mut q = sql("DELETE FROM sign_in_failures WHERE id IN ");
    // An empty list would not parse: no row has id 0.
    q.push_list(if attempt.ids.is_empty() {
        vec![0]
    } else {
        attempt.ids
    });
    if !clear.is_empty() {
        q.push(" OR key IN ");
        q.push_list(clear.iter().copied());
    }
    q.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Remove failures older than `before` (they no longer count); returns how many.
pub async fn forget_before(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    let mut tx = db.begin().await?;
    let n = sql("DELETE FROM sign_in_failures WHERE failed_at < $1")
        .arg(before)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// How many failures are counted under `key` since `since` (for tests and reports).
pub async fn count(db: &Db, key: &str, since: DateTime<Utc>) -> Result<i64> {
    let (n,): (i64,) =
        sql("SELECT COUNT(*) FROM sign_in_failures WHERE key = $1 AND failed_at > $2")
            .arg(key)
            .arg(since)
            .fetch_one(&mut db.read().await?)
            .await?;
    Ok(n)
}
