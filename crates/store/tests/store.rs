//! Store tests: each runs on a SQLite file and on PostgreSQL.

use switchboard_core::PhoneNormalizer;
use switchboard_store::import::{ImportError, ImportOptions, import_csv};
use switchboard_store::leads::{self, LeadFilter, LeadSort, NewLead};
use switchboard_store::testing::{TestBackend, fresh_db};
use switchboard_store::users::{self, NewUser};
use switchboard_store::{Db, StoreError, clients, sql};

macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use switchboard_store::testing::TestBackend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { crate::run(TestBackend::Sqlite, super::$name).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { crate::run(TestBackend::Postgres, super::$name).await }
        }
    )*};
}

/// Run each step's statement in a transaction of its own and `check` after it, and after a
/// fold of the kept counts every other step; the last step is rolled back instead.
pub(crate) async fn counted_steps<'a, F, Fut>(
    db: &Db,
    steps: impl Iterator<Item = (&'a str, &'a str)>,
    check: F,
) where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut steps = steps.peekable();
    let mut k = 0;
    while let Some((step, stmt)) = steps.next() {
        let mut tx = db.begin().await.unwrap();
        sql(stmt).execute(&mut tx).await.unwrap();
        if steps.peek().is_none() {
            drop(tx); // rolled back
            check(step.to_string()).await;
            return;
        }
        tx.commit().await.unwrap();
        check(step.to_string()).await;
        if k % 2 == 0 {
            switchboard_store::counters::fold(db).await.unwrap();
            check(format!("{step}, folded")).await;
        }
        k += 1;
    }
}

/// A new operator of `client` named `name`; their id.
pub(crate) async fn operator(tx: &mut switchboard_store::Tx, client: i64, name: &str) -> i64 {
    users::create(
        tx,
        &NewUser {
            client_id: client,
            username: name.into(),
            password_hash: "h".into(),
            role: "operator".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

pub(crate) async fn run<F, Fut>(backend: TestBackend, f: F)
where
    F: FnOnce(Db, i64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(t) = fresh_db(backend).await else {
        return;
    };
    let mut tx = t.db.begin().await.unwrap();
    let client = clients::create(&mut tx, "Test", 10, None).await.unwrap();
    tx.commit().await.unwrap();
    f(t.db.clone(), client.id).await;
}

both!(
    timestamps_round_trip_exactly,
    unique_violations_are_conflicts,
    rolled_back_transactions_leave_nothing,
    import_counts_duplicates_and_errors,
    import_refuses_non_csv,
    import_ignores_nothing_but_duplicates,
    import_in_sessions_keeps_the_file_order,
    large_imports_refresh_the_planner_statistics,
    lists_count_page_and_delete_their_live_and_deleted_leads,
    list_deletions_clear_many_leads_and_finish_after_a_stop,
    checks_accept_every_value_and_refuse_others,
    tag_and_text_filters,
    text_with_nul_is_refused_alike,
    presence_is_read_across_instances,
    presence_flips_once_across_instances,
    sign_in_failures_are_bounded_even_all_at_once,
    webhook_deliveries_are_leased_retried_and_given_up,
    call_back_reminders_are_taken_once_when_due
);

/// A call back's reminder is taken when due, once, however many take at once; one changed,
/// dropped, called already or deleted before it is due is not told.
async fn call_back_reminders_are_taken_once_when_due(db: Db, client: i64) {
    use switchboard_store::callbacks;
    let t0 = switchboard_store::now();
    let at = |mins: i64| t0 + chrono::Duration::minutes(mins);
    let callback = |when: Option<chrono::DateTime<chrono::Utc>>| leads::LeadPatch {
        callback_at: Some(when),
        ..Default::default()
    };
    let mut tx = db.begin().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..6 {
        let l = lead(&mut tx, client, &format!("+1415555{:04}", 300 + i)).await;
        leads::update(&mut tx, client, l.id, &callback(Some(at(10 + i))))
            .await
            .unwrap();
        ids.push(l.id);
    }
    // Moved later, dropped, called already, deleted.
    leads::update(&mut tx, client, ids[1], &callback(Some(at(60))))
        .await
        .unwrap();
    leads::update(&mut tx, client, ids[2], &callback(None))
        .await
        .unwrap();
    sql("UPDATE leads SET status = 'calling' WHERE id = $1")
        .arg(ids[3])
        .execute(&mut tx)
        .await
        .unwrap();
    leads::soft_delete(&mut tx, client, ids[4]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        callbacks::count(&mut db.read().await.unwrap())
            .await
            .unwrap(),
        5
    );

    let none = callbacks::take_due(&db, at(9), 100).await.unwrap();
    assert_eq!((none.reminders, none.leads.len()), (0, 0));
    // Four taken at 30 minutes (ids 0, 3, 4, 5); two of them still wait for their call back.
    let (a, b) = tokio::join!(
        callbacks::take_due(&db, at(30), 100),
        callbacks::take_due(&db, at(30), 100)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.reminders + b.reminders, 4);
    let mut told: Vec<i64> = a.leads.iter().chain(&b.leads).map(|d| d.lead.id).collect();
    told.sort();
    assert_eq!(told, [ids[0], ids[5]]);
    let again = callbacks::take_due(&db, at(30), 100).await.unwrap();
    assert_eq!(again.reminders, 0);
    // The one moved comes due at its new time, with it.
    let later = callbacks::take_due(&db, at(61), 100).await.unwrap();
    assert_eq!(later.leads.len(), 1);
    assert_eq!(later.leads[0].lead.id, ids[1]);
    assert_eq!(later.leads[0].lead.callback_at(), Some(at(60)));
    assert_eq!(later.leads[0].agent(), None, "nobody's lead");
    assert_eq!(
        callbacks::count(&mut db.read().await.unwrap())
            .await
            .unwrap(),
        0
    );
}

/// A delivery is taken by one sender at a time (a lease), comes back after a refusal at its
/// retry time, is given up on without one, and a deleted webhook's owed deliveries end.
async fn webhook_deliveries_are_leased_retried_and_given_up(db: Db, client: i64) {
    use switchboard_store::webhooks::{self, NewWebhook, Outcome, Owed};
    let events = vec!["*".to_string()];
    let mut tx = db.begin().await.unwrap();
    let (hook, secret) = webhooks::create(
        &mut tx,
        &NewWebhook {
            client_id: client,
            url: "https://crm.example.com/in",
            events: &events,
            description: None,
            created_by: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let owed = |n: usize| Owed {
        webhook_id: hook.id,
        event: "call_initiated".into(),
        body: format!("{{\"n\":{n}}}"),
    };
    webhooks::enqueue(&db, &[owed(1), owed(2), owed(3)])
        .await
        .unwrap();
    assert_eq!(webhooks::owed(&db).await.unwrap(), 3);
    let now = switchboard_store::now() + chrono::Duration::seconds(1);
    let lease = chrono::Duration::seconds(60);
    // Two senders at once: each delivery goes to one of them.
    let (a, b) = tokio::join!(
        webhooks::claim_due(&db, now, lease, 2),
        webhooks::claim_due(&db, now, lease, 2)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut ids: Vec<i64> = a.iter().chain(&b).map(|d| d.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((a.len() + b.len(), ids.len()), (3, 3));
    assert!(
        a.iter()
            .chain(&b)
            .all(|d| d.secret == secret && d.attempts == 0)
    );
    // Leased: nothing more until the lease ends (the sender died).
    assert!(
        webhooks::claim_due(&db, now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let after_lease = now + lease + chrono::Duration::seconds(1);
    assert_eq!(
        webhooks::claim_due(&db, after_lease, lease, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    // One taken, one refused with a retry, one given up on.
    let retry_at = after_lease + chrono::Duration::seconds(30);
    let outcomes = [
        Outcome::Delivered { status: 200 },
        Outcome::Refused {
            status: Some(500),
            error: "answered HTTP 500".into(),
            retry_at: Some(retry_at),
        },
        Outcome::Refused {
            status: None,
            error: "could not connect".into(),
            retry_at: None,
        },
    ];
    let recorded: Vec<_> = ids.iter().copied().zip(outcomes).collect();
    webhooks::attempted(&db, &recorded).await.unwrap();
    assert!(
        webhooks::claim_due(&db, retry_at - chrono::Duration::seconds(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = webhooks::claim_due(&db, retry_at, lease, 10).await.unwrap();
    assert_eq!(
        again.iter().map(|d| (d.id, d.attempts)).collect::<Vec<_>>(),
        [(ids[1], 1)]
    );
    let listed = webhooks::deliveries(&db, hook.id, 10).await.unwrap();
    let by_id = |id: i64| listed.iter().find(|d| d.id == id).unwrap();
    assert!(by_id(ids[0]).delivered_at.is_some() && by_id(ids[0]).last_status == Some(200));
    assert!(
        by_id(ids[2]).failed_at.is_some()
            && by_id(ids[2]).last_error.as_deref() == Some("could not connect")
    );
    // Deleted: what it was owed ends, and is not taken again.
    let mut tx = db.begin().await.unwrap();
    assert!(webhooks::delete(&mut tx, client, hook.id).await.unwrap());
    assert!(
        !webhooks::delete(&mut tx, client + 1, hook.id)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    // The retry taken before the deletion comes back refused: it stays ended.
    let refused = Outcome::Refused {
        status: Some(500),
        error: "answered HTTP 500".into(),
        retry_at: Some(retry_at + lease),
    };
    webhooks::attempted(&db, &[(ids[1], refused)])
        .await
        .unwrap();
    // A delivery recorded by an instance that had not heard of the deletion yet.
    webhooks::enqueue(&db, &[owed(4)]).await.unwrap();
    let far = retry_at + chrono::Duration::days(1);
    assert!(
        webhooks::claim_due(&db, far, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(webhooks::all_live(&db).await.unwrap().is_empty());
    let listed = webhooks::deliveries(&db, hook.id, 10).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(
        webhooks::owed(&db).await.unwrap(),
        1,
        "the late one, until the sweep"
    );
    assert!(
        listed
            .iter()
            .skip(1)
            .all(|d| d.delivered_at.is_some() || d.failed_at.is_some())
    );
    assert!(
        listed[0].failed_at.is_none(),
        "the late one is ended by the sweep"
    );
    assert_eq!(webhooks::forget_done_before(&db, far).await.unwrap(), 4);
}

/// Attempts are let through up to each key's bound within the window: under an at-once key
/// (a login) all at once as well as in turn, under another (an address) as failures are known,
/// so many logins at once from one address pass. A refused attempt writes nothing and is told
/// when there is room again; success takes its own rows and the forgiven key's back; old
/// failures stop counting and are forgotten.
async fn sign_in_failures_are_bounded_even_all_at_once(db: Db, _client: i64) {
    use switchboard_store::sign_ins::{self, Bound};
    let window = chrono::Duration::minutes(15);
    let now = switchboard_store::now();
    let bounds = |login: &str| {
        [
            Bound {
                key: format!("login:{login}"),
                limit: 3,
                at_once: true,
            },
            Bound {
                key: "address".into(),
                limit: 10,
                at_once: false,
            },
        ]
    };
    let count = |key: &'static str| sign_ins::count(&db, key, now - window);
    // Twenty logins at once from one address: all through (no failure is known yet).
    let many: Vec<_> = (0..20).map(|i| bounds(&format!("office{i}"))).collect();
    let tries = many.iter().map(|b| sign_ins::begin(&db, b, window, now));
    let office = futures_util::future::join_all(tries).await;
    assert!(office.iter().all(|r| matches!(r, Ok(Ok(_)))));
    for a in office {
        sign_ins::succeeded(&db, a.unwrap().unwrap(), &[])
            .await
            .unwrap();
    }
    // Ten at once for one login: three through.
    let b = bounds("ann");
    let tries = (0..10).map(|_| sign_ins::begin(&db, &b, window, now));
    let results = futures_util::future::join_all(tries).await;
    let through: Vec<_> = results
        .into_iter()
        .map(Result::unwrap)
        .filter_map(Result::ok)
        .collect();
    assert_eq!(through.len(), 3);
    assert_eq!(count("login:ann").await.unwrap(), 3);
    assert_eq!(count("address").await.unwrap(), 0);
    // They fail: the address counts them now.
    for a in through {
        sign_ins::failed(&db, a, now).await.unwrap();
    }
    assert_eq!(count("address").await.unwrap(), 3);
    // Refused until the oldest of the three leaves the window; nothing written.
    let until = sign_ins::begin(&db, &b, window, now)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(until, now + window);
    assert_eq!(count("login:ann").await.unwrap(), 3);
    // Once they are older than the window, room again.
    let later = now + window + chrono::Duration::seconds(1);
    let a = sign_ins::begin(&db, &b, window, later)
        .await
        .unwrap()
        .unwrap();
    // Success: this attempt and ann's count go; the address keeps its three.
    sign_ins::succeeded(&db, a, &["login:ann"]).await.unwrap();
    assert_eq!(count("login:ann").await.unwrap(), 0);
    assert_eq!(count("address").await.unwrap(), 3);
    // The address's own bound: seven more failures on other logins, then any login is refused.
    for i in 0..7 {
        let a = sign_ins::begin(&db, &bounds(&format!("x{i}")), window, now)
            .await
            .unwrap()
            .unwrap();
        sign_ins::failed(&db, a, now).await.unwrap();
    }
    assert!(
        sign_ins::begin(&db, &bounds("new"), window, now)
            .await
            .unwrap()
            .is_err()
    );
    assert_eq!(count("login:new").await.unwrap(), 0);
    // Forgetting what is older than a cutoff.
    assert_eq!(
        sign_ins::forget_before(&db, now + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        10 + 7,
        "the address's ten, and one per other login"
    );
    assert_eq!(count("address").await.unwrap(), 0);
}

/// A person's shared state flips once per change, whoever asks: online when first marked,
/// offline only when no instance has a fresh row of theirs; those marked online with only
/// stale rows are found gone.
async fn presence_flips_once_across_instances(db: Db, client: i64) {
    use switchboard_store::presence::{self, Here};
    let mut tx = db.begin().await.unwrap();
    let ann = operator(&mut tx, client, "ann").await;
    let bob = operator(&mut tx, client, "bob").await;
    tx.commit().await.unwrap();
    let now = switchboard_store::now();
    let fresh = now - chrono::Duration::seconds(30);
    let on = |n| Here {
        user_id: ann,
        client_id: client,
        connections: n,
    };
    // Ann connects on two instances: the first to mark her online announces it.
    presence::replace(&db, "a", &[on(1)], now).await.unwrap();
    assert!(presence::mark_online(&db, ann, client, now).await.unwrap());
    presence::replace(&db, "b", &[on(2)], now).await.unwrap();
    assert!(!presence::mark_online(&db, ann, client, now).await.unwrap());
    // She leaves "a": still on "b", so not offline.
    presence::replace(&db, "a", &[], now).await.unwrap();
    assert!(
        !presence::mark_offline_if_gone(&db, ann, fresh, now)
            .await
            .unwrap()
    );
    // She leaves "b" too: offline, once.
    presence::replace(&db, "b", &[], now).await.unwrap();
    assert!(
        presence::mark_offline_if_gone(&db, ann, fresh, now)
            .await
            .unwrap()
    );
    assert!(
        !presence::mark_offline_if_gone(&db, ann, fresh, now)
            .await
            .unwrap()
    );
    // Someone never marked online is never marked offline.
    assert!(
        !presence::mark_offline_if_gone(&db, bob, fresh, now)
            .await
            .unwrap()
    );
    // Back again: online again.
    presence::replace(&db, "a", &[on(1)], now).await.unwrap();
    assert!(presence::mark_online(&db, ann, client, now).await.unwrap());
    let mut rd = db.read().await.unwrap();
    assert_eq!(presence::gone(&mut rd, fresh).await.unwrap(), []);
    drop(rd);
    // Her instance dies: its row goes stale, and she is found gone, then marked offline.
    presence::replace(&db, "a", &[on(1)], now - chrono::Duration::seconds(60))
        .await
        .unwrap();
    let mut rd = db.read().await.unwrap();
    assert_eq!(
        presence::gone(&mut rd, fresh).await.unwrap(),
        [(ann, client)]
    );
    drop(rd);
    assert!(
        presence::mark_offline_if_gone(&db, ann, fresh, now)
            .await
            .unwrap()
    );
    let mut rd = db.read().await.unwrap();
    assert_eq!(presence::gone(&mut rd, fresh).await.unwrap(), []);
}

/// Each instance's rows replace its last ones; readers take the other instances' fresh rows,
/// summed per person, of one client; rows an hour old are removed.
async fn presence_is_read_across_instances(db: Db, client: i64) {
    use switchboard_store::presence::{self, Here};
    let mut tx = db.begin().await.unwrap();
    let ann = operator(&mut tx, client, "ann").await;
    let bob = operator(&mut tx, client, "bob").await;
    let other = clients::create(&mut tx, "Other", 10, None)
        .await
        .unwrap()
        .id;
    let eve = operator(&mut tx, other, "eve").await;
    tx.commit().await.unwrap();
    let here = |user_id, client_id, connections| Here {
        user_id,
        client_id,
        connections,
    };
    let now = switchboard_store::now();
    let fresh = now - chrono::Duration::seconds(30);
    presence::replace(&db, "a", &[here(ann, client, 2)], now)
        .await
        .unwrap();
    presence::replace(
        &db,
        "b",
        &[
            here(ann, client, 1),
            here(bob, client, 1),
            here(eve, other, 4),
        ],
        now,
    )
    .await
    .unwrap();
    // A dead instance's rows, a minute old: not counted.
    presence::replace(
        &db,
        "dead",
        &[here(bob, client, 5)],
        now - chrono::Duration::seconds(60),
    )
    .await
    .unwrap();
    let seen = |rows: Vec<presence::Elsewhere>| {
        let mut v: Vec<(String, i64)> = rows
            .into_iter()
            .map(|r| (r.username, r.connections))
            .collect();
        v.sort();
        v
    };
    let mut rd = db.read().await.unwrap();
    let from_a = presence::elsewhere(&mut rd, client, "a", fresh)
        .await
        .unwrap();
    assert_eq!(seen(from_a), [("ann".into(), 1), ("bob".into(), 1)]);
    let from_b = presence::elsewhere(&mut rd, client, "b", fresh)
        .await
        .unwrap();
    assert_eq!(seen(from_b), [("ann".to_string(), 2)]);
    let from_c = presence::elsewhere(&mut rd, client, "c", fresh)
        .await
        .unwrap();
    assert_eq!(
        seen(from_c),
        [("ann".into(), 3), ("bob".into(), 1)],
        "summed over instances"
    );
    assert_eq!(
        presence::connections_elsewhere(&mut rd, "a", fresh)
            .await
            .unwrap(),
        6
    );
    drop(rd);

    // An instance's new rows replace its old ones; an empty set takes them all away.
    presence::replace(&db, "b", &[], now).await.unwrap();
    let mut rd = db.read().await.unwrap();
    assert_eq!(
        seen(
            presence::elsewhere(&mut rd, client, "a", fresh)
                .await
                .unwrap()
        ),
        []
    );
    assert_eq!(
        presence::connections_elsewhere(&mut rd, "a", fresh)
            .await
            .unwrap(),
        0
    );
    drop(rd);

    // Rows an hour old go at the next write of any instance.
    presence::replace(
        &db,
        "a",
        &[here(ann, client, 1)],
        now + chrono::Duration::minutes(61),
    )
    .await
    .unwrap();
    let (n,): (i64,) = sql("SELECT COUNT(*) FROM presence")
        .fetch_one(&mut db.read().await.unwrap())
        .await
        .unwrap();
    assert_eq!(n, 1, "only the instance's own new row is left");
}

/// PostgreSQL stores no NUL in text or `jsonb`; the store refuses it before either database
/// sees it, as an invalid value (a 400 at the API), and writes nothing.
async fn text_with_nul_is_refused_alike(db: Db, client: i64) {
    let mut tx = db.begin().await.unwrap();
    let err = leads::create(
        &mut tx,
        client,
        &NewLead {
            phone: "+14155550500".into(),
            name: Some("a\0b".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("NUL")),
        "{err:?}"
    );
    for v in [
        serde_json::json!({"k": "a\u{0}"}),
        serde_json::json!({"k\u{0}": 1}),
        serde_json::json!([[1, "\u{0}"]]),
    ] {
        let err = sql("SELECT $1 IS NULL")
            .arg(switchboard_store::Arg::Json(Some(v.clone())))
            .execute(&mut tx)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{v}: {err:?}");
    }
    drop(tx);
    let mut conn = db.read().await.unwrap();
    let (n,): (i64,) = sql("SELECT COUNT(*) FROM leads WHERE client_id = $1")
        .arg(client)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

async fn timestamps_round_trip_exactly(db: Db, client: i64) {
    let mut tx = db.begin().await.unwrap();
    let lead = leads::create(
        &mut tx,
        client,
        &NewLead {
            phone: "+14155550100".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let back = leads::get(&mut db.read().await.unwrap(), client, lead.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.created_at, lead.created_at);
    assert_eq!(back.created_at.timezone(), chrono::Utc);
    // Range comparisons agree with the values written (SQLite keeps them as text).
    let f = LeadFilter {
        created_from: Some(lead.created_at),
        created_to: Some(lead.created_at),
        ..Default::default()
    };
    let (rows, total) = leads::list(&db, client, &f, &LeadSort::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    let f = LeadFilter {
        created_from: Some(lead.created_at + chrono::Duration::microseconds(1)),
        ..Default::default()
    };
    assert_eq!(
        leads::list(&db, client, &f, &LeadSort::default(), 10, 0)
            .await
            .unwrap()
            .1,
        0
    );
}

async fn unique_violations_are_conflicts(db: Db, client: i64) {
    let user = NewUser {
        client_id: client,
        username: "Ann".into(),
        email: Some("ann@x.io".into()),
        password_hash: "h".into(),
        role: "operator".into(),
        ..Default::default()
    };
    let mut tx = db.begin().await.unwrap();
    users::create(&mut tx, &user).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let err = users::create(
        &mut tx,
        &NewUser {
            email: None,
            ..user.clone()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(w) if w == "username"),
        "{err:?}"
    );
    drop(tx);
    let mut tx = db.begin().await.unwrap();
    let err = users::create(
        &mut tx,
        &NewUser {
            username: "bob".into(),
            email: Some("ANN@x.io".into()),
            ..user
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(w) if w == "email"),
        "{err:?}"
    );
    drop(tx);
    let mut tx = db.begin().await.unwrap();
    leads::create(
        &mut tx,
        client,
        &NewLead {
            phone: "+14155550100".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let err = leads::create(
        &mut tx,
        client,
        &NewLead {
            phone: "+14155550100".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(_)), "{err:?}");
}

async fn rolled_back_transactions_leave_nothing(db: Db, client: i64) {
    {
        let mut tx = db.begin().await.unwrap();
        leads::create(
            &mut tx,
            client,
            &NewLead {
                phone: "+14155550101".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // dropped without commit
    }
    let (n,): (i64,) = db
        .fetch_one(sql("SELECT COUNT(*) FROM leads"))
        .await
        .unwrap();
    assert_eq!(n, 0);
}

fn phones() -> PhoneNormalizer {
    PhoneNormalizer::new(Some("US")).unwrap()
}

/// `import_csv` of `csv` with the test phone settings and no progress callback.
async fn import(
    db: &Db,
    csv: impl Into<Vec<u8>>,
    o: ImportOptions,
) -> Result<switchboard_store::import::ImportReport, ImportError> {
    import_csv(db, std::io::Cursor::new(csv.into()), phones(), o, |_| {}).await
}

/// After 10,000 leads or more, the planner's statistics describe the grown table at once
/// (not at the next hourly refresh or autovacuum visit).
async fn large_imports_refresh_the_planner_statistics(db: Db, client: i64) {
    let stats = |db: Db| async move {
        let q = if db.backend() == switchboard_store::Backend::Sqlite {
            "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'leads' AND stat NOT LIKE '0%'"
        } else {
            "SELECT COUNT(*) FROM pg_stat_user_tables \
             WHERE relid = 'leads'::regclass AND last_analyze IS NOT NULL"
        };
        db.fetch_one::<(i64,)>(sql(q)).await.unwrap().0
    };
    let mut csv = String::from("phone\n");
    for i in 0..9_999 {
        csv.push_str(&format!("+1415{:07}\n", 5_000_000 + i));
    }
    import(&db, csv.into_bytes(), ImportOptions::new(client))
        .await
        .unwrap();
    // SQLite: a read connection that has planned a query before the refresh. A connection reads
    // the statistics once, with the schema (so `sqlite_stat1` must exist already: creating it
    // would make every connection read the schema again).
    if db.backend() == switchboard_store::Backend::Sqlite {
        sql("ANALYZE clients")
            .execute(&mut db.write().await.unwrap())
            .await
            .unwrap();
        let before = held_leads_plan(&db, client).await;
        assert!(before.contains("leads_client_status_idx"), "{before}");
        // (PostgreSQL's autovacuum, where it runs, may have come by.)
        assert_eq!(
            stats(db.clone()).await,
            0,
            "9,999 leads leave the statistics alone"
        );
    }
    let mut csv = String::from("phone\n");
    for i in 0..10_000 {
        csv.push_str(&format!("+1415{:07}\n", 6_000_000 + i));
    }
    import(&db, csv.into_bytes(), ImportOptions::new(client))
        .await
        .unwrap();
    let after = stats(db.clone()).await;
    assert!(after > 0, "statistics of the 19,999 leads: {after}");
    if db.backend() == switchboard_store::Backend::Sqlite {
        // The connection that planned before is not handed out again: the held leads are read
        // through the index of assigned leads, not through all 19,999 pending ones.
        let now = held_leads_plan(&db, client).await;
        assert!(now.contains("leads_assigned_idx"), "{now}");
    }
}

/// A list's count and its leads' pages (both read from the list's index) against a plain query,
/// with some of its leads soft-deleted and another client's list beside it; deleting the list
/// clears every lead's list, the deleted ones' too (its foreign key would refuse otherwise).
async fn lists_count_page_and_delete_their_live_and_deleted_leads(db: Db, client: i64) {
    let mut tx = db.begin().await.unwrap();
    let other = clients::create(&mut tx, "Other", 10, None)
        .await
        .unwrap()
        .id;
    let list = switchboard_store::lists::create(&mut tx, client, "Big", None)
        .await
        .unwrap()
        .id;
    let theirs = switchboard_store::lists::create(&mut tx, other, "Big", None)
        .await
        .unwrap()
        .id;
    tx.commit().await.unwrap();
    for (c, l, from) in [
        (client, Some(list), 0),
        (client, None, 100),
        (other, Some(theirs), 200),
    ] {
        let mut csv = String::from("phone,name\n");
        for i in 0..40 {
            csv.push_str(&format!("+1415{:07},n{}\n", 8_000_000 + from + i, 39 - i));
        }
        let mut o = ImportOptions::new(c);
        o.list_id = l;
        import(&db, csv.into_bytes(), o).await.unwrap();
    }
    // Leads changed at different times, and some soft-deleted.
    let mut tx = db.begin().await.unwrap();
    sql("UPDATE leads SET created_at = $1 WHERE id % 3 = 0")
        .arg(switchboard_store::now() + std::time::Duration::from_secs(60))
        .execute(&mut tx)
        .await
        .unwrap();
    sql("UPDATE leads SET deleted_at = created_at WHERE id % 5 = 0")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let want = |order: &'static str| {
        let db = db.clone();
        async move {
            let rows: Vec<(i64,)> = db
                .fetch_all(
                    sql(&format!(
                        "SELECT id FROM leads WHERE client_id = $1 AND list_id = $2 \
                         AND deleted_at IS NULL ORDER BY {order}"
                    ))
                    .arg(client)
                    .arg(list),
                )
                .await
                .unwrap();
            rows.into_iter().map(|(id,)| id).collect::<Vec<i64>>()
        }
    };
    let live = want("created_at DESC, id DESC").await;
    assert_eq!(live.len(), 32, "40 less the 8 deleted");
    let got = switchboard_store::lists::get(&db, client, list)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.lead_count, 32);
    let f = LeadFilter {
        list_id: Some(list),
        ..Default::default()
    };
    for (sort, order) in [
        (LeadSort::default(), "created_at DESC, id DESC"),
        (
            LeadSort::parse(Some("created_at"), Some("asc")).unwrap(),
            "created_at ASC, id ASC",
        ),
        (
            LeadSort::parse(Some("name"), Some("asc")).unwrap(),
            "name ASC, id ASC",
        ),
    ] {
        let all = want(order).await;
        for offset in [0u64, 7, 30] {
            let (rows, total) = leads::list(&db, client, &f, &sort, 7, offset)
                .await
                .unwrap();
            assert_eq!(total, 32);
            let ids: Vec<i64> = rows.iter().map(|l| l.id).collect();
            let end = (offset as usize + 7).min(all.len());
            assert_eq!(ids, all[offset as usize..end], "{order}, offset {offset}");
        }
    }
    // Another client's list of the same name is not this one.
    assert!(
        switchboard_store::lists::get(&db, client, theirs)
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        switchboard_store::lists::delete(&db, client, list)
            .await
            .unwrap()
    );
    let (left,): (i64,) = db
        .fetch_one(sql("SELECT COUNT(*) FROM leads WHERE list_id = $1").arg(list))
        .await
        .unwrap();
    assert_eq!(left, 0, "no lead, live or deleted, keeps the list");
    let (kept,): (i64,) = db
        .fetch_one(
            sql("SELECT COUNT(*) FROM leads WHERE client_id = $1 AND list_id IS NULL").arg(client),
        )
        .await
        .unwrap();
    assert_eq!(kept, 80, "the leads stay");
    let theirs_now = switchboard_store::lists::get(&db, other, theirs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs_now.lead_count, 32);
}

/// A list of more leads than one batch clears loses every one of them, and the campaign made
/// from it keeps its contacts; a list left marked by a server stopped mid-deletion is hidden,
/// refuses new leads and keeps its name until `finish_deletions` ends what was begun.
async fn list_deletions_clear_many_leads_and_finish_after_a_stop(db: Db, client: i64) {
    use switchboard_store::lists;
    let mut tx = db.begin().await.unwrap();
    let big = lists::create(&mut tx, client, "Big", None)
        .await
        .unwrap()
        .id;
    let left = lists::create(&mut tx, client, "Left", None)
        .await
        .unwrap()
        .id;
    let kept = lists::create(&mut tx, client, "Kept", None)
        .await
        .unwrap()
        .id;
    tx.commit().await.unwrap();
    for (l, from, n) in [(big, 0, 23_456), (left, 100_000, 50), (kept, 200_000, 30)] {
        let mut csv = String::from("phone\n");
        for i in 0..n {
            csv.push_str(&format!("+1415{:07}\n", 1_000_000 + from + i));
        }
        let mut o = ImportOptions::new(client);
        o.list_id = Some(l);
        import(&db, csv.into_bytes(), o).await.unwrap();
    }
    let listed = |l: i64| {
        let db = db.clone();
        async move {
            db.fetch_one::<(i64,)>(sql("SELECT COUNT(*) FROM leads WHERE list_id = $1").arg(l))
                .await
                .unwrap()
                .0
        }
    };
    let mut tx = db.begin().await.unwrap();
    let camp = campaign(&mut tx, client, "From Big", big).await;
    tx.commit().await.unwrap();

    assert!(lists::delete(&db, client, big).await.unwrap());
    assert_eq!(
        listed(big).await,
        0,
        "every lead, past the first batch, loses the list"
    );
    assert_eq!(listed(kept).await, 30);
    let (leads_now,): (i64,) = db
        .fetch_one(sql("SELECT COUNT(*) FROM leads WHERE client_id = $1").arg(client))
        .await
        .unwrap();
    assert_eq!(leads_now, 23_456 + 80, "the leads stay");
    let (camp_list, contacts): (Option<i64>, i64) = db
        .fetch_one(
            sql(
                "SELECT list_id, (SELECT COUNT(*) FROM campaign_leads WHERE campaign_id = $1) \
                 FROM campaigns WHERE id = $1",
            )
            .arg(camp),
        )
        .await
        .unwrap();
    assert_eq!((camp_list, contacts), (None, 23_456));
    assert!(!lists::delete(&db, client, big).await.unwrap(), "gone");
    assert!(lists::get(&db, client, big).await.unwrap().is_none());

    // A deletion stopped after its mark and a first batch.
    let mut tx = db.begin().await.unwrap();
    sql("UPDATE lists SET deleted_at = $1 WHERE id = $2")
        .arg(switchboard_store::now())
        .arg(left)
        .execute(&mut tx)
        .await
        .unwrap();
    sql("UPDATE leads SET list_id = NULL WHERE id IN (SELECT id FROM leads WHERE list_id = $1 LIMIT 20)")
        .arg(left)
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(lists::get(&db, client, left).await.unwrap().is_none());
    let names: Vec<String> = lists::list(&db, client)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["Kept"]);
    let mut o = ImportOptions::new(client);
    o.list_id = Some(left);
    match import(&db, b"phone\n+14155550999\n".to_vec(), o).await {
        Err(ImportError::Store(StoreError::Invalid(m))) => {
            assert!(m.contains("does not exist"), "{m}")
        }
        other => panic!("an import into a list being deleted: {other:?}"),
    }
    match import(
        &db,
        b"phone,list\n+14155550999,Left\n".to_vec(),
        ImportOptions::new(client),
    )
    .await
    {
        Err(ImportError::Store(StoreError::Busy(m))) => assert!(m.contains("being deleted"), "{m}"),
        other => panic!("an import naming a list being deleted: {other:?}"),
    }
    let mut tx = db.begin().await.unwrap();
    match lists::create(&mut tx, client, " Left ", None).await {
        Err(StoreError::Busy(m)) => assert!(m.contains("'Left' is being deleted"), "{m}"),
        other => panic!("a list named as one being deleted: {other:?}"),
    }
    assert!(
        lists::update(&mut tx, client, left, Some("Renamed"), None)
            .await
            .unwrap()
            .is_none(),
        "a list being deleted cannot be changed"
    );
    drop(tx);
    assert_eq!(listed(left).await, 30, "nothing imported");

    let recent = std::time::Duration::from_secs(3600);
    assert_eq!(
        lists::finish_deletions(&db, recent).await.unwrap(),
        0,
        "marked too recently"
    );
    assert_eq!(
        lists::finish_deletions(&db, std::time::Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    assert_eq!(listed(left).await, 0);
    let (rows,): (i64,) = db
        .fetch_one(sql("SELECT COUNT(*) FROM lists WHERE client_id = $1").arg(client))
        .await
        .unwrap();
    assert_eq!(rows, 1, "only Kept");
    let mut tx = db.begin().await.unwrap();
    let again = lists::create(&mut tx, client, "Left", None).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(again.lead_count, 0);
}

/// SQLite's plan, through the read pool, for the open leads a person holds: through the status
/// index without statistics, through the index of assigned leads with them.
async fn held_leads_plan(db: &Db, client: i64) -> String {
    held_leads_plan_on(&mut db.read().await.unwrap(), client).await
}

async fn held_leads_plan_on(c: &mut switchboard_store::db::Conn, client: i64) -> String {
    let rows: Vec<(i64, i64, i64, String)> = sql(
        "EXPLAIN QUERY PLAN SELECT id FROM leads WHERE client_id = $1 \
         AND status IN ('pending', 'claimed', 'calling') AND assigned_user_id = $2 \
         AND deleted_at IS NULL ORDER BY updated_at DESC, id DESC LIMIT 20",
    )
    .arg(client)
    .arg(1i64)
    .fetch_all(c)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
}

/// Statistics another process writes to a SQLite file (`switchboard import` into a running
/// server's file) reach this process's read connections, and its write connection, once it
/// follows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_connections_follow_statistics_another_process_writes() {
    let t = fresh_db(TestBackend::Sqlite).await.unwrap();
    // One read connection, so that each read below is on the same one (the pool gives a
    // connection back on a task of its own, and may open another meanwhile).
    let one = switchboard_store::db::ConnectOptions {
        max_connections: Some(1),
        ..Default::default()
    };
    let server = Db::connect_with(&t.url, one).await.unwrap();
    let mut tx = server.begin().await.unwrap();
    let client = clients::create(&mut tx, "Test", 10, None).await.unwrap().id;
    tx.commit().await.unwrap();
    sql("ANALYZE clients")
        .execute(&mut server.write().await.unwrap())
        .await
        .unwrap();
    server.follow_stats().await.unwrap();
    let before = held_leads_plan(&server, client).await;
    assert!(before.contains("leads_client_status_idx"), "{before}");
    let writes = |server: &Db| {
        let server = server.clone();
        async move { held_leads_plan_on(&mut server.write().await.unwrap(), client).await }
    };
    assert_eq!(writes(&server).await, before);

    // The other process: its own connections to the same file.
    let importer = Db::connect(&t.url).await.unwrap();
    let mut csv = String::from("phone\n");
    for i in 0..20_000 {
        csv.push_str(&format!("+1415{:07}\n", 6_000_000 + i));
    }
    import(&importer, csv.into_bytes(), ImportOptions::new(client))
        .await
        .unwrap();
    importer.close().await;

    assert_eq!(
        held_leads_plan(&server, client).await,
        before,
        "not followed yet: the connection keeps what it read"
    );
    assert_eq!(writes(&server).await, before, "nor the write connection");
    server.follow_stats().await.unwrap();
    let now = held_leads_plan(&server, client).await;
    assert!(now.contains("leads_assigned_idx"), "{now}");
    assert_eq!(
        writes(&server).await,
        now,
        "the write connection follows too"
    );
    // Nothing new: the connections stay.
    server.follow_stats().await.unwrap();
    assert_eq!(held_leads_plan(&server, client).await, now);
}

async fn import_counts_duplicates_and_errors(db: Db, client: i64) {
    let mut csv = String::from("phone,name,tags,list\n");
    for i in 0..2500 {
        csv.push_str(&format!(
            "+1415{:07},Lead {i},a|b,{}\n",
            2_000_000 + i,
            if i % 2 == 0 { "Even" } else { "Odd" }
        ));
    }
    csv.push_str("+14152000000,dup,,\n12,too short,,\n\"unterminated,x\n");
    let before = switchboard_store::now();
    let report = import(&db, csv.into_bytes(), ImportOptions::new(client))
        .await
        .unwrap();
    assert_eq!(report.success_count, 2500);
    assert_eq!(report.duplicate_count, 1);
    assert_eq!(report.error_count, 2, "{:?}", report.errors);
    assert_eq!(report.errors[0].line, 2503);
    let (even,): (i64,) = db.fetch_one(sql("SELECT COUNT(*) FROM leads JOIN lists ON lists.id = leads.list_id WHERE lists.name = 'Even'")).await.unwrap();
    assert_eq!(even, 1250);
    // Imported timestamps compare like every other (SQLite keeps them as text).
    let f = LeadFilter {
        created_from: Some(before),
        created_to: Some(switchboard_store::now()),
        ..Default::default()
    };
    let (rows, total) = leads::list(&db, client, &f, &LeadSort::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(total, 2500);
    assert!(
        rows.iter()
            .all(|l| l.created_at >= before && l.tags.0 == ["a", "b"]),
        "{rows:?}"
    );
    // Committing in slices gives the same result.
    let again = "phone\n+14152000001\n+14159999999\n";
    let mut o = ImportOptions::new(client);
    o.commit_every = Some(1);
    let r = import(&db, again.as_bytes().to_vec(), o).await.unwrap();
    assert_eq!((r.success_count, r.duplicate_count), (1, 1));
}

async fn lead(tx: &mut switchboard_store::Tx, client: i64, phone: &str) -> leads::Lead {
    leads::create(
        tx,
        client,
        &NewLead {
            phone: phone.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// An import through two sessions at once (PostgreSQL; SQLite has one writer and imports
/// as usual) in chunks of 4 rows, committing every 6: the same leads as one session would
/// store. The first row of a phone repeated later in the file is kept, a phone already in the
/// database is a duplicate, each list named in the file exists once, and the leads' ids
/// follow the file's order.
async fn import_in_sessions_keeps_the_file_order(db: Db, client: i64) {
    let mut tx = db.begin().await.unwrap();
    lead(&mut tx, client, "+14155560030").await;
    tx.commit().await.unwrap();
    let mut csv = String::from("phone,name,list\n");
    let mut kept = Vec::new();
    for i in 0..40 {
        let (phone, name) = match i {
            25 => ("+14155560003".to_string(), "late repeat".to_string()),
            _ => (format!("+1415556{i:04}"), format!("row {i}")),
        };
        let list = ["A", "B", ""][i % 3];
        csv.push_str(&format!("{phone},{name},{list}\n"));
        if i != 25 && i != 30 {
            kept.push(name);
        }
        if i == 17 {
            csv.push_str("xyz,bad row,A\n");
        }
    }
    let mut o = ImportOptions::new(client);
    o.jobs = 2;
    o.chunk_rows = Some(4);
    o.commit_every = Some(6);
    let r = import(&db, csv.into_bytes(), o).await.unwrap();
    assert_eq!(
        (
            r.total_processed,
            r.success_count,
            r.duplicate_count,
            r.error_count
        ),
        (41, 38, 2, 1),
        "{r:?}"
    );
    let names: Vec<(String,)> = db
        .fetch_all(
            sql("SELECT name FROM leads WHERE client_id = $1 AND name IS NOT NULL ORDER BY id")
                .arg(client),
        )
        .await
        .unwrap();
    let names: Vec<String> = names.into_iter().map(|(n,)| n).collect();
    assert_eq!(names, kept);
    let lists: Vec<(String, i64)> = db
        .fetch_all(
            sql("SELECT lists.name, COUNT(leads.id) FROM lists LEFT JOIN leads ON leads.list_id = lists.id \
                 WHERE lists.client_id = $1 GROUP BY lists.name ORDER BY lists.name")
                .arg(client),
        )
        .await
        .unwrap();
    // Rows 0..40 but 25 (a repeat, B) and 30 (in the database, A): A takes i % 3 == 0, B i % 3 == 1.
    assert_eq!(lists, vec![("A".to_string(), 13), ("B".to_string(), 12)]);
}

/// A running campaign over `list` (cap 5); its id.
async fn campaign(tx: &mut switchboard_store::Tx, client: i64, name: &str, list: i64) -> i64 {
    switchboard_store::campaigns::create(
        tx,
        &switchboard_store::campaigns::NewCampaign {
            client_id: client,
            name,
            list_id: list,
            from_number: "+14155550100",
            wss_url: None,
            max_concurrent: 5,
            created_by: None,
            owner_instance: None,
            machine_detection: None,
            voicemail_message: None,
            record_calls: None,
        },
    )
    .await
    .unwrap()
    .id
}

/// The value checks on leads and calls (rewritten without `IN` lists on SQLite by migration
/// 0012) still take every value of their lists and refuse anything else.
async fn checks_accept_every_value_and_refuse_others(db: Db, client: i64) {
    let mut tx = db.begin().await.unwrap();
    let l = lead(&mut tx, client, "+14155550111").await;
    tx.commit().await.unwrap();
    let set = |col: &str, v: &str| {
        sql(&format!("UPDATE leads SET {col} = $1 WHERE id = $2"))
            .arg(v)
            .arg(l.id)
    };
    for v in ["urgent", "high", "medium", "low"] {
        db.execute(set("priority", v)).await.unwrap();
    }
    for v in [
        "pending",
        "claimed",
        "calling",
        "answered",
        "transferred",
        "failed",
    ] {
        db.execute(set("status", v)).await.unwrap();
    }
    for (col, v) in [
        ("priority", "soonest"),
        ("status", "lost"),
        ("priority", ""),
    ] {
        assert!(
            db.execute(set(col, v)).await.is_err(),
            "{col} = '{v}' was accepted"
        );
    }
    let call = |direction: &str, status: &str| {
        sql("INSERT INTO calls (client_id, provider, direction, lead_id, status, started_at, created_at, updated_at) \
             VALUES ($1, 'test', $2, $3, $4, $5, $5, $5)")
            .arg(client)
            .arg(direction)
            .arg(l.id)
            .arg(status)
            .arg(switchboard_store::now())
    };
    // Final statuses only: at most one live call per lead.
    for s in ["completed", "busy", "no-answer", "failed", "canceled"] {
        db.execute(call("outbound", s)).await.unwrap();
    }
    db.execute(call("inbound", "ringing")).await.unwrap();
    for (d, s) in [
        ("sideways", "completed"),
        ("outbound", "weird"),
        ("outbound", "Completed"),
    ] {
        assert!(
            db.execute(call(d, s)).await.is_err(),
            "a call {d}/{s} was accepted"
        );
    }
    let (n,): (i64,) = db
        .fetch_one(sql("SELECT COUNT(*) FROM calls WHERE lead_id = $1").arg(l.id))
        .await
        .unwrap();
    assert_eq!(n, 6);
}

/// Every row the importer does not report as bad is either stored with every column as given or
/// counted as a duplicate of a live lead of the same client; a soft-deleted lead's phone or
/// another client's phone is not a duplicate. The default list must be the client's own.
async fn import_ignores_nothing_but_duplicates(db: Db, client: i64) {
    let mut tx = db.begin().await.unwrap();
    let other = clients::create(&mut tx, "Other", 10, None).await.unwrap();
    let gone = lead(&mut tx, client, "+14155550101").await;
    assert!(leads::soft_delete(&mut tx, client, gone.id).await.unwrap());
    lead(&mut tx, client, "+14155550102").await;
    lead(&mut tx, other.id, "+14155550103").await;
    let mine = switchboard_store::lists::create(&mut tx, client, "Mine", None)
        .await
        .unwrap();
    let theirs = switchboard_store::lists::create(&mut tx, other.id, "Theirs", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let csv = "phone;name;email;priority;timezone;notes;tags;list\n\
        +14155550101;Back;BACK@Example.com;urgent;America/New_York;first;x|y;\n\
        +14155550102;Dup of live;;;;;;\n\
        +14155550103;Other client's phone;;low;;;;Named\n\
        +14155550104;Bad priority;;soonest;;;;\n\
        +14155550105;Bad email;no-at-sign;;;;;\n\
        +14155550106;Bad zone;;;Mars/Olympus;;;\n\
        +14155550107;Kept;;high;;;;\n\
        +14155550107;Dup in file;;low;;;;\n";
    let mut o = ImportOptions::new(client);
    o.list_id = Some(mine.id);
    let r = import(&db, csv.as_bytes().to_vec(), o).await.unwrap();
    assert_eq!(
        (
            r.total_processed,
            r.success_count,
            r.duplicate_count,
            r.error_count
        ),
        (8, 3, 2, 3),
        "{r:?}"
    );
    /// phone, name, email, priority, timezone, notes, list, status
    type Row = (
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<Row> = db
        .fetch_all(
            sql("SELECT leads.phone, leads.name, leads.email, leads.priority, leads.timezone, leads.notes, lists.name, leads.status \
                 FROM leads LEFT JOIN lists ON lists.id = leads.list_id \
                 WHERE leads.client_id = $1 AND leads.deleted_at IS NULL ORDER BY leads.phone")
            .arg(client),
        )
        .await
        .unwrap();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        vec![
            (
                "+14155550101".into(),
                s("Back"),
                s("back@example.com"),
                "urgent".into(),
                s("America/New_York"),
                s("first"),
                s("Mine"),
                "pending".into()
            ),
            (
                "+14155550102".into(),
                None,
                None,
                "medium".into(),
                None,
                None,
                None,
                "pending".into()
            ),
            (
                "+14155550103".into(),
                s("Other client's phone"),
                None,
                "low".into(),
                None,
                None,
                s("Named"),
                "pending".into()
            ),
            (
                "+14155550107".into(),
                s("Kept"),
                None,
                "high".into(),
                None,
                None,
                s("Mine"),
                "pending".into()
            ),
        ]
    );
    // A default list that is not the client's own imports nothing.
    let mut o = ImportOptions::new(client);
    o.list_id = Some(theirs.id);
    let r = import(&db, b"phone\n+14155550199\n".to_vec(), o).await;
    assert!(
        matches!(r, Err(ImportError::Store(StoreError::Invalid(_)))),
        "{r:?}"
    );
    let (n,): (i64,) = db
        .fetch_one(sql(
            "SELECT COUNT(*) FROM leads WHERE phone = '+14155550199'",
        ))
        .await
        .unwrap();
    assert_eq!(n, 0);
}

async fn import_refuses_non_csv(db: Db, client: i64) {
    for bad in [&b""[..], b"\x00\x01\x02binary", b"name,email\nann,a@b.c\n"] {
        let r = import(&db, bad.to_vec(), ImportOptions::new(client)).await;
        assert!(matches!(r, Err(ImportError::NotCsv(_))), "{r:?}");
    }
    let (n,): (i64,) = db
        .fetch_one(sql("SELECT COUNT(*) FROM leads"))
        .await
        .unwrap();
    assert_eq!(n, 0);
}

async fn tag_and_text_filters(db: Db, client: i64) {
    let mut tx = db.begin().await.unwrap();
    for (i, tags) in [vec!["hot"], vec!["cold", "vip"], vec![]]
        .into_iter()
        .enumerate()
    {
        leads::create(
            &mut tx,
            client,
            &NewLead {
                phone: format!("+1415555010{i}"),
                name: Some(format!("N_{i}")),
                tags: tags.into_iter().map(String::from).collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let count = |f: LeadFilter| {
        let db = db.clone();
        async move {
            leads::list(&db, client, &f, &LeadSort::default(), 100, 0)
                .await
                .unwrap()
                .1
        }
    };
    assert_eq!(
        count(LeadFilter {
            tags: vec!["vip".into(), "hot".into()],
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(LeadFilter {
            tags: vec!["warm".into()],
            ..Default::default()
        })
        .await,
        0
    );
    if db.backend() == switchboard_store::Backend::Postgres {
        // The tags index holds only leads with tags (migration 0015): a tag filter must say
        // so for PostgreSQL to use it.
        let mut tx = db.begin().await.unwrap();
        sql(
            "INSERT INTO leads (client_id, phone, created_at, updated_at) \
             SELECT $1, '+1415560' || lpad(g::text, 4, '0'), now(), now() \
             FROM generate_series(1, 3000) AS g",
        )
        .arg(client)
        .execute(&mut tx)
        .await
        .unwrap();
        sql("ANALYZE leads").execute(&mut tx).await.unwrap();
        sql("SET LOCAL enable_seqscan = off")
            .execute(&mut tx)
            .await
            .unwrap();
        let mut q = sql("EXPLAIN SELECT leads.id FROM leads");
        LeadFilter {
            tags: vec!["vip".into()],
            ..Default::default()
        }
        .push_where(&mut q, db.backend(), client);
        let plan: Vec<(String,)> = q.fetch_all(&mut tx).await.unwrap();
        let plan: Vec<String> = plan.into_iter().map(|r| r.0).collect();
        assert!(
            plan.iter().any(|l| l.contains("leads_tags_idx")),
            "{plan:#?}"
        );
        let (untagged,): (i64,) = sql("SELECT COUNT(*) FROM leads WHERE tags = '[]'::jsonb")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(untagged, 3001);
    }
    assert_eq!(
        count(LeadFilter {
            search: Some("n_1".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(LeadFilter {
            search: Some("n%".into()),
            ..Default::default()
        })
        .await,
        0,
        "% is literal"
    );
    assert_eq!(
        count(LeadFilter {
            ids: Some(vec![]),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(LeadFilter {
            dispositions: vec!["IN_QUEUE".into()],
            ..Default::default()
        })
        .await,
        3
    );
    assert_eq!(
        count(LeadFilter {
            dispositions: vec!["BUSY".into()],
            ..Default::default()
        })
        .await,
        0
    );
}

mod calls_and_events {
    use chrono::{Duration, Utc};
    use switchboard_core::CallStatus;
    use switchboard_store::calls::{self, Applied, EventInput, NewCall};
    use switchboard_store::leads::{self, NewLead};
    use switchboard_store::{Db, sql};

    both!(
        events_apply_once_in_any_order,
        endings_reach_the_lead_once,
        unknown_calls_are_reported,
        phone_search_plans_agree,
        lookups_use_the_narrowed_indexes
    );

    /// The plan of `q` as text, one line per step.
    async fn plan(
        tx: &mut switchboard_store::Tx,
        backend: switchboard_store::Backend,
        q: switchboard_store::Sql,
    ) -> String {
        let q = q.explained(backend);
        if backend == switchboard_store::Backend::Postgres {
            let rows: Vec<(String,)> = q.fetch_all(tx).await.unwrap();
            rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("\n")
        } else {
            let rows: Vec<(i64, i64, i64, String)> = q.fetch_all(tx).await.unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
        }
    }

    /// Migration 0016: a call id is found without its provider through the (provider, call id)
    /// key, and the agent and caller-number indexes, which no longer hold calls without an agent
    /// or a caller number, still serve the queries that compare those columns.
    pub(super) async fn lookups_use_the_narrowed_indexes(db: Db, client: i64) {
        let backend = db.backend();
        let other = {
            let mut tx = db.begin().await.unwrap();
            let c = switchboard_store::clients::create(&mut tx, "Other", 10, None)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            c.id
        };
        let mut tx = db.begin().await.unwrap();
        let agent = crate::operator(&mut tx, client, "agent-16").await;
        // 3,000 dialer reports (no agent, no caller number), a few calls with both.
        for chunk in 0..6 {
            let batch: Vec<NewCall> = (0..500)
                .map(|i| {
                    let n = chunk * 500 + i;
                    let mut c =
                        NewCall::outbound(client, calls::DIALER, &format!("+1212555{n:04}"));
                    c.provider_call_id = Some(format!("dialer-{n}"));
                    c.status = CallStatus::Busy;
                    c
                })
                .collect();
            calls::create_many(&mut tx, &batch).await.unwrap();
        }
        for n in 0..5 {
            let mut c = NewCall::outbound(client, "twilio", &format!("+1415555{n:04}"));
            c.provider_call_id = Some(format!("CA{n}"));
            c.from_number = Some(format!("+1312555000{n}"));
            c.user_id = Some(agent);
            c.status = CallStatus::Completed;
            calls::create(&mut tx, &c).await.unwrap();
        }
        let mut bot = NewCall::outbound(client, calls::BOT, "+14155559999");
        bot.provider_call_id = Some("bot-call-1".into());
        calls::create(&mut tx, &bot).await.unwrap();
        tx.commit().await.unwrap();

        // Found whichever provider placed it; never another client's.
        let mut conn = db.read().await.unwrap();
        for (id, provider) in [
            ("dialer-1717", calls::DIALER),
            ("CA3", "twilio"),
            ("bot-call-1", calls::BOT),
        ] {
            let c = calls::find_by_call_id(&mut conn, client, id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (c.provider.as_str(), c.provider_call_id.as_deref()),
                (provider, Some(id))
            );
            assert!(
                calls::find_by_call_id(&mut conn, other, id)
                    .await
                    .unwrap()
                    .is_none()
            );
        }
        assert!(
            calls::find_by_call_id(&mut conn, client, "dialer-3000")
                .await
                .unwrap()
                .is_none()
        );
        drop(conn);

        let mut tx = db.begin().await.unwrap();
        if backend == switchboard_store::Backend::Postgres {
            sql("ANALYZE calls").execute(&mut tx).await.unwrap();
            sql("SET LOCAL enable_seqscan = off")
                .execute(&mut tx)
                .await
                .unwrap();
        } else {
            sql("ANALYZE").execute(&mut tx).await.unwrap();
        }
        let p = plan(&mut tx, backend, calls::by_call_id(client, "CA3")).await;
        assert!(p.contains("calls_provider_call_key"), "{p}");
        let mut q = sql("SELECT calls.id FROM calls");
        calls::CallFilter {
            user_id: Some(agent),
            ..Default::default()
        }
        .push_where_aggregate(&mut q, client);
        let p = plan(&mut tx, backend, q).await;
        assert!(p.contains("calls_user_idx"), "{p}");
        // The shape of one arm of a sparse phone search (`CallFilter::push_phone_union`).
        let q = sql(
            "SELECT c.id FROM calls c WHERE c.client_id = $1 AND c.deleted_at IS NULL \
             AND c.from_number >= $2 AND c.from_number < $3",
        )
        .arg(client)
        .arg("+1312555")
        .arg("+1312555:");
        let p = plan(&mut tx, backend, q).await;
        assert!(p.contains("calls_client_from_idx"), "{p}");
        // And the two indexes hold only the five calls with an agent and a caller number: a
        // metapage and one leaf each (3,006 entries would take a dozen pages).
        if backend == switchboard_store::Backend::Postgres {
            for index in ["calls_user_idx", "calls_client_from_idx"] {
                let (bytes,): (i64,) = sql("SELECT pg_relation_size($1::regclass)")
                    .arg(index)
                    .fetch_one(&mut tx)
                    .await
                    .unwrap();
                assert_eq!(bytes, 2 * 8192, "{index}");
            }
        }
    }

    /// A phone search is answered from the number indexes (few matches) or row by row (many):
    /// both plans, and every status and direction filter with them, give the same page and total.
    pub(super) async fn phone_search_plans_agree(db: Db, client: i64) {
        use switchboard_store::calls::CallFilter;
        let statuses = [
            CallStatus::Completed,
            CallStatus::Busy,
            CallStatus::NoAnswer,
            CallStatus::Failed,
        ];
        let mut tx = db.begin().await.unwrap();
        let mut all = Vec::new();
        for i in 0..60i64 {
            let to = if i % 3 == 0 {
                format!("+1415200{:04}", i)
            } else {
                format!("+1212555{:04}", i)
            };
            let mut c = NewCall::outbound(client, "twilio", &to);
            c.from_number = Some(if i % 5 == 0 {
                "+14152009999".into()
            } else {
                "+13125550000".into()
            });
            if i % 4 == 0 {
                c.direction = "inbound".into();
            }
            c.status = statuses[(i % 4) as usize];
            c.started_at = Utc::now() - Duration::minutes(i);
            all.push((
                calls::create(&mut tx, &c).await.unwrap(),
                to,
                c.from_number.clone(),
            ));
        }
        tx.commit().await.unwrap();
        let filters: Vec<(Vec<&str>, Option<&str>)> = vec![
            (vec![], None),
            (vec!["busy"], None),
            (vec!["busy", "no-answer"], None),
            (vec!["busy", "no-answer"], Some("outbound")),
            (vec!["completed"], Some("inbound")),
        ];
        for (sts, dir) in filters {
            let expected: Vec<i64> = all
                .iter()
                .filter(|(c, to, from)| {
                    (to.starts_with("+1415200")
                        || from.as_deref().is_some_and(|f| f.starts_with("+1415200")))
                        && (sts.is_empty() || sts.contains(&c.status.as_str()))
                        && dir.is_none_or(|d| c.direction == d)
                })
                .map(|(c, _, _)| c.id)
                .collect(); // newest first: created in that order
            let mut pages = Vec::new();
            for scan in [false, true] {
                let f = CallFilter {
                    statuses: sts.iter().map(|s| s.to_string()).collect(),
                    direction: dir.map(str::to_string),
                    phone_prefixes: vec!["+4152009".into(), "+1415200".into()],
                    phone_scan: scan,
                    ..Default::default()
                };
                let mut conn = db.read().await.unwrap();
                let (rows, total) = calls::list_counted(&mut conn, client, &f, 5, 0, Some(10_000))
                    .await
                    .unwrap();
                let ids: Vec<i64> = rows.iter().map(|r| r.call.id).collect();
                assert_eq!(
                    total.n as usize,
                    expected.len(),
                    "{sts:?} {dir:?} scan={scan}"
                );
                assert_eq!(
                    ids,
                    expected.iter().copied().take(5).collect::<Vec<_>>(),
                    "{sts:?} {dir:?} scan={scan}"
                );
                let counts = calls::status_counts(&mut conn, client, &f).await.unwrap();
                assert_eq!(counts.total as usize, expected.len());
                pages.push(ids);
            }
            assert_eq!(pages[0], pages[1]);
        }
    }

    fn ev(call: &str, event: &str, status: CallStatus, secs_ago: i64) -> EventInput {
        EventInput {
            provider: "twilio".into(),
            provider_call_id: call.into(),
            event: event.into(),
            status,
            at: Utc::now() - Duration::seconds(secs_ago),
            duration_secs: if status == CallStatus::Completed {
                Some(30)
            } else {
                None
            },
            hangup_cause: None,
            recording_url: None,
            answered_by: None,
            payload: serde_json::json!({"CallStatus": event}),
        }
    }

    async fn setup(db: &Db, client: i64, pcid: &str) -> (i64, i64) {
        let mut tx = db.begin().await.unwrap();
        let lead = leads::create(
            &mut tx,
            client,
            &NewLead {
                phone: format!("+1415555{}", &pcid[pcid.len() - 4..]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut c = NewCall::outbound(client, "twilio", &lead.phone);
        c.provider_call_id = Some(pcid.into());
        c.lead_id = Some(lead.id);
        let call = calls::create(&mut tx, &c).await.unwrap();
        tx.commit().await.unwrap();
        (call.id, lead.id)
    }

    async fn apply(db: &Db, e: &EventInput) -> Applied {
        let mut tx = db.begin().await.unwrap();
        let r = calls::apply_event(&mut tx, e, None).await.unwrap();
        tx.commit().await.unwrap();
        r
    }

    pub(super) async fn events_apply_once_in_any_order(db: Db, client: i64) {
        let (id, _) = setup(&db, client, "CA0001").await;
        // completed first, then the earlier events, then a duplicate.
        assert!(matches!(
            apply(&db, &ev("CA0001", "completed", CallStatus::Completed, 0)).await,
            Applied::Updated {
                previous: CallStatus::Initiated,
                ..
            }
        ));
        apply(&db, &ev("CA0001", "ringing", CallStatus::Ringing, 40)).await;
        apply(&db, &ev("CA0001", "in-progress", CallStatus::Answered, 30)).await;
        assert!(matches!(
            apply(&db, &ev("CA0001", "completed", CallStatus::Completed, 0)).await,
            Applied::Duplicate
        ));
        let call = calls::get(&mut db.read().await.unwrap(), client, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            call.status(),
            CallStatus::Completed,
            "a finished call never goes back to live"
        );
        assert_eq!(call.duration_secs, Some(30));
        assert!(call.answered_at.is_some() && call.ended_at.is_some());
        let (n,): (i64,) = db
            .fetch_one(sql("SELECT COUNT(*) FROM call_events WHERE call_id = $1").arg(id))
            .await
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            calls::events(&mut db.read().await.unwrap(), id)
                .await
                .unwrap()
                .first()
                .unwrap()
                .event,
            "ringing",
            "timeline is in time order"
        );
    }

    pub(super) async fn endings_reach_the_lead_once(db: Db, client: i64) {
        let (_, lead) = setup(&db, client, "CA0002").await;
        apply(&db, &ev("CA0002", "busy", CallStatus::Busy, 0)).await;
        apply(&db, &ev("CA0002", "busy", CallStatus::Busy, 0)).await;
        apply(&db, &ev("CA0002", "completed", CallStatus::Completed, 0)).await; // a second ending: ignored
        let l = leads::get(&mut db.read().await.unwrap(), client, lead)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (l.attempts, l.disposition.as_deref(), l.status.as_str()),
            (1, Some("BUSY"), "pending")
        );
        let (_, lead2) = setup(&db, client, "CA0003").await;
        apply(&db, &ev("CA0003", "in-progress", CallStatus::Answered, 5)).await;
        let l = leads::get(&mut db.read().await.unwrap(), client, lead2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((l.attempts, l.status.as_str()), (0, "answered"));
        apply(&db, &ev("CA0003", "completed", CallStatus::Completed, 0)).await;
        let l = leads::get(&mut db.read().await.unwrap(), client, lead2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (l.attempts, l.disposition.as_deref(), l.status.as_str()),
            (1, Some("CONNECTED"), "answered")
        );
    }

    pub(super) async fn unknown_calls_are_reported(db: Db, _client: i64) {
        assert!(matches!(
            apply(&db, &ev("CA9999", "ringing", CallStatus::Ringing, 0)).await,
            Applied::UnknownCall
        ));
    }
}

mod queue {
    use chrono::{Duration, Utc};
    use switchboard_core::Priority;
    use switchboard_store::leads::{self, NewLead};
    use switchboard_store::{Db, dialer, sql};

    both!(due_leads_come_before_fresh_ones);

    /// Within a priority, leads whose retry time has come are claimed first (in the order they
    /// fell due), then fresh ones oldest first; leads still waiting, and other priorities, never.
    pub(super) async fn due_leads_come_before_fresh_ones(db: Db, client: i64) {
        let t = Utc::now();
        let mut tx = db.begin().await.unwrap();
        let mut ids = Vec::new();
        for i in 0..6 {
            let l = leads::create(
                &mut tx,
                client,
                &NewLead {
                    phone: format!("+1415555{:04}", 7000 + i),
                    priority: Some(if i == 5 { "high" } else { "medium" }.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            ids.push(l.id);
        }
        // 0, 1: fresh. 2: due a minute ago. 3: due ten minutes ago. 4: waiting an hour more.
        for (k, at) in [
            (2, t - Duration::minutes(1)),
            (3, t - Duration::minutes(10)),
            (4, t + Duration::hours(1)),
        ] {
            sql("UPDATE leads SET next_attempt_at = $1, wait_reason = 'retry', attempts = 1 WHERE id = $2")
                .arg(at)
                .arg(ids[k])
                .execute(&mut tx)
                .await
                .unwrap();
        }
        let got: Vec<i64> = dialer::candidates(&mut tx, client, Priority::Medium, 10, t)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(got, vec![ids[3], ids[2], ids[0], ids[1]]);
        // A limit is filled from the due part first.
        let two: Vec<i64> = dialer::candidates(&mut tx, client, Priority::Medium, 3, t)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(two, vec![ids[3], ids[2], ids[0]]);
        tx.commit().await.unwrap();
    }
}

mod campaign_counts {
    use switchboard_core::CallStatus;
    use switchboard_store::calls::{self, NewCall};
    use switchboard_store::campaigns;
    use switchboard_store::{Db, lists, sql};

    both!(counts_follow_every_change);

    /// What `call_stats` used to aggregate from the calls themselves.
    async fn aggregate(db: &Db, campaign: i64) -> (i64, i64, i64, i64, f64) {
        let rows: Vec<(String, i64, Option<f64>)> = sql(
            "SELECT status, COUNT(*), AVG(CAST(duration_secs AS DOUBLE PRECISION)) FROM calls WHERE campaign_id = $1 GROUP BY status",
        )
        .arg(campaign)
        .fetch_all(&mut db.read().await.unwrap())
        .await
        .unwrap();
        let (mut total, mut live, mut connected, mut failed, mut avg) = (0, 0, 0, 0, 0.0);
        for (status, n, a) in rows {
            total += n;
            match status.as_str() {
                "initiated" | "ringing" | "answered" => live += n,
                "completed" => {
                    connected += n;
                    avg = a.unwrap_or(0.0);
                }
                _ => failed += n,
            }
        }
        (total, live, connected, failed, avg)
    }

    async fn check(db: &Db, campaigns: &[i64], step: &str) {
        for &c in campaigns {
            let s = campaigns::call_stats(&mut db.read().await.unwrap(), c)
                .await
                .unwrap();
            let want = aggregate(db, c).await;
            assert_eq!(
                (s.total, s.live, s.connected, s.failed),
                (want.0, want.1, want.2, want.3),
                "campaign {c} after {step}"
            );
            assert!(
                (s.avg_duration - want.4).abs() < 1e-9,
                "campaign {c} after {step}: average {} vs {}",
                s.avg_duration,
                want.4
            );
        }
    }

    /// The counts kept by the database agree with an aggregate over the calls after inserts,
    /// statements changing calls of several campaigns at once, late durations, a call moved
    /// between campaigns, deletes, and a rolled-back transaction.
    pub(super) async fn counts_follow_every_change(db: Db, client: i64) {
        let mut tx = db.begin().await.unwrap();
        let list = lists::ensure(&mut tx, client, "counted").await.unwrap();
        let mut ids = Vec::new();
        for name in ["one", "two"] {
            ids.push(crate::campaign(&mut tx, client, name, list).await);
        }
        let (one, two) = (ids[0], ids[1]);
        let new: Vec<NewCall> = (0..60)
            .map(|i| NewCall {
                campaign_id: [Some(one), Some(two), None][i % 3],
                status: if i % 10 == 9 {
                    CallStatus::Failed
                } else {
                    CallStatus::Initiated
                },
                ..NewCall::outbound(client, "simulator", &format!("+1415555{:04}", 8000 + i))
            })
            .collect();
        calls::create_many(&mut tx, &new).await.unwrap();
        tx.commit().await.unwrap();
        check(&db, &ids, "inserts").await;

        let steps: [(&str, &str); 8] = [
            (
                "ringing",
                "UPDATE calls SET status = 'ringing' WHERE status = 'initiated' AND id % 2 = 0",
            ),
            (
                "completed",
                "UPDATE calls SET status = 'completed', duration_secs = id WHERE status = 'ringing' AND id % 3 = 0",
            ),
            (
                "busy",
                "UPDATE calls SET status = 'busy' WHERE status = 'ringing' AND id % 3 = 1",
            ),
            (
                "late duration",
                "UPDATE calls SET duration_secs = 7 WHERE status = 'completed' AND id % 2 = 0",
            ),
            (
                "completed without duration",
                "UPDATE calls SET status = 'completed', duration_secs = NULL WHERE status = 'initiated' AND id % 5 = 0",
            ),
            (
                "moved",
                "UPDATE calls SET campaign_id = NULL WHERE campaign_id IS NOT NULL AND id % 7 = 0",
            ),
            ("unrelated column", "UPDATE calls SET notes = 'seen'"),
            ("deleted", "DELETE FROM calls WHERE id % 11 = 0"),
        ];
        for (k, (step, stmt)) in steps.into_iter().enumerate() {
            let mut tx = db.begin().await.unwrap();
            sql(stmt).execute(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
            check(&db, &ids, step).await;
            // Folding the recorded changes in (PostgreSQL) changes nothing a reader sees.
            if k % 2 == 1 {
                switchboard_store::counters::fold(&db).await.unwrap();
                check(&db, &ids, &format!("{step}, folded")).await;
            }
        }
        sql("UPDATE calls SET campaign_id = $1 WHERE campaign_id IS NULL AND id % 2 = 1")
            .arg(two)
            .execute(&mut db.begin().await.unwrap())
            .await
            .unwrap(); // dropped uncommitted: rolled back
        let before = campaigns::call_stats(&mut db.read().await.unwrap(), two)
            .await
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        sql("UPDATE calls SET status = 'failed'")
            .execute(&mut tx)
            .await
            .unwrap();
        drop(tx); // rolled back
        let after = campaigns::call_stats(&mut db.read().await.unwrap(), two)
            .await
            .unwrap();
        assert_eq!(
            (before.total, before.live, before.failed),
            (after.total, after.live, after.failed)
        );
        check(&db, &ids, "rollbacks").await;
        let s = campaigns::call_stats(&mut db.read().await.unwrap(), one)
            .await
            .unwrap();
        assert!(
            s.total > 0 && s.live > 0 && s.connected > 0 && s.failed > 0,
            "{s:?}"
        );
    }
}

mod lead_counts {
    use switchboard_store::import::ImportOptions;
    use switchboard_store::leads::{self, LeadFilter, LeadSort};
    use switchboard_store::performance::{self, LeadCounts};
    use switchboard_store::{Db, clients, sql};

    both!(totals_follow_every_change);

    async fn check(db: &Db, clients: &[i64], step: &str) {
        for &client in clients {
            let want: Vec<(String, String, i64)> = db
                .fetch_all(
                    sql("SELECT status, priority, COUNT(*) FROM leads \
                         WHERE client_id = $1 AND deleted_at IS NULL GROUP BY status, priority")
                    .arg(client),
                )
                .await
                .unwrap();
            let mut got = performance::live_lead_counts(&mut db.read().await.unwrap(), client)
                .await
                .unwrap();
            got.0.sort();
            assert_eq!(got, LeadCounts(want), "client {client}, after {step}");
            for (statuses, priorities) in [
                (vec![], vec![]),
                (vec!["pending".to_string()], vec![]),
                (vec!["calling".to_string(), "answered".to_string()], vec![]),
                (vec!["transferred".to_string()], vec![]),
                (vec![], vec!["urgent".to_string()]),
                (
                    vec!["pending".to_string()],
                    vec!["low".to_string(), "high".to_string()],
                ),
            ] {
                let f = LeadFilter {
                    statuses: statuses.clone(),
                    priorities: priorities.clone(),
                    ..Default::default()
                };
                let (_, total) = leads::list(db, client, &f, &LeadSort::default(), 5, 0)
                    .await
                    .unwrap();
                let mut q =
                    sql("SELECT COUNT(*) FROM leads WHERE client_id = $1 AND deleted_at IS NULL")
                        .arg(client);
                if !statuses.is_empty() {
                    q.push(" AND status IN ").push_list(statuses.iter());
                }
                if !priorities.is_empty() {
                    q.push(" AND priority IN ").push_list(priorities.iter());
                }
                let (want,): (i64,) = db.fetch_one(q).await.unwrap();
                assert_eq!(
                    total, want as u64,
                    "client {client}, {statuses:?}, {priorities:?}, after {step}"
                );
            }
        }
    }

    /// A listing's total filtered on status and priority alone (kept counts on PostgreSQL),
    /// and the counts per status and priority the panels read, agree with a count of the rows
    /// after imports, status and priority changes across clients in one statement, soft
    /// deletes and restores, hard deletes, a rolled-back transaction, and folds.
    pub(super) async fn totals_follow_every_change(db: Db, client: i64) {
        let mut tx = db.begin().await.unwrap();
        let other = clients::create(&mut tx, "Other", 10, None)
            .await
            .unwrap()
            .id;
        tx.commit().await.unwrap();
        let both = [client, other];
        for (k, &c) in both.iter().enumerate() {
            let mut csv = String::from("phone,priority\n");
            for i in 0..300 {
                let p = ["urgent", "high", "medium", "low"][(i + k) % 4];
                csv.push_str(&format!("+1415{:07},{p}\n", 3_000_000 + i + k * 1000));
            }
            csv.push_str("+14153000000,low\n"); // a duplicate in the first client's file
            crate::import(&db, csv.into_bytes(), ImportOptions::new(c))
                .await
                .unwrap();
        }
        check(&db, &both, "imports").await;
        let steps: [(&str, &str); 9] = [
            (
                "calling",
                "UPDATE leads SET status = 'calling' WHERE id % 3 = 0",
            ),
            (
                "reprioritized",
                "UPDATE leads SET priority = 'urgent' WHERE id % 4 = 1",
            ),
            (
                "status and priority at once",
                "UPDATE leads SET priority = 'low', status = 'pending' WHERE id % 6 = 3",
            ),
            (
                "answered",
                "UPDATE leads SET status = 'answered' WHERE status = 'calling' AND id % 2 = 0",
            ),
            (
                "unrelated column",
                "UPDATE leads SET notes = 'seen' WHERE id % 5 = 0",
            ),
            (
                "soft delete",
                "UPDATE leads SET deleted_at = updated_at WHERE id % 7 = 0",
            ),
            (
                "restore",
                "UPDATE leads SET deleted_at = NULL, status = 'transferred' WHERE deleted_at IS NOT NULL AND id % 2 = 0",
            ),
            (
                "changed while deleted",
                "UPDATE leads SET status = 'pending' WHERE deleted_at IS NOT NULL",
            ),
            ("hard delete", "DELETE FROM leads WHERE id % 11 = 0"),
        ];
        let steps = steps
            .into_iter()
            .chain([("a rollback", "UPDATE leads SET status = 'failed'")]);
        let (d, b) = (&db, &both);
        crate::counted_steps(&db, steps, |step| async move { check(d, b, &step).await }).await;
    }
}

mod call_totals {
    use switchboard_core::CallStatus;
    use switchboard_store::calls::{self, CallFilter, NewCall, Total};
    use switchboard_store::{Db, clients, counters, sql};

    both!(totals_follow_every_change);

    async fn check(db: &Db, clients: &[i64], step: &str) {
        for &client in clients {
            let (want,): (i64,) = db
                .fetch_one(
                    sql("SELECT COUNT(*) FROM calls WHERE client_id = $1 AND deleted_at IS NULL")
                        .arg(client),
                )
                .await
                .unwrap();
            let (_, total) = calls::list(
                &mut db.read().await.unwrap(),
                client,
                &CallFilter::default(),
                5,
                0,
            )
            .await
            .unwrap();
            assert_eq!(total, want as u64, "client {client}, after {step}");
        }
    }

    /// The unfiltered call log's total (kept by the database on PostgreSQL) agrees with a count
    /// of the rows after inserts of several clients' calls in one statement, repeats refused by
    /// the provider key, soft deletes and restores, a call moved between clients, status
    /// changes, hard deletes, folds and a rolled-back transaction; a capped total is exact
    /// where the total is kept, and says "at least" where it was cut.
    pub(super) async fn totals_follow_every_change(db: Db, client: i64) {
        let mut tx = db.begin().await.unwrap();
        let other = clients::create(&mut tx, "Other", 10, None)
            .await
            .unwrap()
            .id;
        let both = [client, other];
        let new: Vec<(NewCall, Option<String>)> = (0..40)
            .map(|i| {
                let mut c = NewCall::outbound(both[i % 2], "test", &format!("+1415555{i:04}"));
                c.provider_call_id = Some(format!("total-{i}"));
                c.status = CallStatus::Completed;
                (c, None)
            })
            .collect();
        calls::create_many_once(&mut tx, &new).await.unwrap();
        // The same calls again: refused by the provider key, counted nowhere.
        calls::create_many_once(&mut tx, &new).await.unwrap();
        tx.commit().await.unwrap();
        check(&db, &both, "inserts").await;
        let steps: [(&str, &str); 6] = [
            (
                "status",
                "UPDATE calls SET status = 'failed' WHERE id % 3 = 0",
            ),
            (
                "soft delete",
                "UPDATE calls SET deleted_at = updated_at WHERE id % 4 = 0",
            ),
            (
                "restore",
                "UPDATE calls SET deleted_at = NULL WHERE deleted_at IS NOT NULL AND id % 8 = 0",
            ),
            (
                "moved",
                "UPDATE calls SET client_id = (SELECT MIN(id) FROM clients) WHERE id % 5 = 0",
            ),
            (
                "changed while deleted",
                "UPDATE calls SET status = 'busy' WHERE deleted_at IS NOT NULL",
            ),
            ("hard delete", "DELETE FROM calls WHERE id % 7 = 0"),
        ];
        let steps = steps
            .into_iter()
            .chain([("a rollback", "UPDATE calls SET deleted_at = updated_at")]);
        let (d, b) = (&db, &both);
        crate::counted_steps(&db, steps, |step| async move { check(d, b, &step).await }).await;

        // A cap below the total: kept totals stay exact, counted ones stop at the cap.
        let mut rd = db.read().await.unwrap();
        let (want,): (i64,) =
            sql("SELECT COUNT(*) FROM calls WHERE client_id = $1 AND deleted_at IS NULL")
                .arg(client)
                .fetch_one(&mut rd)
                .await
                .unwrap();
        let all = CallFilter::default();
        let (_, total) = calls::list_counted(&mut rd, client, &all, 5, 0, Some(3))
            .await
            .unwrap();
        let kept = counters::live_calls(&mut rd, db.backend(), client)
            .await
            .unwrap()
            .is_some();
        let exact = Total {
            n: want as u64,
            at_least: false,
        };
        let cut = Total {
            n: 3,
            at_least: true,
        };
        assert_eq!(total, if kept { exact } else { cut });
        let failed = CallFilter {
            statuses: vec!["failed".into()],
            ..Default::default()
        };
        let (_, total) = calls::list_counted(&mut rd, client, &failed, 5, 0, Some(3))
            .await
            .unwrap();
        assert_eq!(total, cut);
    }
}

#[path = "store/available.rs"]
mod available;

mod call_user_counts {
    use std::collections::BTreeMap;

    use switchboard_core::CallStatus;
    use switchboard_store::calls::{self, CallFilter, NewCall};
    use switchboard_store::performance::{self, CallCounts, Calls};
    use switchboard_store::{Db, clients, sql};

    both!(kept_counts_follow_every_change);

    /// (person or 0, status) → (calls, talk time), counted from the rows.
    async fn recount(db: &Db, client: i64) -> BTreeMap<(i64, String), (i64, i64)> {
        let rows: Vec<(i64, String, i64, i64)> = db
            .fetch_all(
                sql("SELECT COALESCE(user_id, 0), status, COUNT(*), \
                     CAST(COALESCE(SUM(duration_secs), 0) AS BIGINT) FROM calls \
                     WHERE client_id = $1 AND deleted_at IS NULL GROUP BY 1, 2")
                .arg(client),
            )
            .await
            .unwrap();
        rows.into_iter()
            .map(|(u, s, n, t)| ((u, s), (n, t)))
            .collect()
    }

    fn counts<'a>(rows: impl Iterator<Item = (&'a (i64, String), &'a (i64, i64))>) -> CallCounts {
        performance::counts_of_statuses(rows.map(|((_, s), (n, t))| (s.as_str(), *n, *t)))
    }

    /// What the panels read from the kept counts equals what counting the rows gives.
    async fn check(db: &Db, clients: &[i64], people: &[i64], step: &str) {
        let mut rd = db.read().await.unwrap();
        for &client in clients {
            let want = recount(db, client).await;
            let all = Calls::of_client(client);
            assert_eq!(
                performance::call_counts(&mut rd, &all).await.unwrap(),
                counts(want.iter()),
                "client {client}'s calls, after {step}"
            );
            let mut per: BTreeMap<i64, CallCounts> = BTreeMap::new();
            for &u in people {
                // Calls of nobody (0) are nobody's: no person's count, no place in the ranking.
                let c = if u == 0 {
                    CallCounts::default()
                } else {
                    counts(want.iter().filter(|((p, _), _)| *p == u))
                };
                if c.total != 0 {
                    per.insert(u, c);
                }
                let mine = Calls {
                    user_id: Some(u),
                    ..all
                };
                assert_eq!(
                    performance::call_counts(&mut rd, &mine).await.unwrap(),
                    c,
                    "person {u}'s calls, after {step}"
                );
            }
            let mut ranked: Vec<(i64, CallCounts)> = per.into_iter().collect();
            ranked.sort_by(|a, b| b.1.total.cmp(&a.1.total).then(a.0.cmp(&b.0)));
            assert_eq!(
                performance::per_person(&mut rd, &all).await.unwrap(),
                ranked,
                "per person, after {step}"
            );
            let s = calls::status_counts(&mut rd, client, &CallFilter::default())
                .await
                .unwrap();
            let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
            for ((_, st), (n, _)) in &want {
                *by_status.entry(st.clone()).or_default() += n;
            }
            by_status.retain(|_, n| *n != 0);
            assert_eq!(
                s.by_status.iter().cloned().collect::<BTreeMap<_, _>>(),
                by_status,
                "per status, after {step}"
            );
            let c = counts(want.iter());
            assert_eq!((s.total, s.total_duration), (c.total, c.duration), "{step}");
        }
    }

    /// The counts kept per person and status (migration 0017) follow inserts of several
    /// clients' calls in one statement, status changes, talk times set, calls given to another
    /// person or to nobody, soft deletes and restores, a call moved between clients, changes
    /// while deleted, hard deletes, folds and a rolled-back transaction.
    pub(super) async fn kept_counts_follow_every_change(db: Db, client: i64) {
        let mut tx = db.begin().await.unwrap();
        let other = clients::create(&mut tx, "Other", 10, None)
            .await
            .unwrap()
            .id;
        let mut people = Vec::new();
        for (i, c) in [client, client, other].into_iter().enumerate() {
            people.push(crate::operator(&mut tx, c, &format!("op{i}")).await);
        }
        let both = [client, other];
        let statuses = [
            CallStatus::Initiated,
            CallStatus::Ringing,
            CallStatus::Answered,
            CallStatus::Completed,
        ];
        let new: Vec<(NewCall, Option<String>)> = (0..60)
            .map(|i| {
                let c = both[i % 2];
                let mut n = NewCall::outbound(c, "test", &format!("+1415555{i:04}"));
                n.provider_call_id = Some(format!("per-user-{i}"));
                n.status = statuses[i % 4];
                n.user_id = match (c == client, i % 3) {
                    (_, 0) => None,
                    (true, 1) => Some(people[0]),
                    (true, _) => Some(people[1]),
                    (false, _) => Some(people[2]),
                };
                (n, None)
            })
            .collect();
        calls::create_many_once(&mut tx, &new).await.unwrap();
        tx.commit().await.unwrap();
        let mut everyone = people.clone();
        everyone.push(0);
        check(&db, &both, &everyone, "inserts").await;
        let steps: [(&str, &str); 9] = [
            (
                "ended",
                "UPDATE calls SET status = 'completed', duration_secs = id * 7 WHERE status = 'answered'",
            ),
            (
                "status",
                "UPDATE calls SET status = 'no-answer' WHERE status IN ('initiated', 'ringing') AND id % 2 = 0",
            ),
            (
                "talk time changed",
                "UPDATE calls SET duration_secs = duration_secs + 1 WHERE duration_secs IS NOT NULL AND id % 3 = 0",
            ),
            (
                "given to nobody",
                "UPDATE calls SET user_id = NULL WHERE id % 5 = 0",
            ),
            (
                "given to a person",
                "UPDATE calls SET user_id = (SELECT MIN(id) FROM users WHERE username = 'op0') \
                 WHERE user_id IS NULL AND client_id = (SELECT MIN(id) FROM clients WHERE name = 'Test') AND id % 2 = 1",
            ),
            (
                "soft delete",
                "UPDATE calls SET deleted_at = updated_at WHERE id % 4 = 0",
            ),
            (
                "changed while deleted, one restored",
                "UPDATE calls SET status = 'busy', deleted_at = CASE WHEN id % 8 = 0 THEN NULL ELSE deleted_at END \
                 WHERE deleted_at IS NOT NULL",
            ),
            (
                "moved",
                "UPDATE calls SET client_id = (SELECT MIN(id) FROM clients) WHERE id % 7 = 0",
            ),
            ("hard delete", "DELETE FROM calls WHERE id % 6 = 0"),
        ];
        let steps = steps.into_iter().chain([(
            "a rollback",
            "UPDATE calls SET status = 'failed', duration_secs = 1",
        )]);
        let (d, b, p) = (&db, &both, &everyone);
        crate::counted_steps(
            &db,
            steps,
            |step| async move { check(d, b, p, &step).await },
        )
        .await;
    }
}

mod campaign_contacts {
    use switchboard_store::campaigns;
    use switchboard_store::{Db, lists, sql};

    both!(open_contacts_follow_states);

    /// The engine's "anything left to call?" probe agrees with the per-state counts after each
    /// change of state, and looks at its own campaign only.
    pub(super) async fn open_contacts_follow_states(db: Db, client: i64) {
        let mut tx = db.begin().await.unwrap();
        let list = lists::ensure(&mut tx, client, "probed").await.unwrap();
        let empty = lists::ensure(&mut tx, client, "empty").await.unwrap();
        let mut leads = Vec::new();
        for i in 0..3 {
            let l = crate::lead(&mut tx, client, &format!("+1415555{:04}", 7000 + i)).await;
            sql("UPDATE leads SET list_id = $1 WHERE id = $2")
                .arg(list)
                .arg(l.id)
                .execute(&mut tx)
                .await
                .unwrap();
            leads.push(l.id);
        }
        let probed = crate::campaign(&mut tx, client, "probed", list).await;
        let other = crate::campaign(&mut tx, client, "empty", empty).await;
        tx.commit().await.unwrap();
        async fn open(db: &Db, campaign: i64) -> (bool, bool) {
            let mut r = db.read().await.unwrap();
            let probe = campaigns::has_open_contacts(&mut r, campaign)
                .await
                .unwrap();
            let counted = campaigns::contact_counts(&mut r, campaign)
                .await
                .unwrap()
                .iter()
                .any(|(s, n)| (s == "pending" || s == "waiting") && *n > 0);
            (probe, counted)
        }
        assert_eq!(open(&db, probed).await, (true, true), "fresh campaign");
        assert_eq!(
            open(&db, other).await,
            (false, false),
            "campaign without contacts"
        );
        // Contacts' positions are their leads' ids (see `campaigns::create`).
        let steps: [(&str, i64, &str, bool); 5] = [
            ("first called", leads[0], "called", true),
            ("second skipped", leads[1], "skipped", true),
            ("third waiting", leads[2], "waiting", true),
            ("third called", leads[2], "called", false),
            ("second pending again", leads[1], "pending", true),
        ];
        for (step, position, state, want) in steps {
            let mut tx = db.begin().await.unwrap();
            let until = (state == "waiting").then(switchboard_store::now);
            campaigns::set_contact(&mut tx, probed, position, state, None, until, None)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(open(&db, probed).await, (want, want), "after {step}");
            assert_eq!(
                open(&db, other).await,
                (false, false),
                "other campaign after {step}"
            );
        }
    }
}

/// A new SQLite file takes the larger page size; a file made with SQLite's default keeps its
/// own pages (a WAL file cannot change them) and opens, migrates and writes as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_sqlite_files_take_the_larger_page_size() {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    let page_size = |db: Db| async move {
        let (n,): (i64,) = db.fetch_one(sql("PRAGMA page_size")).await.unwrap();
        n
    };

    let fresh = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let db = Db::connect(&fresh).await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(
        page_size(db.clone()).await,
        i64::from(switchboard_store::db::SQLITE_PAGE_SIZE)
    );
    assert_eq!(switchboard_store::db::SQLITE_PAGE_SIZE, 16384);

    let old = dir.path().join("old.db");
    let mut c =
        sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", old.display()))
            .unwrap()
            .create_if_missing(true)
            .page_size(4096)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .connect()
            .await
            .unwrap();
    sqlx::Executor::execute(&mut c, "CREATE TABLE before_us (x INTEGER)")
        .await
        .unwrap();
    drop(c);
    let db = Db::connect(&format!("sqlite://{}", old.display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    assert_eq!(page_size(db.clone()).await, 4096);
    let mut tx = db.begin().await.unwrap();
    let client = clients::create(&mut tx, "Old file", 10, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(client.id > 0);
}
