//! Calendar days of a time zone as ranges of instants, for reports that count per local day.
//! Pure: "today" is computed from a clock passed in.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The first instant of day `d` in `tz`: local midnight, or, where a clock change skips
/// midnight, the first local time of the day that exists.
pub fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Clock changes skip at most a few hours; look in quarter hours.
    for quarter in 0..=4 * 6 {
        let local = midnight + Duration::minutes(15 * quarter);
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => continue,
        }
    }
    midnight.and_utc()
}

/// The day in `tz` that instant `t` falls on.
pub fn day_of(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// One local day: its date and its instants `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The days `first` to `last` (both included) in `tz`; none when `last` is before `first`.
pub fn days(tz: Tz, first: NaiveDate, last: NaiveDate) -> Vec<Day> {
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| Day {
            date,
            start: day_start(tz, date),
            end: day_start(tz, date.succ_opt().unwrap_or(date)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn days_follow_the_zone_and_its_clock_changes() {
        let tehran: Tz = "Asia/Tehran".parse().unwrap();
        let d = days(tehran, date("2026-01-14"), date("2026-01-15"));
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].start.to_rfc3339(), "2026-01-13T20:30:00+00:00");
        assert_eq!(d[0].end, d[1].start);
        assert_eq!(d[1].end.to_rfc3339(), "2026-01-15T20:30:00+00:00");

        // New York springs forward on 2026-03-08: that day has 23 hours.
        let ny: Tz = "America/New_York".parse().unwrap();
        let d = days(ny, date("2026-03-08"), date("2026-03-08"));
        assert_eq!((d[0].end - d[0].start).num_hours(), 23);

        // Havana's clocks skip midnight itself (00:00 becomes 01:00 on 2026-03-08).
        let havana: Tz = "America/Havana".parse().unwrap();
        let d = days(havana, date("2026-03-08"), date("2026-03-08"));
        assert_eq!(d[0].start.to_rfc3339(), "2026-03-08T05:00:00+00:00");

        assert!(days(ny, date("2026-03-09"), date("2026-03-08")).is_empty());
    }

    #[test]
    fn the_day_of_an_instant_is_local() {
        let tehran: Tz = "Asia/Tehran".parse().unwrap();
        let t = DateTime::parse_from_rfc3339("2026-01-14T21:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(day_of(tehran, t), date("2026-01-15"));
        assert_eq!(day_of(chrono_tz::UTC, t), date("2026-01-14"));
    }
}
