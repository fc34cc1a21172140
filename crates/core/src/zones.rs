//! The time zone a lead is called in: its own when it has one, else the one its phone number
//! belongs to, else the schedule's.
//!
//! A number's zones come from libphonenumber's map of number prefixes to time zones
//! (`data/phone_zones.txt`, written by `tools/phone-zones.py`):
//! - a North American number (`+1`) by its area code (the longest prefix the map knows: North
//!   American mobiles keep their area code's place too);
//! - any other number by its country (the map's entry for its country code), since elsewhere a
//!   mobile number says nothing of where in its country it rings (libphonenumber itself places
//!   such numbers at the country level).
//!
//! The number is placed in its zones only when they all keep the same time at that moment (the
//! United Kingdom's four, say, or Arizona and Denver in winter): a calling window checked in the
//! wrong one of several could ring someone at night, so a country or area code across zone
//! lines is left to the schedule's zone.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Offset, Utc};
use chrono_tz::Tz;
use serde::Serialize;

const DATA: &str = include_str!("../data/phone_zones.txt");

/// The longest prefix the map holds.
const LONGEST_PREFIX: usize = 9;

static MAP: LazyLock<HashMap<&'static str, Box<[Tz]>>> = LazyLock::new(|| {
    DATA.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split_ascii_whitespace();
            let prefix = parts.next()?;
            let zones: Box<[Tz]> = parts.filter_map(|z| z.parse().ok()).collect();
            (!zones.is_empty()).then_some((prefix, zones))
        })
        .collect()
});

/// The zones a phone number (E.164, `+` optional) belongs to: a North American number's area
/// code's, any other number's country's; empty when the map knows none.
pub fn of_number(phone: &str) -> &'static [Tz] {
    let digits = phone.trim().trim_start_matches('+');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return &[];
    }
    let lengths = 1..=digits.len().min(LONGEST_PREFIX);
    let found = if digits.starts_with('1') {
        lengths.rev().find_map(|n| MAP.get(&digits[..n]))
    } else {
        // Country codes are prefix-free: the shortest prefix the map knows is the country's.
        lengths.take(3).find_map(|n| MAP.get(&digits[..n]))
    };
    found.map(|z| &z[..]).unwrap_or(&[])
}

/// Where a lead's zone came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneSource {
    /// The lead's own `timezone`.
    Lead,
    /// Its phone number's prefix.
    Number,
    /// Neither: the calling schedule's zone.
    Schedule,
}

impl ZoneSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::Lead => "lead",
            ZoneSource::Number => "number",
            ZoneSource::Schedule => "schedule",
        }
    }
}

/// The zone a lead's calling window is checked in at `at`: its own (`own`, an IANA name), else,
/// when `from_number`, the zone of its phone number when the number's zones agree at `at`;
/// `None` (the schedule's zone) otherwise.
pub fn lead_zone(
    own: Option<&str>,
    phone: &str,
    from_number: bool,
    at: DateTime<Utc>,
) -> (Option<Tz>, ZoneSource) {
    if let Some(tz) = own.and_then(|z| z.trim().parse::<Tz>().ok()) {
        return (Some(tz), ZoneSource::Lead);
    }
    if from_number && let Some(tz) = agreed(of_number(phone), at) {
        return (Some(tz), ZoneSource::Number);
    }
    (None, ZoneSource::Schedule)
}

/// How many of the map's prefixes name each zone: of zones that keep one time, the one most
/// prefixes name stands for them (London for the United Kingdom's four, not Guernsey).
static WEIGHT: LazyLock<HashMap<Tz, usize>> = LazyLock::new(|| {
    let mut w = HashMap::new();
    for z in MAP.values().flat_map(|z| z.iter()) {
        *w.entry(*z).or_default() += 1;
    }
    w
});

/// When `zones` all keep the same time at `at`, the one that stands for them.
fn agreed(zones: &[Tz], at: DateTime<Utc>) -> Option<Tz> {
    let (first, rest) = zones.split_first()?;
    let offset = |z: &Tz| at.with_timezone(z).offset().fix();
    let o = offset(first);
    if !rest.iter().all(|z| offset(z) == o) {
        return None;
    }
    let weight = |z: &Tz| WEIGHT.get(z).copied().unwrap_or(0);
    // The first of the heaviest (`max_by_key` would take the last).
    zones.iter().rev().max_by_key(|z| weight(z)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn every_zone_of_the_map_is_known() {
        let named: usize = DATA
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_ascii_whitespace().count() - 1)
            .sum();
        let known: usize = MAP.values().map(|z| z.len()).sum();
        assert_eq!(known, named, "a zone name chrono-tz does not know");
        assert!(MAP.len() > 3000, "{}", MAP.len());
    }

    #[test]
    fn numbers_find_their_longest_prefix() {
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(of_number("+12125550100"), &[ny]);
        assert_eq!(of_number("12125550100"), &[ny]);
        assert_eq!(
            of_number("+14155550100"),
            &["America/Los_Angeles".parse::<Tz>().unwrap()]
        );
        assert_eq!(
            of_number("+982155550100"),
            &["Asia/Tehran".parse::<Tz>().unwrap()]
        );
        // Elsewhere, the country: Australia's mobiles ring anywhere from Perth to Sydney.
        assert!(
            of_number("+61412345678").len() > 1,
            "{:?}",
            of_number("+61412345678")
        );
        assert!(of_number("+74951234567").len() > 1, "Russia");
        assert!(of_number("+18005550100").len() > 1, "toll-free: no area");
        assert!(of_number("").is_empty());
        assert!(of_number("+1 212 555").is_empty(), "not E.164");
        assert!(of_number("+999").is_empty());
    }

    #[test]
    fn a_lead_is_called_in_its_own_zone_else_its_numbers() {
        let winter = at("2026-01-15T12:00:00Z");
        let (tz, from) = lead_zone(Some("Europe/Paris"), "+12125550100", true, winter);
        assert_eq!(
            (tz.unwrap().name(), from),
            ("Europe/Paris", ZoneSource::Lead)
        );
        let (tz, from) = lead_zone(None, "+12125550100", true, winter);
        assert_eq!(
            (tz.unwrap().name(), from),
            ("America/New_York", ZoneSource::Number)
        );
        // Not asked to, or no valid own zone and a number the map does not know.
        assert_eq!(
            lead_zone(None, "+12125550100", false, winter),
            (None, ZoneSource::Schedule)
        );
        assert_eq!(
            lead_zone(Some("Mars/Olympus"), "+999", true, winter),
            (None, ZoneSource::Schedule)
        );
        // The United Kingdom's four zones keep one time: London's.
        let (tz, from) = lead_zone(None, "+442071234567", true, winter);
        assert_eq!(
            (tz.unwrap().name(), from),
            ("Europe/London", ZoneSource::Number)
        );
        // Spain's Canaries keep an hour behind Madrid: the schedule decides.
        assert_eq!(
            lead_zone(None, "+34912345678", true, winter),
            (None, ZoneSource::Schedule)
        );
        // Russia spans eleven hours, Australia's mobiles three: the schedule decides.
        for phone in ["+74951234567", "+61412345678", "+18005550100"] {
            assert_eq!(
                lead_zone(None, phone, true, winter),
                (None, ZoneSource::Schedule),
                "{phone}"
            );
        }
        let (tz, _) = lead_zone(None, "+919812345678", true, winter);
        assert_eq!(tz.unwrap().name(), "Asia/Calcutta");
    }

    #[test]
    fn zones_agree_only_while_they_keep_one_time() {
        let denver: Tz = "America/Denver".parse().unwrap();
        let phoenix: Tz = "America/Phoenix".parse().unwrap();
        // Arizona keeps no summer time: one time with Denver in winter only.
        assert_eq!(
            agreed(&[denver, phoenix], at("2026-01-15T12:00:00Z")),
            Some(denver)
        );
        assert_eq!(agreed(&[denver, phoenix], at("2026-07-15T12:00:00Z")), None);
        assert_eq!(agreed(&[], at("2026-07-15T12:00:00Z")), None);
    }
}
