//! A schedule: when something recurring fires. Cron jobs, heartbeats and workflows with a
//! `trigger: cron` share it.
//!
//! Two grammars, both as the original accepts them:
//! - a 5-field POSIX cron expression (`0 9 * * 1-5` is 09:00 Monday to Friday; day of week
//!   0 or 7 is Sunday; names, ranges, steps, `L`, `W`, `#` and `@daily`-style nicknames as
//!   [croner] reads them, with Vixie cron's day-of-month OR day-of-week rule), evaluated
//!   in a time zone: an IANA name (`America/New_York`) or, by default, the mesh's local
//!   zone. Across daylight-saving changes it does what croner (and Vixie cron) does: a time
//!   skipped by spring-forward fires at the first instant after the gap, a time repeated by
//!   fall-back fires once.
//! - the interval shorthand `every N<unit>` (`every 30s`, `every 30m`, `every 2h`,
//!   `every 1d`), counted from the previous fire time, independent of any zone.
//!
//! What it does not own: when a job last ran, catching up, or firing — that is the
//! scheduler's (see [`super::cron`]).

use std::fmt;

use chrono::{DateTime, Local, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Longest interval `every` accepts: a year. Longer ones are almost surely a typo.
const MAX_INTERVAL_SECS: i64 = 366 * 24 * 3600;

/// Longest schedule expression accepted, in bytes (a cron line is a few dozen).
pub const MAX_EXPRESSION_BYTES: usize = 256;

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    #[error(
        "{expression:?} is not a schedule: {reason} (use 5 cron fields like \"0 9 * * 1-5\", or \"every 30m\")"
    )]
    Expression { expression: String, reason: String },
    #[error("{name:?} is not an IANA time zone (like \"Europe/Berlin\" or \"UTC\")")]
    TimeZone { name: String },
}

/// The zone a cron expression is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The mesh's local zone (the `TZ` variable, else `/etc/localtime`).
    Local,
    Iana(Tz),
}

impl Zone {
    /// `None`, `""` or `"local"`: the mesh's local zone; otherwise an IANA name.
    pub fn parse(name: Option<&str>) -> Result<Self, ScheduleError> {
        match name.map(str::trim) {
            None | Some("") => Ok(Self::Local),
            Some(n) if n.eq_ignore_ascii_case("local") => Ok(Self::Local),
            Some(n) => n
                .parse::<Tz>()
                .map(Self::Iana)
                .map_err(|_| ScheduleError::TimeZone { name: n.to_owned() }),
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Iana(tz) => f.write_str(tz.name()),
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<Cron>),
    Every(TimeDelta),
}

/// A parsed schedule and its zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    kind: Kind,
    zone: Zone,
}

impl Schedule {
    /// Parses `expression` to be read in `timezone` (see [`Zone::parse`]).
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Self, ScheduleError> {
        let zone = Zone::parse(timezone)?;
        let refuse = |reason: String| ScheduleError::Expression {
            expression: expression.chars().take(MAX_EXPRESSION_BYTES).collect(),
            reason,
        };
        if expression.len() > MAX_EXPRESSION_BYTES {
            return Err(refuse(format!("longer than {MAX_EXPRESSION_BYTES} bytes")));
        }
        let text = expression.trim();
        let kind = match text.strip_prefix("every") {
            Some(rest) if rest.starts_with(char::is_whitespace) => {
                Kind::Every(interval(rest.trim()).map_err(refuse)?)
            }
            _ => {
                let fields = text.split_whitespace().count();
                if !text.starts_with('@') && fields != 5 {
                    return Err(refuse(format!(
                        "it has {fields} fields, a cron expression has 5 (minute hour day-of-month month day-of-week)"
                    )));
                }
                let cron = CronParser::builder()
                    .seconds(Seconds::Disallowed)
                    .year(Year::Disallowed)
                    .build()
                    .parse(text)
                    .map_err(|e| refuse(e.to_string()))?;
                // A pattern that can never match (`0 0 31 2 *`) parses; refuse it now
                // rather than leave a job that never runs.
                if cron.find_next_occurrence(&Utc::now(), false).is_err() {
                    return Err(refuse("it never matches a real date".into()));
                }
                Kind::Cron(Box::new(cron))
            }
        };
        Ok(Self {
            expression: text.to_owned(),
            kind,
            zone,
        })
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// For an `every` schedule, its interval.
    pub fn interval(&self) -> Option<TimeDelta> {
        match self.kind {
            Kind::Every(d) => Some(d),
            Kind::Cron(_) => None,
        }
    }

    /// The first fire time strictly after `after`: for a cron expression the next matching
    /// minute in the schedule's zone; for an interval, `after` plus the interval (pass the
    /// previous fire time). `None` if there is none (past the year 5000).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every(d) => after.checked_add_signed(*d),
            Kind::Cron(cron) => match self.zone {
                Zone::Iana(tz) => cron
                    .find_next_occurrence(&after.with_timezone(&tz), false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc)),
                Zone::Local => cron
                    .find_next_occurrence(&after.with_timezone(&Local), false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc)),
            },
        }
    }

    /// In words, for listings: "At 09:00, on Monday through Friday (Europe/Berlin)".
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Every(d) => format!("every {}", words(*d)),
            Kind::Cron(cron) => format!("{} ({})", cron.describe(), self.zone),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Every(_) => f.write_str(&self.expression),
            Kind::Cron(_) => write!(f, "{} ({})", self.expression, self.zone),
        }
    }
}

/// `30s`, `30 m`, `2 hours`, `1d` → the interval.
fn interval(text: &str) -> Result<TimeDelta, String> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a number and a unit (s, m, h or d)"))?;
    let unit_secs = match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        other => return Err(format!("{other:?} is not a unit (s, m, h or d)")),
    };
    let secs = n.checked_mul(unit_secs).unwrap_or(i64::MAX);
    if n == 0 {
        return Err("an interval of 0 would fire without pause".into());
    }
    if secs > MAX_INTERVAL_SECS {
        return Err("an interval is at most 366 days".into());
    }
    Ok(TimeDelta::seconds(secs))
}

fn words(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    let (n, unit) = if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        unit.to_owned()
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekdays_are_posix_monday_to_friday() {
        let s = Schedule::parse("0 9 * * 1-5", Some("UTC")).unwrap();
        // 2026-03-09 is a Monday; after 10:00 the next is Tuesday 09:00.
        let mut t = utc("2026-03-09T10:00:30Z");
        let mut days = Vec::new();
        for _ in 0..5 {
            t = s.next_after(t).unwrap();
            days.push(t.format("%a %H:%M").to_string());
        }
        assert_eq!(
            days,
            [
                "Tue 09:00",
                "Wed 09:00",
                "Thu 09:00",
                "Fri 09:00",
                "Mon 09:00"
            ]
        );
        // The original's table: */15 → 10:15, Sunday 08:30, Saturday 12:00.
        let after = utc("2026-03-09T10:00:30Z");
        for (expr, want) in [
            ("*/15 * * * *", "2026-03-09T10:15:00+00:00"),
            ("30 8 * * 0", "2026-03-15T08:30:00+00:00"),
            ("30 8 * * 7", "2026-03-15T08:30:00+00:00"),
            ("0 12 * * 6", "2026-03-14T12:00:00+00:00"),
        ] {
            let s = Schedule::parse(expr, Some("UTC")).unwrap();
            assert_eq!(s.next_after(after).unwrap().to_rfc3339(), want, "{expr}");
        }
    }

    #[test]
    fn new_york_across_both_dst_changes() {
        let s = Schedule::parse("0 9 * * *", Some("America/New_York")).unwrap();
        // 2027-03-14 is the second Sunday of March: EST (UTC-5) → EDT (UTC-4) at 02:00.
        let fires: Vec<String> =
            std::iter::successors(s.next_after(utc("2027-03-12T12:00:00Z")), |t| {
                s.next_after(*t)
            })
            .take(4)
            .map(|t| t.to_rfc3339())
            .collect();
        assert_eq!(
            fires,
            [
                "2027-03-12T14:00:00+00:00",
                "2027-03-13T14:00:00+00:00",
                "2027-03-14T13:00:00+00:00",
                "2027-03-15T13:00:00+00:00",
            ]
        );
        // 02:30 does not exist on 2027-03-14: it runs at 03:00 EDT (07:00 UTC), once.
        let gap = Schedule::parse("30 2 * * *", Some("America/New_York")).unwrap();
        let t = gap.next_after(utc("2027-03-13T12:00:00Z")).unwrap();
        assert_eq!(t.to_rfc3339(), "2027-03-14T07:00:00+00:00");
        assert_eq!(
            gap.next_after(t).unwrap().to_rfc3339(),
            "2027-03-15T06:30:00+00:00"
        );
        // 2027-11-07: EDT → EST at 02:00, so 01:30 happens twice; it fires once.
        let twice = Schedule::parse("30 1 * * *", Some("America/New_York")).unwrap();
        let first = twice.next_after(utc("2027-11-06T12:00:00Z")).unwrap();
        assert_eq!(first.to_rfc3339(), "2027-11-07T05:30:00+00:00");
        assert_eq!(
            twice.next_after(first).unwrap().to_rfc3339(),
            "2027-11-08T06:30:00+00:00"
        );
    }

    #[test]
    fn intervals_count_from_the_previous_fire() {
        let start = utc("2026-03-09T10:00:00Z");
        for (expr, secs) in [
            ("every 30s", 30),
            ("every 15m", 900),
            ("every 2h", 7200),
            ("every 1d", 86_400),
            ("every 5 minutes", 300),
            ("  every 2H ", 7200),
        ] {
            let s = Schedule::parse(expr, None).unwrap();
            assert_eq!(s.interval(), Some(TimeDelta::seconds(secs)), "{expr}");
            assert_eq!(
                s.next_after(start).unwrap(),
                start + TimeDelta::seconds(secs)
            );
        }
        assert_eq!(
            Schedule::parse("every 15m", None).unwrap().describe(),
            "every 15 minutes"
        );
    }

    #[test]
    fn malformed_expressions_are_refused_with_the_reason() {
        for (expr, why) in [
            ("", "0 fields"),
            ("* * * *", "4 fields"),
            ("0 0 9 * * 1-5", "6 fields"),
            ("*/0 * * * *", "Step cannot be zero"),
            ("99 * * * *", ""),
            ("* 25 * * *", ""),
            ("foo * * * *", ""),
            ("5-2 * * * *", ""),
            ("0 0 31 2 *", "never matches"),
            ("every 0m", "0 would fire"),
            ("every 5", "not a unit"),
            ("every m", "not a number"),
            ("every 30 fortnights", "not a unit"),
            ("every 999999999999999999d", "at most 366 days"),
        ] {
            let e = Schedule::parse(expr, None).unwrap_err().to_string();
            assert!(
                e.contains("is not a schedule") && e.contains(why),
                "{expr}: {e}"
            );
        }
        let long = "1 ".repeat(500);
        let e = Schedule::parse(&long, None).unwrap_err().to_string();
        assert!(e.contains("longer than 256 bytes"), "{e}");
        let e = Schedule::parse("0 9 * * *", Some("Mars/Olympus")).unwrap_err();
        assert_eq!(
            e,
            ScheduleError::TimeZone {
                name: "Mars/Olympus".into()
            }
        );
    }

    #[test]
    fn the_zone_defaults_to_local() {
        let s = Schedule::parse("@daily", None).unwrap();
        assert_eq!(s.zone(), Zone::Local);
        assert_eq!(Zone::parse(Some("local")).unwrap(), Zone::Local);
        assert_eq!(
            Zone::parse(Some("Europe/Berlin")).unwrap().to_string(),
            "Europe/Berlin"
        );
        assert!(s.next_after(Utc::now()).is_some());
    }
}
