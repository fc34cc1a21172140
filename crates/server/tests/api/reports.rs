//! `report-result`'s batch writer: a batch must end exactly as its reports written one by one
//! would, and a report the database refuses must fail alone.

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use switchboard_core::Disposition;
use switchboard_server::reports::{self, Number, Report, Reported, Reporter};
use switchboard_store::leads;

use crate::both;
use crate::harness::TestApp;

both!(
    a_batch_writes_what_its_reports_one_by_one_would,
    reports_written_at_once_end_as_one_by_one,
    a_report_the_database_refuses_fails_alone,
    writers_taking_turns_count_every_attempt_once,
);

async fn setup(app: &TestApp) -> (String, i64, i64) {
    let admin = app.admin().await;
    let week: Vec<Value> = (0..7)
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
        .collect();
    let (s, v) = app
        .call(
            Method::PUT,
            "/api/dialer/schedule",
            Some(&admin),
            Some(json!({"timezone": "UTC", "windows": week, "holidays": [], "enabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    busy_attempts(app, &admin, 2).await;
    let (s, c) = app
        .post("/api/clients", &admin, json!({"name": "Other"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let client = app.state.default_client_id;
    (admin, client, c["client"]["id"].as_i64().unwrap())
}

/// The retry rules: a busy number is tried `max` times, a minute apart.
async fn busy_attempts(app: &TestApp, admin: &str, max: i64) {
    let rules = json!({"retry": {"busy": {"delay_seconds": 60, "max_attempts": max}}});
    let (s, v) = app
        .call(Method::PUT, "/api/dialer/rules", Some(admin), Some(rules))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[allow(clippy::too_many_arguments)]
fn report(
    client_id: i64,
    number: Number,
    d: &str,
    at: chrono::DateTime<Utc>,
    agent: Option<i64>,
    note: Option<&str>,
    call_allowed: Option<bool>,
) -> Report {
    Report {
        client_id,
        key_id: 0,
        number,
        phone_check: None,
        disposition: Disposition::parse(d).unwrap(),
        attempted_at: at,
        agent,
        agent_phone: None,
        reason: Some("bench".into()),
        user_message: note.map(String::from),
        call_allowed,
    }
}

/// What an answer says, without the lead's id (the two sets have different leads) and with the
/// schedule's version counted from `v0`.
fn seen(a: &Option<Reported>, v0: i64) -> Value {
    match a {
        None => json!(null),
        Some(r) => json!({
            "duplicate": r.duplicate,
            "status": r.lead.status,
            "disposition": r.lead.disposition,
            "attempts": r.lead.attempts,
            "next_attempt_at": r.lead.next_attempt_at,
            "assigned_user_id": r.lead.assigned_user_id,
            "notes": r.lead.notes,
            "call_allowed": r.call_allowed,
            "version": r.schedule_version - v0,
        }),
    }
}

/// The `k`th phone of a set of numbers.
fn set_phone(set: usize, k: usize) -> String {
    format!("+1415555{set}{k:02}")
}

/// Four leads of `admin`'s client (phones 0 to 3 of `set`) and one of `other_admin`'s (phone 9).
async fn leads_of_set(
    app: &TestApp,
    admin: &str,
    other_admin: &str,
    set: usize,
) -> (Vec<i64>, i64) {
    let mut ids = Vec::new();
    for k in 0..4 {
        ids.push(app.lead(admin, &set_phone(set, k)).await);
    }
    (ids, app.lead(other_admin, &set_phone(set, 9)).await)
}

async fn version(app: &TestApp, admin: &str) -> i64 {
    let (s, v) = app.get("/api/dialer/schedule", admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["version"].as_i64().unwrap()
}

async fn a_batch_writes_what_its_reports_one_by_one_would(app: TestApp) {
    let (admin, client, other) = setup(&app).await;
    let (agent, _) = app.user(&admin, "agent1", "operator", None).await;
    let (_, other_admin) = app.user(&admin, "otheradmin", "admin", Some(other)).await;
    let t = Utc::now() - Duration::seconds(600);
    let db = app.state.db.clone();
    let tz = app.state.config.timezone.clone();
    let mut sets = Vec::new();
    for set in 0..2 {
        let phone = |k: usize| set_phone(31 + set, k);
        let (ids, theirs) = leads_of_set(&app, &admin, &other_admin, 31 + set).await;
        let list = vec![
            report(client, Number::Id(ids[0]), "BUSY", t, None, None, None),
            report(
                client,
                Number::Phone(phone(1)),
                "NOT_INTERESTED",
                t,
                Some(agent),
                Some("note b"),
                Some(false),
            ),
            // The first number's second attempt (its last, by the rules), and that same report again.
            report(
                client,
                Number::Id(ids[0]),
                "BUSY",
                t + Duration::seconds(5),
                None,
                Some("second"),
                None,
            ),
            report(
                client,
                Number::Id(ids[0]),
                "BUSY",
                t + Duration::seconds(5),
                None,
                Some("second"),
                None,
            ),
            report(
                client,
                Number::Id(999_999_999),
                "BUSY",
                t,
                None,
                None,
                Some(true),
            ),
            // Another client's lead is no number of this client's dialer, and the other way round.
            report(client, Number::Id(theirs), "CONNECTED", t, None, None, None),
            report(other, Number::Id(ids[3]), "CONNECTED", t, None, None, None),
            report(
                other,
                Number::Id(theirs),
                "CONNECTED",
                t,
                None,
                Some("theirs"),
                Some(false),
            ),
            report(
                client,
                Number::Id(ids[2]),
                "MISSED",
                t,
                None,
                None,
                Some(false),
            ),
            report(
                client,
                Number::Phone(phone(3)),
                "CONNECTED",
                t,
                None,
                Some("d"),
                Some(true),
            ),
            report(
                client,
                Number::Id(ids[2]),
                "HANGUP",
                t + Duration::seconds(10),
                None,
                None,
                None,
            ),
        ];
        sets.push((ids, theirs, list));
    }
    // The first set one report per transaction, the second as one batch.
    let mut answers = Vec::new();
    for (set, (_, _, list)) in sets.iter().enumerate() {
        let v0 = version(&app, &admin).await;
        let got: Vec<Option<Reported>> = if set == 0 {
            let mut got = Vec::new();
            for r in list {
                let mut one = reports::write_batch(&db, &tz, &[r]).await.unwrap();
                got.push(one.pop().unwrap());
            }
            got
        } else {
            let all: Vec<&Report> = list.iter().collect();
            reports::write_batch(&db, &tz, &all).await.unwrap()
        };
        let mut said: Vec<Value> = got.iter().map(|a| seen(a, v0)).collect();
        // The other client's switch has versions of its own.
        said[7]["version"] = json!(null);
        answers.push(said);
    }
    assert_eq!(answers[0], answers[1]);
    // The answers themselves: unknown and other clients' numbers were not found, the repeat is
    // a duplicate, the first number failed on its last allowed attempt, the switch flipped
    // twice (the other client's switch is its own).
    let a = &answers[1];
    let nulls: Vec<usize> = (0..a.len()).filter(|&i| a[i].is_null()).collect();
    assert_eq!(nulls, vec![4, 5, 6], "{a:?}");
    assert_eq!(
        (a[2]["duplicate"].clone(), a[3]["duplicate"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(
        (a[2]["status"].clone(), a[2]["attempts"].clone()),
        (json!("failed"), json!(2))
    );
    assert_eq!(a[0]["status"], "pending", "{}", a[0]);
    assert_eq!(a[1]["assigned_user_id"], agent);
    let switch: Vec<(Value, Value)> = [0, 1, 8, 9, 10]
        .iter()
        .map(|&i| (a[i]["call_allowed"].clone(), a[i]["version"].clone()))
        .collect();
    assert_eq!(
        switch,
        vec![
            (json!(true), json!(0)),
            (json!(false), json!(1)),
            (json!(false), json!(1)),
            (json!(true), json!(2)),
            (json!(true), json!(2)),
        ]
    );
    assert_eq!(a[7]["call_allowed"], false);
    // The stored leads and the call log agree between the two sets.
    let mut kept = Vec::new();
    for (ids, theirs, _) in &sets {
        let mut s = Vec::new();
        for (c, id) in ids.iter().map(|id| (client, *id)).chain([(other, *theirs)]) {
            s.push(stored(&db, c, id).await);
        }
        kept.push(s);
    }
    assert_eq!(kept[0], kept[1]);
    let attempts = |k: usize| kept[1][k][6].as_array().map(Vec::len);
    assert_eq!(
        (attempts(0), attempts(2)),
        (Some(2), Some(2)),
        "{:?}",
        kept[1]
    );
}

/// The stored lead and its dialer attempts as comparable values (the phone and ids differ
/// between sets; each attempt's number must be its lead's phone).
async fn stored(db: &switchboard_store::Db, client: i64, id: i64) -> Value {
    let l = leads::get(&mut db.read().await.unwrap(), client, id)
        .await
        .unwrap()
        .unwrap();
    #[allow(clippy::type_complexity)]
    let calls: Vec<(
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        switchboard_store::JsonColumn<Value>,
    )> = db
        .fetch_all(
            switchboard_store::sql(
                "SELECT status, surface_status, to_number, user_id, notes, metadata FROM calls \
                 WHERE provider = 'dialer' AND lead_id = $1 ORDER BY started_at, id",
            )
            .arg(id),
        )
        .await
        .unwrap();
    let calls: Vec<Value> = calls
        .into_iter()
        .map(|(status, surface, to, user, notes, meta)| {
            assert_eq!(to.as_deref(), Some(l.phone.as_str()));
            json!([status, surface, user, notes, meta.0])
        })
        .collect();
    json!([
        l.status,
        l.disposition,
        l.attempts,
        l.next_attempt_at,
        l.assigned_user_id,
        l.notes,
        calls
    ])
}

/// On PostgreSQL, reports on distinct leads by id go in one statement: the answers, the leads
/// and the call log end as with the reports written one by one; a repeat of the batch is all
/// duplicates; rules changed after the writer read them are noticed and applied.
async fn reports_written_at_once_end_as_one_by_one(app: TestApp) {
    let (admin, client, other) = setup(&app).await;
    let (agent, _) = app.user(&admin, "agent1", "operator", None).await;
    let (_, other_admin) = app.user(&admin, "otheradmin", "admin", Some(other)).await;
    let t = Utc::now() - Duration::seconds(600);
    let db = app.state.db.clone();
    let tz = app.state.config.timezone.clone();
    let rules = reports::Rules::default();
    let mut sets = Vec::new();
    for set in 0..2 {
        let (ids, theirs) = leads_of_set(&app, &admin, &other_admin, 41 + set).await;
        let theirs2 = app.lead(&other_admin, &set_phone(41 + set, 8)).await;
        // Handed out in a batch, as a dialer's numbers are: the attempt names it.
        let mut tx = app.state.db.begin().await.unwrap();
        let until = Utc::now() + Duration::seconds(900);
        let leased: Vec<i64> = ids.iter().copied().chain([theirs2]).collect();
        switchboard_store::dialer::mark_calling(&mut tx, &leased, Some(("batch-1", until)))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let list = vec![
            report(
                client,
                Number::Id(ids[0]),
                "BUSY",
                t,
                None,
                Some("busy"),
                None,
            ),
            report(
                client,
                Number::Id(ids[1]),
                "NOT_INTERESTED",
                t,
                Some(agent),
                Some("note b"),
                None,
            ),
            report(client, Number::Id(ids[2]), "MISSED", t, None, None, None),
            report(client, Number::Id(999_999_999), "BUSY", t, None, None, None),
            report(client, Number::Id(theirs), "CONNECTED", t, None, None, None),
            report(other, Number::Id(ids[3]), "CONNECTED", t, None, None, None),
            report(
                other,
                Number::Id(theirs2),
                "HANGUP",
                t,
                None,
                Some("theirs"),
                None,
            ),
        ];
        sets.push((ids, [theirs, theirs2], list));
    }
    let all: Vec<&Report> = sets[1].2.iter().collect();
    let at_once = reports::at_once(&db, &all);
    if db.backend() == switchboard_store::Backend::Sqlite {
        assert!(!at_once, "SQLite writes reports in transactions");
        return;
    }
    assert!(at_once, "distinct leads by id, no switch");
    let mut answers = Vec::new();
    for (set, (_, _, list)) in sets.iter().enumerate() {
        let v0 = version(&app, &admin).await;
        let all: Vec<&Report> = list.iter().collect();
        let got = if set == 0 {
            let mut got = Vec::new();
            for r in &all {
                got.push(
                    reports::write_batch(&db, &tz, &[r])
                        .await
                        .unwrap()
                        .pop()
                        .unwrap(),
                );
            }
            got
        } else {
            reports::write_distinct(&db, &rules, &tz, &all)
                .await
                .unwrap()
        };
        answers.push(got.iter().map(|a| seen(a, v0)).collect::<Vec<_>>());
    }
    assert_eq!(answers[0], answers[1]);
    let nulls: Vec<usize> = (0..answers[1].len())
        .filter(|&i| answers[1][i].is_null())
        .collect();
    assert_eq!(nulls, vec![3, 4, 5], "{:?}", answers[1]);
    assert_eq!(answers[1][0]["status"], "pending");
    assert_eq!(answers[1][1]["assigned_user_id"], agent);
    let mut kept = Vec::new();
    for (ids, theirs, _) in &sets {
        let mut s = Vec::new();
        for id in ids {
            s.push(stored(&db, client, *id).await);
        }
        for id in theirs {
            s.push(stored(&db, other, *id).await);
        }
        kept.push(s);
    }
    assert_eq!(kept[0], kept[1]);

    // The same batch again: every report a duplicate, nothing changed.
    let all: Vec<&Report> = sets[1].2.iter().collect();
    let again = reports::write_distinct(&db, &rules, &tz, &all)
        .await
        .unwrap();
    for (i, a) in again.iter().enumerate() {
        assert_eq!(
            a.as_ref().map(|r| r.duplicate),
            answers[1][i].as_object().map(|_| true),
            "{i}"
        );
    }
    let (ids, theirs, _) = &sets[1];
    let mut after = Vec::new();
    for id in ids {
        after.push(stored(&db, client, *id).await);
    }
    for id in theirs {
        after.push(stored(&db, other, *id).await);
    }
    assert_eq!(after, kept[1]);

    // The rules change after the writer read them: a busy number now has 5 attempts, not 2.
    busy_attempts(&app, &admin, 5).await;
    let second = report(
        client,
        Number::Id(ids[0]),
        "BUSY",
        t + Duration::seconds(30),
        None,
        None,
        None,
    );
    let got = reports::write_distinct(&db, &rules, &tz, &[&second])
        .await
        .unwrap();
    let lead = &got[0].as_ref().expect("written").lead;
    assert_eq!(
        (lead.status.as_str(), lead.attempts),
        ("pending", 2),
        "{lead:?}"
    );
}

async fn a_report_the_database_refuses_fails_alone(app: TestApp) {
    let (admin, client, _) = setup(&app).await;
    let good = app.lead(&admin, "+14155553301").await;
    let bad = app.lead(&admin, "+14155553302").await;
    let reporter = Reporter::spawn(
        app.state.db.clone(),
        "UTC".into(),
        1,
        std::time::Duration::from_millis(1),
    );
    let t = Utc::now();
    // An agent id that is no user: the handler refuses it with a 400; here it reaches the
    // database, whose foreign key refuses the whole batch it is in.
    let answers = futures_util::future::join_all([
        reporter.report(report(
            client,
            Number::Id(good),
            "CONNECTED",
            t,
            None,
            None,
            None,
        )),
        reporter.report(report(
            client,
            Number::Id(bad),
            "CONNECTED",
            t,
            Some(424_242),
            None,
            None,
        )),
        reporter.report(report(
            client,
            Number::Id(999_999_999),
            "CONNECTED",
            t,
            None,
            None,
            None,
        )),
    ])
    .await;
    let first = answers[0].as_ref().expect("the good report is written");
    assert_eq!(first.as_ref().map(|r| r.lead.id), Some(good));
    assert!(answers[1].is_err(), "{:?}", answers[1]);
    assert!(matches!(answers[2], Ok(None)), "{:?}", answers[2]);
    let l = leads::get(&mut app.state.db.read().await.unwrap(), client, bad)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((l.attempts, l.status.as_str()), (0, "pending"));
}

async fn writers_taking_turns_count_every_attempt_once(app: TestApp) {
    let (admin, client, _) = setup(&app).await;
    let lead = app.lead(&admin, "+14155553401").await;
    let other = app.lead(&admin, "+14155553402").await;
    let reporter = Reporter::spawn(
        app.state.db.clone(),
        "UTC".into(),
        2,
        std::time::Duration::from_millis(1),
    );
    let t = Utc::now() - Duration::seconds(600);
    // 30 attempts of one number, each sent twice, with another number's between them: batches
    // written while the one before commits keep meeting the same lead.
    let mut sent = Vec::new();
    for k in 0..30 {
        let at = t + Duration::seconds(k);
        for _ in 0..2 {
            sent.push(report(
                client,
                Number::Id(lead),
                "CONNECTED",
                at,
                None,
                None,
                None,
            ));
        }
        sent.push(report(
            client,
            Number::Id(other),
            "HANGUP",
            at,
            None,
            None,
            None,
        ));
    }
    let answers =
        futures_util::future::join_all(sent.into_iter().map(|r| reporter.report(r))).await;
    let (mut written, mut repeats) = (0, 0);
    for (i, a) in answers.iter().enumerate() {
        let r = a
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_or_else(|| panic!("{i}: not found"));
        match (r.lead.id == lead, r.duplicate) {
            (true, false) => written += 1,
            (true, true) => repeats += 1,
            (false, d) => assert!(!d, "{i}: {r:?}"),
        }
    }
    assert_eq!((written, repeats), (30, 30));
    let db = &app.state.db;
    for (id, n) in [(lead, 30), (other, 30)] {
        let l = leads::get(&mut db.read().await.unwrap(), client, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(l.attempts, n, "{l:?}");
        let (calls,): (i64,) = db
            .fetch_one(
                switchboard_store::sql("SELECT COUNT(*) FROM calls WHERE lead_id = $1").arg(id),
            )
            .await
            .unwrap();
        assert_eq!(calls, n);
    }
}
