//! Seed 001's available leads: the page read per priority and part, and the total from the
//! kept counts less the leads others hold, against a plain query of the rows; and the leads a
//! person holds (the operator dashboard's `assignedLeads`).

use switchboard_core::Priority;
use switchboard_store::import::ImportOptions;
use switchboard_store::leads::{self, Available};
use switchboard_store::{Db, clients, sql};

both!(available_and_held_leads_match_a_plain_query);

/// Ids of the leads `a` covers, most urgent first and then by id, counted from the rows.
async fn want(db: &Db, a: &Available) -> Vec<i64> {
    let mut q = sql(
        "SELECT id, priority FROM leads WHERE client_id = $1 AND status = 'pending' \
         AND deleted_at IS NULL AND (assigned_user_id IS NULL OR assigned_user_id = $2)",
    )
    .arg(a.client_id)
    .arg(a.user_id);
    if !a.priorities.is_empty() {
        q.push(" AND priority IN ")
            .push_list(a.priorities.iter().map(|p| p.as_str()));
    }
    let rows: Vec<(i64, String)> = db.fetch_all(q).await.unwrap();
    let mut rows: Vec<(i64, i64)> = rows
        .into_iter()
        .map(|(id, p)| (Priority::parse(&p).unwrap().rank(), id))
        .collect();
    rows.sort_unstable();
    rows.into_iter().map(|(_, id)| id).collect()
}

/// Ids of the open leads `user` holds in `client`, newest change first, from the rows.
async fn held(db: &Db, client: i64, user: i64) -> Vec<i64> {
    let rows: Vec<(i64,)> = db
        .fetch_all(
            sql(
                "SELECT id FROM leads WHERE client_id = $1 AND assigned_user_id = $2 \
                 AND status IN ('pending', 'claimed', 'calling') AND deleted_at IS NULL \
                 ORDER BY updated_at DESC, id DESC",
            )
            .arg(client)
            .arg(user),
        )
        .await
        .unwrap();
    rows.into_iter().map(|(id,)| id).collect()
}

async fn check(db: &Db, asks: &[Available], step: &str) {
    let mut rd = db.read().await.unwrap();
    for a in asks {
        let all_held = held(db, a.client_id, a.user_id).await;
        for limit in [5u32, 100] {
            let got: Vec<i64> = leads::held_by(&mut rd, a.client_id, a.user_id, limit)
                .await
                .unwrap()
                .iter()
                .map(|l| l.id)
                .collect();
            let n = all_held.len().min(limit as usize);
            assert_eq!(
                got,
                all_held[..n],
                "held by {a:?}, limit {limit}, after {step}"
            );
        }
        let all = want(db, a).await;
        let total = a.total(&mut rd).await.unwrap();
        assert_eq!(total, all.len() as u64, "{a:?} after {step}");
        for limit in [7u32, 50] {
            for offset in (0..=all.len() as u64 + 7).step_by(limit as usize) {
                let page: Vec<i64> = a
                    .page(&mut rd, limit, offset)
                    .await
                    .unwrap()
                    .iter()
                    .map(|l| l.id)
                    .collect();
                let end = (offset as usize + limit as usize).min(all.len());
                let expected = all.get(offset as usize..end).unwrap_or(&[]);
                assert_eq!(
                    page, expected,
                    "{a:?}, limit {limit}, offset {offset}, after {step}"
                );
            }
        }
    }
}

/// Leads of every priority, fresh and waiting for a retry, held by nobody, by the caller and
/// by someone else, of two clients, through status changes, holds, releases, deletes and a
/// rolled-back transaction, with the kept counts folded every other step.
pub(super) async fn available_and_held_leads_match_a_plain_query(db: Db, client: i64) {
    let mut tx = db.begin().await.unwrap();
    let other = clients::create(&mut tx, "Other", 10, None)
        .await
        .unwrap()
        .id;
    let mut people = Vec::new();
    for (c, name) in [(client, "me"), (client, "colleague"), (other, "stranger")] {
        people.push(crate::operator(&mut tx, c, name).await);
    }
    tx.commit().await.unwrap();
    let (me, colleague, stranger) = (people[0], people[1], people[2]);
    for (k, c) in [client, other].into_iter().enumerate() {
        let mut csv = String::from("phone,priority\n");
        for i in 0..160 {
            let p = Priority::ALL[(i * 7 + k) % 4].as_str();
            csv.push_str(&format!("+1415{:07},{p}\n", 4_000_000 + i + k * 1000));
        }
        crate::import(&db, csv.into_bytes(), ImportOptions::new(c))
            .await
            .unwrap();
    }
    let asks: Vec<Available> = [
        (client, me, vec![]),
        (client, colleague, vec![]),
        (client, me, vec![Priority::High]),
        (client, colleague, vec![Priority::Low, Priority::Urgent]),
        (other, stranger, vec![]),
        // Someone of another client: holds nothing there.
        (other, me, vec![]),
    ]
    .into_iter()
    .map(|(client_id, user_id, priorities)| Available {
        client_id,
        user_id,
        priorities,
    })
    .collect();
    // Some leads changed later than the rest: held leads come newest change first.
    let mut tx = db.begin().await.unwrap();
    sql("UPDATE leads SET updated_at = $1 WHERE id % 11 = 1")
        .arg(switchboard_store::now() + std::time::Duration::from_secs(3600))
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    check(&db, &asks, "imports").await;
    let steps = [
        (
            "called",
            "UPDATE leads SET status = 'answered' WHERE id % 5 = 0".to_string(),
        ),
        (
            "waiting for a retry",
            "UPDATE leads SET next_attempt_at = updated_at WHERE id % 3 = 0".to_string(),
        ),
        (
            "held by the caller",
            format!(
                "UPDATE leads SET assigned_user_id = {me} WHERE id % 4 = 1 AND client_id = {client}"
            ),
        ),
        (
            "held by a colleague",
            format!(
                "UPDATE leads SET assigned_user_id = {colleague} WHERE id % 6 = 2 AND client_id = {client}"
            ),
        ),
        (
            "claimed",
            format!(
                "UPDATE leads SET status = 'claimed', assigned_user_id = {me} WHERE id % 9 = 4 AND client_id = {client}"
            ),
        ),
        (
            "reprioritized",
            "UPDATE leads SET priority = 'urgent' WHERE id % 8 = 3".to_string(),
        ),
        (
            "soft deleted",
            "UPDATE leads SET deleted_at = updated_at WHERE id % 7 = 0".to_string(),
        ),
        (
            "released",
            "UPDATE leads SET assigned_user_id = NULL WHERE id % 12 = 2".to_string(),
        ),
        (
            "retried and back",
            "UPDATE leads SET status = 'pending' WHERE status = 'answered' AND id % 10 = 0"
                .to_string(),
        ),
        (
            "a rollback",
            "UPDATE leads SET status = 'failed'".to_string(),
        ),
    ];
    let (d, a) = (&db, &asks);
    crate::counted_steps(
        &db,
        steps.iter().map(|(s, q)| (*s, q.as_str())),
        |step| async move { check(d, a, &step).await },
    )
    .await;
}
