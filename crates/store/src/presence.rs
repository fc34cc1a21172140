//! Who has a connection (a socket or an event stream) open on which instance, for
//! installations where several instances share one PostgreSQL database. Each instance writes
//! its own rows every few seconds and at each change; readers take the other instances' rows
//! seen lately, so a person is online wherever they connected, and an instance that died
//! stops counting once its rows go stale.

use chrono::{DateTime, Utc};

use crate::{Arg, AsExec, Db, Result, sql};

/// A person's connections on one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    pub user_id: i64,
    pub client_id: i64,
    pub connections: i64,
}

/// Rows of instances not seen for this long are left behind (a crashed instance's), then
/// removed.
pub const FORGOTTEN_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// Replace `instance`'s rows with `rows`, seen at `at`; rows of instances gone for an hour
/// are removed on the way.
pub async fn replace(db: &Db, instance: &str, rows: &[Here], at: DateTime<Utc>) -> Result<()> {
    let mut tx = db.begin().await?;
    sql("DELETE FROM presence WHERE instance_id = $1 OR seen_at < $2")
        .arg(instance)
        .arg(at - FORGOTTEN_AFTER)
        .execute(&mut tx)
        .await?;
    for chunk in rows.chunks(1000) {
        let mut q = sql(
            "INSERT INTO presence (instance_id, user_id, client_id, connections, seen_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_list::<Arg>([
                instance.into(),
                r.user_id.into(),
                r.client_id.into(),
                r.connections.into(),
                at.into(),
            ]);
        }
        q.execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A person connected to other instances: who, and how many connections in all.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Elsewhere {
    pub user_id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    pub connections: i64,
}

/// The people of `client_id` with connections open on instances other than `instance`, seen
/// since `since`.
pub async fn elsewhere(
    ex: &mut impl AsExec,
    client_id: i64,
    instance: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Elsewhere>> {
    sql(
        "SELECT p.user_id, u.username, u.first_name, u.last_name, u.role, \
         CAST(SUM(p.connections) AS BIGINT) AS connections \
         FROM presence p JOIN users u ON u.id = p.user_id \
         WHERE p.client_id = $1 AND p.instance_id <> $2 AND p.seen_at >= $3 \
         GROUP BY p.user_id, u.username, u.first_name, u.last_name, u.role",
    )
    .arg(client_id)
    .arg(instance)
    .arg(since)
    .fetch_all(ex)
    .await
}

/// Connections open on instances other than `instance`, seen since `since`.
pub async fn connections_elsewhere(
    ex: &mut impl AsExec,
    instance: &str,
    since: DateTime<Utc>,
) -> Result<i64> {
    let (n,): (i64,) = sql(
        "SELECT CAST(COALESCE(SUM(connections), 0) AS BIGINT) FROM presence \
         WHERE instance_id <> $1 AND seen_at >= $2",
    )
    .arg(instance)
    .arg(since)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Mark `user_id` (of `client_id`) online everywhere, as seen at `at`. True when they were not:
/// the caller is the one to announce it. Call it after this instance's rows say so.
pub async fn mark_online(db: &Db, user_id: i64, client_id: i64, at: DateTime<Utc>) -> Result<bool> {
    let flipped: Option<(i64,)> = sql(
        "INSERT INTO presence_state (user_id, client_id, online, changed_at) \
         VALUES ($1, $2, TRUE, $3) \
         ON CONFLICT (user_id) DO UPDATE SET online = TRUE, \
         client_id = excluded.client_id, changed_at = excluded.changed_at \
         WHERE presence_state.online = FALSE RETURNING user_id",
    )
    .arg(user_id)
    .arg(client_id)
    .arg(at)
    .fetch_optional(&mut db.write().await?)
    .await?;
    Ok(flipped.is_some())
}

/// Mark `user_id` offline when no instance has a row seen since `since` with a connection of
/// theirs; true when this call did (the caller announces it). Call it after this instance's
/// rows say so.
///
/// The person's state row is locked first, so the check reads every row committed before
/// another instance's `mark_online` of the same person: of an instance that connects them and
/// one that lets them go, one sees the other.
pub async fn mark_offline_if_gone(
    db: &Db,
    user_id: i64,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    let lock = if tx.backend() == crate::Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let online: Option<(bool,)> = sql(&format!(
        "SELECT online FROM presence_state WHERE user_id = $1{lock}"
    ))
    .arg(user_id)
    .fetch_optional(&mut tx)
    .await?;
    if online != Some((true,)) {
        return Ok(false);
    }
    let (connected,): (bool,) =
        sql("SELECT EXISTS (SELECT 1 FROM presence WHERE user_id = $1 AND seen_at >= $2)")
            .arg(user_id)
            .arg(since)
            .fetch_one(&mut tx)
            .await?;
    if connected {
        return Ok(false);
    }
    sql("UPDATE presence_state SET online = FALSE, changed_at = $2 WHERE user_id = $1")
        .arg(user_id)
        .arg(at)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// People marked online with no row seen since `since` on any instance (those of an instance
/// that died, or whose own instance could not tell): `(user_id, client_id)`.
pub async fn gone(ex: &mut impl AsExec, since: DateTime<Utc>) -> Result<Vec<(i64, i64)>> {
    sql(
        "SELECT s.user_id, s.client_id FROM presence_state s WHERE s.online \
         AND NOT EXISTS (SELECT 1 FROM presence p WHERE p.user_id = s.user_id AND p.seen_at >= $1) \
         ORDER BY s.user_id LIMIT 1000",
    )
    .arg(since)
    .fetch_all(ex)
    .await
}
