//! Lead status, disposition and priority, with the rules on who may change what (seed 002).

use serde::{Deserialize, Serialize};

/// Where a lead is in its life (seed 001's flow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    Pending,
    Claimed,
    Calling,
    Answered,
    Transferred,
    Failed,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 6] = [
        LeadStatus::Pending,
        LeadStatus::Claimed,
        LeadStatus::Calling,
        LeadStatus::Answered,
        LeadStatus::Transferred,
        LeadStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Pending => "pending",
            LeadStatus::Claimed => "claimed",
            LeadStatus::Calling => "calling",
            LeadStatus::Answered => "answered",
            LeadStatus::Transferred => "transferred",
            LeadStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// The outcome of a lead's last attempt (seed 002's vocabulary). `IN_QUEUE` is "no disposition".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Disposition {
    Connected,
    Failed,
    NotInterested,
    Missed,
    Hangup,
    Disconnected,
    Busy,
    PowerOff,
    Banned,
    Unknown,
}

impl Disposition {
    pub const ALL: [Disposition; 10] = [
        Disposition::Connected,
        Disposition::Failed,
        Disposition::NotInterested,
        Disposition::Missed,
        Disposition::Hangup,
        Disposition::Disconnected,
        Disposition::Busy,
        Disposition::PowerOff,
        Disposition::Banned,
        Disposition::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Connected => "CONNECTED",
            Disposition::Failed => "FAILED",
            Disposition::NotInterested => "NOT_INTERESTED",
            Disposition::Missed => "MISSED",
            Disposition::Hangup => "HANGUP",
            Disposition::Disconnected => "DISCONNECTED",
            Disposition::Busy => "BUSY",
            Disposition::PowerOff => "POWER_OFF",
            Disposition::Banned => "BANNED",
            Disposition::Unknown => "UNKNOWN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// People (admins, agents) may change a lead whose disposition is mutable; an immutable
    /// one records a conversation or a final failure and only machines may overwrite it.
    pub fn is_mutable_by_people(self) -> bool {
        matches!(
            self,
            Disposition::Missed | Disposition::Busy | Disposition::PowerOff | Disposition::Banned
        )
    }

    /// The lead status a disposition leaves the lead in, before retry rules apply.
    pub fn lead_status(self) -> LeadStatus {
        match self {
            Disposition::Connected
            | Disposition::NotInterested
            | Disposition::Hangup
            | Disposition::Disconnected => LeadStatus::Answered,
            Disposition::Failed | Disposition::Unknown | Disposition::Banned => LeadStatus::Failed,
            Disposition::Missed | Disposition::Busy | Disposition::PowerOff => LeadStatus::Pending,
        }
    }
}

/// A disposition value as people write it: one of seed 002's values, or `IN_QUEUE` (none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispositionInput {
    InQueue,
    Set(Disposition),
}

impl DispositionInput {
    pub fn parse(s: &str) -> Option<Self> {
        if s.trim().eq_ignore_ascii_case("IN_QUEUE") {
            Some(Self::InQueue)
        } else {
            Disposition::parse(s).map(Self::Set)
        }
    }

    /// Whether people may set this value (seed 002: `IN_QUEUE`, `MISSED`, `BUSY`, `POWER_OFF`, `BANNED`).
    pub fn settable_by_people(self) -> bool {
        match self {
            Self::InQueue => true,
            Self::Set(d) => d.is_mutable_by_people(),
        }
    }
}

/// The longest a call back may be set ahead.
pub const CALLBACK_AHEAD: chrono::Duration = chrono::Duration::days(366);

/// Whether people may ask for a call back at `at`, seen at `now`: in the future, at most
/// [`CALLBACK_AHEAD`] later.
pub fn callback_time_ok(
    at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    if at <= now {
        return Err("callback_at must be in the future".into());
    }
    if at > now + CALLBACK_AHEAD {
        return Err("callback_at may be at most a year ahead".into());
    }
    Ok(())
}

/// Whether a lead that will be `status` may hold a call back: only a pending one is waiting
/// to be called.
pub fn callback_needs_pending(status: LeadStatus) -> Result<(), String> {
    if status == LeadStatus::Pending {
        Ok(())
    } else {
        Err(format!(
            "a call back needs a pending lead, and this one is {} (send status pending with it)",
            status.as_str()
        ))
    }
}

/// Who a call back is for (VICIdial's `ANYONE` and `USERONLY` call backs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackFor {
    /// Any dialer may call the lead once it is due: batches, the call queue, campaigns.
    Anyone,
    /// Kept for the lead's agent: dialers leave it to them, and the call queue bridges it to
    /// that agent only. A lead given to nobody, or whose agent is deactivated, has it made
    /// anyone's.
    Agent,
}

impl CallbackFor {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackFor::Anyone => "anyone",
            CallbackFor::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "anyone" => Some(CallbackFor::Anyone),
            "agent" => Some(CallbackFor::Agent),
            _ => None,
        }
    }
}

/// Whether a call back for `whom` may be kept on a lead whose agent will be `agent`.
pub fn callback_for_ok(whom: CallbackFor, agent: Option<i64>) -> Result<(), String> {
    if whom == CallbackFor::Agent && agent.is_none() {
        return Err("a call back for the agent needs a lead assigned to an agent".into());
    }
    Ok(())
}

/// Whether people may edit or delete a lead that carries `current`.
pub fn people_may_edit(current: Option<Disposition>) -> Result<(), String> {
    match current {
        Some(d) if !d.is_mutable_by_people() => Err(format!(
            "lead has final disposition {}; only the dialer may change it",
            d.as_str()
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    High,
    Medium,
    Low,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Urgent,
        Priority::High,
        Priority::Medium,
        Priority::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Rank for ordering: 0 is dialed first.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Urgent => 0,
            Priority::High => 1,
            Priority::Medium => 2,
            Priority::Low => 3,
        }
    }
}

/// Normalize a free-form tag: trimmed, lower-case, at most 64 characters; empty is dropped.
pub fn normalize_tag(tag: &str) -> Option<String> {
    let t = tag.trim().to_lowercase();
    if t.is_empty() || t.chars().count() > 64 {
        None
    } else {
        Some(t)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn call_backs_are_in_the_next_year_for_pending_leads() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .to_utc();
        let h = chrono::Duration::hours;
        assert!(callback_time_ok(now + h(1), now).is_ok());
        assert!(callback_time_ok(now + CALLBACK_AHEAD, now).is_ok());
        assert!(callback_time_ok(now, now).unwrap_err().contains("future"));
        assert!(
            callback_time_ok(now + CALLBACK_AHEAD + h(1), now)
                .unwrap_err()
                .contains("year")
        );
        assert!(callback_needs_pending(LeadStatus::Pending).is_ok());
        assert!(callback_for_ok(CallbackFor::Agent, Some(3)).is_ok());
        assert!(callback_for_ok(CallbackFor::Anyone, None).is_ok());
        assert!(
            callback_for_ok(CallbackFor::Agent, None)
                .unwrap_err()
                .contains("assigned")
        );
        for w in [CallbackFor::Anyone, CallbackFor::Agent] {
            assert_eq!(CallbackFor::parse(w.as_str()), Some(w));
        }
        assert_eq!(CallbackFor::parse(" Agent "), Some(CallbackFor::Agent));
        assert_eq!(CallbackFor::parse("user_only"), None);
        for s in [
            LeadStatus::Claimed,
            LeadStatus::Failed,
            LeadStatus::Answered,
        ] {
            assert!(callback_needs_pending(s).unwrap_err().contains("pending"));
        }
    }

    use super::*;

    #[test]
    fn mutability_follows_seed_002() {
        let mutable: Vec<_> = Disposition::ALL
            .into_iter()
            .filter(|d| d.is_mutable_by_people())
            .map(|d| d.as_str())
            .collect();
        assert_eq!(mutable, ["MISSED", "BUSY", "POWER_OFF", "BANNED"]);
        assert!(people_may_edit(None).is_ok());
        assert!(people_may_edit(Some(Disposition::Busy)).is_ok());
        assert!(people_may_edit(Some(Disposition::Connected)).is_err());
        assert!(
            DispositionInput::parse("in_queue")
                .unwrap()
                .settable_by_people()
        );
        assert!(
            !DispositionInput::parse("HANGUP")
                .unwrap()
                .settable_by_people()
        );
        assert_eq!(DispositionInput::parse("nope"), None);
    }

    #[test]
    fn disposition_maps_to_status() {
        assert_eq!(Disposition::Connected.lead_status(), LeadStatus::Answered);
        assert_eq!(Disposition::Busy.lead_status(), LeadStatus::Pending);
        assert_eq!(Disposition::Unknown.lead_status(), LeadStatus::Failed);
        assert_eq!(Disposition::Banned.lead_status(), LeadStatus::Failed);
    }

    #[test]
    fn vocabularies_round_trip() {
        for s in LeadStatus::ALL {
            assert_eq!(LeadStatus::parse(s.as_str()), Some(s));
        }
        for d in Disposition::ALL {
            assert_eq!(Disposition::parse(d.as_str()), Some(d));
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        assert_eq!(normalize_tag("  Hot "), Some("hot".into()));
        assert_eq!(normalize_tag("  "), None);
    }
}
