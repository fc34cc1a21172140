//! A built-in telephony provider for development, demos and load tests: no credentials, no
//! network. Each call's outcome and timings are drawn from a seeded, configurable mix, and its
//! events are handed to an [`EventSink`] — the same ingestion path real webhooks take.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_core::CallStatus;
use tokio::sync::oneshot;

use crate::{
    Dial, Direction, Placed, Provider, ProviderCall, ProviderError, ProviderEvent, ProviderKind,
    RecordPage, RecordQuery,
};

/// Where simulated events go.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync + 'static {
    async fn deliver(&self, event: ProviderEvent);
}

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub seed: u64,
    /// Share of calls answered (0–1).
    pub answer_rate: f64,
    /// Share of calls that find the line busy.
    pub busy_rate: f64,
    /// Share of calls that fail (bad number, carrier error).
    pub failed_rate: f64,
    /// Share of answered calls that an answering machine (voicemail) answers (0–1). Detected
    /// when the call asked for it (hung up at once, `answered_by` a machine); otherwise they
    /// play like any answered call.
    pub machine_rate: f64,
    /// The rest ring out unanswered. Ring time is uniform in this range (seconds).
    pub ring_secs: (f64, f64),
    /// Mean talk time of answered calls (seconds; exponential, at least 3 s).
    pub talk_mean_secs: f64,
    /// 20 = twenty times faster than real time.
    pub time_scale: f64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            answer_rate: 0.6,
            busy_rate: 0.1,
            failed_rate: 0.05,
            machine_rate: 0.15,
            ring_secs: (2.0, 12.0),
            talk_mean_secs: 45.0,
            time_scale: 1.0,
        }
    }
}

impl SimulatorConfig {
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("answer rate", self.answer_rate),
            ("busy rate", self.busy_rate),
            ("failed rate", self.failed_rate),
            ("machine rate", self.machine_rate),
        ];
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("simulator {name} must be between 0 and 1, not {r}"));
            }
        }
        if self.answer_rate + self.busy_rate + self.failed_rate > 1.0 + 1e-9 {
            return Err("simulator answer, busy and failed rates add up to more than 1".into());
        }
        if !(self.time_scale > 0.0 && self.time_scale <= 100_000.0) {
            return Err(format!(
                "simulator time scale must be above 0, not {}",
                self.time_scale
            ));
        }
        if !(self.ring_secs.0 >= 0.0 && self.ring_secs.1 >= self.ring_secs.0)
            || self.talk_mean_secs <= 0.0
        {
            return Err("simulator ring and talk times must be positive".into());
        }
        Ok(())
    }
}

/// How a simulated call will go, decided when it is placed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub outcome: CallStatus,
    pub ring_secs: f64,
    pub talk_secs: f64,
    /// An answered call that a machine answers.
    pub machine: bool,
}

impl SimulatorConfig {
    /// The plan for the `n`-th call: a function of the seed and `n` only, so runs repeat.
    pub fn plan(&self, n: u64, ring_timeout_secs: u32) -> Plan {
        let mut rng = StdRng::seed_from_u64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let u: f64 = rng.random();
        let (lo, hi) = self.ring_secs;
        let ring = lo + (hi - lo) * rng.random::<f64>();
        let talk = (-self.talk_mean_secs * (1.0 - rng.random::<f64>()).ln()).max(3.0);
        let machine_draw: f64 = rng.random();
        let timeout = f64::from(ring_timeout_secs.max(1));
        let outcome = if u < self.failed_rate {
            CallStatus::Failed
        } else if u < self.failed_rate + self.busy_rate {
            CallStatus::Busy
        } else if u < self.failed_rate + self.busy_rate + self.answer_rate && ring < timeout {
            CallStatus::Completed
        } else {
            CallStatus::NoAnswer
        };
        let ring_secs = match outcome {
            CallStatus::Failed => 0.0,
            CallStatus::Busy => ring.min(2.0),
            CallStatus::NoAnswer => timeout,
            _ => ring,
        };
        Plan {
            outcome,
            ring_secs,
            talk_secs: talk,
            machine: outcome == CallStatus::Completed && machine_draw < self.machine_rate,
        }
    }
}

struct Live {
    call: ProviderCall,
    hangup: Option<oneshot::Sender<()>>,
}

struct Inner {
    config: SimulatorConfig,
    sink: Arc<dyn EventSink>,
    counter: AtomicU64,
    /// This simulator's run: a random number that keeps call ids unique across restarts.
    run: u32,
    live: Mutex<HashMap<String, Live>>,
    history: Mutex<VecDeque<ProviderCall>>,
}

fn run_id() -> u32 {
    rand::random::<u32>()
}

/// The simulator. Cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

const HISTORY: usize = 10_000;

/// The verdict the simulator gives a machine (Twilio's word for a greeting's start).
pub const MACHINE: &str = "machine_start";
/// How long detection takes before a machine is hung up (seconds of simulated time).
const DETECTION_SECS: f64 = 3.0;
/// How long a machine's greeting lasts before a message can be left (simulated seconds).
const GREETING_SECS: f64 = 12.0;

impl Simulator {
    pub fn new(config: SimulatorConfig, sink: Arc<dyn EventSink>) -> Result<Self, String> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                sink,
                counter: AtomicU64::new(0),
                run: run_id(),
                live: Mutex::new(HashMap::new()),
                history: Mutex::new(VecDeque::new()),
            }),
        })
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.inner.config
    }

    fn scaled(&self, secs: f64) -> Duration {
        Duration::from_secs_f64((secs / self.inner.config.time_scale).max(0.0))
    }
}

fn event(
    call_id: &str,
    reference: &str,
    dial_to: &str,
    status: CallStatus,
    duration: Option<i64>,
) -> ProviderEvent {
    ProviderEvent {
        provider: ProviderKind::Simulator,
        provider_call_id: call_id.to_string(),
        event: status.as_str().to_string(),
        status,
        at: Utc::now(),
        duration_secs: duration,
        hangup_cause: match status {
            CallStatus::Failed => Some("unallocated number".into()),
            CallStatus::Canceled => Some("canceled by request".into()),
            CallStatus::Busy => Some("user busy".into()),
            CallStatus::NoAnswer => Some("no answer".into()),
            _ => None,
        },
        recording_url: None,
        answered_by: None,
        from: None,
        to: Some(dial_to.to_string()),
        reference: Some(reference.to_string()),
        raw: serde_json::json!({ "CallSid": call_id, "CallStatus": status.as_str() }),
    }
}

impl Simulator {
    fn set_status(&self, id: &str, status: CallStatus) {
        let mut live = self.inner.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = live.get_mut(id) {
            l.call.status = status;
        }
    }

    fn finish(&self, id: &str, status: CallStatus, duration: i64) {
        let done = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(mut l) = done {
            l.call.status = status;
            l.call.duration_secs = Some(duration);
            let mut h = self.inner.history.lock().unwrap_or_else(|p| p.into_inner());
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(l.call);
        }
    }

    /// Play one call: initiated, ringing, then its planned ending — or an early one if hung up.
    async fn play(self, id: String, dial: Dial, plan: Plan, mut hangup: oneshot::Receiver<()>) {
        let (reference, to) = (&dial.reference, &dial.to);
        let (detect, voicemail) = (dial.machine_detection, &dial.voicemail);
        let sink = self.inner.sink.clone();
        sink.deliver(event(&id, reference, to, CallStatus::Initiated, None))
            .await;
        if plan.outcome == CallStatus::Failed {
            sink.deliver(event(&id, reference, to, CallStatus::Failed, Some(0)))
                .await;
            self.finish(&id, CallStatus::Failed, 0);
            return;
        }
        sink.deliver(event(&id, reference, to, CallStatus::Ringing, None))
            .await;
        self.set_status(&id, CallStatus::Ringing);
        tokio::select! {
            _ = tokio::time::sleep(self.scaled(plan.ring_secs)) => {}
            _ = &mut hangup => {
                sink.deliver(event(&id, reference, to, CallStatus::Canceled, Some(0))).await;
                self.finish(&id, CallStatus::Canceled, 0);
                return;
            }
        }
        if plan.outcome != CallStatus::Completed {
            sink.deliver(event(&id, reference, to, plan.outcome, Some(0)))
                .await;
            self.finish(&id, plan.outcome, 0);
            return;
        }
        let answered = tokio::time::Instant::now();
        // Detection gives its verdict as the call is answered; a machine is hung up at once
        // (the few seconds detection takes are its talk time).
        let verdict = detect.then_some(if plan.machine { MACHINE } else { "human" });
        let mut picked_up = event(&id, reference, to, CallStatus::Answered, None);
        picked_up.answered_by = verdict.map(str::to_owned);
        sink.deliver(picked_up).await;
        let talk_secs = match (detect && plan.machine, voicemail) {
            // A message left: about two and a half words a second, after the greeting.
            (true, Some(m)) => {
                DETECTION_SECS + GREETING_SECS + m.split_whitespace().count() as f64 / 2.5
            }
            (true, None) => DETECTION_SECS,
            _ => plan.talk_secs,
        };
        self.set_status(&id, CallStatus::Answered);
        {
            let mut live = self.inner.live.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(l) = live.get_mut(&id) {
                l.call.started_at = Some(Utc::now());
            }
        }
        let talked = tokio::select! {
            _ = tokio::time::sleep(self.scaled(talk_secs)) => talk_secs,
            _ = &mut hangup => answered.elapsed().as_secs_f64() * self.inner.config.time_scale,
        };
        let secs = talked.round() as i64;
        let mut ended = event(&id, reference, to, CallStatus::Completed, Some(secs));
        ended.answered_by = verdict.map(str::to_owned);
        sink.deliver(ended).await;
        self.finish(&id, CallStatus::Completed, secs);
    }
}

#[async_trait::async_trait]
impl Provider for Simulator {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Simulator
    }

    async fn originate(&self, dial: &Dial) -> Result<Placed, ProviderError> {
        if dial.to.is_empty() {
            return Err(ProviderError::Rejected("no number to call".into()));
        }
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        // Unique across processes and restarts (call ids are unique per provider in the store);
        // the outcome plan still follows the seed and the call's number.
        let id = format!(
            "SIM{:08x}{:016x}{:08x}",
            self.inner.run, self.inner.config.seed, n
        );
        let plan = self.inner.config.plan(n, dial.ring_timeout_secs);
        let (tx, rx) = oneshot::channel();
        let call = ProviderCall {
            provider_call_id: id.clone(),
            from: Some(dial.from.clone()),
            to: Some(dial.to.clone()),
            direction: Direction::Outbound,
            status: CallStatus::Initiated,
            started_at: None,
            duration_secs: None,
            agent_name: None,
            recording_url: None,
            raw: serde_json::json!({ "reference": dial.reference }),
        };
        self.inner
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                id.clone(),
                Live {
                    call,
                    hangup: Some(tx),
                },
            );
        tokio::spawn(self.clone().play(id.clone(), dial.clone(), plan, rx));
        Ok(Placed {
            provider_call_id: id,
            status: CallStatus::Initiated,
        })
    }

    async fn hangup(&self, provider_call_id: &str) -> Result<(), ProviderError> {
        let sender = self
            .inner
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(provider_call_id)
            .and_then(|l| l.hangup.take());
        if let Some(s) = sender {
            let _ = s.send(());
        }
        Ok(())
    }

    async fn live_calls(&self) -> Result<Vec<ProviderCall>, ProviderError> {
        let live = self.inner.live.lock().unwrap_or_else(|p| p.into_inner());
        Ok(live.values().map(|l| l.call.clone()).collect())
    }

    async fn call_records(&self, q: &RecordQuery) -> Result<RecordPage, ProviderError> {
        let h = self.inner.history.lock().unwrap_or_else(|p| p.into_inner());
        let matching: Vec<&ProviderCall> = h
            .iter()
            .rev()
            .filter(|c| {
                q.destination
                    .as_ref()
                    .is_none_or(|d| c.to.as_deref().is_some_and(|t| t.contains(d.as_str())))
            })
            .collect();
        let limit = q.limit.clamp(1, 100) as usize;
        let start = (q.page.max(1) as usize - 1) * limit;
        Ok(RecordPage {
            count: matching.len() as u64,
            results: matching
                .into_iter()
                .skip(start)
                .take(limit)
                .cloned()
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Mutex<Vec<ProviderEvent>>);

    #[async_trait::async_trait]
    impl EventSink for Collect {
        async fn deliver(&self, e: ProviderEvent) {
            self.0.lock().unwrap().push(e);
        }
    }

    fn dial(n: u32) -> Dial {
        Dial {
            reference: format!("ref{n}"),
            to: format!("+1415555{n:04}"),
            from: "+14150000000".into(),
            answer_url: String::new(),
            status_url: String::new(),
            ring_timeout_secs: 30,
            time_limit_secs: None,
            bridge: crate::Bridge::None,
            agent_id: None,
            machine_detection: false,
            voicemail: None,
            record: false,
        }
    }

    #[test]
    fn plans_follow_the_seed_and_the_mix() {
        let c = SimulatorConfig::default();
        assert_eq!(
            c.plan(7, 30),
            c.plan(7, 30),
            "same seed and call: same plan"
        );
        let other = SimulatorConfig {
            seed: 43,
            ..c.clone()
        };
        let differs = (0..50).any(|n| other.plan(n, 30) != c.plan(n, 30));
        assert!(differs);
        let n = 20_000;
        let answered = (0..n)
            .filter(|&i| c.plan(i, 30).outcome == CallStatus::Completed)
            .count() as f64
            / n as f64;
        let busy = (0..n)
            .filter(|&i| c.plan(i, 30).outcome == CallStatus::Busy)
            .count() as f64
            / n as f64;
        assert!((answered - 0.6).abs() < 0.02, "answer rate {answered}");
        assert!((busy - 0.1).abs() < 0.01, "busy rate {busy}");
        let all = SimulatorConfig {
            answer_rate: 1.0,
            busy_rate: 0.0,
            failed_rate: 0.0,
            ..c.clone()
        };
        assert!((0..200).all(|i| all.plan(i, 30).outcome == CallStatus::Completed));
        assert!(
            (0..200).all(|i| all.plan(i, 1).outcome == CallStatus::NoAnswer),
            "a ring timeout shorter than the ring is a no-answer"
        );
        assert!(
            SimulatorConfig {
                answer_rate: 0.9,
                busy_rate: 0.2,
                ..c.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            SimulatorConfig {
                time_scale: 0.0,
                ..c
            }
            .validate()
            .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn calls_play_out_and_can_be_hung_up() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        let cfg = SimulatorConfig {
            answer_rate: 1.0,
            busy_rate: 0.0,
            failed_rate: 0.0,
            ring_secs: (1.0, 1.0),
            talk_mean_secs: 60.0,
            time_scale: 1.0,
            seed: 1,
            machine_rate: 0.0,
        };
        let sim = Simulator::new(cfg, sink.clone()).unwrap();
        let a = sim.originate(&dial(1)).await.unwrap();
        let b = sim.originate(&dial(2)).await.unwrap();
        assert_eq!(sim.live_calls().await.unwrap().len(), 2);
        tokio::time::sleep(Duration::from_secs(2)).await;
        sim.hangup(&b.provider_call_id).await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let events = sink.0.lock().unwrap().clone();
        let of = |id: &str| {
            events
                .iter()
                .filter(|e| e.provider_call_id == id)
                .map(|e| e.status)
                .collect::<Vec<_>>()
        };
        use CallStatus::*;
        assert_eq!(
            of(&a.provider_call_id),
            [Initiated, Ringing, Answered, Completed]
        );
        assert_eq!(
            of(&b.provider_call_id),
            [Initiated, Ringing, Answered, Completed]
        );
        let b_end = events
            .iter()
            .find(|e| e.provider_call_id == b.provider_call_id && e.status == Completed)
            .unwrap();
        assert_eq!(
            b_end.duration_secs,
            Some(1),
            "hung up one second after answer"
        );
        assert_eq!(b_end.reference.as_deref(), Some("ref2"));
        assert!(sim.live_calls().await.unwrap().is_empty());
        assert_eq!(
            sim.call_records(&RecordQuery {
                limit: 10,
                page: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .count,
            2
        );
        sim.hangup("SIM-unknown").await.unwrap();
    }

    /// Machines answer some answered calls: detected (and hung up after the detection's few
    /// seconds) when the call asks for it, played as a conversation otherwise.
    #[tokio::test(start_paused = true)]
    async fn machines_are_detected_when_asked() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        let cfg = SimulatorConfig {
            answer_rate: 1.0,
            busy_rate: 0.0,
            failed_rate: 0.0,
            machine_rate: 1.0,
            ring_secs: (1.0, 1.0),
            talk_mean_secs: 60.0,
            ..Default::default()
        };
        let sim = Simulator::new(cfg, sink.clone()).unwrap();
        let detected = sim
            .originate(&Dial {
                machine_detection: true,
                ..dial(1)
            })
            .await
            .unwrap();
        let plain = sim.originate(&dial(2)).await.unwrap();
        // With a message to leave: the greeting, then the message, then the end.
        let left = sim
            .originate(&Dial {
                machine_detection: true,
                voicemail: Some("Hello from Acme, please call us back".into()),
                ..dial(3)
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let events = sink.0.lock().unwrap().clone();
        let of = |id: &str, s: CallStatus| {
            events
                .iter()
                .find(|e| e.provider_call_id == id && e.status == s)
                .cloned()
                .unwrap()
        };
        let d = &detected.provider_call_id;
        assert_eq!(
            of(d, CallStatus::Answered).answered_by.as_deref(),
            Some(MACHINE)
        );
        let end = of(d, CallStatus::Completed);
        assert_eq!(end.answered_by.as_deref(), Some(MACHINE));
        assert_eq!(end.duration_secs, Some(DETECTION_SECS as i64));
        let left_end = of(&left.provider_call_id, CallStatus::Completed);
        assert_eq!(left_end.duration_secs, Some(18), "3 + 12 + 7 words / 2.5");
        assert_eq!(left_end.answered_by.as_deref(), Some(MACHINE));
        let p = &plain.provider_call_id;
        assert_eq!(of(p, CallStatus::Answered).answered_by, None);
        assert!(of(p, CallStatus::Completed).duration_secs.unwrap() >= 3);
        let none = SimulatorConfig {
            machine_rate: 1.5,
            ..Default::default()
        };
        assert!(none.validate().unwrap_err().contains("machine rate"));
    }
}
