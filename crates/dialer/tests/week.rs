//! A simulated week (the dialer issue's acceptance test): leads in many time zones, a schedule
//! with different windows per weekday and two holidays, do-not-call entries (some added in the
//! middle of the week), retry rules and a daily cap, driven by a fake clock through the real
//! dialer code:
//!
//! - the external-dialer path: `claim_queue` + `mark_calling`, then the result reported at once
//!   (a finished call row and `record_attempt`, as `POST /api/dialer/report-result` does);
//! - the campaign path: `Engine::campaign_round_at` with an originator that ends each call at
//!   the fake time through `calls::apply_event`.
//!
//! Afterwards every call in the database is checked: inside a window of the lead's local
//! weekday and not on a holiday, never to a do-not-call number, never over the daily cap or the
//! retry rules, never while another call of the lead was live, never over the campaign's cap.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_core::dialer::{Outcome, RetryRule, RetryRules};
use switchboard_core::schedule::{Schedule, ScheduleDoc, WindowDoc};
use switchboard_core::{CallStatus, Disposition};
use switchboard_dialer::{Engine, EngineConfig, Originator, claim_queue};
use switchboard_store::calls::{self, Call, EventInput, NewCall};
use switchboard_store::testing::{TestBackend, fresh_db};
use switchboard_store::{Db, campaigns, clients, dialer, dnc, leads, lists, schedules, sql};
use switchboard_telephony::Bridge;
use tokio::sync::mpsc;

const SEED: u64 = 0x5EED_2026_0302;
/// Monday 2026-03-02 00:00 UTC (New York switches to summer time on Sunday 2026-03-08).
const START: (i32, u32, u32) = (2026, 3, 2);
const DAYS: i64 = 7;
const STEP_MINUTES: i64 = 5;
const BATCH_SIZE: i64 = 20;
const QUEUE_LEADS: usize = 300;
const CAMPAIGN_LEADS: usize = 120;
/// Leads imported on the Thursday holiday (noon UTC): first dialable on Friday.
const LATE_LEADS: usize = 40;
const CAMPAIGN_MAX_CONCURRENT: i64 = 5;
const SCHEDULE_TZ: &str = "Asia/Tehran";
/// Tuesday and Thursday of the simulated week.
const HOLIDAYS: [&str; 2] = ["2026-03-03", "2026-03-05"];
/// A lead without a zone is judged in the schedule's zone; "Asia/Tehran" spelled out as well.
const ZONES: [Option<&str>; 8] = [
    None,
    Some("Asia/Tehran"),
    Some("America/New_York"),
    Some("Europe/London"),
    Some("Asia/Tokyo"),
    Some("Australia/Sydney"),
    Some("Asia/Kolkata"),
    Some("America/Los_Angeles"),
];
const PROVIDER: &str = "weeksim";

/// The week's windows, local time, 0 = Monday (the test's own copy, checked independently of
/// `Schedule`).
fn windows() -> BTreeMap<u8, (&'static str, &'static str)> {
    BTreeMap::from([
        (0, ("09:00", "20:00")),
        (1, ("09:00", "20:00")),
        (2, ("09:00", "20:00")),
        (3, ("09:00", "20:00")),
        (4, ("10:00", "14:00")),
        // Saturday: none.
        (6, ("12:00", "18:00")),
    ])
}

fn schedule_doc() -> ScheduleDoc {
    ScheduleDoc {
        timezone: SCHEDULE_TZ.into(),
        windows: windows()
            .into_iter()
            .map(|(weekday, (start, end))| WindowDoc {
                weekday,
                start: start.into(),
                end: end.into(),
            })
            .collect(),
        holidays: HOLIDAYS.iter().map(|h| h.to_string()).collect(),
        enabled: true,
        // The week's leads are in their own zone or the schedule's: zones from numbers are
        // tested on their own (core `zones`, the API's explain and batches).
        number_zones: false,
    }
}

fn retry_rules() -> RetryRules {
    let r = |delay_minutes: i64, max_attempts| RetryRule {
        delay_seconds: delay_minutes * 60,
        max_attempts,
    };
    RetryRules {
        retry: BTreeMap::from([
            (Outcome::Busy, r(20, 6)),
            (Outcome::NoAnswer, r(40, 6)),
            (Outcome::PowerOff, r(60, 3)),
            (Outcome::Failed, r(0, 1)),
        ]),
        max_attempts_per_day: 2,
        wrapup_seconds: 0,
    }
}

/// The external dialer's report: 30% connected, 30% busy, 30% no answer, 10% phone off.
fn external_outcome(rng: &mut StdRng) -> Disposition {
    match rng.random_range(0..100) {
        0..30 => Disposition::Connected,
        30..60 => Disposition::Busy,
        60..90 => Disposition::Missed,
        _ => Disposition::PowerOff,
    }
}

/// What one simulated campaign call reported when it ended.
struct Ended {
    live_in_campaign: i64,
    error: Option<String>,
}

/// Ends every call at once, at the fake time it was placed, through the normal event path.
struct SimOriginator {
    db: Db,
    done: mpsc::UnboundedSender<Ended>,
}

impl SimOriginator {
    async fn end(&self, call: &Call) -> Result<i64, String> {
        let e = |e: switchboard_store::StoreError| e.to_string();
        // The campaign's live calls right now: every call of this round is still live until
        // its own task ends it, so this sees the round's concurrency.
        let (live,): (i64,) = sql(
            "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND status IN ('initiated', 'ringing', 'answered')",
        )
        .arg(call.campaign_id.unwrap_or(-1))
        .fetch_one(&mut self.db.read().await.map_err(e)?)
        .await
        .map_err(e)?;
        // Seeded by the call itself, so the outcome does not depend on task order.
        let mut rng = StdRng::seed_from_u64(
            SEED ^ (call.lead_id.unwrap_or(0) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ call.started_at.timestamp() as u64,
        );
        let status = match rng.random_range(0..100) {
            0..30 => CallStatus::Completed,
            30..65 => CallStatus::Busy,
            _ => CallStatus::NoAnswer,
        };
        let ev = EventInput {
            provider: PROVIDER.into(),
            provider_call_id: format!("sim-{}", call.id),
            event: "end".into(),
            status,
            at: call.started_at,
            duration_secs: None,
            hangup_cause: None,
            recording_url: None,
            answered_by: None,
            payload: serde_json::json!({ "source": "week" }),
        };
        let mut tx = self.db.begin().await.map_err(e)?;
        calls::apply_event(&mut tx, &ev, Some(call.id))
            .await
            .map_err(e)?;
        tx.commit().await.map_err(e)?;
        Ok(live)
    }
}

#[async_trait::async_trait]
impl Originator for SimOriginator {
    fn provider(&self) -> &str {
        PROVIDER
    }

    async fn originate(&self, call: Call, _bridge: Bridge) {
        let ended = match self.end(&call).await {
            Ok(live_in_campaign) => Ended {
                live_in_campaign,
                error: None,
            },
            Err(e) => Ended {
                live_in_campaign: 0,
                error: Some(format!("call {}: {e}", call.id)),
            },
        };
        let _ = self.done.send(ended);
    }

    async fn end_lost(&self, _call: &Call, _cause: &str) -> Result<(), String> {
        Ok(())
    }

    async fn provider_live(&self) -> Option<HashSet<String>> {
        None
    }
}

/// One call as the checks read it back.
#[derive(Debug)]
struct CallRow {
    id: i64,
    client_id: i64,
    lead_id: Option<i64>,
    to_number: Option<String>,
    status: String,
    surface_status: Option<String>,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    campaign_id: Option<i64>,
    phone: String,
    timezone: Option<String>,
    attempts: i64,
}

/// Seeded lead attributes.
struct Spec {
    phone: String,
    zone: Option<&'static str>,
    priority: &'static str,
}

fn specs(rng: &mut StdRng, n: usize, prefix: &str) -> Vec<Spec> {
    (0..n)
        .map(|i| Spec {
            phone: format!("{prefix}{i:05}"),
            // Every zone well represented, in a seeded order.
            zone: ZONES[(i + rng.random_range(0..ZONES.len())) % ZONES.len()],
            priority: match rng.random_range(0..100) {
                0..10 => "urgent",
                10..30 => "high",
                30..80 => "medium",
                _ => "low",
            },
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The scenario: the external dialer's queue and a campaign, each over its own
    /// client's leads.
    Normal,
    /// The external dialer's claims use a schedule open around the clock with no holidays and
    /// rules with no delays and no caps, and one do-not-call number is dialed directly: the
    /// checks must catch all of it.
    Sabotage,
    /// One client: the campaign's leads are in the external dialer's queue too, and the
    /// campaign's round runs while a batch is leased out (before its results come back).
    SharedClient,
}

/// Run the week and return every rule the calls broke (after asserting, in `Normal` mode, that
/// there are none and that the simulation did real work).
async fn simulate_week(db: Db, backend: &str, mode: Mode) -> Vec<String> {
    let sabotage = mode == Mode::Sabotage;
    let wall = Instant::now();
    let mut rng = StdRng::seed_from_u64(SEED);
    let schedule = Schedule::from_doc(&schedule_doc()).expect("the schedule is valid");
    let rules = retry_rules();
    let holidays: BTreeSet<NaiveDate> = HOLIDAYS
        .iter()
        .map(|h| NaiveDate::parse_from_str(h, "%Y-%m-%d").unwrap())
        .collect();
    let start = Utc
        .with_ymd_and_hms(START.0, START.1, START.2, 0, 0, 0)
        .unwrap();
    assert_eq!(start.weekday(), chrono::Weekday::Mon);
    let end = start + chrono::Duration::days(DAYS);
    let step = chrono::Duration::minutes(STEP_MINUTES);

    // ---- setup: two clients (the external dialer's queue, and a campaign) ----
    let (queue_client, camp_client) = {
        let mut c = db.write().await.unwrap();
        let a = clients::create(&mut c, "week-queue", 100, Some(SCHEDULE_TZ))
            .await
            .unwrap();
        let b = clients::create(&mut c, "week-campaign", 100, Some(SCHEDULE_TZ))
            .await
            .unwrap();
        if mode == Mode::SharedClient {
            (a.id, a.id)
        } else {
            (a.id, b.id)
        }
    };
    {
        let mut c = db.write().await.unwrap();
        for client in [queue_client, camp_client] {
            schedules::put(&mut c, client, &schedule_doc(), 0, None)
                .await
                .unwrap();
            dialer::put_rules(&mut c, client, &rules).await.unwrap();
        }
    }
    let queue_specs = specs(&mut rng, QUEUE_LEADS, "+1202555");
    let camp_specs = specs(&mut rng, CAMPAIGN_LEADS, "+4420795");
    let late_specs = specs(&mut rng, LATE_LEADS, "+1312555");
    let camp_list = {
        let mut c = db.write().await.unwrap();
        lists::create(&mut c, camp_client, "week campaign", None)
            .await
            .unwrap()
            .id
    };
    // Lead id -> its zone, and each client's leads (id, phone).
    let mut lead_zone: HashMap<i64, Option<&'static str>> = HashMap::new();
    let mut queue_leads: Vec<(i64, String)> = Vec::new();
    let mut camp_leads: Vec<(i64, String)> = Vec::new();
    {
        let mut tx = db.begin().await.unwrap();
        for (client, list, set, out) in [
            (queue_client, None, &queue_specs, &mut queue_leads),
            (camp_client, Some(camp_list), &camp_specs, &mut camp_leads),
        ] {
            for s in set {
                let l = leads::create(
                    &mut tx,
                    client,
                    &leads::NewLead {
                        phone: s.phone.clone(),
                        priority: Some(s.priority.into()),
                        timezone: s.zone.map(str::to_string),
                        list_id: list,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                lead_zone.insert(l.id, s.zone);
                out.push((l.id, s.phone.clone()));
            }
        }
        tx.commit().await.unwrap();
    }
    // ~5% of each client's phones on a do-not-call list from the start, client and global
    // entries mixed; a client's entry for another client's phone blocks nothing there.
    // (client scope, phone) -> fake time from which it blocks.
    let mut dnc_from: HashMap<(Option<i64>, String), DateTime<Utc>> = HashMap::new();
    let mut dnc_phones: HashSet<String> = HashSet::new();
    {
        let mut c = db.write().await.unwrap();
        for (client, set) in [(queue_client, &queue_leads), (camp_client, &camp_leads)] {
            for (i, (_, phone)) in set.iter().enumerate() {
                if rng.random_range(0..100) < 5 {
                    let scope = if i % 2 == 0 { Some(client) } else { None };
                    dnc::add(&mut c, scope, phone, Some("week: initial"), None)
                        .await
                        .unwrap();
                    dnc_from.insert((scope, phone.clone()), start);
                    dnc_phones.insert(phone.clone());
                }
            }
        }
        // The campaign client blocks two of the queue client's numbers for itself only.
        for (_, phone) in queue_leads
            .iter()
            .filter(|(_, p)| !dnc_phones.contains(p))
            .take(2)
        {
            dnc::add(
                &mut c,
                Some(camp_client),
                phone,
                Some("week: other client"),
                None,
            )
            .await
            .unwrap();
            dnc_from.insert((Some(camp_client), phone.clone()), start);
        }
    }
    let cross_client_dnc: Vec<String> = queue_leads
        .iter()
        .filter(|(_, p)| !dnc_phones.contains(p))
        .take(2)
        .map(|(_, p)| p.clone())
        .collect();
    // More numbers go on the list on Wednesday at noon UTC (while they are still queued).
    let mid_dnc_at = start + chrono::Duration::hours(2 * 24 + 12);
    let mid_dnc: Vec<(Option<i64>, String)> = queue_leads
        .iter()
        .skip(QUEUE_LEADS / 2)
        .filter(|(_, p)| !dnc_phones.contains(p))
        .step_by(17)
        .take(8)
        .enumerate()
        .map(|(i, (_, p))| {
            (
                if i % 2 == 0 { Some(queue_client) } else { None },
                p.clone(),
            )
        })
        .collect();
    let mut mid_dnc_done = false;
    let late_at = start + chrono::Duration::hours(3 * 24 + 12);
    let mut late_leads: HashMap<i64, DateTime<Utc>> = HashMap::new();

    // ---- the engine and the campaign ----
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let originator = Arc::new(SimOriginator {
        db: db.clone(),
        done: done_tx,
    });
    let cfg = EngineConfig {
        instance_id: "week-sim".into(),
        hostname: "test".into(),
        tick: Duration::from_millis(100),
        heartbeat: Duration::from_secs(10),
        global_max: 50,
        calls_per_second: 1_000_000,
        call_timeout: Duration::from_secs(7200),
        default_tz: chrono_tz::UTC,
        round_max: 50,
        machine_detection: false,
        record_calls: false,
    };
    let engine = Engine::new(db.clone(), cfg, originator);
    let mut campaign = {
        let mut tx = db.begin().await.unwrap();
        let c = campaigns::create(
            &mut tx,
            &campaigns::NewCampaign {
                client_id: camp_client,
                name: "week",
                list_id: camp_list,
                from_number: "+15550000000",
                wss_url: None,
                max_concurrent: CAMPAIGN_MAX_CONCURRENT,
                created_by: None,
                owner_instance: Some("week-sim"),
                machine_detection: None,
                voicemail_message: None,
                record_calls: None,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        c
    };
    assert_eq!(campaign.total_contacts, CAMPAIGN_LEADS as i64);

    // ---- the week ----
    let stored = schedules::get(&mut db.read().await.unwrap(), queue_client)
        .await
        .unwrap()
        .expect("stored schedule");
    let queue_schedule = Schedule::from_doc(&stored.doc).unwrap();
    assert_eq!(queue_schedule, schedule);
    let queue_rules = dialer::rules(&mut db.read().await.unwrap(), queue_client)
        .await
        .unwrap();
    assert_eq!(queue_rules, rules);
    let (queue_schedule, queue_rules) = if sabotage {
        let open = ScheduleDoc {
            timezone: SCHEDULE_TZ.into(),
            windows: (0..7)
                .map(|weekday| WindowDoc {
                    weekday,
                    start: "00:00".into(),
                    end: "24:00".into(),
                })
                .collect(),
            holidays: Vec::new(),
            enabled: true,
            number_zones: false,
        };
        let loose = RetryRule {
            delay_seconds: 0,
            max_attempts: 50,
        };
        (
            Schedule::from_doc(&open).unwrap(),
            RetryRules {
                retry: Outcome::ALL.into_iter().map(|o| (o, loose)).collect(),
                max_attempts_per_day: 100,
                wrapup_seconds: 0,
            },
        )
    } else {
        (queue_schedule, queue_rules)
    };
    let mut t = start;
    let mut steps = 0u64;
    let mut campaign_placed = 0usize;
    let mut campaign_skipped = 0usize;
    let mut campaign_waiting = 0usize;
    let mut campaign_completed_at: Option<DateTime<Utc>> = None;
    let mut max_live_in_campaign = 0i64;
    let mut errors: Vec<String> = Vec::new();
    let mut batch_no = 0u64;
    let mut external_calls = 0usize;
    // The campaign path: the engine's own round at the fake time; its calls all end before
    // the round counts as done.
    macro_rules! campaign_round {
        () => {
            if campaign.status == "running" {
                let round = engine
                    .campaign_round_at(&campaign, t)
                    .await
                    .unwrap_or_else(|e| panic!("campaign round at {t}: {e}"));
                campaign_placed += round.placed;
                campaign_skipped += round.skipped;
                campaign_waiting += round.waiting;
                for _ in 0..round.placed {
                    let ended = tokio::time::timeout(Duration::from_secs(30), done_rx.recv())
                        .await
                        .expect("a campaign call never ended")
                        .expect("the originator is alive");
                    max_live_in_campaign = max_live_in_campaign.max(ended.live_in_campaign);
                    errors.extend(ended.error);
                }
                if round.completed {
                    campaign_completed_at = Some(t);
                }
                campaign = campaigns::get(&mut db.read().await.unwrap(), camp_client, campaign.id)
                    .await
                    .unwrap()
                    .expect("the campaign");
            }
        };
    }
    while t < end {
        steps += 1;
        if late_leads.is_empty() && t >= late_at {
            let mut tx = db.begin().await.unwrap();
            for s in &late_specs {
                let l = leads::create(
                    &mut tx,
                    queue_client,
                    &leads::NewLead {
                        phone: s.phone.clone(),
                        priority: Some(s.priority.into()),
                        timezone: s.zone.map(str::to_string),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                lead_zone.insert(l.id, s.zone);
                queue_leads.push((l.id, s.phone.clone()));
                late_leads.insert(l.id, t);
            }
            tx.commit().await.unwrap();
        }
        if !mid_dnc_done && t >= mid_dnc_at {
            let mut c = db.write().await.unwrap();
            for (scope, phone) in &mid_dnc {
                dnc::add(&mut c, *scope, phone, Some("week: midweek"), None)
                    .await
                    .unwrap();
                dnc_from.insert((*scope, phone.clone()), t);
            }
            mid_dnc_done = true;
        }

        if mode != Mode::SharedClient {
            campaign_round!();
        }

        // The external dialer's path: a batch claimed, leased and reported at once.
        batch_no += 1;
        let batch = format!("week-{batch_no}");
        let mut tx = db.begin().await.unwrap();
        dialer::expire_leases(&mut tx, t).await.unwrap();
        let mut picked = claim_queue(
            &mut tx,
            queue_client,
            BATCH_SIZE,
            t,
            &queue_schedule,
            &queue_rules,
        )
        .await
        .unwrap_or_else(|e| panic!("claim at {t}: {e}"));
        if sabotage && batch_no == 1 {
            let blocked = queue_leads
                .iter()
                .find(|(_, p)| dnc_phones.contains(p))
                .expect("a queue lead on the do-not-call list");
            picked.push(switchboard_store::dialer::Candidate {
                id: blocked.0,
                phone: blocked.1.clone(),
                priority: "medium".into(),
                timezone: None,
                assigned_user_id: None,
                created_at: t,
                next_attempt_at: None,
            });
        }
        let ids: Vec<i64> = picked.iter().map(|c| c.id).collect();
        dialer::mark_calling(
            &mut tx,
            &ids,
            Some((&batch, t + chrono::Duration::minutes(15))),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        if mode == Mode::SharedClient {
            campaign_round!();
        }
        if !picked.is_empty() {
            let mut tx = db.begin().await.unwrap();
            for c in &picked {
                let d = external_outcome(&mut rng);
                let mut new = NewCall::outbound(queue_client, "dialer", &c.phone);
                new.provider_call_id = Some(format!("dialer-{}-{}", c.id, t.timestamp_micros()));
                new.lead_id = Some(c.id);
                new.status = CallStatus::of_disposition(d);
                new.surface_status = Some(d.as_str().to_string());
                new.started_at = t;
                new.metadata = serde_json::json!({ "surface": "dialer", "batch_id": batch });
                calls::create(&mut tx, &new).await.unwrap();
                dialer::record_attempt(&mut tx, &queue_rules, c.id, d, t)
                    .await
                    .unwrap();
                external_calls += 1;
            }
            tx.commit().await.unwrap();
        }
        t += step;
    }
    assert!(errors.is_empty(), "the originator failed: {errors:?}");
    let sim_secs = wall.elapsed().as_secs_f64();

    // ---- the checks, over every call in the database ----
    type Row = (
        i64,
        i64,
        Option<i64>,
        Option<String>,
        String,
        Option<String>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<i64>,
        String,
        Option<String>,
        i64,
    );
    let rows: Vec<Row> = sql(
        "SELECT c.id, c.client_id, c.lead_id, c.to_number, c.status, c.surface_status, c.started_at, \
         c.ended_at, c.campaign_id, l.phone, l.timezone, l.attempts \
         FROM calls c JOIN leads l ON l.id = c.lead_id ORDER BY c.started_at, c.id",
    )
    .fetch_all(&mut db.read().await.unwrap())
    .await
    .unwrap();
    let rows: Vec<CallRow> = rows
        .into_iter()
        .map(|r| CallRow {
            id: r.0,
            client_id: r.1,
            lead_id: r.2,
            to_number: r.3,
            status: r.4,
            surface_status: r.5,
            started_at: r.6,
            ended_at: r.7,
            campaign_id: r.8,
            phone: r.9,
            timezone: r.10,
            attempts: r.11,
        })
        .collect();
    let (all_calls,): (i64,) = sql("SELECT COUNT(*) FROM calls")
        .fetch_one(&mut db.read().await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        all_calls as usize,
        rows.len(),
        "calls without a lead were made"
    );
    assert_eq!(rows.len(), external_calls + campaign_placed);

    let sched_tz: Tz = SCHEDULE_TZ.parse().unwrap();
    let wins: BTreeMap<u8, (NaiveTime, NaiveTime)> = windows()
        .into_iter()
        .map(|(d, (s, e))| {
            (
                d,
                (
                    NaiveTime::parse_from_str(s, "%H:%M").unwrap(),
                    NaiveTime::parse_from_str(e, "%H:%M").unwrap(),
                ),
            )
        })
        .collect();
    let mut violations: Vec<String> = Vec::new();
    let mut per_lead: BTreeMap<i64, Vec<&CallRow>> = BTreeMap::new();
    let mut per_lead_day: BTreeMap<(i64, NaiveDate), Vec<i64>> = BTreeMap::new();
    let mut weekdays: BTreeSet<u32> = BTreeSet::new();
    let mut zones_called: BTreeSet<&str> = BTreeSet::new();
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_local_weekday: BTreeMap<String, usize> = BTreeMap::new();
    for c in &rows {
        let lead = c.lead_id.unwrap();
        let zone_name = c.timezone.as_deref();
        let lead_tz: Option<Tz> = zone_name.map(|z| z.parse().expect("a valid zone"));
        let tz = lead_tz.unwrap_or(sched_tz);
        let local = c.started_at.with_timezone(&tz);
        let date = local.date_naive();
        let wd = local.weekday().num_days_from_monday() as u8;
        let what = || {
            format!(
                "call {} to lead {lead} ({}) at {} = {} {} local ({})",
                c.id,
                c.phone,
                c.started_at.to_rfc3339(),
                local.format("%a %Y-%m-%d %H:%M"),
                tz.name(),
                if c.campaign_id.is_some() {
                    "campaign"
                } else {
                    "external dialer"
                },
            )
        };
        // Windows and holidays, by the schedule and by the test's own reading of it.
        if let Err(closed) = schedule.check(c.started_at, lead_tz) {
            violations.push(format!("{}: schedule says {}", what(), closed.as_str()));
        }
        let in_window = wins
            .get(&wd)
            .is_some_and(|(s, e)| *s <= local.time() && local.time() < *e);
        if holidays.contains(&date) || !in_window {
            violations.push(format!(
                "{}: outside the local window or on a holiday",
                what()
            ));
        }
        if lead_tz.is_none_or(|z| z == sched_tz) && (holidays.contains(&date) || wd == 5) {
            violations.push(format!(
                "{}: a schedule-zone lead called on a holiday or a Saturday",
                what()
            ));
        }
        // Do-not-call: the client's own list and the global one, from when the entry exists.
        let to = c.to_number.clone().unwrap_or_default();
        assert_eq!(to, c.phone, "call {} went to its lead's phone", c.id);
        for scope in [Some(c.client_id), None] {
            if let Some(from) = dnc_from.get(&(scope, to.clone()))
                && c.started_at >= *from
            {
                violations.push(format!(
                    "{}: the number is on the {} do-not-call list since {}",
                    what(),
                    if scope.is_some() {
                        "client's"
                    } else {
                        "global"
                    },
                    from.to_rfc3339()
                ));
            }
        }
        if late_leads.contains_key(&lead) && date <= holidays.last().copied().unwrap() {
            violations.push(format!(
                "{}: a lead imported on the Thursday holiday called before Friday",
                what()
            ));
        }
        if CallStatus::parse(&c.status).is_none_or(|s| s.is_live()) {
            violations.push(format!("{}: still {} after the week", what(), c.status));
        }
        per_lead.entry(lead).or_default().push(c);
        per_lead_day.entry((lead, date)).or_default().push(c.id);
        weekdays.insert(
            c.started_at
                .with_timezone(&sched_tz)
                .weekday()
                .num_days_from_monday(),
        );
        zones_called.insert(zone_name.unwrap_or("(schedule zone)"));
        *per_zone
            .entry(zone_name.unwrap_or("(schedule zone)"))
            .or_default() += 1;
        *per_local_weekday
            .entry(local.format("%u %a").to_string())
            .or_default() += 1;
    }
    // The daily cap, per local day of the lead.
    for ((lead, date), ids) in &per_lead_day {
        if ids.len() as i64 > rules.max_attempts_per_day {
            violations.push(format!(
                "lead {lead} (zone {:?}) called {} times on local day {date} (cap {}): calls {ids:?}",
                lead_zone.get(lead).copied().flatten(),
                ids.len(),
                rules.max_attempts_per_day
            ));
        }
    }
    // One live call per lead, the retry rules, the attempt count.
    let max_rule = rules.retry.values().map(|r| r.max_attempts).max().unwrap();
    for (lead, cs) in &per_lead {
        let zone = lead_zone.get(lead).copied().flatten();
        if cs.len() as i64 > max_rule {
            violations.push(format!(
                "lead {lead} (zone {zone:?}) was called {} times, more than any rule allows ({max_rule})",
                cs.len()
            ));
        }
        if cs[0].attempts != cs.len() as i64 {
            violations.push(format!(
                "lead {lead} counts {} attempts but has {} calls",
                cs[0].attempts,
                cs.len()
            ));
        }
        let campaign_calls = cs.iter().filter(|c| c.campaign_id.is_some()).count();
        if campaign_calls > 1 {
            violations.push(format!(
                "lead {lead} was called {campaign_calls} times by one campaign"
            ));
        }
        let path = |c: &CallRow| {
            if c.campaign_id.is_some() {
                "campaign"
            } else {
                "external dialer"
            }
        };
        for (i, c) in cs.iter().enumerate() {
            let Some(next) = cs.get(i + 1) else { break };
            let lead = format!("{lead} (zone {})", zone.unwrap_or(SCHEDULE_TZ));
            let ended = c.ended_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
            if next.started_at < ended || next.started_at == c.started_at {
                violations.push(format!(
                    "lead {lead}: call {} ({}) started at {} while call {} ({}, started {}, ended {:?}) was live",
                    next.id,
                    path(next),
                    next.started_at,
                    c.id,
                    path(c),
                    c.started_at,
                    c.ended_at
                ));
            }
            let d = c
                .surface_status
                .as_deref()
                .and_then(Disposition::parse)
                .or_else(|| CallStatus::parse(&c.status).and_then(|s| s.disposition()))
                .expect("an ended call has a disposition");
            let n = (i + 1) as i64;
            match Outcome::of(d) {
                None => violations.push(format!(
                    "lead {lead}: call {} ({}) at {} after call {} ({}) ended with {} (final)",
                    next.id,
                    path(next),
                    next.started_at,
                    c.id,
                    path(c),
                    d.as_str()
                )),
                Some(o) => {
                    let r = rules.rule(o);
                    if n >= r.max_attempts {
                        violations.push(format!(
                            "lead {lead}: call {} ({}) at {} after attempt {n} ended {} (the rule stops at {})",
                            next.id,
                            path(next),
                            next.started_at,
                            d.as_str(),
                            r.max_attempts
                        ));
                    }
                    if next.started_at < c.started_at + chrono::Duration::seconds(r.delay_seconds) {
                        violations.push(format!(
                            "lead {lead}: call {} ({}) at {} before the {}s retry delay after call {} ({}) at {} ended {}",
                            next.id,
                            path(next),
                            next.started_at,
                            r.delay_seconds,
                            c.id,
                            path(c),
                            c.started_at,
                            d.as_str()
                        ));
                    }
                }
            }
        }
    }
    // Caps on concurrency held, and every slot came back.
    if max_live_in_campaign > CAMPAIGN_MAX_CONCURRENT {
        violations.push(format!(
            "the campaign had {max_live_in_campaign} live calls (cap {CAMPAIGN_MAX_CONCURRENT})"
        ));
    }
    let slots: Vec<(String, i64, i64)> =
        sql("SELECT scope, key, active FROM concurrency WHERE active <> 0 ORDER BY scope, key")
            .fetch_all(&mut db.read().await.unwrap())
            .await
            .unwrap();
    if !slots.is_empty() {
        violations.push(format!("slots still held after the week: {slots:?}"));
    }

    // ---- the simulation did real work ----
    let called: HashSet<i64> = per_lead.keys().copied().collect();
    let never_called: Vec<(i64, &str)> = queue_leads
        .iter()
        .chain(camp_leads.iter())
        .filter(|(id, p)| {
            !called.contains(id) && !dnc_phones.contains(p) && !mid_dnc.iter().any(|(_, m)| m == p)
        })
        .map(|(id, p)| (*id, p.as_str()))
        .collect();
    let cross_called = rows
        .iter()
        .filter(|c| cross_client_dnc.contains(&c.phone))
        .count();
    let lead_states: Vec<(String, i64)> = sql(
        "SELECT status, COUNT(*) FROM leads WHERE client_id = $1 GROUP BY status ORDER BY status",
    )
    .arg(queue_client)
    .fetch_all(&mut db.read().await.unwrap())
    .await
    .unwrap();
    type PendingRow = (
        i64,
        Option<String>,
        i64,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<String>,
    );
    let pending: Vec<PendingRow> = sql(
        "SELECT id, timezone, attempts, disposition, next_attempt_at, wait_reason FROM leads \
         WHERE client_id = $1 AND status = 'pending' ORDER BY id",
    )
    .arg(queue_client)
    .fetch_all(&mut db.read().await.unwrap())
    .await
    .unwrap();
    let contact_states = campaigns::contact_counts(&mut db.read().await.unwrap(), campaign.id)
        .await
        .unwrap();
    let max_per_day = per_lead_day.values().map(Vec::len).max().unwrap_or(0);
    let leads_at_cap = per_lead_day
        .values()
        .filter(|v| v.len() as i64 == rules.max_attempts_per_day)
        .count();

    eprintln!(
        "[{backend}] simulated {DAYS} days in {steps} steps of {STEP_MINUTES} min in {sim_secs:.1}s (checks: {:.1}s)",
        wall.elapsed().as_secs_f64() - sim_secs
    );
    eprintln!(
        "[{backend}] calls: {} ({external_calls} external dialer, {campaign_placed} campaign; campaign skipped {campaign_skipped}, waits {campaign_waiting}, completed at {campaign_completed_at:?}, status {}, max live {max_live_in_campaign})",
        rows.len(),
        campaign.status
    );
    eprintln!("[{backend}] per lead zone: {per_zone:?}; per local weekday: {per_local_weekday:?}");
    eprintln!(
        "[{backend}] leads called: {}; (lead, local day) pairs at the cap of {}: {leads_at_cap}; most in a day: {max_per_day}; queue leads by status: {lead_states:?}; campaign contacts: {contact_states:?}",
        called.len(),
        rules.max_attempts_per_day
    );

    if mode != Mode::Normal {
        return violations;
    }
    assert!(
        violations.is_empty(),
        "[{backend}] {} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
    assert!(rows.len() > 200, "too few calls: {}", rows.len());
    assert!(external_calls > 200, "too few external-dialer calls");
    assert!(campaign_placed > 50, "too few campaign calls");
    assert!(
        weekdays.len() >= 4,
        "calls on only {weekdays:?} (Tehran weekdays)"
    );
    assert!(
        zones_called.len() >= 5,
        "leads in only {zones_called:?} were called"
    );
    assert!(
        leads_at_cap > 0,
        "the daily cap was never reached: the test does not exercise it"
    );
    assert!(
        never_called.is_empty(),
        "dialable leads never called in a week: {never_called:?}; pending leads: {pending:?}"
    );
    assert!(
        cross_called > 0,
        "another client's do-not-call entry blocked this client's numbers"
    );
    assert_eq!(
        campaign.status, "completed",
        "the campaign did not complete in a week"
    );
    let skipped_dnc = contact_states
        .iter()
        .find(|(s, _)| s == "skipped")
        .map(|(_, n)| *n)
        .unwrap_or(0);
    let camp_dnc = camp_leads
        .iter()
        .filter(|(_, p)| dnc_phones.contains(p))
        .count() as i64;
    assert_eq!(
        skipped_dnc, camp_dnc,
        "the campaign skipped exactly its do-not-call contacts"
    );
    violations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_week_sqlite() {
    let db = fresh_db(TestBackend::Sqlite).await.expect("sqlite");
    simulate_week(db.db.clone(), "sqlite", Mode::Normal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_week_postgres() {
    let Some(db) = fresh_db(TestBackend::Postgres).await else {
        eprintln!("SKIPPED: simulated_week_postgres needs SWITCHBOARD_TEST_PG_URL");
        return;
    };
    simulate_week(db.db.clone(), "postgres", Mode::Normal).await;
}

/// The checks can fail: a dialer that ignores windows, holidays, delays, caps and the
/// do-not-call list is caught on every count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_catch_a_dialer_that_ignores_the_rules() {
    let db = fresh_db(TestBackend::Sqlite).await.expect("sqlite");
    let violations = simulate_week(db.db.clone(), "sqlite, sabotaged", Mode::Sabotage).await;
    eprintln!(
        "[sabotage] {} violations, e.g. {:?}",
        violations.len(),
        violations.first()
    );
    for expected in [
        "schedule says holiday",
        "schedule says outside_allowed_time_window",
        "outside the local window or on a holiday",
        "a schedule-zone lead called on a holiday or a Saturday",
        "do-not-call list",
        "times on local day",
        "retry delay",
        "the rule stops at",
        "more than any rule allows",
    ] {
        assert!(
            violations.iter().any(|v| v.contains(expected)),
            "no violation mentions '{expected}'"
        );
    }
    // The campaign ran under the real rules: none of its calls is flagged.
    assert!(
        !violations.iter().any(|v| v.contains("(campaign)")),
        "campaign calls flagged: {:?}",
        violations
            .iter()
            .filter(|v| v.contains("(campaign)"))
            .collect::<Vec<_>>()
    );
}

/// A campaign over leads that are also in the client's queue respects the queue's state: a lead
/// leased to an external dialer's batch, inside its retry delay, or finished (connected, or its
/// retries used up) is not dialed by the campaign, on top of windows, holidays, the daily cap
/// and do-not-call entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_week_campaign_and_queue_share_leads() {
    let db = fresh_db(TestBackend::Sqlite).await.expect("sqlite");
    let violations =
        simulate_week(db.db.clone(), "sqlite, shared client", Mode::SharedClient).await;
    assert!(
        violations.is_empty(),
        "{} violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}
