//! Campaigns' rules, shared by the routes that make and change one and by the store.

/// Statuses after which a campaign places no more calls.
pub const ENDED: [&str; 3] = ["completed", "cancelled", "failed"];

/// Whether a campaign in `status` has ended (only its name may still change).
pub fn has_ended(status: &str) -> bool {
    ENDED.contains(&status)
}

/// A campaign's name, trimmed: 1 to 100 characters.
pub fn name(raw: &str) -> Result<&str, &'static str> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 100 {
        Err("campaignName must be 1 to 100 characters")
    } else {
        Ok(n)
    }
}

/// A campaign's own cap on live calls: 1 to 100,000.
pub fn cap(n: i64) -> Result<i64, &'static str> {
    if (1..=100_000).contains(&n) {
        Ok(n)
    } else {
        Err("maxConcurrentCalls must be between 1 and 100000")
    }
}

/// A campaign's message for answering machines, trimmed: at most 1,000 characters; empty
/// means none.
pub fn voicemail_message(raw: &str) -> Result<&str, &'static str> {
    let m = raw.trim();
    if m.chars().count() > 1000 {
        Err("voicemailMessage may be at most 1000 characters")
    } else {
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_caps_and_ends() {
        assert_eq!(name("  Spring  "), Ok("Spring"));
        assert!(name("   ").is_err());
        assert_eq!(name(&"é".repeat(100)).map(str::len), Ok(200));
        assert!(name(&"x".repeat(101)).is_err());
        assert_eq!(cap(1), Ok(1));
        assert_eq!(cap(100_000), Ok(100_000));
        assert!(cap(0).is_err() && cap(100_001).is_err() && cap(-5).is_err());
        assert!(has_ended("cancelled") && has_ended("failed") && has_ended("completed"));
        assert!(!has_ended("running") && !has_ended("paused"));
        assert_eq!(voicemail_message("  Call us  "), Ok("Call us"));
        assert_eq!(voicemail_message(" "), Ok(""));
        assert!(voicemail_message(&"é".repeat(1000)).is_ok());
        assert!(voicemail_message(&"x".repeat(1001)).is_err());
    }
}
