//! Reports written as one statement (PostgreSQL): a batch on distinct numbers, each named by
//! id, none setting the switch. The statement needs each client's retry rules before it is
//! sent; they are kept here between batches and checked by the statement against the stored
//! ones.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as StdMutex};

use serde_json::Value;
use switchboard_core::dialer::RetryRules;
use switchboard_store::calls::NewCall;
use switchboard_store::dialer;
use switchboard_store::reports::{AttemptReport, RulesUsed};
use switchboard_store::{Backend, Db, JsonColumn, StoreError};

use super::{Number, Report, Reported, attempt_call, attempt_of};
use crate::routes::dialer::default_schedule;

/// Whether `reports` can be written as one statement (see [`write_distinct`]): on PostgreSQL,
/// distinct numbers each named by id, none setting the switch.
pub fn at_once(db: &Db, reports: &[&Report]) -> bool {
    if db.backend() != Backend::Postgres {
        return false;
    }
    let mut ids = HashSet::with_capacity(reports.len());
    reports.iter().all(|r| match r.number {
        Number::Id(id) => r.call_allowed.is_none() && ids.insert(id),
        Number::Phone(_) => false,
    })
}

/// Retry rules as stored (`None`: never set) and as parsed.
type Known = Arc<(Option<JsonColumn<Value>>, RetryRules)>;

/// The retry rules each client's reports were last computed with.
#[derive(Default)]
pub struct Rules(StdMutex<HashMap<i64, Known>>);

/// Reports on distinct leads, each named by id, none setting the switch ([`at_once`]), in one
/// statement on PostgreSQL; answers as [`write_batch`] gives them.
pub async fn write_distinct(
    db: &Db,
    rules: &Rules,
    timezone: &str,
    reports: &[&Report],
) -> Result<Vec<Option<Reported>>, StoreError> {
    let mut out = vec![None; reports.len()];
    let mut todo: Vec<usize> = (0..reports.len()).collect();
    let mut conn = db.write().await?;
    // A client's rules changed since they were read: read them again and write those reports
    // again. Twice more is a race with an admin saving them over and over: those go in a
    // transaction that reads the rules itself.
    for _ in 0..3 {
        let mut used = Vec::new();
        for &i in &todo {
            let client = reports[i].client_id;
            if used.iter().any(|(c, _)| *c == client) {
                continue;
            }
            let known = rules.0.lock().expect("rules").get(&client).cloned();
            let r = match known {
                Some(r) => r,
                None => {
                    let stored = dialer::stored_rules(&mut conn, client).await?;
                    let r = Arc::new((stored.clone(), dialer::rules_of(stored)));
                    rules.0.lock().expect("rules").insert(client, r.clone());
                    r
                }
            };
            used.push((client, r));
        }
        let calls: Vec<NewCall> = todo
            .iter()
            .map(|&i| {
                let Number::Id(id) = reports[i].number else {
                    unreachable!("at_once takes reports by id")
                };
                attempt_call(reports[i], reports[i].client_id, id, "", None)
            })
            .collect();
        let list: Vec<AttemptReport> = todo
            .iter()
            .zip(&calls)
            .map(|(&i, call)| AttemptReport {
                call,
                attempt: attempt_of(reports[i], call.lead_id.unwrap_or_default()),
                notes: reports[i].user_message.as_deref(),
                expect_phone: reports[i].phone_check.as_deref(),
            })
            .collect();
        let given: Vec<RulesUsed> = used
            .iter()
            .map(|(c, r)| RulesUsed {
                client_id: *c,
                stored: r.0.as_ref(),
                rules: &r.1,
            })
            .collect();
        let rows = switchboard_store::reports::write_attempts(&mut conn, &given, &list).await?;
        let mut stale = Vec::new();
        for row in rows {
            let i = todo[row.ord as usize];
            if !row.fresh {
                stale.push(i);
                continue;
            }
            let (call_allowed, schedule_version) = match (row.enabled, row.version) {
                (Some(e), Some(v)) => (e, v),
                _ => {
                    let d = default_schedule(timezone);
                    (d.doc.enabled, d.version)
                }
            };
            out[i] = Some(Reported {
                duplicate: !row.written,
                lead: row.lead,
                call_allowed,
                schedule_version,
            });
        }
        if stale.is_empty() {
            return Ok(out);
        }
        let mut known = rules.0.lock().expect("rules");
        for &i in &stale {
            known.remove(&reports[i].client_id);
        }
        todo = stale;
    }
    let rest: Vec<&Report> = todo.iter().map(|&i| reports[i]).collect();
    for (i, a) in todo
        .into_iter()
        .zip(super::write_batch(db, timezone, &rest).await?)
    {
        out[i] = a;
    }
    Ok(out)
}
