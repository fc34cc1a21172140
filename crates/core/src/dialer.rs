//! The dialer's rules: retries per outcome, the daily cap, the queue's priority deadlines, and
//! the verdict on whether a lead may be dialed now (what `explain` shows). Pure: the clock and
//! every fact about the lead are arguments.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::lead::{Disposition, LeadStatus, Priority};
use crate::schedule::{Closed, Schedule};

/// An outcome that may be retried, named as admins write retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Busy,
    NoAnswer,
    PowerOff,
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Busy,
        Outcome::NoAnswer,
        Outcome::PowerOff,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no-answer",
            Outcome::PowerOff => "power-off",
            Outcome::Failed => "failed",
        }
    }

    /// The retryable outcome behind a disposition; `None` for a conversation or a final result.
    pub fn of(d: Disposition) -> Option<Self> {
        match d {
            Disposition::Busy => Some(Outcome::Busy),
            Disposition::Missed => Some(Outcome::NoAnswer),
            Disposition::PowerOff => Some(Outcome::PowerOff),
            Disposition::Failed => Some(Outcome::Failed),
            _ => None,
        }
    }
}

/// How one outcome is retried: wait `delay_seconds`, and stop after `max_attempts` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRule {
    /// Seconds to wait before the next attempt (up to 30 days).
    #[schema(minimum = 0, maximum = 2_592_000)]
    pub delay_seconds: i64,
    /// Attempts after which the outcome is final.
    #[schema(minimum = 1, maximum = 100)]
    pub max_attempts: i64,
}

/// Retry rules per outcome and the cap on attempts per lead per day (`GET`/`PUT
/// /api/dialer/rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRules {
    pub retry: BTreeMap<Outcome, RetryRule>,
    pub max_attempts_per_day: i64,
    /// Seconds an agent is left after a call ends before the call queue bridges them the next
    /// one (their notes, the lead's disposition): 0 to 3600, default 0.
    #[serde(default)]
    pub wrapup_seconds: i64,
}

impl Default for RetryRules {
    /// Busy: again in 5 minutes, no answer: in 10, phone off: in 30, three attempts each; a
    /// failed call is final (seed 002: `FAILED` is a final disposition); three attempts a day.
    fn default() -> Self {
        let r = |delay_seconds, max_attempts| RetryRule {
            delay_seconds,
            max_attempts,
        };
        Self {
            retry: BTreeMap::from([
                (Outcome::Busy, r(300, 3)),
                (Outcome::NoAnswer, r(600, 3)),
                (Outcome::PowerOff, r(1800, 3)),
                (Outcome::Failed, r(0, 1)),
            ]),
            max_attempts_per_day: 3,
            wrapup_seconds: 0,
        }
    }
}

impl RetryRules {
    /// Rules from a stored or submitted document: missing outcomes take the defaults.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, String> {
        if v.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(Self::default());
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            #[serde(default)]
            retry: BTreeMap<Outcome, RetryRule>,
            max_attempts_per_day: Option<i64>,
            wrapup_seconds: Option<i64>,
        }
        let d: Doc = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        let mut out = Self::default();
        for (k, r) in d.retry {
            if !(0..=30 * 86_400).contains(&r.delay_seconds) {
                return Err(format!(
                    "retry.{}.delay_seconds must be between 0 and 2592000",
                    k.as_str()
                ));
            }
            if !(1..=100).contains(&r.max_attempts) {
                return Err(format!(
                    "retry.{}.max_attempts must be between 1 and 100",
                    k.as_str()
                ));
            }
            out.retry.insert(k, r);
        }
        if let Some(c) = d.max_attempts_per_day {
            if !(1..=1000).contains(&c) {
                return Err("max_attempts_per_day must be between 1 and 1000".into());
            }
            out.max_attempts_per_day = c;
        }
        if let Some(w) = d.wrapup_seconds {
            if !(0..=3600).contains(&w) {
                return Err("wrapup_seconds must be between 0 and 3600".into());
            }
            out.wrapup_seconds = w;
        }
        Ok(out)
    }

    pub fn rule(&self, o: Outcome) -> RetryRule {
        self.retry.get(&o).copied().unwrap_or(RetryRule {
            delay_seconds: 0,
            max_attempts: 1,
        })
    }

    /// Where a lead goes after an attempt ended with `d`, its `attempts` counting this one:
    /// its status and, when it will be retried, the earliest time.
    pub fn after(
        &self,
        d: Disposition,
        attempts: i64,
        at: DateTime<Utc>,
    ) -> (LeadStatus, Option<DateTime<Utc>>) {
        match Outcome::of(d) {
            Some(o) => {
                let r = self.rule(o);
                if attempts >= r.max_attempts {
                    (LeadStatus::Failed, None)
                } else {
                    (
                        LeadStatus::Pending,
                        Some(at + Duration::seconds(r.delay_seconds)),
                    )
                }
            }
            None => (d.lead_status(), None),
        }
    }
}

/// The start of the calendar day holding `t` in `tz` (daily caps count from here), and of the next.
pub fn day_bounds(t: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let date = crate::days::day_of(tz, t);
    (
        crate::days::day_start(tz, date),
        crate::days::day_start(tz, date + Duration::days(1)),
    )
}

/// Seed 001's queue promise: urgent at once, high within 2 minutes, medium within 10, low when
/// nothing else waits. A waiting lead is due this long after it entered the queue.
pub fn queue_deadline(p: Priority) -> Option<Duration> {
    match p {
        Priority::Urgent => Some(Duration::zero()),
        Priority::High => Some(Duration::minutes(2)),
        Priority::Medium => Some(Duration::minutes(10)),
        Priority::Low => None,
    }
}

/// Everything the verdict depends on, read from the store by the caller.
#[derive(Debug, Clone)]
pub struct LeadFacts {
    pub status: LeadStatus,
    pub disposition: Option<Disposition>,
    pub deleted: bool,
    pub attempts: i64,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// `next_attempt_at` is a call back people asked for, not a retry delay.
    pub callback: bool,
    /// A call back kept for the lead's agent: no dialer takes it but the call queue bridging it
    /// to that agent.
    pub kept_for_agent: bool,
    pub timezone: Option<Tz>,
    pub on_dnc: bool,
    pub in_live_call: bool,
    /// The batch it is leased to and until when.
    pub leased_until: Option<DateTime<Utc>>,
    pub attempts_today: i64,
    pub queue_running: bool,
}

/// One reason a lead is not dialable now, and when it stops holding (if it ever does by itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub code: &'static str,
    pub message: String,
    pub until: Option<DateTime<Utc>>,
}

/// Whether a lead may be dialed at `now`, every reason it may not, and when it will be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub dialable: bool,
    pub blockers: Vec<Blocker>,
    /// When every blocker has lifted, if they all lift by themselves.
    pub dialable_at: Option<DateTime<Utc>>,
}

/// The verdict for one lead. Every blocker is listed, not only the first.
pub fn verdict(
    f: &LeadFacts,
    schedule: &Schedule,
    rules: &RetryRules,
    now: DateTime<Utc>,
) -> Verdict {
    let mut b: Vec<Blocker> = Vec::new();
    let mut permanent = false;
    let tz = f.timezone.unwrap_or(schedule.timezone);
    if f.deleted {
        permanent = true;
        b.push(Blocker {
            code: "deleted",
            message: "the lead is deleted".into(),
            until: None,
        });
    }
    if f.on_dnc {
        permanent = true;
        b.push(Blocker {
            code: "dnc",
            message: "the phone number is on the do-not-call list".into(),
            until: None,
        });
    }
    match f.status {
        LeadStatus::Pending => {}
        LeadStatus::Failed => {
            permanent = true;
            let why = match f.disposition.and_then(Outcome::of) {
                Some(o) => format!(
                    "the lead failed: {} attempts used the '{}' rule's {}",
                    f.attempts,
                    o.as_str(),
                    rules.rule(o).max_attempts
                ),
                None => format!(
                    "the lead failed with {}; people may requeue it",
                    f.disposition
                        .map(|d| d.as_str())
                        .unwrap_or("no disposition")
                ),
            };
            b.push(Blocker {
                code: "max_attempts",
                message: why,
                until: None,
            });
        }
        LeadStatus::Answered | LeadStatus::Transferred => {
            permanent = true;
            b.push(Blocker {
                code: "finished",
                message: format!(
                    "the lead is {} ({}); the dialer does not call it again",
                    f.status.as_str(),
                    f.disposition
                        .map(|d| d.as_str())
                        .unwrap_or("no disposition")
                ),
                until: None,
            });
        }
        LeadStatus::Claimed | LeadStatus::Calling => {
            if f.in_live_call {
                b.push(Blocker {
                    code: "in_call",
                    message: "the lead is in a live call".into(),
                    until: None,
                });
            } else if let Some(l) = f.leased_until.filter(|l| *l > now) {
                b.push(Blocker {
                    code: "claimed",
                    message: "the lead is in an external dialer's batch".into(),
                    until: Some(l),
                });
            } else if f.leased_until.is_some() {
                // An expired lease: the next claim takes it back.
            } else {
                b.push(Blocker {
                    code: "claimed",
                    message: format!("the lead is {} by an operator", f.status.as_str()),
                    until: None,
                });
            }
        }
    }
    if f.in_live_call && !b.iter().any(|x| x.code == "in_call") {
        b.push(Blocker {
            code: "in_call",
            message: "the lead is in a live call".into(),
            until: None,
        });
    }
    if let Some(next) = f.next_attempt_at.filter(|t| *t > now) {
        b.push(if f.callback {
            Blocker {
                code: "callback",
                message: "a call back is scheduled".into(),
                until: Some(next),
            }
        } else {
            Blocker {
                code: "retry_delay",
                message: match f.disposition {
                    Some(d) => format!(
                        "waiting out the retry delay after {} (attempt {})",
                        d.as_str(),
                        f.attempts
                    ),
                    None => "scheduled for later".into(),
                },
                until: Some(next),
            }
        });
    }
    if f.kept_for_agent {
        b.push(Blocker {
            code: "agent_callback",
            message: "a call back kept for the lead's agent: batches and campaigns leave it to \
                them, and the call queue bridges it to them alone once it is due"
                .into(),
            until: None,
        });
    }
    let (_, tomorrow) = day_bounds(now, tz);
    if f.attempts_today >= rules.max_attempts_per_day {
        b.push(Blocker {
            code: "daily_cap",
            message: format!(
                "{} attempts today, the cap is {}",
                f.attempts_today, rules.max_attempts_per_day
            ),
            until: Some(tomorrow),
        });
    }
    if let Err(c) = schedule.check(now, f.timezone) {
        let until = schedule.next_open(now, f.timezone);
        if until.is_none() {
            permanent = true;
        }
        let message = match c {
            Closed::Disabled => "dialing is switched off".to_string(),
            Closed::Holiday => format!("today is a holiday in {tz}"),
            Closed::NoWindow => format!("no calling window today in {tz}"),
            Closed::OutsideAllowedTimeWindow => {
                format!("outside the calling window in {tz}")
            }
        };
        b.push(Blocker {
            code: c.as_str(),
            message,
            until,
        });
    }
    if !f.queue_running {
        b.push(Blocker {
            code: "paused",
            message: "the call queue is paused (batches and campaigns still dial)".into(),
            until: None,
        });
    }
    let dialable = b.iter().all(|x| x.code == "paused");
    let dialable_at = if dialable {
        Some(now)
    } else if permanent || b.iter().any(|x| x.until.is_none() && x.code != "paused") {
        None
    } else {
        // The latest lift, then the first window open from there.
        let lift = b.iter().filter_map(|x| x.until).max().unwrap_or(now);
        let lift = if f.attempts_today >= rules.max_attempts_per_day {
            lift.max(tomorrow)
        } else {
            lift
        };
        schedule.next_open(lift, f.timezone)
    };
    Verdict {
        dialable,
        blockers: b,
        dialable_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{ScheduleDoc, WindowDoc};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn schedule() -> Schedule {
        Schedule::from_doc(&ScheduleDoc {
            timezone: "Asia/Tehran".into(),
            windows: (0..7)
                .map(|d| WindowDoc {
                    weekday: d,
                    start: "09:00".into(),
                    end: "20:00".into(),
                })
                .collect(),
            holidays: vec!["2026-03-21".into()],
            enabled: true,
            number_zones: true,
        })
        .unwrap()
    }

    fn facts() -> LeadFacts {
        LeadFacts {
            status: LeadStatus::Pending,
            disposition: None,
            deleted: false,
            attempts: 0,
            last_attempt_at: None,
            next_attempt_at: None,
            callback: false,
            kept_for_agent: false,
            timezone: None,
            on_dnc: false,
            in_live_call: false,
            leased_until: None,
            attempts_today: 0,
            queue_running: true,
        }
    }

    #[test]
    fn retries_follow_the_rule_then_fail() {
        let r = RetryRules::default();
        let at = utc("2026-05-04T10:00:00Z");
        let (s, next) = r.after(Disposition::Busy, 1, at);
        assert_eq!(s, LeadStatus::Pending);
        assert_eq!(next, Some(at + Duration::seconds(300)));
        assert_eq!(
            r.after(Disposition::Busy, 3, at),
            (LeadStatus::Failed, None)
        );
        assert_eq!(
            r.after(Disposition::Failed, 1, at),
            (LeadStatus::Failed, None)
        );
        assert_eq!(
            r.after(Disposition::Connected, 1, at),
            (LeadStatus::Answered, None)
        );
        assert_eq!(
            r.after(Disposition::Banned, 1, at),
            (LeadStatus::Failed, None)
        );
    }

    #[test]
    fn rules_documents_are_checked() {
        let r = RetryRules::from_json(&serde_json::json!({
            "retry": {"busy": {"delay_seconds": 60, "max_attempts": 5}},
            "max_attempts_per_day": 2
        }))
        .unwrap();
        assert_eq!(r.rule(Outcome::Busy).max_attempts, 5);
        assert_eq!(r.rule(Outcome::NoAnswer).delay_seconds, 600);
        assert_eq!(r.max_attempts_per_day, 2);
        for bad in [
            serde_json::json!({"retry": {"bizzy": {"delay_seconds": 1, "max_attempts": 1}}}),
            serde_json::json!({"retry": {"busy": {"delay_seconds": -1, "max_attempts": 1}}}),
            serde_json::json!({"retry": {"busy": {"delay_seconds": 1, "max_attempts": 0}}}),
            serde_json::json!({"max_attempts_per_day": 0}),
            serde_json::json!({"other": 1}),
        ] {
            assert!(RetryRules::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn day_bounds_are_local_midnights() {
        let tz: Tz = "Asia/Tehran".parse().unwrap();
        let (s, e) = day_bounds(utc("2026-05-04T22:00:00Z"), tz);
        // 22:00 UTC is 01:30 on the 5th in Tehran (UTC+3:30).
        assert_eq!(s, utc("2026-05-04T20:30:00Z"));
        assert_eq!(e, utc("2026-05-05T20:30:00Z"));
    }

    #[test]
    fn verdict_lists_every_blocker_and_when_it_lifts() {
        let s = schedule();
        let r = RetryRules::default();
        // 06:30 UTC = 10:00 Tehran: open.
        let now = utc("2026-05-04T06:30:00Z");
        let v = verdict(&facts(), &s, &r, now);
        assert!(v.dialable);
        assert_eq!(v.dialable_at, Some(now));

        let mut f = facts();
        f.next_attempt_at = Some(now + Duration::minutes(5));
        f.disposition = Some(Disposition::Busy);
        f.attempts = 1;
        let v = verdict(&f, &s, &r, now);
        assert!(!v.dialable);
        assert_eq!(v.blockers[0].code, "retry_delay");
        assert_eq!(v.dialable_at, Some(now + Duration::minutes(5)));
        // A call back people asked for says so, and holds until its time.
        f.callback = true;
        let v = verdict(&f, &s, &r, now);
        assert_eq!(v.blockers[0].code, "callback");
        assert_eq!(v.dialable_at, Some(now + Duration::minutes(5)));
        // Kept for its agent: never dialable by the dialers, before its time or after.
        f.kept_for_agent = true;
        let v = verdict(&f, &s, &r, now);
        let codes: Vec<_> = v.blockers.iter().map(|b| b.code).collect();
        assert_eq!(codes, ["callback", "agent_callback"]);
        assert!(!v.dialable);
        assert_eq!(v.dialable_at, None);
        let v = verdict(&f, &s, &r, now + Duration::minutes(6));
        let codes: Vec<_> = v.blockers.iter().map(|b| b.code).collect();
        assert_eq!(codes, ["agent_callback"]);
        assert!(!v.dialable);

        // At night in Tehran, with the day's cap used: tomorrow's window.
        let night = utc("2026-05-04T18:00:00Z"); // 21:30 local
        let mut f = facts();
        f.attempts_today = 3;
        let v = verdict(&f, &s, &r, night);
        let codes: Vec<_> = v.blockers.iter().map(|b| b.code).collect();
        assert_eq!(codes, ["daily_cap", "outside_allowed_time_window"]);
        assert_eq!(v.dialable_at, Some(utc("2026-05-05T05:30:00Z")));

        // A lead in its own zone is judged there: 06:30 UTC is 02:30 in New York.
        let mut f = facts();
        f.timezone = Some("America/New_York".parse().unwrap());
        let v = verdict(&f, &s, &r, now);
        assert!(!v.dialable);
        assert_eq!(v.dialable_at, Some(utc("2026-05-04T13:00:00Z")));

        let mut f = facts();
        f.on_dnc = true;
        let v = verdict(&f, &s, &r, now);
        assert_eq!(v.blockers[0].code, "dnc");
        assert_eq!(v.dialable_at, None);

        // A holiday lifts the next day.
        let v = verdict(&facts(), &s, &r, utc("2026-03-21T08:00:00Z"));
        assert_eq!(v.blockers[0].code, "holiday");
        assert_eq!(v.dialable_at, Some(utc("2026-03-22T05:30:00Z")));

        // The paused queue is reported but does not make a lead undialable for batches.
        let mut f = facts();
        f.queue_running = false;
        let v = verdict(&f, &s, &r, now);
        assert!(v.dialable);
        assert_eq!(v.blockers[0].code, "paused");
    }
}
