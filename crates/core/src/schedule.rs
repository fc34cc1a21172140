//! Calling schedules: when a lead may be dialed. Windows are local wall-clock times in an IANA
//! zone (the lead's own when it has one), on weekdays 0 = Monday … 6 = Sunday; holidays are
//! local dates; a global switch can stop all dialing. Pure: the clock is an argument.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One weekly window, `start` inclusive to `end` exclusive, local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub weekday: u8,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// Why dialing is not allowed now (seed 002's `reason` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Closed {
    Disabled,
    Holiday,
    NoWindow,
    OutsideAllowedTimeWindow,
}

impl Closed {
    pub const ALL: [Closed; 4] = [
        Closed::Disabled,
        Closed::Holiday,
        Closed::NoWindow,
        Closed::OutsideAllowedTimeWindow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Closed::Disabled => "disabled",
            Closed::Holiday => "holiday",
            Closed::NoWindow => "no_window",
            Closed::OutsideAllowedTimeWindow => "outside_allowed_time_window",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub timezone: Tz,
    pub windows: Vec<Window>,
    pub holidays: BTreeSet<NaiveDate>,
    pub enabled: bool,
    /// A lead without a zone of its own is called in its number's zone (the area code's in
    /// North America, the country's elsewhere) when that is known and unambiguous
    /// ([`crate::zones`]); false: in this schedule's.
    pub number_zones: bool,
}

/// The wire form (`GET`/`PUT /api/dialer/schedule`): a calling schedule, replaced whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScheduleDoc {
    /// IANA time zone the windows and holidays are in.
    pub timezone: String,
    /// When calls may be placed; a day without a window is closed.
    pub windows: Vec<WindowDoc>,
    /// Closed days, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// False: no calls at all.
    pub enabled: bool,
    /// A lead without a time zone of its own is called in its number's (the area code's in
    /// North America, the country's elsewhere, when it keeps one time); false: in this
    /// schedule's. Default true.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub number_zones: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WindowDoc {
    /// 0 = Monday … 6 = Sunday.
    #[schema(minimum = 0, maximum = 6)]
    pub weekday: u8,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM` (`24:00` for midnight).
    pub end: String,
}

/// The end of the day, written `24:00` (a window may run to midnight).
fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999).expect("valid")
}

fn parse_time(field: &str, v: &str) -> Result<NaiveTime, String> {
    if v.trim() == "24:00" && field.ends_with(".end") {
        return Ok(end_of_day());
    }
    NaiveTime::parse_from_str(v.trim(), "%H:%M")
        .map_err(|_| format!("{field} must be HH:MM (24-hour), not '{v}'"))
}

fn format_time(t: NaiveTime) -> String {
    if t == end_of_day() {
        "24:00".into()
    } else {
        t.format("%H:%M").to_string()
    }
}

impl Schedule {
    /// A fresh install's schedule: 09:00–20:00 every day in `tz`.
    pub fn default_in(tz: Tz) -> Self {
        let start = NaiveTime::from_hms_opt(9, 0, 0).expect("valid");
        let end = NaiveTime::from_hms_opt(20, 0, 0).expect("valid");
        Self {
            timezone: tz,
            windows: (0..7)
                .map(|weekday| Window {
                    weekday,
                    start,
                    end,
                })
                .collect(),
            holidays: BTreeSet::new(),
            enabled: true,
            number_zones: true,
        }
    }

    /// The zone a lead is called in at `at` (its own, else its number's when
    /// [`Schedule::number_zones`]), and where it came from; `None`: this schedule's.
    pub fn lead_zone(
        &self,
        own: Option<&str>,
        phone: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> (Option<Tz>, crate::zones::ZoneSource) {
        crate::zones::lead_zone(own, phone, self.number_zones, at)
    }

    /// Check a document: a known zone, weekdays 0–6, HH:MM times, windows that end after they
    /// start, real dates.
    pub fn from_doc(d: &ScheduleDoc) -> Result<Self, String> {
        let timezone: Tz = d
            .timezone
            .trim()
            .parse()
            .map_err(|_| format!("'{}' is not an IANA time zone", d.timezone))?;
        if d.windows.len() > 100 {
            return Err("at most 100 windows".into());
        }
        let mut windows = Vec::with_capacity(d.windows.len());
        for (i, w) in d.windows.iter().enumerate() {
            if w.weekday > 6 {
                return Err(format!(
                    "windows[{i}].weekday must be 0 (Monday) to 6 (Sunday)"
                ));
            }
            let start = parse_time(&format!("windows[{i}].start"), &w.start)?;
            let end = parse_time(&format!("windows[{i}].end"), &w.end)?;
            if end <= start {
                return Err(format!(
                    "windows[{i}] ends ({}) before it starts ({})",
                    w.end, w.start
                ));
            }
            windows.push(Window {
                weekday: w.weekday,
                start,
                end,
            });
        }
        if d.holidays.len() > 1000 {
            return Err("at most 1000 holidays".into());
        }
        let mut holidays = BTreeSet::new();
        for h in &d.holidays {
            holidays.insert(
                NaiveDate::parse_from_str(h.trim(), "%Y-%m-%d")
                    .map_err(|_| format!("holiday '{h}' is not a date (YYYY-MM-DD)"))?,
            );
        }
        Ok(Self {
            timezone,
            windows,
            holidays,
            enabled: d.enabled,
            number_zones: d.number_zones,
        })
    }

    pub fn to_doc(&self) -> ScheduleDoc {
        ScheduleDoc {
            timezone: self.timezone.name().to_string(),
            windows: self
                .windows
                .iter()
                .map(|w| WindowDoc {
                    weekday: w.weekday,
                    start: format_time(w.start),
                    end: format_time(w.end),
                })
                .collect(),
            holidays: self.holidays.iter().map(|d| d.to_string()).collect(),
            enabled: self.enabled,
            number_zones: self.number_zones,
        }
    }

    /// The windows of one local date, as UTC instants. A boundary that falls into a daylight-
    /// saving gap (a local time that does not exist that day) moves an hour later.
    fn windows_on(&self, tz: Tz, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let weekday = date.weekday().num_days_from_monday() as u8;
        let at = |t: NaiveTime| -> Option<DateTime<Utc>> {
            let local = date.and_time(t);
            tz.from_local_datetime(&local)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(local + Duration::hours(1)))
                        .earliest()
                })
                .map(|d| d.with_timezone(&Utc))
        };
        self.windows
            .iter()
            .filter(|w| w.weekday == weekday)
            .filter_map(|w| Some((at(w.start)?, at(w.end)?)))
            .filter(|(s, e)| e > s)
            .collect()
    }

    /// Whether a lead (in `lead_tz`, else the schedule's zone) may be dialed at `now`: `Ok`, or
    /// why not.
    pub fn check(&self, now: DateTime<Utc>, lead_tz: Option<Tz>) -> Result<(), Closed> {
        if !self.enabled {
            return Err(Closed::Disabled);
        }
        let tz = lead_tz.unwrap_or(self.timezone);
        let today = now.with_timezone(&tz).date_naive();
        if self.holidays.contains(&today) {
            return Err(Closed::Holiday);
        }
        let windows = self.windows_on(tz, today);
        if windows.is_empty() {
            return Err(Closed::NoWindow);
        }
        if windows.iter().any(|(s, e)| *s <= now && now < *e) {
            Ok(())
        } else {
            Err(Closed::OutsideAllowedTimeWindow)
        }
    }

    /// The next instant at or after `now` when dialing opens for a lead in `lead_tz`, looking a
    /// year ahead; `None` when disabled or never open.
    pub fn next_open(&self, now: DateTime<Utc>, lead_tz: Option<Tz>) -> Option<DateTime<Utc>> {
        if !self.enabled {
            return None;
        }
        let tz = lead_tz.unwrap_or(self.timezone);
        let today = now.with_timezone(&tz).date_naive();
        for offset in 0..=366 {
            let date = today + Duration::days(offset);
            if self.holidays.contains(&date) {
                continue;
            }
            let mut windows = self.windows_on(tz, date);
            windows.sort();
            for (s, e) in windows {
                if now < e {
                    return Some(s.max(now));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn doc(tz: &str, windows: &[(u8, &str, &str)], holidays: &[&str]) -> ScheduleDoc {
        ScheduleDoc {
            timezone: tz.into(),
            windows: windows
                .iter()
                .map(|(d, s, e)| WindowDoc {
                    weekday: *d,
                    start: s.to_string(),
                    end: e.to_string(),
                })
                .collect(),
            holidays: holidays.iter().map(|h| h.to_string()).collect(),
            enabled: true,
            number_zones: true,
        }
    }

    #[test]
    fn bad_documents_are_refused() {
        assert!(
            Schedule::from_doc(&doc("Mars/Base", &[], &[]))
                .unwrap_err()
                .contains("IANA")
        );
        assert!(
            Schedule::from_doc(&doc("UTC", &[(7, "09:00", "10:00")], &[]))
                .unwrap_err()
                .contains("weekday")
        );
        assert!(
            Schedule::from_doc(&doc("UTC", &[(0, "9am", "10:00")], &[]))
                .unwrap_err()
                .contains("HH:MM")
        );
        assert!(
            Schedule::from_doc(&doc("UTC", &[(0, "10:00", "09:00")], &[]))
                .unwrap_err()
                .contains("before it starts")
        );
        assert!(
            Schedule::from_doc(&doc("UTC", &[], &["2026-02-30"]))
                .unwrap_err()
                .contains("holiday")
        );
        let ok = doc("Asia/Tehran", &[(0, "09:00", "20:00")], &["2026-03-21"]);
        assert_eq!(
            Schedule::from_doc(&ok).unwrap().to_doc(),
            ok,
            "documents round-trip"
        );
    }

    #[test]
    fn windows_holidays_and_the_switch() {
        // Tehran is UTC+03:30. Monday 2026-03-16, Saturday 2026-03-21 (a holiday).
        let s = Schedule::from_doc(&doc(
            "Asia/Tehran",
            &[(0, "09:00", "20:00"), (5, "09:00", "20:00")],
            &["2026-03-21"],
        ))
        .unwrap();
        assert_eq!(
            s.check(utc("2026-03-16T06:00:00Z"), None),
            Ok(()),
            "09:30 local"
        );
        assert_eq!(
            s.check(utc("2026-03-16T05:00:00Z"), None),
            Err(Closed::OutsideAllowedTimeWindow),
            "08:30 local"
        );
        assert_eq!(
            s.check(utc("2026-03-16T16:30:00Z"), None),
            Err(Closed::OutsideAllowedTimeWindow),
            "20:00 local: the end is exclusive"
        );
        assert_eq!(
            s.check(utc("2026-03-17T08:00:00Z"), None),
            Err(Closed::NoWindow),
            "no window on Tuesdays"
        );
        assert_eq!(
            s.check(utc("2026-03-21T08:00:00Z"), None),
            Err(Closed::Holiday)
        );
        let off = Schedule {
            enabled: false,
            ..s.clone()
        };
        assert_eq!(
            off.check(utc("2026-03-16T06:00:00Z"), None),
            Err(Closed::Disabled)
        );
        assert_eq!(off.next_open(utc("2026-03-16T06:00:00Z"), None), None);
        // The next opening skips the holiday: after Monday evening comes Monday next week.
        assert_eq!(
            s.next_open(utc("2026-03-16T17:00:00Z"), None),
            Some(utc("2026-03-23T05:30:00Z"))
        );
        assert_eq!(
            s.next_open(utc("2026-03-16T06:00:00Z"), None),
            Some(utc("2026-03-16T06:00:00Z")),
            "open now"
        );
    }

    #[test]
    fn the_leads_own_zone_decides() {
        let s = Schedule::default_in(chrono_tz::UTC);
        let ny: Tz = "America/New_York".parse().unwrap();
        // 15:00 UTC is 11:00 in New York (EDT) but 20:30 in Kolkata.
        let t = utc("2026-06-01T15:00:00Z");
        assert_eq!(s.check(t, Some(ny)), Ok(()));
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert_eq!(
            s.check(t, Some(kolkata)),
            Err(Closed::OutsideAllowedTimeWindow)
        );
        assert_eq!(
            s.next_open(t, Some(kolkata)),
            Some(utc("2026-06-02T03:30:00Z"))
        );
    }

    #[test]
    fn daylight_saving_gaps_do_not_break_windows() {
        // New York springs forward at 02:00 on 2026-03-08: 02:30 does not exist that day, so a
        // 02:30–04:00 window opens an hour later, at 03:30 EDT.
        let s =
            Schedule::from_doc(&doc("America/New_York", &[(6, "02:30", "04:00")], &[])).unwrap();
        assert_eq!(
            s.next_open(utc("2026-03-08T05:00:00Z"), None),
            Some(utc("2026-03-08T07:30:00Z"))
        );
        assert_eq!(s.check(utc("2026-03-08T07:45:00Z"), None), Ok(()));
        assert_eq!(
            s.check(utc("2026-03-08T07:15:00Z"), None),
            Err(Closed::OutsideAllowedTimeWindow)
        );
    }
}
