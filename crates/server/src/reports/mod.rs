//! Seed 002's `report-result`, written in batches. Reports that arrive while the last batch is
//! being written go into one transaction of a few multi-row statements: look the numbers up,
//! store the attempts in the call log, update the leads. PostgreSQL opens a table and its
//! indexes once per statement, and the call log has thirteen: a statement of eight attempts
//! costs about a quarter of eight statements of one (see BENCHMARKS.md). Each caller still
//! gets its own answer, and only after the commit. Writers take turns, and a writer hands the
//! turn on before it commits.
//!
//! On PostgreSQL, a batch of reports on distinct leads named by id that leave the switch alone
//! (what a dialer working through its batches sends) is one statement instead: one round trip
//! instead of five, which is what an external dialer's loop waits on. Such a batch needs the
//! client's retry rules before it is sent; writers keep them, and the statement checks that
//! they are still the stored ones (when not, the reports are written again with the new).
//!
//! Group commit: the first batch gathered after a landing waits a little (at most the
//! configured linger) for the callers just answered, who come back with their next report, so
//! that dialers reporting number after number share one write ([`Shared::gather`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchboard_core::{CallStatus, Disposition};
use switchboard_store::audit::{self, AuditEntry};
use switchboard_store::calls::{self, NewCall};
use switchboard_store::dialer::{self, Attempt};
use switchboard_store::leads::{self, Lead};
use switchboard_store::{Db, JsonColumn, StoreError, Tx, schedules};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio::time::Instant;

use crate::routes::dialer::stored_or_default;

mod at_once;
pub use at_once::{Rules, at_once, write_distinct};

/// Which number a report is about.
#[derive(Debug, Clone)]
pub enum Number {
    Id(i64),
    /// E.164, as stored.
    Phone(String),
}

/// One checked report: every field is valid and the agent, when named, is a user of the client.
#[derive(Debug, Clone)]
pub struct Report {
    pub client_id: i64,
    /// The dialer key that sent it (0: the configured token), for the audit log.
    pub key_id: i64,
    pub number: Number,
    /// With a number named by id: the phone (E.164) the dialer says it is, which the lead must
    /// have, else the report is about no number we know.
    pub phone_check: Option<String>,
    pub disposition: Disposition,
    pub attempted_at: DateTime<Utc>,
    pub agent: Option<i64>,
    pub agent_phone: Option<String>,
    pub reason: Option<String>,
    pub user_message: Option<String>,
    pub call_allowed: Option<bool>,
}

/// What a report did.
#[derive(Debug, Clone)]
pub struct Reported {
    /// The same report (number and `attempted_at`) was stored before: the lead is unchanged.
    pub duplicate: bool,
    pub lead: Lead,
    /// The schedule's switch and version once this report's `call_allowed` is applied.
    pub call_allowed: bool,
    pub schedule_version: i64,
}

/// `Ok(None)`: no such number (nothing was written for it).
pub type Answer = Result<Option<Reported>, String>;

struct Job {
    report: Report,
    reply: oneshot::Sender<Answer>,
}

/// Hands reports to the writers.
#[derive(Clone)]
pub struct Reporter {
    jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

/// Most reports in one transaction.
const BATCH: usize = 128;

impl Reporter {
    /// `writers` take turns (see [`run_writer`]); `timezone` is the default schedule's;
    /// `linger`: how long after a batch lands the next one may wait for the callers just
    /// answered (see [`Shared::gather`]).
    pub fn spawn(db: Db, timezone: String, writers: usize, linger: Duration) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        let rx = Arc::new(Mutex::new(rx));
        let timezone: Arc<str> = timezone.into();
        let shared = Arc::new(Shared {
            linger,
            ..Shared::default()
        });
        for _ in 0..writers.max(1) {
            tokio::spawn(run_writer(
                db.clone(),
                timezone.clone(),
                rx.clone(),
                shared.clone(),
            ));
        }
        Self { jobs, shared }
    }

    pub async fn report(&self, report: Report) -> Answer {
        let (reply, answer) = oneshot::channel();
        let stopped = || "the report writer has stopped".to_string();
        // Counted with no await between the count and the send: a caller that goes away
        // while waiting for room in the queue leaves the count as it was.
        let room = self.jobs.reserve().await.map_err(|_| stopped())?;
        self.shared.waiting.fetch_add(1, Ordering::Relaxed);
        room.send(Job { report, reply });
        answer.await.map_err(|_| stopped())?
    }
}

/// What the writers share: whether a batch sent as one statement is being written, the
/// retry rules those statements are computed with, and what the next batch waits for.
#[derive(Default)]
struct Shared {
    in_flight: AtomicBool,
    landed: Notify,
    rules: Rules,
    /// Reports handed over and not yet in a batch that is being written.
    waiting: AtomicUsize,
    /// The last batch's landing, until a writer gathers the next one after it.
    landing: StdMutex<Option<Landing>>,
    linger: Duration,
}

/// A batch was written and its callers answered at `at`; `callers` counts them and those
/// that were waiting then.
#[derive(Debug, Clone, Copy)]
struct Landing {
    at: Instant,
    callers: usize,
}

impl Shared {
    /// A batch of `answered` reports is written (its callers are answered next).
    fn record(&self, answered: usize) {
        let callers = answered + self.waiting.load(Ordering::Relaxed);
        *self.landing.lock().expect("landing") = Some(Landing {
            at: Instant::now(),
            callers,
        });
    }

    /// The batch sent as one statement is written.
    fn land(&self, answered: usize) {
        self.record(answered);
        self.in_flight.store(false, Ordering::Release);
        self.landed.notify_waiters();
    }

    /// Group commit: dialers that report number after number come back as soon as they are
    /// answered. Left alone they split into two groups that take turns, each batch written
    /// while the other group waits, and each paying the statement's fixed cost. So the first
    /// batch gathered after a landing waits, at most `linger` from the landing, until it holds
    /// as many reports as there were callers then (those answered and those waiting): the
    /// groups merge into one batch. A caller that does not come back costs one linger, once:
    /// the next landing counts callers anew. `linger` zero never waits.
    async fn gather(&self, rx: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
        let Some(landing) = self.landing.lock().expect("landing").take() else {
            return;
        };
        let Some(deadline) = landing.at.checked_add(self.linger) else {
            return;
        };
        while batch.len() < landing.callers.min(BATCH) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(j)) => batch.push(j),
                Ok(None) | Err(_) => return,
            }
        }
    }
}

async fn run_writer(
    db: Db,
    timezone: Arc<str>,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    shared: Arc<Shared>,
) {
    loop {
        // The queue's lock is the turn to write: its holder takes every report waiting and runs
        // their statements, then lets go before its commit, so that another writer writes the
        // next batch while this one commits. A later batch that touches the same lead waits in
        // the database for this commit, and sees it. Batches that set the switch keep the turn
        // until they are committed, so every batch reads the switch as the batches before it
        // left it. A batch sent as one statement lets go as it is sent, and the next batch
        // waits for it to land: so reports on one lead are written in the order they came.
        let mut turn = Some(queue.lock().await);
        let Some(first) = turn.as_mut().expect("held").recv().await else {
            return;
        };
        let mut batch = vec![first];
        // One batch is written at a time: while one is being written, reports keep joining
        // the next, which goes as soon as it lands. A second writer takes the turn meanwhile,
        // so the next batch leaves while the last one's callers are being answered.
        loop {
            let rx = turn.as_mut().expect("held");
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            // Registered before looking, so that a landing in between is not missed.
            let landed = shared.landed.notified();
            tokio::pin!(landed);
            landed.as_mut().enable();
            if !shared.in_flight.load(Ordering::Acquire) {
                break;
            }
            if batch.len() >= BATCH {
                landed.await;
                continue;
            }
            tokio::select! {
                j = rx.recv() => match j {
                    Some(j) => batch.push(j),
                    None => break,
                },
                _ = landed => {}
            }
        }
        if !shared.linger.is_zero() {
            shared
                .gather(turn.as_mut().expect("held"), &mut batch)
                .await;
        }
        shared.waiting.fetch_sub(batch.len(), Ordering::Relaxed);
        let reports: Vec<&Report> = batch.iter().map(|j| &j.report).collect();
        if at_once(&db, &reports) {
            shared.in_flight.store(true, Ordering::Release);
            drop(turn);
            let answers = match write_distinct(&db, &shared.rules, &timezone, &reports).await {
                Ok(answers) => answers.into_iter().map(Ok).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, size = batch.len(), "report statement failed; writing one by one");
                    one_by_one(&db, &timezone, &reports).await
                }
            };
            shared.land(batch.len());
            metrics::histogram!(crate::metrics::REPORTS_PER_STATEMENT).record(batch.len() as f64);
            for (job, a) in batch.into_iter().zip(answers) {
                let _ = job.reply.send(a);
            }
            continue;
        }
        let sets_switch = reports.iter().any(|r| r.call_allowed.is_some());
        let written = async {
            let mut tx = db.begin().await?;
            let out = write_in(&mut tx, &timezone, &reports).await?;
            if !sets_switch {
                turn = None;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(out)
        }
        .await;
        let answers: Vec<Answer> = match written {
            Ok(answers) => answers.into_iter().map(Ok).collect(),
            Err(e) if batch.len() == 1 => vec![Err(e.to_string())],
            Err(e) => {
                // One report must not sink the others (a deadlock with another instance, an
                // agent deleted meanwhile): write each on its own, still holding the turn when
                // the statements failed (a failed commit had handed it on: waiting for it again
                // could wait for a report that none of these callers will send).
                let _turn = turn;
                tracing::warn!(error = %e, size = batch.len(), "report batch failed; writing one by one");
                one_by_one(&db, &timezone, &reports).await
            }
        };
        shared.record(batch.len());
        metrics::histogram!(crate::metrics::REPORTS_PER_STATEMENT).record(batch.len() as f64);
        for (job, a) in batch.into_iter().zip(answers) {
            let _ = job.reply.send(a);
        }
    }
}

/// Each report in a transaction of its own.
async fn one_by_one(db: &Db, timezone: &str, reports: &[&Report]) -> Vec<Answer> {
    let mut out = Vec::with_capacity(reports.len());
    for r in reports {
        out.push(
            write_batch(db, timezone, &[r])
                .await
                .map(|mut one| one.pop().flatten())
                .map_err(|e| e.to_string()),
        );
    }
    out
}

/// Write `reports` in one transaction; answers in the same order. What the writers do, public
/// so that tests can form batches of their choosing.
pub async fn write_batch(
    db: &Db,
    timezone: &str,
    reports: &[&Report],
) -> Result<Vec<Option<Reported>>, StoreError> {
    let mut tx = db.begin().await?;
    let out = write_in(&mut tx, timezone, reports).await?;
    tx.commit().await?;
    Ok(out)
}

async fn write_in(
    tx: &mut Tx,
    timezone: &str,
    reports: &[&Report],
) -> Result<Vec<Option<Reported>>, StoreError> {
    let mut out = vec![None; reports.len()];
    let mut clients: Vec<i64> = Vec::new();
    for r in reports {
        if !clients.contains(&r.client_id) {
            clients.push(r.client_id);
        }
    }
    for client in clients {
        let mine: Vec<usize> = (0..reports.len())
            .filter(|&i| reports[i].client_id == client)
            .collect();
        write_client(tx, timezone, client, reports, &mine, &mut out).await?;
    }
    Ok(out)
}

/// A report whose number was found: its index, and the lead's id, phone and batch.
type Found = (usize, i64, String, Option<String>);

async fn write_client(
    tx: &mut Tx,
    timezone: &str,
    client: i64,
    reports: &[&Report],
    mine: &[usize],
    out: &mut [Option<Reported>],
) -> Result<(), StoreError> {
    let (mut pending, settings) = find_numbers(tx, client, reports, mine).await?;
    let Some((rules, enabled, version)) = settings else {
        return Ok(()); // none of the numbers is the client's: nothing to write
    };
    let rules = dialer::rules_of(rules);
    // Rounds in arrival order, each holding a lead once: a number reported twice in one batch
    // is written twice, the second time seeing the first.
    while !pending.is_empty() {
        let mut seen = HashSet::new();
        let (round, rest): (Vec<Found>, Vec<Found>) =
            pending.into_iter().partition(|f| seen.insert(f.1));
        pending = rest;
        write_round(tx, &rules, client, reports, &round, out).await?;
    }
    // The switch, report by report in arrival order: written (its version bumped) only when
    // it changes; each answer carries the switch as that report left it.
    let (mut version, mut allowed) = match (enabled, version) {
        (Some(e), Some(v)) => (v, e),
        _ => {
            let s = stored_or_default(tx, timezone, client).await?;
            (s.version, s.doc.enabled)
        }
    };
    for &i in mine {
        let Some(done) = out[i].as_mut() else {
            continue;
        };
        if let Some(a) = reports[i].call_allowed.filter(|a| *a != allowed) {
            let stored = stored_or_default(tx, timezone, client).await?;
            let mut doc = stored.doc.clone();
            doc.enabled = a;
            version = schedules::put(tx, client, &doc, stored.version, None).await?;
            allowed = a;
            audit::record(
                tx,
                AuditEntry {
                    client_id: Some(client),
                    user_id: None,
                    action: if a { "enable" } else { "disable" },
                    entity: "schedule",
                    entity_id: None,
                    detail: json!({ "source": "dialer", "key_id": reports[i].key_id }),
                },
            )
            .await?;
        }
        done.call_allowed = allowed;
        done.schedule_version = version;
    }
    Ok(())
}

/// The retry rules and the schedule's switch and version, as stored (none when never set).
type Settings = (Option<JsonColumn<Value>>, Option<bool>, Option<i64>);

/// The client's live leads the reports name (by id, else by phone), in the reports' order
/// (reports of unknown numbers are left out), and the client's settings (`None` when no number
/// was found).
async fn find_numbers(
    tx: &mut Tx,
    client: i64,
    reports: &[&Report],
    mine: &[usize],
) -> Result<(Vec<Found>, Option<Settings>), StoreError> {
    let (mut ids, mut phones) = (Vec::new(), Vec::new());
    for &i in mine {
        match &reports[i].number {
            Number::Id(id) => ids.push(*id),
            Number::Phone(p) => phones.push(p.clone()),
        }
    }
    let mut by_id: HashMap<i64, (String, Option<String>)> = HashMap::new();
    let mut by_phone: HashMap<String, i64> = HashMap::new();
    let mut settings = None;
    for n in switchboard_store::reports::reported_numbers(tx, client, &ids, &phones).await? {
        settings = Some((n.rules, n.enabled, n.version));
        by_phone.insert(n.phone.clone(), n.id);
        by_id.insert(n.id, (n.phone, n.batch_id));
    }
    let found = mine
        .iter()
        .filter_map(|&i| {
            let id = match &reports[i].number {
                Number::Id(id) => *id,
                Number::Phone(p) => *by_phone.get(p)?,
            };
            let (phone, batch) = by_id.get(&id)?.clone();
            if reports[i]
                .phone_check
                .as_ref()
                .is_some_and(|want| *want != phone)
            {
                return None; // the id and the phone name different numbers
            }
            Some((i, id, phone, batch))
        })
        .collect();
    Ok((found, settings))
}

/// Store one round's attempts (repeats recognised by the call log's unique key) and update
/// their leads.
async fn write_round(
    tx: &mut Tx,
    rules: &switchboard_core::dialer::RetryRules,
    client: i64,
    reports: &[&Report],
    round: &[Found],
    out: &mut [Option<Reported>],
) -> Result<(), StoreError> {
    let news: Vec<(NewCall, Option<String>)> = round
        .iter()
        .map(|(i, lead_id, phone, batch)| {
            let r = reports[*i];
            (
                attempt_call(r, client, *lead_id, phone, batch.as_deref()),
                r.user_message.clone(),
            )
        })
        .collect();
    let stored: HashSet<String> = calls::create_many_once(tx, &news)
        .await?
        .into_iter()
        .collect();
    let (mut written, mut repeats) = (Vec::new(), Vec::new());
    for ((i, lead_id, ..), (call, _)) in round.iter().zip(&news) {
        if call
            .provider_call_id
            .as_ref()
            .is_some_and(|id| stored.contains(id))
        {
            written.push((*i, *lead_id));
        } else {
            repeats.push((*i, *lead_id));
        }
    }
    let list: Vec<Attempt> = written
        .iter()
        .map(|&(i, lead_id)| attempt_of(reports[i], lead_id))
        .collect();
    let mut now_are: HashMap<i64, Lead> = dialer::record_attempts(tx, rules, &list)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let done = |duplicate, lead| Reported {
        duplicate,
        lead,
        call_allowed: false,
        schedule_version: 0,
    };
    for (i, lead_id) in written {
        out[i] = now_are.remove(&lead_id).map(|l| done(false, l));
    }
    for (i, lead_id) in repeats {
        out[i] = leads::get(tx, client, lead_id)
            .await?
            .map(|l| done(true, l));
    }
    Ok(())
}

/// What a report does to its lead.
pub(crate) fn attempt_of(r: &Report, lead_id: i64) -> Attempt<'_> {
    Attempt {
        lead_id,
        disposition: r.disposition,
        at: r.attempted_at,
        agent: r.agent,
        notes: r.user_message.as_deref(),
    }
}

/// The attempt as the call log keeps it; its provider call id makes a repeated report (same
/// number, same `attempted_at`) recognisable.
pub(crate) fn attempt_call(
    r: &Report,
    client: i64,
    lead_id: i64,
    phone: &str,
    batch: Option<&str>,
) -> NewCall {
    let mut new = NewCall::outbound(client, switchboard_store::calls::DIALER, phone);
    new.provider_call_id = Some(format!(
        "dialer-{}-{}",
        lead_id,
        r.attempted_at.timestamp_micros()
    ));
    new.lead_id = Some(lead_id);
    new.user_id = r.agent;
    new.status = CallStatus::of_disposition(r.disposition);
    new.surface_status = Some(r.disposition.as_str().to_string());
    new.started_at = r.attempted_at;
    new.metadata = json!({
        "surface": "dialer",
        "disposition": r.disposition.as_str(),
        "reason": r.reason,
        "user_message": r.user_message,
        "batch_id": batch,
        "agent_phone": r.agent_phone,
    });
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        let (reply, _) = oneshot::channel();
        Job {
            report: Report {
                client_id: 1,
                key_id: 0,
                number: Number::Id(1),
                phone_check: None,
                disposition: Disposition::Busy,
                attempted_at: Utc::now(),
                agent: None,
                agent_phone: None,
                reason: None,
                user_message: None,
                call_allowed: None,
            },
            reply,
        }
    }

    fn shared(linger_ms: u64) -> Shared {
        Shared {
            linger: Duration::from_millis(linger_ms),
            ..Shared::default()
        }
    }

    /// Sends one job after each of `after_ms` (from now).
    fn send_later(tx: mpsc::Sender<Job>, after_ms: &[u64]) {
        let at: Vec<Instant> = after_ms
            .iter()
            .map(|ms| Instant::now() + Duration::from_millis(*ms))
            .collect();
        tokio::spawn(async move {
            for t in at {
                tokio::time::sleep_until(t).await;
                let _ = tx.send(job()).await;
            }
        });
    }

    #[tokio::test(start_paused = true)]
    async fn the_batch_after_a_landing_waits_for_its_callers_only_as_long_as_they_come() {
        let s = shared(10);
        let (tx, mut rx) = mpsc::channel(16);
        // Three answered, one waiting: four callers. One is in the batch already; the
        // other three come back 1, 2 and 3 ms later.
        s.waiting.store(1, Ordering::Relaxed);
        s.record(3);
        let start = Instant::now();
        send_later(tx.clone(), &[1, 2, 3, 4]);
        let mut batch = vec![job()];
        s.gather(&mut rx, &mut batch).await;
        assert_eq!(batch.len(), 4);
        assert_eq!(start.elapsed(), Duration::from_millis(3));
        // The fourth report that came later is for the next batch.
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(rx.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_does_not_come_back_costs_one_linger_from_the_landing() {
        let s = shared(10);
        let (tx, mut rx) = mpsc::channel(16);
        s.record(3);
        let landed = Instant::now();
        tokio::time::sleep(Duration::from_millis(4)).await;
        send_later(tx.clone(), &[1]);
        let mut batch = vec![job()];
        s.gather(&mut rx, &mut batch).await;
        assert_eq!(batch.len(), 2, "the third caller never came");
        assert_eq!(landed.elapsed(), Duration::from_millis(10));
        // The landing is used once: the next batch does not wait for it again.
        let before = Instant::now();
        let mut next = vec![job()];
        s.gather(&mut rx, &mut next).await;
        assert_eq!((next.len(), before.elapsed()), (1, Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_landing_or_after_its_linger_nothing_waits() {
        let s = shared(10);
        let (tx, mut rx) = mpsc::channel(16);
        send_later(tx.clone(), &[1, 2]);
        let start = Instant::now();
        let mut batch = vec![job()];
        s.gather(&mut rx, &mut batch).await;
        assert_eq!((batch.len(), start.elapsed()), (1, Duration::ZERO));
        // A landing long past: what is queued joins, nothing is waited for.
        s.record(5);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(rx.len(), 2);
        send_later(tx, &[1]);
        let start = Instant::now();
        let mut batch = vec![job()];
        s.gather(&mut rx, &mut batch).await;
        assert_eq!((batch.len(), start.elapsed()), (3, Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_never_waits_past_its_size() {
        let s = shared(10);
        let (tx, mut rx) = mpsc::channel(4 * BATCH);
        s.record(3 * BATCH);
        for _ in 0..2 * BATCH {
            tx.send(job()).await.unwrap();
        }
        let start = Instant::now();
        let mut batch = vec![job()];
        s.gather(&mut rx, &mut batch).await;
        assert_eq!((batch.len(), start.elapsed()), (BATCH, Duration::ZERO));
    }
}
