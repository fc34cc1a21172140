//! Who has a connection (a socket or an event stream) open on which instance, for
//! installations where several instances share one PostgreSQL database. Each instance writes
//! its own rows every few seconds and at each change; readers take the other instances' rows
//! seen lately, so a person is online wherever they connected, and an instance that died
//! stops counting once its rows go stale.

use chrono::{DateTime, Utc};

use crate::{AsExec, Db, Result, sql};

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
            q.push("(")
                .push_arg(instance)
                .push(", ")
                .push_arg(r.user_id)
                .push(", ")
                .push_arg(r.client_id)
                .push(", ")
                .push_arg(r.connections)
                .push(", ")
                .push_arg(at)
                .push(")");
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
