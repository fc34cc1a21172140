//! Outbound webhooks: a client's URLs that hear its events, and the deliveries owed to them.
//! A delivery is a row until it is taken (2xx) or given up on, so a restart loses none; it is
//! claimed with a lease (its next attempt time moved on) so that one instance sends it, and
//! several instances share the sending.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;

use crate::{Arg, AsExec, Backend, Db, Result, now, sql};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Webhook {
    pub id: i64,
    pub client_id: i64,
    pub url: String,
    /// The event names it hears, as a JSON array (`["*"]`: all).
    pub events: String,
    pub description: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    pub fn event_names(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }
}

const COLUMNS: &str = "id, client_id, url, events, description, created_by, created_at";

/// What a new webhook hears and where.
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub client_id: i64,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: Option<&'a str>,
    pub created_by: Option<i64>,
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Create a webhook; its signing secret is returned this once.
pub async fn create(ex: &mut impl AsExec, w: &NewWebhook<'_>) -> Result<(Webhook, String)> {
    let secret = new_secret();
    let hook = sql(&format!(
        "INSERT INTO webhooks (client_id, url, secret, events, description, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .arg(w.client_id)
    .arg(w.url)
    .arg(secret.as_str())
    .arg(serde_json::to_string(w.events).unwrap_or_else(|_| "[]".into()))
    .arg(w.description)
    .arg(w.created_by)
    .arg(now())
    .fetch_one(ex)
    .await?;
    Ok((hook, secret))
}

/// The live webhooks of `client_id`, oldest first.
pub async fn list(db: &Db, client_id: i64) -> Result<Vec<Webhook>> {
    db.fetch_all(
        sql(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE client_id = $1 AND deleted_at IS NULL ORDER BY id"
        ))
        .arg(client_id),
    )
    .await
}

/// Every live webhook of every client (what an instance matches events against).
pub async fn all_live(db: &Db) -> Result<Vec<Webhook>> {
    db.fetch_all(sql(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE deleted_at IS NULL ORDER BY id"
    )))
    .await
}

/// How many live webhooks `client_id` has.
pub async fn count_live(ex: &mut impl AsExec, client_id: i64) -> Result<i64> {
    let (n,): (i64,) =
        sql("SELECT COUNT(*) FROM webhooks WHERE client_id = $1 AND deleted_at IS NULL")
            .arg(client_id)
            .fetch_one(ex)
            .await?;
    Ok(n)
}

/// A live webhook of `client_id`.
pub async fn find(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<Option<Webhook>> {
    sql(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL"
    ))
    .arg(id)
    .arg(client_id)
    .fetch_optional(ex)
    .await
}

/// What a change sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch<'a> {
    pub url: Option<&'a str>,
    pub events: Option<&'a [String]>,
    pub description: Option<Option<&'a str>>,
}

/// Change a live webhook of `client_id`; `None` when there is no such webhook. Deliveries
/// owed go to the new URL.
pub async fn update(
    ex: &mut impl AsExec,
    client_id: i64,
    id: i64,
    p: &WebhookPatch<'_>,
) -> Result<Option<Webhook>> {
    let mut q = sql("UPDATE webhooks SET id = id");
    if let Some(url) = p.url {
        q.push(", url = ").push_arg(url);
    }
    if let Some(events) = p.events {
        q.push(", events = ")
            .push_arg(serde_json::to_string(events).unwrap_or_else(|_| "[]".into()));
    }
    if let Some(d) = p.description {
        q.push(", description = ").push_arg(d);
    }
    q.push(" WHERE id = ").push_arg(id);
    q.push(" AND client_id = ").push_arg(client_id);
    q.push(&format!(" AND deleted_at IS NULL RETURNING {COLUMNS}"));
    q.fetch_optional(ex).await
}

/// A new signing secret for a live webhook of `client_id` (returned this once; deliveries
/// still owed are signed with it). `None` when there is no such webhook.
pub async fn rotate_secret(
    ex: &mut impl AsExec,
    client_id: i64,
    id: i64,
) -> Result<Option<String>> {
    let secret = new_secret();
    let n = sql(
        "UPDATE webhooks SET secret = $1 WHERE id = $2 AND client_id = $3 AND deleted_at IS NULL",
    )
    .arg(secret.as_str())
    .arg(id)
    .arg(client_id)
    .execute(ex)
    .await?;
    Ok((n == 1).then_some(secret))
}

/// Send delivery `delivery_id` of webhook `webhook_id` again now (one more attempt after it was
/// given up on, or no more wait for its retry). False when it is not there or was taken.
pub async fn retry_now(ex: &mut impl AsExec, webhook_id: i64, delivery_id: i64) -> Result<bool> {
    let n = sql(
        "UPDATE webhook_deliveries SET failed_at = NULL, next_attempt_at = $1 \
         WHERE id = $2 AND webhook_id = $3 AND delivered_at IS NULL",
    )
    .arg(now())
    .arg(delivery_id)
    .arg(webhook_id)
    .execute(ex)
    .await?;
    Ok(n == 1)
}

/// Delete a webhook of `client_id`: it hears nothing more, and what it was still owed is
/// dropped. False when there is no such live webhook.
pub async fn delete(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<bool> {
    let at = now();
    let n = sql("UPDATE webhooks SET deleted_at = $1 WHERE id = $2 AND client_id = $3 AND deleted_at IS NULL")
        .arg(at)
        .arg(id)
        .arg(client_id)
        .execute(ex)
        .await?;
    if n == 1 {
        sql(
            "UPDATE webhook_deliveries SET failed_at = $1, last_error = 'the webhook was deleted' \
             WHERE webhook_id = $2 AND delivered_at IS NULL AND failed_at IS NULL",
        )
        .arg(at)
        .arg(id)
        .execute(ex)
        .await?;
    }
    Ok(n == 1)
}

/// A delivery owed: to which webhook, which event, the exact body.
#[derive(Debug, Clone)]
pub struct Owed {
    pub webhook_id: i64,
    pub event: String,
    pub body: String,
}

/// Record deliveries owed, due at once.
pub async fn enqueue(db: &Db, owed: &[Owed]) -> Result<()> {
    if owed.is_empty() {
        return Ok(());
    }
    let at = now();
    let mut tx = db.begin().await?;
    for chunk in owed.chunks(500) {
        let mut q = sql(
            "INSERT INTO webhook_deliveries (webhook_id, event, body, created_at, next_attempt_at) VALUES ",
        );
        for (i, o) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_list::<Arg>([
                o.webhook_id.into(),
                o.event.as_str().into(),
                o.body.as_str().into(),
                at.into(),
                at.into(),
            ]);
        }
        q.execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How many deliveries are owed (neither taken nor given up on), across the installation.
pub async fn owed(db: &Db) -> Result<i64> {
    let (n,): (i64,) = db
        .fetch_one(sql(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL",
        ))
        .await?;
    Ok(n)
}

/// A delivery taken by this instance to send. (No `Debug`: it holds the signing secret.)
#[derive(Clone, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub event: String,
    pub body: String,
    /// Attempts before this one.
    pub attempts: i64,
    pub url: String,
    pub secret: String,
}

/// Take up to `max` deliveries due at `at`, leased for `lease` (another instance takes one
/// only after its lease ran out: the sender died). Oldest first.
pub async fn claim_due(db: &Db, at: DateTime<Utc>, lease: Duration, max: i64) -> Result<Vec<Due>> {
    let mut tx = db.begin().await?;
    let skip = if tx.backend() == Backend::Postgres {
        " FOR UPDATE OF d SKIP LOCKED"
    } else {
        ""
    };
    let due: Vec<Due> = sql(&format!(
        "SELECT d.id, d.event, d.body, d.attempts, w.url, w.secret \
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= $1 \
         AND w.deleted_at IS NULL \
         ORDER BY d.next_attempt_at, d.id LIMIT $2{skip}"
    ))
    .arg(at)
    .arg(max)
    .fetch_all(&mut tx)
    .await?;
    if !due.is_empty() {
        let mut q = sql("UPDATE webhook_deliveries SET next_attempt_at = ");
        q.push_arg(at + lease).push(" WHERE id IN ");
        q.push_list(due.iter().map(|d| d.id));
        q.execute(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(due)
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Taken (a 2xx).
    Delivered { status: i64 },
    /// Not taken: try again at `retry_at`, or give up (`None`).
    Refused {
        status: Option<i64>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Record attempts of deliveries `(id, outcome)`, all in one transaction.
pub async fn attempted(db: &Db, attempts: &[(i64, Outcome)]) -> Result<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    let at = now();
    let mut tx = db.begin().await?;
    for (id, outcome) in attempts {
        record(&mut tx, *id, outcome, at).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn record(tx: &mut crate::Tx, id: i64, outcome: &Outcome, at: DateTime<Utc>) -> Result<()> {
    match outcome {
        Outcome::Delivered { status } => {
            sql(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = $1, \
                 next_attempt_at = NULL, last_status = $2, last_error = NULL WHERE id = $3",
            )
            .arg(at)
            .arg(*status)
            .arg(id)
            .execute(tx)
            .await?;
        }
        Outcome::Refused {
            status,
            error,
            retry_at,
        } => {
            let error: String = error.chars().take(500).collect();
            // A delivery ended meanwhile (its webhook deleted) stays ended.
            sql(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1, \
                 failed_at = COALESCE(failed_at, $2), last_status = $3, last_error = $4 WHERE id = $5",
            )
            .arg(*retry_at)
            .arg(retry_at.is_none().then_some(at))
            .arg(*status)
            .arg(error)
            .arg(id)
            .execute(tx)
            .await?;
        }
    }
    Ok(())
}

/// One delivery, as shown to the webhook's owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub event: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// The latest deliveries of webhook `id`, newest first.
pub async fn deliveries(db: &Db, webhook_id: i64, limit: i64) -> Result<Vec<Delivery>> {
    db.fetch_all(
        sql(
            "SELECT id, event, body, created_at, attempts, next_attempt_at, delivered_at, \
             failed_at, last_status, last_error FROM webhook_deliveries WHERE webhook_id = $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .arg(webhook_id)
        .arg(limit),
    )
    .await
}

/// Forget deliveries done (taken or given up on) before `before`; returns how many. On the
/// way, end those recorded for a webhook deleted meanwhile (on another instance, before this
/// one heard of it): they are never sent.
pub async fn forget_done_before(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    let mut tx = db.begin().await?;
    sql(
        "UPDATE webhook_deliveries SET failed_at = $1, last_error = 'the webhook was deleted' \
         WHERE delivered_at IS NULL AND failed_at IS NULL \
         AND webhook_id IN (SELECT id FROM webhooks WHERE deleted_at IS NOT NULL)",
    )
    .arg(now())
    .execute(&mut tx)
    .await?;
    let n = sql("DELETE FROM webhook_deliveries WHERE (delivered_at < $1 OR failed_at < $1)")
        .arg(before)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}
