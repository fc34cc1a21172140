//! Calls: one state machine that every provider's and every surface's vocabulary maps onto.

use serde::{Deserialize, Serialize};

use crate::Disposition;

/// `initiated → ringing → answered → completed`, or one of the other endings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Initiated,
    Ringing,
    Answered,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl CallStatus {
    pub const ALL: [CallStatus; 8] = [
        CallStatus::Initiated,
        CallStatus::Ringing,
        CallStatus::Answered,
        CallStatus::Completed,
        CallStatus::Busy,
        CallStatus::NoAnswer,
        CallStatus::Failed,
        CallStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Initiated => "initiated",
            CallStatus::Ringing => "ringing",
            CallStatus::Answered => "answered",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Failed => "failed",
            CallStatus::Canceled => "canceled",
        }
    }

    /// The core's own names (also seed 001's).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    pub fn is_final(self) -> bool {
        !self.is_live()
    }

    pub fn is_live(self) -> bool {
        matches!(
            self,
            CallStatus::Initiated | CallStatus::Ringing | CallStatus::Answered
        )
    }

    fn rank(self) -> u8 {
        match self {
            CallStatus::Initiated => 0,
            CallStatus::Ringing => 1,
            CallStatus::Answered => 2,
            _ => 3,
        }
    }

    /// The status after an event reporting `next` reaches a call in `self`.
    ///
    /// Events may arrive twice, late or out of order: a call only moves forward, and a finished
    /// call never goes back to live nor changes how it ended (the first ending wins).
    pub fn advance(self, next: CallStatus) -> CallStatus {
        if self.is_final() || next.rank() < self.rank() {
            self
        } else {
            next
        }
    }

    /// The lead disposition an ended call leaves (seed 002's vocabulary).
    pub fn disposition(self) -> Option<Disposition> {
        Some(match self {
            CallStatus::Completed => Disposition::Connected,
            CallStatus::Busy => Disposition::Busy,
            CallStatus::NoAnswer | CallStatus::Canceled => Disposition::Missed,
            CallStatus::Failed => Disposition::Failed,
            _ => return None,
        })
    }

    /// How a call ends, knowing who answered it (`answered_by`, as providers' answering-machine
    /// detection says it): a call a machine answered had no conversation, so the provider's
    /// `completed` ends it `no-answer` — its lead `MISSED` (retried by rule), not `CONNECTED`,
    /// and no report counts it as a conversation. Every other ending stays as it is.
    pub fn ended_by(self, answered_by: Option<&str>) -> CallStatus {
        match self {
            CallStatus::Completed if answered_by.is_some_and(is_machine) => CallStatus::NoAnswer,
            s => s,
        }
    }

    /// The call status a disposition stands for (a result an external dialer reports).
    pub fn of_disposition(d: Disposition) -> Self {
        match d {
            Disposition::Connected
            | Disposition::NotInterested
            | Disposition::Hangup
            | Disposition::Disconnected => CallStatus::Completed,
            Disposition::Busy => CallStatus::Busy,
            Disposition::Missed => CallStatus::NoAnswer,
            Disposition::PowerOff
            | Disposition::Failed
            | Disposition::Banned
            | Disposition::Unknown => CallStatus::Failed,
        }
    }

    /// Whether a conversation happened.
    pub fn was_answered(self) -> bool {
        matches!(self, CallStatus::Answered | CallStatus::Completed)
    }
}

impl std::fmt::Display for CallStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a provider's answering-machine verdict says a machine answered: Twilio's
/// `machine_start`, `machine_end_beep`, `machine_end_silence`, `machine_end_other` and `fax`,
/// Plivo's (and the core's) `machine`. `human` and `unknown` are not.
pub fn is_machine(answered_by: &str) -> bool {
    let a = answered_by.trim().to_ascii_lowercase();
    a.starts_with("machine") || a == "fax"
}

/// Twilio's `CallStatus` (call resource and status callbacks).
pub fn from_twilio(s: &str) -> Option<CallStatus> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "queued" | "initiated" => CallStatus::Initiated,
        "ringing" => CallStatus::Ringing,
        "in-progress" | "answered" => CallStatus::Answered,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "no-answer" => CallStatus::NoAnswer,
        "failed" => CallStatus::Failed,
        "canceled" => CallStatus::Canceled,
        _ => return None,
    })
}

/// How a `<Dial>` to an agent ended, as Twilio's `DialCallStatus` says it (`answered`: answered
/// and bridged); only endings.
pub fn from_twilio_dial(s: &str) -> Option<CallStatus> {
    match s.trim().to_ascii_lowercase().as_str() {
        "answered" => Some(CallStatus::Completed),
        s => from_twilio(s).filter(|s| s.is_final()),
    }
}

/// How a `<Dial>` to an agent ended, as Plivo's `DialStatus` says it (`timeout`: not answered).
pub fn from_plivo_dial(s: &str) -> Option<CallStatus> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "completed" | "answer" | "answered" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "no-answer" | "timeout" => CallStatus::NoAnswer,
        "failed" => CallStatus::Failed,
        "cancel" | "canceled" | "cancelled" => CallStatus::Canceled,
        _ => return None,
    })
}

/// Plivo's `CallStatus`, refined by the hang-up cause code where it tells more
/// (1000/1010: canceled by us; 2000-range: failed).
pub fn from_plivo(status: &str, hangup_cause_code: Option<i64>) -> Option<CallStatus> {
    let base = match status.trim().to_ascii_lowercase().as_str() {
        "queued" => CallStatus::Initiated,
        "ringing" | "early-media" => CallStatus::Ringing,
        "in-progress" | "answered" => CallStatus::Answered,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "timeout" | "no-answer" => CallStatus::NoAnswer,
        "failed" => CallStatus::Failed,
        "cancel" | "canceled" | "cancelled" => CallStatus::Canceled,
        _ => return None,
    };
    Some(match (base, hangup_cause_code) {
        (CallStatus::Completed | CallStatus::Failed, Some(1000 | 1010)) => CallStatus::Canceled,
        (b, _) => b,
    })
}

/// Smartflo's words: live `state` (`Ringing`, `Answered`), CDR `status` (`answered`, `missed`)
/// and webhook `$call_status` values, which a hang-up event sends for an ended call.
pub fn from_smartflo(s: &str, ended: bool) -> Option<CallStatus> {
    let s = s.trim().to_ascii_lowercase();
    Some(match s.as_str() {
        "originate" | "initiated" | "queued" => CallStatus::Initiated,
        "ringing" | "dialing" | "dialling" => CallStatus::Ringing,
        "answered" | "connected" | "in-progress" | "answer" if !ended => CallStatus::Answered,
        "answered" | "connected" | "completed" | "answer" => CallStatus::Completed,
        "missed" | "no-answer" | "noanswer" | "not answered" => CallStatus::NoAnswer,
        "busy" => CallStatus::Busy,
        "failed" | "rejected" => CallStatus::Failed,
        "canceled" | "cancelled" => CallStatus::Canceled,
        _ => return None,
    })
}

/// Seed 004's bot vocabulary. The bot's own word is kept beside the core status, so it reads
/// back what it wrote; these are the words the log answers for calls others made.
pub fn to_bot(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Initiated | CallStatus::Ringing | CallStatus::Answered => "in-progress",
        CallStatus::Completed => "success",
        CallStatus::Busy | CallStatus::NoAnswer => "missed",
        CallStatus::Failed | CallStatus::Canceled => "failed",
    }
}

/// A word a bot writes, as a core status.
pub fn from_bot(s: &str) -> Option<CallStatus> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "initiated" | "queued" => CallStatus::Initiated,
        "ringing" => CallStatus::Ringing,
        "in-progress" | "in_progress" | "active" | "answered" | "ongoing" => CallStatus::Answered,
        "success" | "completed" | "ended" | "done" => CallStatus::Completed,
        "missed" | "no-answer" | "no_answer" => CallStatus::NoAnswer,
        "busy" => CallStatus::Busy,
        "failed" | "error" => CallStatus::Failed,
        "canceled" | "cancelled" | "terminated" => CallStatus::Canceled,
        _ => return None,
    })
}

/// Seed 000: a live call's `status` (`Ringing`, `Answered`) and a CDR's (`answered`, `missed`, `failed`).
pub fn to_smartflo_live(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Answered => "Answered",
        CallStatus::Initiated | CallStatus::Ringing => "Ringing",
        _ => "Ended",
    }
}

pub fn to_smartflo_cdr(s: CallStatus) -> &'static str {
    match s {
        CallStatus::Completed | CallStatus::Answered => "answered",
        CallStatus::Busy
        | CallStatus::NoAnswer
        | CallStatus::Canceled
        | CallStatus::Initiated
        | CallStatus::Ringing => "missed",
        CallStatus::Failed => "failed",
    }
}

/// `HH:MM:SS` for a number of seconds (seed 000's `duration`).
pub fn hms(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_leave_no_conversation() {
        for m in [
            "machine_start",
            "machine_end_beep",
            "Machine_End_Other",
            "fax",
            "machine",
        ] {
            assert!(is_machine(m), "{m}");
        }
        for h in ["human", "unknown", ""] {
            assert!(!is_machine(h), "{h}");
        }
        let done = CallStatus::Completed;
        assert_eq!(
            done.ended_by(Some("machine_end_beep")),
            CallStatus::NoAnswer
        );
        assert_eq!(
            done.ended_by(Some("machine_end_beep")).disposition(),
            Some(Disposition::Missed)
        );
        assert_eq!(done.ended_by(Some("human")), CallStatus::Completed);
        assert_eq!(done.ended_by(None), CallStatus::Completed);
        assert_eq!(CallStatus::Busy.ended_by(Some("machine")), CallStatus::Busy);
        assert_eq!(CallStatus::Failed.ended_by(Some("fax")), CallStatus::Failed);
        // Only an ending changes: a machine's live call is answered until it ends.
        assert_eq!(
            CallStatus::Answered.ended_by(Some("machine")),
            CallStatus::Answered
        );
    }
    use CallStatus::*;

    #[test]
    fn dials_end_in_the_cores_words() {
        for (twilio, want) in [
            ("completed", Some(Completed)),
            ("answered", Some(Completed)),
            ("busy", Some(Busy)),
            ("no-answer", Some(NoAnswer)),
            ("canceled", Some(Canceled)),
            ("in-progress", None),
            ("sideways", None),
        ] {
            assert_eq!(from_twilio_dial(twilio), want, "{twilio}");
        }
        for (plivo, want) in [
            ("completed", Some(Completed)),
            ("timeout", Some(NoAnswer)),
            ("cancel", Some(Canceled)),
            ("failed", Some(Failed)),
            ("sideways", None),
        ] {
            assert_eq!(from_plivo_dial(plivo), want, "{plivo}");
        }
    }

    #[test]
    fn calls_only_move_forward_and_endings_stick() {
        assert_eq!(Initiated.advance(Ringing), Ringing);
        assert_eq!(Ringing.advance(Answered), Answered);
        assert_eq!(
            Answered.advance(Ringing),
            Answered,
            "late ringing is ignored"
        );
        assert_eq!(Answered.advance(Completed), Completed);
        assert_eq!(
            Completed.advance(Ringing),
            Completed,
            "a finished call never goes back to live"
        );
        assert_eq!(
            Completed.advance(Failed),
            Completed,
            "the first ending wins"
        );
        assert_eq!(Initiated.advance(Busy), Busy);
        // Any order of the same events ends in the same state.
        let events = [Initiated, Ringing, Answered, Completed];
        let mut orders = vec![events.to_vec()];
        orders.push(vec![Completed, Ringing, Initiated, Answered]);
        orders.push(vec![Ringing, Completed, Answered, Answered]);
        for order in orders {
            let end = order.iter().fold(Initiated, |s, e| s.advance(*e));
            assert_eq!(end, Completed);
        }
    }

    #[test]
    fn provider_words_map_onto_the_core() {
        assert_eq!(from_twilio("queued"), Some(Initiated));
        assert_eq!(from_twilio("in-progress"), Some(Answered));
        assert_eq!(from_twilio("no-answer"), Some(NoAnswer));
        assert_eq!(from_twilio("weird"), None);
        assert_eq!(from_plivo("timeout", None), Some(NoAnswer));
        assert_eq!(from_plivo("completed", Some(1000)), Some(Canceled));
        assert_eq!(from_plivo("completed", Some(4000)), Some(Completed));
        assert_eq!(from_smartflo("Answered", false), Some(Answered));
        assert_eq!(from_smartflo("answered", true), Some(Completed));
        assert_eq!(from_smartflo("missed", true), Some(NoAnswer));
    }

    #[test]
    fn surface_vocabularies() {
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                from_bot(to_bot(s)).map(to_bot),
                Some(to_bot(s)),
                "bot words round-trip"
            );
        }
        assert_eq!(to_bot(Answered), "in-progress");
        assert_eq!(to_bot(Completed), "success");
        assert_eq!(to_smartflo_live(Ringing), "Ringing");
        assert_eq!(to_smartflo_cdr(NoAnswer), "missed");
        assert_eq!(Completed.disposition(), Some(Disposition::Connected));
        assert_eq!(NoAnswer.disposition(), Some(Disposition::Missed));
        assert_eq!(Answered.disposition(), None);
        assert_eq!(hms(33), "00:00:33");
        assert_eq!(hms(3725), "01:02:05");
    }
}
