//! The dialer engine: one loop per instance that runs the campaigns it owns and the call
//! queues of clients that switched theirs on.
//!
//! - **Ownership**: a campaign belongs to one instance through a lease renewed by heartbeat;
//!   another instance takes it over once the heartbeat is stale.
//! - **Claims**: contacts and queued leads are claimed in a transaction that also takes the
//!   concurrency slots (campaign, client, global: counted in the database, so caps hold across
//!   instances) and creates the call rows; on PostgreSQL rows other instances hold are skipped
//!   (`FOR UPDATE SKIP LOCKED`).
//! - **Pacing**: no more than the configured calls per second leave the installation; each
//!   live instance takes its share.
//! - **Reconciliation**: calls whose final webhook never came are ended after a timeout (unless
//!   the provider still lists them), and simulator calls of an instance that died are ended at
//!   once (the simulator died with it). A slot is freed on every ending.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::json;
use switchboard_core::Priority;
use switchboard_core::dialer::{RetryRules, day_bounds, queue_deadline};
use switchboard_core::schedule::Schedule;
use switchboard_store::calls::{Call, NewCall};
use switchboard_store::dialer::{Candidate, Caps};
use switchboard_store::{Db, StoreError, Tx, campaigns, counters, dialer, now, schedules};
use switchboard_telephony::Bridge;
use tokio::sync::{Notify, watch};

/// What the engine needs from the server to place and end calls.
#[async_trait::async_trait]
pub trait Originator: Send + Sync + 'static {
    /// The provider's name as stored on calls (`simulator`, `twilio`, …).
    fn provider(&self) -> &str;
    /// Hand a created call to the provider. On refusal the implementation ends the call as
    /// failed (which frees its slots and requeues its lead).
    async fn originate(&self, call: Call, bridge: Bridge);
    /// End a call we lost track of, through the normal event path.
    async fn end_lost(&self, call: &Call, cause: &str) -> Result<(), String>;
    /// Provider call ids the provider says are live, when it can tell.
    async fn provider_live(&self) -> Option<HashSet<String>>;
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub instance_id: String,
    pub hostname: String,
    /// How often the engine looks for work.
    pub tick: Duration,
    /// How often leases are renewed; a lease older than 1.5 heartbeats is stale.
    pub heartbeat: Duration,
    /// Live calls across the installation.
    pub global_max: i64,
    /// Calls per second across the installation (each live instance takes its share).
    pub calls_per_second: u32,
    /// A live call with no news for this long is asked after and ended when the provider no
    /// longer has it.
    pub call_timeout: Duration,
    /// The zone of the default schedule.
    pub default_tz: Tz,
    /// Most calls started per campaign or queue per round.
    pub round_max: i64,
    /// Ask the provider to detect answering machines on the calls placed (and hang up on
    /// them), unless a campaign says otherwise; kept in each call's metadata as
    /// `machineDetection`.
    pub machine_detection: bool,
    /// Record the calls placed, unless a campaign says otherwise; kept in each call's
    /// metadata as `record`.
    pub record_calls: bool,
}

/// How a call is placed: answering-machine detection (whether to ask for it, and the message
/// to leave) and recording.
#[derive(Debug, Clone, Copy)]
struct CallOptions<'a> {
    on: bool,
    voicemail: Option<&'a str>,
    record: bool,
}

impl EngineConfig {
    pub fn stale_after(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.heartbeat * 3 / 2).unwrap_or(chrono::Duration::seconds(15))
    }
}

/// A handle to the running engine.
#[derive(Clone)]
pub struct EngineHandle {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    pub instance_id: String,
}

impl EngineHandle {
    /// Look for work now (a campaign started, a queue resumed, a slot freed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stop the loop and hand this instance's campaigns back.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// The planner's statistics are refreshed after this many calls placed by this instance…
const STATS_EVERY_CALLS: usize = 10_000;
/// …and at most this often.
const STATS_MIN_INTERVAL: Duration = Duration::from_secs(30);
/// How often the counts' recorded changes are folded in (PostgreSQL): a reader of a campaign's
/// progress or a lead total sums the changes since, about a second's worth.
const FOLD_EVERY: Duration = Duration::from_secs(1);

pub struct Engine {
    db: Db,
    cfg: EngineConfig,
    originator: Arc<dyn Originator>,
    pacer: DefaultDirectRateLimiter,
    share: u32,
    wake: Arc<Notify>,
}

fn limiter(cps: u32) -> DefaultDirectRateLimiter {
    let n = NonZeroU32::new(cps.max(1)).expect("non-zero");
    // A burst of one second's worth at most.
    RateLimiter::direct(Quota::per_second(n).allow_burst(n))
}

/// The outcome of one campaign round, for tests and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub placed: usize,
    pub skipped: usize,
    pub waiting: usize,
    pub completed: bool,
}

impl Engine {
    pub fn new(db: Db, cfg: EngineConfig, originator: Arc<dyn Originator>) -> Self {
        Self {
            pacer: limiter(cfg.calls_per_second),
            share: cfg.calls_per_second,
            db,
            cfg,
            originator,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Run the loop in the background.
    pub fn spawn(self) -> EngineHandle {
        let (stop, rx) = watch::channel(false);
        let handle = EngineHandle {
            wake: self.wake.clone(),
            stop,
            instance_id: self.cfg.instance_id.clone(),
        };
        tokio::spawn(self.run(rx));
        handle
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut last_beat: Option<tokio::time::Instant> = None;
        // Calls placed since the planner's statistics were last refreshed, and when that was.
        let (mut placed, mut last_stats) = (0usize, None::<tokio::time::Instant>);
        let mut last_fold = None::<tokio::time::Instant>;
        loop {
            if *stop.borrow() {
                break;
            }
            if last_beat.is_none_or(|t| t.elapsed() >= self.cfg.heartbeat / 4) {
                if let Err(e) = self.housekeeping().await {
                    tracing::warn!(error = %e, "dialer housekeeping failed");
                }
                last_beat = Some(tokio::time::Instant::now());
            }
            let mut busy = false;
            match self.work().await {
                Ok(n) => {
                    busy = n > 0;
                    placed += n;
                }
                Err(e) => tracing::warn!(error = %e, "dialer round failed"),
            }
            if last_fold.is_none_or(|t| t.elapsed() >= FOLD_EVERY) {
                if let Err(e) = counters::fold(&self.db).await {
                    tracing::warn!(error = %e, "could not fold the kept counts");
                }
                last_fold = Some(tokio::time::Instant::now());
            }
            if placed >= STATS_EVERY_CALLS
                && last_stats.is_none_or(|t| t.elapsed() >= STATS_MIN_INTERVAL)
            {
                if let Err(e) = self
                    .db
                    .refresh_stats(&["calls", "leads", "campaign_leads"])
                    .await
                {
                    tracing::warn!(error = %e, "could not refresh planner statistics");
                }
                (placed, last_stats) = (0, Some(tokio::time::Instant::now()));
            }
            if busy {
                // More may be waiting: go again soon, but let the event path breathe.
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.tick) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => {}
            }
        }
        if let Ok(mut c) = self.db.write().await {
            let _ = campaigns::release_all(&mut c, &self.cfg.instance_id).await;
            let _ = dialer::stop_instance(&mut c, &self.cfg.instance_id).await;
        }
    }

    /// Heartbeat, leases, takeovers, expired batch leases, lost calls, the pacing share.
    pub async fn housekeeping(&mut self) -> Result<(), StoreError> {
        let id = self.cfg.instance_id.clone();
        let mut c = self.db.write().await?;
        dialer::heartbeat_instance(&mut c, &id, &self.cfg.hostname).await?;
        campaigns::renew(&mut c, &id).await?;
        let stale_before = now() - self.cfg.stale_after();
        let taken = campaigns::take_over(&mut c, &id, stale_before, 100).await?;
        dialer::expire_leases(&mut c, now()).await?;
        let live = dialer::live_instances(&mut c, stale_before).await?;
        drop(c);
        for (campaign, prev) in &taken {
            tracing::info!(campaign, previous = ?prev, "took over a campaign");
        }
        // Each live instance paces its share of the installation's calls per second.
        let share = (self.cfg.calls_per_second / (live.len().max(1) as u32)).max(1);
        if share != self.share {
            self.share = share;
            self.pacer = limiter(share);
        }
        self.reconcile(&live).await?;
        Ok(())
    }

    /// End calls that will never hear from their provider again.
    pub async fn reconcile(&self, live_instances: &[String]) -> Result<(), StoreError> {
        let timeout =
            chrono::Duration::from_std(self.cfg.call_timeout).unwrap_or(chrono::Duration::hours(2));
        let provider = self.originator.provider().to_string();
        let stale: Vec<Call> = switchboard_store::sql(&format!(
            "SELECT {} FROM calls WHERE calls.status IN ('initiated', 'ringing', 'answered') \
             AND calls.provider = $1 AND (calls.updated_at < $2 OR (calls.instance_id IS NOT NULL AND calls.provider = 'simulator')) \
             ORDER BY calls.id LIMIT 1000",
            switchboard_store::calls::COLUMNS
        ))
        .arg(&provider)
        .arg(now() - timeout)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        if stale.is_empty() {
            return Ok(());
        }
        let alive: HashSet<&str> = live_instances.iter().map(String::as_str).collect();
        let provider_live = if stale.iter().any(|c| c.provider != "simulator") {
            self.originator.provider_live().await
        } else {
            None
        };
        for call in stale {
            let cause = if call.provider == "simulator" {
                match &call.instance_id {
                    // Simulated calls live in the process that placed them.
                    Some(i) if !alive.contains(i.as_str()) => {
                        format!("lost: instance {i} stopped while the call was live")
                    }
                    Some(i) if i != &self.cfg.instance_id => continue,
                    _ if call.updated_at >= now() - timeout => continue,
                    _ => "lost: no final status within the call timeout".to_string(),
                }
            } else {
                if let (Some(live), Some(pcid)) = (&provider_live, &call.provider_call_id)
                    && live.contains(pcid)
                {
                    continue;
                }
                "lost: no final status within the call timeout".to_string()
            };
            tracing::warn!(call = call.id, %cause, "reconciling a lost call");
            if let Err(e) = self.originator.end_lost(&call, &cause).await {
                tracing::warn!(call = call.id, error = %e, "could not end a lost call");
            }
        }
        Ok(())
    }

    /// One pass over the owned campaigns and the running queues; returns calls placed.
    pub async fn work(&mut self) -> Result<usize, StoreError> {
        let owned =
            campaigns::owned_running(&mut self.db.read().await?, &self.cfg.instance_id).await?;
        let mut placed = 0;
        for camp in owned {
            placed += self.campaign_round(&camp).await?.placed;
        }
        let queues = dialer::running_queues(&mut self.db.read().await?).await?;
        for (client, max) in queues {
            placed += self.queue_round(client, max).await?;
        }
        Ok(placed)
    }

    /// Take up to `want` tokens from the pacer without waiting.
    fn paced(&self, want: i64) -> i64 {
        let mut n = 0;
        while n < want && self.pacer.check().is_ok() {
            n += 1;
        }
        n
    }

    async fn schedule_of(&self, client_id: i64) -> Result<Schedule, StoreError> {
        let stored = schedules::get(&mut self.db.read().await?, client_id).await?;
        Ok(stored
            .and_then(|s| Schedule::from_doc(&s.doc).ok())
            .unwrap_or_else(|| Schedule::default_in(self.cfg.default_tz)))
    }

    /// Start the campaign's next calls, as many as its slots and the pacer allow.
    pub async fn campaign_round(&self, camp: &campaigns::Campaign) -> Result<Round, StoreError> {
        self.campaign_round_at(camp, now()).await
    }

    /// [`Engine::campaign_round`] as if the time were `t` (simulations run a fake clock).
    pub async fn campaign_round_at(
        &self,
        camp: &campaigns::Campaign,
        t: DateTime<Utc>,
    ) -> Result<Round, StoreError> {
        let mut round = Round::default();
        let schedule = self.schedule_of(camp.client_id).await?;
        let rules = dialer::rules(&mut self.db.read().await?, camp.client_id).await?;
        let client_cap =
            switchboard_store::clients::max_concurrent(&mut self.db.read().await?, camp.client_id)
                .await?;
        let in_use =
            dialer::in_use(&mut self.db.read().await?, camp.client_id, Some(camp.id)).await?;
        // The campaign re-read under lock: a pause, a cancel or new settings (cap, caller id,
        // voice bot) committed since `camp` was read hold for this round, and a pause asked
        // for while it runs waits for it, so no call is placed after a pause has answered.
        let mut tx = self.db.begin().await?;
        let Some(camp) = campaigns::lock_running(&mut tx, camp.id).await? else {
            tx.commit().await?;
            return Ok(round);
        };
        let camp = &camp;
        let caps = Caps {
            global: self.cfg.global_max,
            client: client_cap,
            campaign: Some((camp.id, camp.max_concurrent)),
        };
        let free = (caps.global - in_use.global)
            .min(caps.client - in_use.client)
            .min(camp.max_concurrent - in_use.campaign)
            .min(self.cfg.round_max);
        campaigns::wake_waiting(&mut tx, camp.id, t).await?;
        if free <= 0 || !schedule.enabled {
            tx.commit().await?;
            return Ok(round);
        }
        let tokens = self.paced(free);
        if tokens == 0 {
            tx.commit().await?;
            return Ok(round);
        }
        // Re-checked under lock: another instance may have taken slots since.
        let granted = dialer::take_slots(&mut tx, camp.client_id, caps, tokens).await?;
        let contacts = if granted > 0 {
            campaigns::next_contacts(&mut tx, camp.id, granted).await?
        } else {
            Vec::new()
        };
        if granted > 0 && contacts.is_empty() {
            dialer::give_back(&mut tx, camp.client_id, Some(camp.id), granted).await?;
            // Nothing left to start: complete once nothing waits and no call is live.
            let open = campaigns::has_open_contacts(&mut tx, camp.id).await?;
            let live = campaigns::call_stats(&mut tx, camp.id).await?.live;
            if !open && live == 0 {
                campaigns::transition(
                    &mut tx,
                    camp.client_id,
                    camp.id,
                    &["running"],
                    "completed",
                    None,
                )
                .await?;
                round.completed = true;
            }
            tx.commit().await?;
            return Ok(round);
        }
        // Today's attempts of these leads, for the daily cap.
        let ids: Vec<i64> = contacts.iter().map(|c| c.lead_id).collect();
        let (earliest, _) = day_bounds(t - chrono::Duration::days(1), chrono_tz::UTC);
        let attempts = dialer::attempts_since(&mut tx, &ids, earliest).await?;
        let mut to_dial = Vec::new();
        for c in &contacts {
            let (tz, _) = schedule.lead_zone(c.timezone.as_deref(), &c.phone, t);
            // A lead whose life is over (a conversation happened, or its retries ran out) is
            // not called again by a campaign.
            let finished = matches!(
                c.lead_status.as_str(),
                "answered" | "transferred" | "failed"
            );
            // A call back kept for the lead's agent is theirs to make, whenever it is due.
            if c.deleted || c.on_dnc || finished || c.kept_for_agent {
                let why = if c.deleted {
                    "deleted"
                } else if c.on_dnc {
                    "dnc"
                } else if finished {
                    "finished"
                } else {
                    "agent_callback"
                };
                campaigns::set_contact(
                    &mut tx,
                    camp.id,
                    c.position,
                    "skipped",
                    None,
                    None,
                    Some(why),
                )
                .await?;
                round.skipped += 1;
                continue;
            }
            // Someone else has the lead right now (a live call, an external dialer's batch, an
            // operator's claim), or its retry delay is not over: come back to it later.
            let leased = c.leased_until.filter(|l| *l > t);
            let busy_elsewhere = c.in_call
                || leased.is_some()
                || (c.lead_status == "calling" && c.leased_until.is_none())
                || c.lead_status == "claimed";
            let retry_at = c.next_attempt_at.filter(|n| *n > t);
            if busy_elsewhere || retry_at.is_some() {
                let later = leased
                    .or(retry_at)
                    .unwrap_or(t + chrono::Duration::seconds(60))
                    .max(t + chrono::Duration::seconds(1));
                let why = if busy_elsewhere {
                    "in_call"
                } else {
                    "retry_delay"
                };
                campaigns::set_contact(
                    &mut tx,
                    camp.id,
                    c.position,
                    "waiting",
                    None,
                    Some(later),
                    Some(why),
                )
                .await?;
                round.waiting += 1;
                continue;
            }
            if let Err(closed) = schedule.check(t, tz) {
                match schedule.next_open(t, tz) {
                    Some(at) => {
                        campaigns::set_contact(
                            &mut tx,
                            camp.id,
                            c.position,
                            "waiting",
                            None,
                            Some(at),
                            Some(closed.as_str()),
                        )
                        .await?;
                        round.waiting += 1;
                    }
                    None => {
                        campaigns::set_contact(
                            &mut tx,
                            camp.id,
                            c.position,
                            "skipped",
                            None,
                            None,
                            Some(closed.as_str()),
                        )
                        .await?;
                        round.skipped += 1;
                    }
                }
                continue;
            }
            let (day_start, tomorrow) = day_bounds(t, tz.unwrap_or(schedule.timezone));
            let today = attempts
                .iter()
                .filter(|(l, at)| *l == c.lead_id && *at >= day_start)
                .count() as i64;
            if today >= rules.max_attempts_per_day {
                let at = schedule.next_open(tomorrow, tz).unwrap_or(tomorrow);
                campaigns::set_contact(
                    &mut tx,
                    camp.id,
                    c.position,
                    "waiting",
                    None,
                    Some(at),
                    Some("daily_cap"),
                )
                .await?;
                round.waiting += 1;
                continue;
            }
            to_dial.push(c);
        }
        let bridge = |lead_id: i64| Bridge::Bot {
            wss_url: camp.wss_url.clone().unwrap_or_default(),
            parameters: vec![
                ("campaignId".to_string(), camp.id.to_string()),
                ("leadId".to_string(), lead_id.to_string()),
            ],
        };
        let mut news = Vec::with_capacity(to_dial.len());
        let mut bridges = Vec::with_capacity(to_dial.len());
        for c in &to_dial {
            let b = bridge(c.lead_id);
            news.push(self.new_call(
                camp.client_id,
                c.lead_id,
                &c.phone,
                Some(&camp.from_number),
                Some(camp.id),
                2,
                None,
                &b,
                "campaign",
                CallOptions {
                    on: camp.detects_machines(self.cfg.machine_detection),
                    voicemail: camp.voicemail_message.as_deref(),
                    record: camp.records_calls(self.cfg.record_calls),
                },
                t,
            ));
            bridges.push(b);
        }
        let made = switchboard_store::calls::create_many(&mut tx, &news).await?;
        let mut by_lead: HashMap<i64, Bridge> =
            to_dial.iter().map(|c| c.lead_id).zip(bridges).collect();
        let created: Vec<(Call, Bridge)> = made
            .into_iter()
            .map(|c| {
                let b = c
                    .lead_id
                    .and_then(|l| by_lead.remove(&l))
                    .unwrap_or(Bridge::None);
                (c, b)
            })
            .collect();
        let positions: Vec<i64> = to_dial.iter().map(|c| c.position).collect();
        campaigns::set_called(&mut tx, camp.id, &positions).await?;
        let dialed: Vec<i64> = to_dial.iter().map(|c| c.lead_id).collect();
        dialer::mark_calling(&mut tx, &dialed, None).await?;
        dialer::give_back(
            &mut tx,
            camp.client_id,
            Some(camp.id),
            granted - created.len() as i64,
        )
        .await?;
        campaigns::advance(&mut tx, camp.id, (created.len() + round.skipped) as i64).await?;
        tx.commit().await?;
        round.placed = created.len();
        self.start_all(created);
        Ok(round)
    }

    #[allow(clippy::too_many_arguments)]
    fn new_call(
        &self,
        client_id: i64,
        lead_id: i64,
        to: &str,
        from: Option<&str>,
        campaign_id: Option<i64>,
        slots: i64,
        user_id: Option<i64>,
        bridge: &Bridge,
        surface: &str,
        detection: CallOptions<'_>,
        t: DateTime<Utc>,
    ) -> NewCall {
        let mut new = NewCall::outbound(client_id, self.originator.provider(), to);
        new.started_at = t;
        new.lead_id = Some(lead_id);
        new.user_id = user_id;
        new.from_number = from.map(str::to_string);
        new.campaign_id = campaign_id;
        new.instance_id = Some(self.cfg.instance_id.clone());
        new.slots = slots;
        new.metadata = json!({
            "surface": surface,
            "bridge": bridge.to_json(),
            "machineDetection": detection.on,
            "voicemail": detection.voicemail.filter(|_| detection.on),
            "record": detection.record,
        });
        new
    }

    fn start_all(&self, created: Vec<(Call, Bridge)>) {
        for (call, bridge) in created {
            let o = self.originator.clone();
            tokio::spawn(async move { o.originate(call, bridge).await });
        }
    }

    /// Seed 001's call queue for one client: due leads in deadline order (urgent at once, high
    /// within 2 minutes, medium within 10, low when nothing else waits), each bridged to a free
    /// agent, under the queue's own cap as well as the client's and the global one.
    pub async fn queue_round(&self, client_id: i64, queue_max: i64) -> Result<usize, StoreError> {
        self.queue_round_at(client_id, queue_max, now()).await
    }

    /// [`Engine::queue_round`] as if the time were `t`.
    pub async fn queue_round_at(
        &self,
        client_id: i64,
        queue_max: i64,
        t: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let schedule = self.schedule_of(client_id).await?;
        if !schedule.enabled {
            return Ok(0);
        }
        let rules = dialer::rules(&mut self.db.read().await?, client_id).await?;
        let agents = dialer::free_agents(
            &mut self.db.read().await?,
            client_id,
            t,
            rules.wrapup_seconds,
            self.cfg.call_timeout,
        )
        .await?;
        if agents.is_empty() {
            return Ok(0);
        }
        let caps = Caps {
            global: self.cfg.global_max,
            client: switchboard_store::clients::max_concurrent(
                &mut self.db.read().await?,
                client_id,
            )
            .await?,
            campaign: None,
        };
        let want = (agents.len() as i64).min(self.cfg.round_max);
        let mut tx = self.db.begin().await?;
        let queued: (i64,) =
            switchboard_store::sql("SELECT COUNT(*) FROM calls WHERE client_id = $1 AND slots = 3")
                .arg(client_id)
                .fetch_one(&mut tx)
                .await?;
        let want = want.min(queue_max - queued.0);
        if want <= 0 {
            tx.commit().await?;
            return Ok(0);
        }
        // Due call backs kept for a free agent go to that agent, before the queue's order.
        let ids: Vec<i64> = agents.iter().map(|(id, _)| *id).collect();
        let kept = dialer::agent_callbacks(&mut tx, client_id, &ids, t).await?;
        let mut pairs: Vec<(Candidate, &(i64, String))> = Vec::new();
        if !kept.is_empty() {
            let per = attempts_by_lead(&mut tx, &kept, t).await?;
            for c in kept {
                if pairs.len() as i64 >= want {
                    break;
                }
                let agent = agents
                    .iter()
                    .find(|(id, _)| Some(*id) == c.assigned_user_id);
                let Some(agent) = agent else { continue };
                // Not held back like the queue's own leads: that would make it anyone's.
                if pairs.iter().any(|(_, a)| a.0 == agent.0)
                    || hold(&c, t, &schedule, &rules, &per).is_some()
                {
                    continue;
                }
                pairs.push((c, agent));
            }
        }
        let free: Vec<&(i64, String)> = agents
            .iter()
            .filter(|a| !pairs.iter().any(|(_, p)| p.0 == a.0))
            .collect();
        let rest = (want - pairs.len() as i64).min(free.len() as i64);
        if rest > 0 {
            let picked = claim_queue(&mut tx, client_id, rest, t, &schedule, &rules).await?;
            pairs.extend(picked.into_iter().zip(free));
        }
        if pairs.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let tokens = self.paced(pairs.len() as i64);
        let granted = dialer::take_slots(&mut tx, client_id, caps, tokens).await?;
        let mut created = Vec::new();
        for (lead, (agent_id, phone)) in pairs.iter().take(granted as usize) {
            let b = Bridge::Agent {
                number: phone.clone(),
            };
            let new = self.new_call(
                client_id,
                lead.id,
                &lead.phone,
                None,
                None,
                3,
                Some(*agent_id),
                &b,
                "queue",
                CallOptions {
                    on: self.cfg.machine_detection,
                    voicemail: None,
                    record: self.cfg.record_calls,
                },
                t,
            );
            let call = switchboard_store::calls::create(&mut tx, &new).await?;
            created.push((call, b));
        }
        // Queue calls hold the queue's slot too (scope 'queue').
        if !created.is_empty() {
            switchboard_store::sql("INSERT INTO concurrency (scope, key, active) VALUES ('queue', $1, 0) ON CONFLICT (scope, key) DO NOTHING")
                .arg(client_id)
                .execute(&mut tx)
                .await?;
            switchboard_store::sql(
                "UPDATE concurrency SET active = active + $1 WHERE scope = 'queue' AND key = $2",
            )
            .arg(created.len() as i64)
            .arg(client_id)
            .execute(&mut tx)
            .await?;
        }
        let ids: Vec<i64> = created.iter().filter_map(|(c, _)| c.lead_id).collect();
        dialer::mark_calling(&mut tx, &ids, None).await?;
        dialer::give_back(&mut tx, client_id, None, granted - created.len() as i64).await?;
        tx.commit().await?;
        let n = created.len();
        self.start_all(created);
        Ok(n)
    }
}

/// Each lead's attempts since the day before `t` began (enough for any zone's "today").
async fn attempts_by_lead(
    tx: &mut Tx,
    leads: &[Candidate],
    t: DateTime<Utc>,
) -> Result<HashMap<i64, Vec<DateTime<Utc>>>, StoreError> {
    let ids: Vec<i64> = leads.iter().map(|c| c.id).collect();
    let (earliest, _) = day_bounds(t - chrono::Duration::days(1), chrono_tz::UTC);
    let mut per: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
    for (l, at) in dialer::attempts_since(tx, &ids, earliest).await? {
        per.entry(l).or_default().push(at);
    }
    Ok(per)
}

/// Why a claimed lead may not be dialed at `t`, and until when: outside its calling window
/// (`window`) or its day's attempts used (`cap`). `None`: it may be dialed.
fn hold(
    c: &Candidate,
    t: DateTime<Utc>,
    schedule: &Schedule,
    rules: &RetryRules,
    per: &HashMap<i64, Vec<DateTime<Utc>>>,
) -> Option<(DateTime<Utc>, &'static str)> {
    let (tz, _) = schedule.lead_zone(c.timezone.as_deref(), &c.phone, t);
    if schedule.check(t, tz).is_err() {
        let until = schedule
            .next_open(t, tz)
            .unwrap_or(t + chrono::Duration::days(1));
        return Some((until, "window"));
    }
    let (day_start, tomorrow) = day_bounds(t, tz.unwrap_or(schedule.timezone));
    let today = per
        .get(&c.id)
        .map(|v| v.iter().filter(|a| **a >= day_start).count())
        .unwrap_or(0) as i64;
    if today >= rules.max_attempts_per_day {
        return Some((schedule.next_open(tomorrow, tz).unwrap_or(tomorrow), "cap"));
    }
    None
}

/// Claim up to `n` due leads of a client in queue order, checking each against the schedule
/// (in the lead's zone) and the daily cap; leads that may not be dialed now are held back until
/// they may (`window` or `cap`), so they stop blocking the head of the queue. The claimed
/// leads are returned in order, still `pending`: the caller marks them.
pub async fn claim_queue(
    tx: &mut Tx,
    client_id: i64,
    n: i64,
    t: DateTime<Utc>,
    schedule: &Schedule,
    rules: &RetryRules,
) -> Result<Vec<Candidate>, StoreError> {
    let mut out: Vec<Candidate> = Vec::new();
    // Two passes at most: the second refills what the first held back.
    for _ in 0..2 {
        let need = n - out.len() as i64;
        if need <= 0 {
            break;
        }
        let mut pool: Vec<Candidate> = Vec::new();
        for p in [Priority::Urgent, Priority::High, Priority::Medium] {
            pool.extend(dialer::candidates(tx, client_id, p, need, t).await?);
        }
        // Urgent leads first, whatever waits ("called immediately": behind a backlog of
        // overdue leads they would wait for all of it); then earliest deadline first: an old
        // medium lead goes before a fresh high one once its ten minutes are up.
        pool.sort_by_key(|c| {
            let d = queue_deadline(c.priority()).unwrap_or_default();
            (c.priority() != Priority::Urgent, c.queued_at() + d, c.id)
        });
        pool.retain(|c| !out.iter().any(|o| o.id == c.id));
        if (pool.len() as i64) < need {
            let low = dialer::candidates(tx, client_id, Priority::Low, need, t).await?;
            pool.extend(
                low.into_iter()
                    .filter(|c| !out.iter().any(|o| o.id == c.id)),
            );
        }
        if pool.is_empty() {
            break;
        }
        let per = attempts_by_lead(tx, &pool, t).await?;
        let mut held: HashMap<(DateTime<Utc>, &'static str), Vec<i64>> = HashMap::new();
        for c in pool {
            if out.len() as i64 >= n {
                break;
            }
            match hold(&c, t, schedule, rules, &per) {
                Some(h) => held.entry(h).or_default().push(c.id),
                None => out.push(c),
            }
        }
        if held.is_empty() {
            break;
        }
        for ((until, why), ids) in held {
            dialer::defer(tx, &ids, until, why).await?;
        }
    }
    Ok(out)
}
