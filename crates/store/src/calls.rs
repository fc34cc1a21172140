//! Calls and their events. Every status change enters through [`apply_event`], whatever its
//! origin (a provider webhook, the simulator, a bot, an operator), so duplicates, late and
//! out-of-order events all end in the same state, and a call's outcome reaches its lead in the
//! same transaction.

use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use serde::Serialize;
use sqlx::types::Json;
use switchboard_core::{CallStatus, Disposition};

use crate::{AsExec, Backend, Result, Sql, StoreError, Tx, now, sql};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Call {
    pub id: i64,
    pub client_id: i64,
    pub provider: String,
    pub provider_call_id: Option<String>,
    pub direction: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub lead_id: Option<i64>,
    pub user_id: Option<i64>,
    pub status: String,
    pub surface_status: Option<String>,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
    pub hangup_cause: Option<String>,
    pub recording_url: Option<String>,
    pub transcript: String,
    pub notes: Option<String>,
    pub language: Option<String>,
    pub satisfaction: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub campaign_id: Option<i64>,
    pub instance_id: Option<String>,
    /// Concurrency slots held until the call ends: 0 none, 1 global and client, 2 also the
    /// campaign's, 3 also the client's call queue's.
    pub slots: i64,
    /// Who answered, when the provider's answering-machine detection said so: `human`, or a
    /// machine (`machine_start`, `machine_end_beep`, …, `fax`, `machine`); the first verdict
    /// stays.
    pub answered_by: Option<String>,
}

impl Call {
    /// Whether an answering machine took the call (so nobody talked).
    pub fn by_machine(&self) -> bool {
        self.answered_by
            .as_deref()
            .is_some_and(switchboard_core::call::is_machine)
    }
}

impl Call {
    pub fn status(&self) -> CallStatus {
        CallStatus::parse(&self.status).unwrap_or(CallStatus::Failed)
    }

    /// Seconds talked so far (live) or in all (ended).
    pub fn talk_seconds(&self, at: DateTime<Utc>) -> i64 {
        if let Some(d) = self.duration_secs {
            return d;
        }
        match (self.answered_at, self.ended_at) {
            (Some(a), Some(e)) => (e - a).num_seconds().max(0),
            (Some(a), None) => (at - a).num_seconds().max(0),
            _ => 0,
        }
    }
}

pub const COLUMNS: &str = "calls.id, calls.client_id, calls.provider, calls.provider_call_id, \
    calls.direction, calls.from_number, calls.to_number, calls.lead_id, calls.user_id, calls.status, \
    calls.surface_status, calls.started_at, calls.answered_at, calls.ended_at, calls.duration_secs, \
    calls.hangup_cause, calls.recording_url, calls.transcript, calls.notes, calls.language, \
    calls.satisfaction, calls.metadata, calls.created_at, calls.updated_at, calls.campaign_id, \
    calls.instance_id, calls.slots, calls.answered_by";

#[derive(Debug, Clone)]
pub struct NewCall {
    pub client_id: i64,
    pub provider: String,
    pub provider_call_id: Option<String>,
    pub direction: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub lead_id: Option<i64>,
    pub user_id: Option<i64>,
    pub status: CallStatus,
    pub surface_status: Option<String>,
    pub started_at: DateTime<Utc>,
    pub language: Option<String>,
    pub metadata: serde_json::Value,
    pub campaign_id: Option<i64>,
    pub instance_id: Option<String>,
    /// Slots the caller has already taken for this call (see [`crate::dialer::take_slots`]).
    pub slots: i64,
}

impl NewCall {
    pub fn outbound(client_id: i64, provider: &str, to: &str) -> Self {
        Self {
            client_id,
            provider: provider.into(),
            provider_call_id: None,
            direction: "outbound".into(),
            from_number: None,
            to_number: Some(to.into()),
            lead_id: None,
            user_id: None,
            status: CallStatus::Initiated,
            surface_status: None,
            started_at: now(),
            language: None,
            metadata: serde_json::json!({}),
            campaign_id: None,
            instance_id: None,
            slots: 0,
        }
    }
}

pub async fn create(ex: &mut impl AsExec, c: &NewCall) -> Result<Call> {
    let mut q = insert_rows(std::iter::once((c, None)));
    q.push(" RETURNING ").push(&COLUMNS.replace("calls.", ""));
    q.fetch_optional(ex)
        .await?
        .ok_or_else(|| StoreError::Conflict("call".into()))
}

/// Create several calls in one statement per 200 (the dialer's rounds); returned in order.
pub async fn create_many(ex: &mut impl AsExec, cs: &[NewCall]) -> Result<Vec<Call>> {
    let mut out = Vec::with_capacity(cs.len());
    for chunk in cs.chunks(200) {
        let mut q = insert_rows(chunk.iter().map(|c| (c, None)));
        q.push(" RETURNING ").push(&COLUMNS.replace("calls.", ""));
        let mut rows: Vec<Call> = q.fetch_all(ex).await?;
        // RETURNING follows insertion order on both backends in practice; make it certain.
        rows.sort_by_key(|c| c.id);
        out.extend(rows);
    }
    Ok(out)
}

/// Create each call with its notes unless one with the same provider and provider call id
/// exists: repeated reports are recognised by the statement that stores the first. Returns
/// the provider call ids of the calls it stored, in one statement per 200.
pub async fn create_many_once(
    ex: &mut impl AsExec,
    cs: &[(NewCall, Option<String>)],
) -> Result<Vec<String>> {
    let mut stored = Vec::with_capacity(cs.len());
    for chunk in cs.chunks(200) {
        let mut q = insert_rows(chunk.iter().map(|(c, n)| (c, n.as_deref())));
        q.push(" ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING provider_call_id");
        let rows: Vec<(Option<String>,)> = q.fetch_all(ex).await?;
        stored.extend(rows.into_iter().filter_map(|(id,)| id));
    }
    Ok(stored)
}

/// `INSERT INTO calls … VALUES (…), (…)` for calls and their notes.
fn insert_rows<'a>(cs: impl Iterator<Item = (&'a NewCall, Option<&'a str>)>) -> Sql {
    let t = now();
    let mut q = sql(
        "INSERT INTO calls (client_id, provider, provider_call_id, direction, from_number, to_number, \
         lead_id, user_id, status, surface_status, started_at, ended_at, language, metadata, created_at, updated_at, \
         campaign_id, instance_id, slots, notes) VALUES ",
    );
    for (k, (c, notes)) in cs.enumerate() {
        if k > 0 {
            q.push(", ");
        }
        q.push("(").push_arg(c.client_id);
        q.push(", ").push_arg(c.provider.as_str());
        q.push(", ").push_arg(c.provider_call_id.clone());
        q.push(", ").push_arg(c.direction.as_str());
        q.push(", ").push_arg(c.from_number.clone());
        q.push(", ").push_arg(c.to_number.clone());
        q.push(", ").push_arg(c.lead_id);
        q.push(", ").push_arg(c.user_id);
        q.push(", ").push_arg(c.status.as_str());
        q.push(", ").push_arg(c.surface_status.clone());
        q.push(", ").push_arg(c.started_at);
        q.push(", ").push_arg(if c.status.is_final() {
            Some(c.started_at)
        } else {
            None
        });
        q.push(", ").push_arg(c.language.clone());
        q.push(", ").push_arg(c.metadata.clone());
        q.push(", ").push_arg(t);
        q.push(", ").push_arg(t);
        q.push(", ").push_arg(c.campaign_id);
        q.push(", ").push_arg(c.instance_id.clone());
        q.push(", ").push_arg(c.slots);
        q.push(", ").push_arg(notes);
        q.push(")");
    }
    q
}

/// Record the provider's id for a call we placed.
pub async fn set_provider_call_id(
    ex: &mut impl AsExec,
    id: i64,
    provider_call_id: &str,
) -> Result<()> {
    sql("UPDATE calls SET provider_call_id = $1, updated_at = $2 WHERE id = $3")
        .arg(provider_call_id)
        .arg(now())
        .arg(id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn get(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<Option<Call>> {
    sql(&format!("SELECT {COLUMNS} FROM calls WHERE calls.client_id = $1 AND calls.id = $2 AND calls.deleted_at IS NULL"))
        .arg(client_id)
        .arg(id)
        .fetch_optional(ex)
        .await
}

pub async fn find_by_provider_id(
    ex: &mut impl AsExec,
    provider: &str,
    provider_call_id: &str,
) -> Result<Option<Call>> {
    sql(&format!(
        "SELECT {COLUMNS} FROM calls WHERE calls.provider = $1 AND calls.provider_call_id = $2"
    ))
    .arg(provider)
    .arg(provider_call_id)
    .fetch_optional(ex)
    .await
}

/// Every value `calls.provider` takes: the telephony providers, `dialer` (attempts reported by
/// external dialers) and `external` (calls a voice bot logs). A lookup by a call id alone names
/// them all, so that the (provider, call id) key answers it with one probe per provider; a
/// server test checks that every telephony provider is listed.
pub const PROVIDERS: &[&str] = &["simulator", "twilio", "plivo", "smartflo", DIALER, BOT];

/// The provider of the attempts external dialers report (seed 002's `report-result`).
pub const DIALER: &str = "dialer";
/// The provider of the calls voice bots log themselves (seed 004).
pub const BOT: &str = "external";

/// A client's call by its provider id, whichever provider placed it (the bot knows only that id).
pub async fn find_by_call_id(
    ex: &mut impl AsExec,
    client_id: i64,
    provider_call_id: &str,
) -> Result<Option<Call>> {
    by_call_id(client_id, provider_call_id)
        .fetch_optional(ex)
        .await
}

/// The statement of [`find_by_call_id`] (public for the store's plan tests).
pub fn by_call_id(client_id: i64, provider_call_id: &str) -> Sql {
    let mut q = sql(&format!(
        "SELECT {COLUMNS} FROM calls WHERE calls.provider IN ("
    ));
    for (i, p) in PROVIDERS.iter().enumerate() {
        q.push(if i == 0 { "'" } else { ", '" }).push(p).push("'");
    }
    q.push(") AND calls.provider_call_id = ")
        .push_arg(provider_call_id)
        .push(" AND calls.client_id = ")
        .push_arg(client_id)
        .push(" AND calls.deleted_at IS NULL ORDER BY calls.id LIMIT 1");
    q
}

/// A status report about one call, from any source.
#[derive(Debug, Clone)]
pub struct EventInput {
    pub provider: String,
    pub provider_call_id: String,
    /// With provider and call id, names the event: the same triple is applied once.
    pub event: String,
    pub status: CallStatus,
    pub at: DateTime<Utc>,
    pub duration_secs: Option<i64>,
    pub hangup_cause: Option<String>,
    pub recording_url: Option<String>,
    /// The provider's answering-machine verdict, when it gave one.
    pub answered_by: Option<String>,
    pub payload: serde_json::Value,
}

// Nearly every event updates a call, so boxing it would add an allocation to the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Applied {
    /// This event was seen before; nothing changed.
    Duplicate,
    /// No call has this provider id.
    UnknownCall,
    /// The call as it is now, and the status it had before.
    Updated { call: Call, previous: CallStatus },
}

/// Apply one event to the call it names (looked up by provider id, or by `call_id` when given).
///
/// Three statements in the common case: read (and on PostgreSQL lock) the call, store the event
/// unless it was seen before, and write the call's new state.
pub async fn apply_event(tx: &mut Tx, ev: &EventInput, call_id: Option<i64>) -> Result<Applied> {
    let mut freed = Releases::default();
    let target = call_id.map(Target::Id).unwrap_or(Target::ProviderId);
    let r = apply_targets(tx, &[(ev, target)], &mut freed)
        .await?
        .remove(0);
    freed.flush(tx).await?;
    Ok(r)
}

/// Which call an event is for.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// This call, for certain (a surface reporting on a call it holds).
    Id(i64),
    /// The call our webhook URL or the simulator named: used when it is that provider's call,
    /// and its provider id is stored with it when it has none yet.
    Reference(i64),
    /// Look the call up by provider and provider call id.
    ProviderId,
}

/// Apply provider events in one transaction, each with the call id it referenced (if any); the
/// slots their endings free are given back once, at the end, in a fixed order (so concurrent
/// transactions never deadlock on them).
pub async fn apply_events(tx: &mut Tx, evs: &[(EventInput, Option<i64>)]) -> Result<Vec<Applied>> {
    let mut freed = Releases::default();
    let targets: Vec<(&EventInput, Target)> = evs
        .iter()
        .map(|(ev, r)| (ev, r.map(Target::Reference).unwrap_or(Target::ProviderId)))
        .collect();
    let out = apply_targets(tx, &targets, &mut freed).await?;
    freed.flush(tx).await?;
    Ok(out)
}

/// Slots freed by calls that ended, to give back together (and each client's retry rules, read
/// once per transaction).
#[derive(Debug, Default)]
pub struct Releases(
    std::collections::BTreeMap<(&'static str, i64), i64>,
    std::collections::HashMap<i64, switchboard_core::dialer::RetryRules>,
);

impl Releases {
    async fn rules(
        &mut self,
        tx: &mut Tx,
        client_id: i64,
    ) -> Result<switchboard_core::dialer::RetryRules> {
        if let Some(r) = self.1.get(&client_id) {
            return Ok(r.clone());
        }
        let r = crate::dialer::rules(tx, client_id).await?;
        self.1.insert(client_id, r.clone());
        Ok(r)
    }

    pub fn add(&mut self, call: &Call) {
        if call.slots <= 0 {
            return;
        }
        *self.0.entry(("client", call.client_id)).or_default() += 1;
        *self.0.entry(("global", 0)).or_default() += 1;
        if call.slots == 2
            && let Some(c) = call.campaign_id
        {
            *self.0.entry(("campaign", c)).or_default() += 1;
        }
        if call.slots == 3 {
            *self.0.entry(("queue", call.client_id)).or_default() += 1;
        }
    }

    pub async fn flush(self, tx: &mut Tx) -> Result<()> {
        // BTreeMap order: campaign, client, global, queue: the order slots are taken in.
        for ((scope, key), n) in self.0 {
            sql("UPDATE concurrency SET active = CASE WHEN active > $1 THEN active - $1 ELSE 0 END WHERE scope = $2 AND key = $3")
                .arg(n)
                .arg(scope)
                .arg(key)
                .execute(tx)
                .await?;
        }
        Ok(())
    }
}

/// Apply events in order, in few statements: the calls they name are read in one query, the
/// events stored in one multi-row insert (duplicates fall out), each call's new state computed
/// here and written once.
async fn apply_targets(
    tx: &mut Tx,
    evs: &[(&EventInput, Target)],
    freed: &mut Releases,
) -> Result<Vec<Applied>> {
    let lock = if tx.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    // 1. The calls, by id (referenced or known), in one statement, locked in id order.
    let mut ids: Vec<i64> = evs
        .iter()
        .filter_map(|(_, t)| match t {
            Target::Id(i) | Target::Reference(i) => Some(*i),
            Target::ProviderId => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut calls: std::collections::HashMap<i64, Call> = std::collections::HashMap::new();
    if !ids.is_empty() {
        let mut q = sql(&format!("SELECT {COLUMNS} FROM calls WHERE calls.id IN "));
        q.push_list(ids.iter().copied());
        q.push(" ORDER BY calls.id");
        q.push(lock);
        for c in q.fetch_all::<Call>(tx).await? {
            calls.insert(c.id, c);
        }
    }
    // 2. Which call each event is for.
    let mut resolved: Vec<Option<i64>> = Vec::with_capacity(evs.len());
    let mut set_pcid: std::collections::HashSet<i64> = std::collections::HashSet::new();
    for (ev, target) in evs {
        let by_ref = match target {
            Target::Id(id) => calls.contains_key(id).then_some(*id),
            Target::Reference(id) => calls.get(id).and_then(|c| {
                let ok = c.provider == ev.provider
                    && c.provider_call_id
                        .as_deref()
                        .is_none_or(|p| p == ev.provider_call_id);
                ok.then_some(*id)
            }),
            Target::ProviderId => None,
        };
        let id = match (by_ref, target) {
            (Some(id), _) => Some(id),
            (None, Target::Id(_)) => None,
            (None, _) => {
                // Already known from an earlier event of this batch?
                let known = calls
                    .values()
                    .find(|c| {
                        c.provider == ev.provider
                            && c.provider_call_id.as_deref() == Some(ev.provider_call_id.as_str())
                    })
                    .map(|c| c.id);
                match known {
                    Some(id) => Some(id),
                    None => {
                        let found: Option<Call> = sql(&format!("SELECT {COLUMNS} FROM calls WHERE calls.provider = $1 AND calls.provider_call_id = $2{lock}"))
                            .arg(&ev.provider)
                            .arg(&ev.provider_call_id)
                            .fetch_optional(tx)
                            .await?;
                        found.map(|c| {
                            let id = c.id;
                            calls.entry(id).or_insert(c);
                            id
                        })
                    }
                }
            }
        };
        // A referenced call without a provider id takes this event's (the first one wins).
        if let (Some(id), Target::Reference(_)) = (id, target)
            && let Some(c) = calls.get_mut(&id)
            && c.provider_call_id.is_none()
        {
            c.provider_call_id = Some(ev.provider_call_id.clone());
            set_pcid.insert(id);
        }
        resolved.push(id);
    }
    // 3. Store the events once each; duplicates (earlier or in this batch) are not inserted.
    let mut first: std::collections::HashSet<(&str, &str, &str)> = std::collections::HashSet::new();
    let fresh: Vec<bool> = evs
        .iter()
        .map(|(ev, _)| {
            first.insert((
                ev.provider.as_str(),
                ev.provider_call_id.as_str(),
                ev.event.as_str(),
            ))
        })
        .collect();
    let mut inserted: std::collections::HashSet<(String, String, String)> =
        std::collections::HashSet::new();
    let t = now();
    for chunk in (0..evs.len())
        .filter(|i| fresh[*i])
        .collect::<Vec<_>>()
        .chunks(500)
    {
        let mut q = sql(
            "INSERT INTO call_events (call_id, provider, provider_call_id, event, status, occurred_at, payload, created_at) VALUES ",
        );
        for (k, i) in chunk.iter().enumerate() {
            let ev = evs[*i].0;
            if k > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_arg(resolved[*i])
                .push(", ")
                .push_arg(ev.provider.as_str())
                .push(", ")
                .push_arg(ev.provider_call_id.as_str())
                .push(", ")
                .push_arg(ev.event.as_str())
                .push(", ")
                .push_arg(ev.status.as_str())
                .push(", ")
                .push_arg(ev.at)
                .push(", ")
                .push_arg(ev.payload.clone())
                .push(", ")
                .push_arg(t)
                .push(")");
        }
        q.push(" ON CONFLICT (provider, provider_call_id, event) DO NOTHING RETURNING provider, provider_call_id, event");
        for row in q.fetch_all::<(String, String, String)>(tx).await? {
            inserted.insert(row);
        }
    }
    // 4. Each call's new state, event by event.
    // The calls whose state changed, written back once at the end.
    let mut dirty: std::collections::BTreeSet<i64> = set_pcid.iter().copied().collect();
    let mut out = Vec::with_capacity(evs.len());
    for (i, (ev, _)) in evs.iter().enumerate() {
        let key = (
            ev.provider.clone(),
            ev.provider_call_id.clone(),
            ev.event.clone(),
        );
        if !fresh[i] || !inserted.contains(&key) {
            out.push(Applied::Duplicate);
            continue;
        }
        let Some(id) = resolved[i] else {
            out.push(Applied::UnknownCall);
            continue;
        };
        let Some(call) = calls.get_mut(&id) else {
            out.push(Applied::UnknownCall);
            continue;
        };
        let mut changed = false;
        // The verdict first: a call a machine answered ends `no-answer` (core `ended_by`),
        // whichever event brings the ending.
        let verdict_now = ev.answered_by.is_some() && call.answered_by.is_none();
        if verdict_now {
            call.answered_by = ev.answered_by.clone();
            changed = true;
        }
        let previous = call.status();
        let mut next = previous.advance(ev.status);
        if next.is_final() && !previous.is_final() {
            next = next.ended_by(call.answered_by.as_deref());
        }
        // A machine's verdict after the call ended `completed` (Plivo posts it apart from the
        // hang-up, and the two may cross): the ending is corrected, and so is its lead's
        // attempt, so that the order the two came in does not matter.
        let late_machine = verdict_now
            && previous == CallStatus::Completed
            && previous.ended_by(call.answered_by.as_deref()) != previous;
        if late_machine {
            next = CallStatus::NoAnswer;
        }
        if next != previous {
            call.status = next.as_str().to_string();
            changed = true;
        }
        // Times are filled from whichever event tells them first; a late event may still fill
        // a gap.
        if ev.status.was_answered() && call.answered_at.is_none() {
            let a = match (ev.status, ev.duration_secs) {
                (CallStatus::Completed, Some(s)) => Some(ev.at - chrono::Duration::seconds(s)),
                (CallStatus::Completed, None) => None,
                _ => Some(ev.at),
            };
            if a.is_some() {
                call.answered_at = a;
                changed = true;
            }
        }
        if ev.status.is_final() && call.ended_at.is_none() {
            call.ended_at = Some(ev.at);
            changed = true;
        }
        if next.is_final() && call.slots > 0 {
            freed.add(call);
            call.slots = 0;
            changed = true;
        }
        if let Some(s) = ev.duration_secs.filter(|s| *s >= 0) {
            call.duration_secs = Some(s);
            changed = true;
        }
        if let Some(c) = &ev.hangup_cause {
            call.hangup_cause = Some(c.clone());
            changed = true;
        }
        if let Some(r) = &ev.recording_url {
            call.recording_url = Some(r.clone());
            changed = true;
        }
        if changed {
            dirty.insert(id);
        }
        let snapshot = call.clone();
        if previous != next
            && let Some(lead) = snapshot.lead_id
        {
            if late_machine {
                lead_missed_after_all(tx, freed, &snapshot, lead).await?;
            } else {
                lead_follows_call(tx, freed, &snapshot, lead, previous, next, ev.at).await?;
            }
        }
        out.push(Applied::Updated {
            call: snapshot,
            previous,
        });
    }
    // 5. The changed calls written back in one statement per 500: their whole tracked state
    // (read in this transaction, so nothing else changed it meanwhile).
    let changed: Vec<&Call> = dirty.iter().filter_map(|id| calls.get(id)).collect();
    for chunk in changed.chunks(500) {
        let mut q = sql(
            "WITH v (id, provider_call_id, status, answered_at, ended_at, slots, duration_secs, hangup_cause, recording_url, answered_by) AS (VALUES ",
        );
        for (k, c) in chunk.iter().enumerate() {
            if k > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_arg(c.id)
                .push(", ")
                .push_arg(c.provider_call_id.clone())
                .push(", ")
                .push_arg(c.status.as_str())
                .push(", ")
                .push_arg(c.answered_at)
                .push(", ")
                .push_arg(c.ended_at)
                .push(", ")
                .push_arg(c.slots)
                .push(", ")
                .push_arg(c.duration_secs)
                .push(", ")
                .push_arg(c.hangup_cause.clone())
                .push(", ")
                .push_arg(c.recording_url.clone())
                .push(", ")
                .push_arg(c.answered_by.clone())
                .push(")");
        }
        q.push(
            ") UPDATE calls SET provider_call_id = v.provider_call_id, status = v.status, \
             answered_at = v.answered_at, ended_at = v.ended_at, slots = v.slots, \
             duration_secs = v.duration_secs, hangup_cause = v.hangup_cause, \
             recording_url = v.recording_url, answered_by = v.answered_by, updated_at = ",
        )
        .push_arg(t)
        .push(" FROM v WHERE calls.id = v.id");
        q.execute(tx).await?;
    }
    Ok(out)
}

/// A call that ended `completed` turned out to be a machine's (its verdict came after the
/// hang-up): the attempt it left on its lead (`CONNECTED`) is recorded again as `MISSED`, to be
/// retried by rule. Only while the lead still shows that very attempt: a lead called again, or
/// changed by people since, is left as it is.
async fn lead_missed_after_all(
    tx: &mut Tx,
    ctx: &mut Releases,
    call: &Call,
    lead_id: i64,
) -> Result<()> {
    let Some(ended) = call.ended_at else {
        return Ok(());
    };
    let undone = sql(
        "UPDATE leads SET attempts = attempts - 1 WHERE id = $1 AND disposition = 'CONNECTED' \
         AND status = 'answered' AND last_attempt_at = $2 AND attempts > 0 AND deleted_at IS NULL",
    )
    .arg(lead_id)
    .arg(ended)
    .execute(tx)
    .await?;
    if undone == 1 {
        let rules = ctx.rules(tx, call.client_id).await?;
        crate::dialer::record_attempt(tx, &rules, lead_id, Disposition::Missed, ended).await?;
    }
    Ok(())
}

/// Carry a call's progress to its lead: answered while talking, and on the ending (which happens
/// once per call) one more attempt and the outcome as disposition.
async fn lead_follows_call(
    tx: &mut Tx,
    ctx: &mut Releases,
    call: &Call,
    lead_id: i64,
    previous: CallStatus,
    next: CallStatus,
    at: DateTime<Utc>,
) -> Result<()> {
    let t = now();
    // A call the lead made to us is no attempt of ours: its lead's dialing is left alone.
    if call.direction == "inbound" {
        return Ok(());
    }
    if next.is_final() && !previous.is_final() {
        let Some(disposition) = next.disposition() else {
            return Ok(());
        };
        let rules = ctx.rules(tx, call.client_id).await?;
        crate::dialer::record_attempt(tx, &rules, lead_id, disposition, at).await?;
    } else if next == CallStatus::Answered && !call.by_machine() {
        sql("UPDATE leads SET status = 'answered', updated_at = $1 WHERE id = $2 AND status IN ('pending', 'claimed', 'calling')")
            .arg(t)
            .arg(lead_id)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Fields a surface (the bot log, an operator) may set directly.
#[derive(Debug, Clone, Default)]
pub struct CallPatch {
    pub surface_status: Option<String>,
    pub notes: Option<Option<String>>,
    pub language: Option<Option<String>>,
    pub satisfaction: Option<Option<String>>,
    pub transcript: Option<String>,
    pub recording_url: Option<Option<String>>,
    pub from_number: Option<Option<String>>,
    pub to_number: Option<Option<String>>,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i64>,
    pub metadata: Option<serde_json::Value>,
}

pub async fn update_fields(ex: &mut impl AsExec, id: i64, p: &CallPatch) -> Result<()> {
    let mut q = sql("UPDATE calls SET updated_at = $1").arg(now());
    let set = |q: &mut Sql, col: &str, v: crate::Arg| {
        q.push(", ").push(col).push(" = ").push_arg(v);
    };
    if let Some(v) = &p.surface_status {
        set(&mut q, "surface_status", v.into());
    }
    if let Some(v) = &p.notes {
        set(&mut q, "notes", v.clone().into());
    }
    if let Some(v) = &p.language {
        set(&mut q, "language", v.clone().into());
    }
    if let Some(v) = &p.satisfaction {
        set(&mut q, "satisfaction", v.clone().into());
    }
    if let Some(v) = &p.transcript {
        set(&mut q, "transcript", v.into());
    }
    if let Some(v) = &p.recording_url {
        set(&mut q, "recording_url", v.clone().into());
    }
    if let Some(v) = &p.from_number {
        set(&mut q, "from_number", v.clone().into());
    }
    if let Some(v) = &p.to_number {
        set(&mut q, "to_number", v.clone().into());
    }
    if let Some(v) = p.started_at {
        set(&mut q, "started_at", v.into());
    }
    if let Some(v) = p.duration_secs {
        set(&mut q, "duration_secs", v.into());
    }
    if let Some(v) = &p.metadata {
        set(&mut q, "metadata", v.clone().into());
    }
    q.push(" WHERE id = ").push_arg(id);
    q.execute(ex).await?;
    Ok(())
}

/// Append to a call's transcript (seed 004: transcript updates append).
pub async fn append_transcript(ex: &mut impl AsExec, id: i64, text: &str) -> Result<()> {
    sql("UPDATE calls SET transcript = transcript || $1, updated_at = $2 WHERE id = $3")
        .arg(text)
        .arg(now())
        .arg(id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn soft_delete(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<bool> {
    Ok(sql(
        "UPDATE calls SET deleted_at = $1 WHERE client_id = $2 AND id = $3 AND deleted_at IS NULL",
    )
    .arg(now())
    .arg(client_id)
    .arg(id)
    .execute(ex)
    .await?
        == 1)
}

/// A call's events in order (the lead's timeline).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CallEvent {
    pub event: String,
    pub status: String,
    pub occurred_at: DateTime<Utc>,
}

pub async fn events(ex: &mut impl AsExec, call_id: i64) -> Result<Vec<CallEvent>> {
    sql("SELECT event, status, occurred_at FROM call_events WHERE call_id = $1 ORDER BY occurred_at, id")
        .arg(call_id)
        .fetch_all(ex)
        .await
}

/// The events of several calls, each call's in order, with the call each belongs to (a page of
/// a lead's calls with their timelines: one query rather than one per call).
pub async fn events_of(ex: &mut impl AsExec, call_ids: &[i64]) -> Result<Vec<(i64, CallEvent)>> {
    if call_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q =
        sql("SELECT call_id, event, status, occurred_at FROM call_events WHERE call_id IN (");
    for (i, id) in call_ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_arg(*id);
    }
    q.push(") ORDER BY call_id, occurred_at, id");
    let rows: Vec<(i64, String, String, DateTime<Utc>)> = q.fetch_all(ex).await?;
    Ok(rows
        .into_iter()
        .map(|(call, event, status, occurred_at)| {
            (
                call,
                CallEvent {
                    event,
                    status,
                    occurred_at,
                },
            )
        })
        .collect())
}

/// Which calls a listing covers.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub statuses: Vec<String>,
    pub direction: Option<String>,
    pub started_from: Option<DateTime<Utc>>,
    pub started_to: Option<DateTime<Utc>>,
    /// E.164 prefixes the from or to number starts with (any of them).
    pub phone_prefixes: Vec<String>,
    pub user_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub live_only: bool,
    pub agent_number: Option<String>,
    /// Match the phone prefixes row by row, for a search that matches too many calls to collect
    /// from the number indexes first ([`list_counted`] decides).
    pub phone_scan: bool,
}

/// A phone search matching more calls than this is matched row by row while the newest-first
/// index is walked; fewer are collected from the number indexes and sorted.
const PHONE_SPARSE: i64 = 5_000;

impl CallFilter {
    /// No condition beyond the client's calls that are not deleted.
    pub fn is_empty(&self) -> bool {
        let Self {
            statuses,
            direction,
            started_from,
            started_to,
            phone_prefixes,
            user_id,
            lead_id,
            live_only,
            agent_number,
            phone_scan: _,
        } = self;
        statuses.is_empty()
            && direction.is_none()
            && started_from.is_none()
            && started_to.is_none()
            && phone_prefixes.is_empty()
            && user_id.is_none()
            && lead_id.is_none()
            && !live_only
            && agent_number.is_none()
    }

    /// The WHERE clause for a page sorted newest first.
    pub fn push_where(&self, q: &mut Sql, client_id: i64) {
        self.push_where_for(q, client_id, true)
    }

    /// The WHERE clause for counts and sums over every match (no order wanted).
    pub fn push_where_aggregate(&self, q: &mut Sql, client_id: i64) {
        self.push_where_for(q, client_id, false)
    }

    /// The filter a listing runs: a phone search that matches many calls reads them in the
    /// listing's order rather than collecting them from the number indexes.
    async fn for_listing(
        &self,
        ex: &mut impl AsExec,
        client_id: i64,
    ) -> Result<std::borrow::Cow<'_, CallFilter>> {
        if self.phone_prefixes.is_empty()
            || self.phone_scan
            || self.phone_sparse(ex, client_id).await?
        {
            return Ok(std::borrow::Cow::Borrowed(self));
        }
        Ok(std::borrow::Cow::Owned(CallFilter {
            phone_scan: true,
            ..self.clone()
        }))
    }

    /// Whether the phone search matches few enough calls to collect them from the number
    /// indexes (an index-only count that stops past [`PHONE_SPARSE`]).
    async fn phone_sparse(&self, ex: &mut impl AsExec, client_id: i64) -> Result<bool> {
        let mut q = sql("SELECT COUNT(*) FROM (");
        self.push_phone_union(&mut q, client_id);
        q.push(" LIMIT ")
            .push_arg(PHONE_SPARSE + 1)
            .push(") AS probe");
        let (n,) = q.fetch_one::<(i64,)>(ex).await?;
        Ok(n <= PHONE_SPARSE)
    }

    /// The ids of the client's calls whose to or from number starts with a prefix: one index
    /// range per prefix and column, united.
    fn push_phone_union(&self, q: &mut Sql, client_id: i64) {
        let mut first = true;
        for p in &self.phone_prefixes {
            let upper = format!("{p}:");
            for col in ["to_number", "from_number"] {
                if !first {
                    q.push(" UNION ALL ");
                }
                first = false;
                q.push("SELECT c.id FROM calls c WHERE c.client_id = ")
                    .push_arg(client_id);
                q.push(" AND c.deleted_at IS NULL AND c.")
                    .push(col)
                    .push(" >= ")
                    .push_arg(p);
                q.push(" AND c.").push(col).push(" < ").push_arg(&upper);
            }
        }
    }

    fn push_where_for(&self, q: &mut Sql, client_id: i64, sorted_page: bool) {
        // A sparse phone search drives the query from the ids the number indexes give, and one
        // lead's calls (a handful) from the lead index (`+` keeps the planner from walking the
        // whole client's calls newest first instead).
        let sparse_phones = !self.phone_prefixes.is_empty() && !self.phone_scan;
        q.push(if sparse_phones || self.lead_id.is_some() {
            " WHERE +calls.client_id = "
        } else {
            " WHERE calls.client_id = "
        })
        .push_arg(client_id)
        .push(" AND calls.deleted_at IS NULL");
        match self.statuses.len() {
            0 => {}
            1 => {
                q.push(" AND calls.status = ").push_arg(&self.statuses[0]);
            }
            _ if !sorted_page => {
                q.push(" AND calls.status IN ")
                    .push_list(self.statuses.iter());
            }
            _ => {
                // Several statuses match a large share of calls: walking the newest-first index
                // and filtering beats collecting every match and sorting it (200 ms against 1 ms
                // over a million calls), and `|| ''` keeps the planner off the status index.
                q.push(" AND (calls.status || '') IN ")
                    .push_list(self.statuses.iter());
            }
        }
        if self.live_only {
            q.push(" AND calls.status IN ('initiated', 'ringing', 'answered')");
        }
        if let Some(d) = &self.direction {
            q.push(" AND calls.direction = ").push_arg(d);
        }
        if let Some(t) = self.started_from {
            q.push(" AND calls.started_at >= ").push_arg(t);
        }
        if let Some(t) = self.started_to {
            q.push(" AND calls.started_at <= ").push_arg(t);
        }
        if self.phone_scan && !self.phone_prefixes.is_empty() {
            q.push(" AND (");
            let mut first = true;
            for p in &self.phone_prefixes {
                let n = p.chars().count() as i64;
                for col in ["to_number", "from_number"] {
                    if !first {
                        q.push(" OR ");
                    }
                    first = false;
                    // The length is inlined: PostgreSQL has no substr(text, int, bigint).
                    q.push("substr(calls.")
                        .push(col)
                        .push(&format!(", 1, {n}) = "))
                        .push_arg(p);
                }
            }
            q.push(")");
        } else if !self.phone_prefixes.is_empty() {
            // One index range per prefix and column, united: every number that starts with P
            // sorts in [P, P + ':') since ':' follows '9'. (An OR of the ranges is planned as a
            // scan of the whole client; a union of indexed ranges is a few index lookups.)
            q.push(" AND calls.id IN (");
            self.push_phone_union(q, client_id);
            q.push(")");
        }
        if let Some(u) = self.user_id {
            q.push(" AND calls.user_id = ").push_arg(u);
        }
        if let Some(l) = self.lead_id {
            q.push(" AND calls.lead_id = ").push_arg(l);
        }
        if let Some(a) = &self.agent_number {
            q.push(" AND calls.user_id IN (SELECT id FROM users WHERE agent_id = ")
                .push_arg(a)
                .push(" OR phone_number = ")
                .push_arg(a)
                .push(")");
        }
    }
}

/// A call joined with the names surfaces show.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallRow {
    #[sqlx(flatten)]
    pub call: Call,
    pub lead_name: Option<String>,
    pub lead_phone: Option<String>,
    pub lead_priority: Option<String>,
    pub agent_name: Option<String>,
}

const JOINED: &str = "SELECT {COLUMNS}, leads.name AS lead_name, leads.phone AS lead_phone, leads.priority AS lead_priority, \
    CASE WHEN u.id IS NULL THEN NULL WHEN u.first_name = '' AND u.last_name = '' THEN u.username \
    ELSE TRIM(u.first_name || ' ' || u.last_name) END AS agent_name \
    FROM calls LEFT JOIN leads ON leads.id = calls.lead_id LEFT JOIN users u ON u.id = calls.user_id";

/// A page of calls, newest first, and the total matching.
pub async fn list(
    ex: &mut impl AsExec,
    client_id: i64,
    f: &CallFilter,
    limit: u32,
    offset: u64,
) -> Result<(Vec<CallRow>, u64)> {
    let (rows, total) = list_counted(ex, client_id, f, limit, offset, None).await?;
    Ok((rows, total.n))
}

/// Every call `f` covers, newest first as [`list`] pages them: one query whose rows stream as
/// the database sends them, whatever their number (exports).
pub async fn export<'e>(
    ex: &'e mut impl AsExec,
    client_id: i64,
    f: &CallFilter,
) -> Result<BoxStream<'e, Result<CallRow>>> {
    let f = f.for_listing(&mut *ex, client_id).await?;
    let mut q = sql(&JOINED.replace("{COLUMNS}", COLUMNS));
    f.push_where(&mut q, client_id);
    q.push(" ORDER BY calls.started_at DESC, calls.id DESC");
    Ok(q.fetch(ex))
}

/// How many calls a listing matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    pub n: u64,
    /// `n` is the count cap, and more may match.
    pub at_least: bool,
}

/// Like [`list`], but counting at most `count_cap` matches: over a million calls an exact count
/// on every page costs more than the page itself. With no filter the total is exact on
/// PostgreSQL whatever its size (kept by the database, see [`crate::counters`]).
pub async fn list_counted(
    ex: &mut impl AsExec,
    client_id: i64,
    f: &CallFilter,
    limit: u32,
    offset: u64,
    count_cap: Option<u64>,
) -> Result<(Vec<CallRow>, Total)> {
    let f = &f.for_listing(&mut *ex, client_id).await?;
    let kept = match f.is_empty() {
        true => {
            let backend = ex.backend();
            crate::counters::live_calls(ex, backend, client_id).await?
        }
        false => None,
    };
    let total = match kept {
        Some(n) => Total { n, at_least: false },
        None => {
            let mut count = sql("SELECT COUNT(*) FROM ");
            match count_cap {
                Some(cap) => {
                    count.push("(SELECT 1 FROM calls");
                    f.push_where_aggregate(&mut count, client_id);
                    count
                        .push(" LIMIT ")
                        .push_arg(cap as i64)
                        .push(") AS capped");
                }
                None => {
                    count.push("calls");
                    f.push_where_aggregate(&mut count, client_id);
                }
            }
            let (n,) = count.fetch_one::<(i64,)>(ex).await?;
            let n = n as u64;
            Total {
                n,
                at_least: count_cap.is_some_and(|cap| n >= cap),
            }
        }
    };
    let mut q = sql(&JOINED.replace("{COLUMNS}", COLUMNS));
    f.push_where(&mut q, client_id);
    q.push(" ORDER BY calls.started_at DESC, calls.id DESC LIMIT ")
        .push_arg(i64::from(limit))
        .push(" OFFSET ")
        .push_arg(offset as i64);
    Ok((q.fetch_all(ex).await?, total))
}

/// Counts per status for the calls a filter covers, and their summed talk time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusCounts {
    pub by_status: Vec<(String, i64)>,
    pub total: i64,
    pub total_duration: i64,
}

impl StatusCounts {
    pub fn count(&self, statuses: &[CallStatus]) -> i64 {
        self.by_status
            .iter()
            .filter(|(s, _)| statuses.iter().any(|x| x.as_str() == s))
            .map(|(_, n)| n)
            .sum()
    }
}

pub async fn status_counts(
    ex: &mut impl AsExec,
    client_id: i64,
    f: &CallFilter,
) -> Result<StatusCounts> {
    // All of the client's calls, or all of one person's: from the counts kept as calls change.
    let beyond_person = CallFilter {
        user_id: None,
        ..f.clone()
    };
    if beyond_person.is_empty() {
        let rows = crate::counters::calls_by_user_status(ex, client_id, f.user_id).await?;
        let mut by_status: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for (_, s, n, t) in rows {
            let e = by_status.entry(s).or_default();
            e.0 += n;
            e.1 += t;
        }
        let mut c = StatusCounts::default();
        for (s, (n, t)) in by_status {
            c.total += n;
            c.total_duration += t;
            if n != 0 {
                c.by_status.push((s, n));
            }
        }
        return Ok(c);
    }
    let mut q = sql(
        "SELECT calls.status, COUNT(*), CAST(COALESCE(SUM(calls.duration_secs), 0) AS BIGINT) FROM calls",
    );
    f.push_where_aggregate(&mut q, client_id);
    q.push(" GROUP BY calls.status");
    let rows: Vec<(String, i64, i64)> = q.fetch_all(ex).await?;
    let mut c = StatusCounts::default();
    for (s, n, d) in rows {
        c.total += n;
        c.total_duration += d;
        c.by_status.push((s, n));
    }
    Ok(c)
}

/// Calls that started in each hour of the day (UTC), 0–23, for the calls a filter covers.
pub async fn hourly(
    ex: &mut impl AsExec,
    backend: Backend,
    client_id: i64,
    f: &CallFilter,
) -> Result<Vec<(i64, i64)>> {
    let hour = match backend {
        Backend::Sqlite => "CAST(substr(calls.started_at, 12, 2) AS INTEGER)",
        Backend::Postgres => {
            "CAST(EXTRACT(HOUR FROM calls.started_at AT TIME ZONE 'UTC') AS BIGINT)"
        }
    };
    let mut q = sql(&format!("SELECT {hour} AS h, COUNT(*) FROM calls"));
    f.push_where_aggregate(&mut q, client_id);
    q.push(" GROUP BY h ORDER BY h");
    q.fetch_all(ex).await
}

/// Calls per day (UTC date `YYYY-MM-DD`) with how many were answered.
pub async fn daily(
    ex: &mut impl AsExec,
    backend: Backend,
    client_id: i64,
    f: &CallFilter,
) -> Result<Vec<(String, i64, i64)>> {
    let day = match backend {
        Backend::Sqlite => "substr(calls.started_at, 1, 10)",
        Backend::Postgres => "to_char(calls.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    };
    let mut q = sql(&format!(
        "SELECT {day} AS d, COUNT(*), CAST(SUM(CASE WHEN calls.status IN ('answered', 'completed') THEN 1 ELSE 0 END) AS BIGINT) FROM calls"
    ));
    f.push_where_aggregate(&mut q, client_id);
    q.push(" GROUP BY d ORDER BY d");
    q.fetch_all(ex).await
}

/// Calls per language.
pub async fn by_language(
    ex: &mut impl AsExec,
    client_id: i64,
    f: &CallFilter,
) -> Result<Vec<(Option<String>, i64)>> {
    let mut q = sql("SELECT calls.language, COUNT(*) FROM calls");
    f.push_where_aggregate(&mut q, client_id);
    q.push(" GROUP BY calls.language ORDER BY COUNT(*) DESC");
    q.fetch_all(ex).await
}

/// The provider refused or never took a call we tried to place: the call ends as failed, and its
/// lead goes back to the queue without counting an attempt (nobody was dialed).
pub async fn fail_unplaced(tx: &mut Tx, id: i64, cause: &str) -> Result<()> {
    let t = now();
    let lock = if tx.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let call: Option<Call> = sql(&format!(
        "SELECT {COLUMNS} FROM calls WHERE calls.id = $1{lock}"
    ))
    .arg(id)
    .fetch_optional(tx)
    .await?;
    let Some(call) = call.filter(|c| !c.status().is_final()) else {
        return Ok(());
    };
    sql(
        "UPDATE calls SET status = 'failed', ended_at = $1, hangup_cause = $2, updated_at = $1, slots = 0 \
         WHERE id = $3",
    )
    .arg(t)
    .arg(cause)
    .arg(id)
    .execute(tx)
    .await?;
    let mut freed = Releases::default();
    freed.add(&call);
    freed.flush(tx).await?;
    sql("UPDATE leads SET status = 'pending', updated_at = $1 WHERE id = (SELECT lead_id FROM calls WHERE id = $2) AND status = 'calling'")
        .arg(t)
        .arg(id)
        .execute(tx)
        .await?;
    Ok(())
}
