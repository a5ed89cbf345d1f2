//! The small languages of the config: permission globs, workflow conditions and cron
//! schedules. Each is parsed from text an operator (or a model, through a tool) wrote.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::{target, two};
use crate::permissions::Glob;
use crate::triggers::Schedule;
use crate::workflows::condition::Condition;

/// Tokens of fnmatch globs.
const GLOB: &[&[u8]] = &[
    b"*", b"**", b"?", b"[", b"]", b"[!", b"[^", b"-", b"/", b"\\", b"[a-z]", b"[]]", b"[!]", b"\0",
];

/// Tokens of the condition language.
const CONDITION: &[&[u8]] = &[
    b" and ",
    b" or ",
    b"not ",
    b" == ",
    b" != ",
    b" < ",
    b" >= ",
    b" in ",
    b" not in ",
    b"(",
    b")",
    b"[",
    b"]",
    b",",
    b".",
    b"'",
    b"\"",
    b"trigger.payload.",
    b"step.result",
    b"true",
    b"null",
    b"1e308",
    b"-0.5",
    b"0",
    b"\\",
    b"\0",
];

/// Tokens of cron expressions (and the zone after the NUL).
const CRON: &[&[u8]] = &[
    b"*",
    b"*/",
    b",",
    b"-",
    b"/",
    b" ",
    b"L",
    b"W",
    b"#",
    b"?",
    b"@daily",
    b"@every ",
    b"Mon-Fri",
    b"JAN",
    b"59",
    b"60",
    b"0",
    b"31",
    b"4294967296",
    b"\0",
    b"Europe/Berlin",
    b"UTC",
    b"+99:00",
];

#[test]
fn permission_glob() {
    target("permission_glob", GLOB, |input| {
        let (pattern, subject) = two(input);
        Glob::new(&pattern).matches(&subject);
        // A pattern of the text's literal characters matches exactly it; `*` matches all.
        assert!(Glob::new(&glob::Pattern::escape(&subject)).matches(&subject));
        assert!(Glob::new("*").matches(&subject));
    });
}

#[test]
fn workflow_condition() {
    let fixed = json!({
        "trigger": {"payload": {"items": [1, "two", {"three": 3}], "name": "x"}},
        "research": {"result": {"score": 7.5, "tags": ["a", "b"], "ok": true, "none": null}},
    });
    target("workflow_condition", CONDITION, |input| {
        let (source, env) = two(input);
        let Ok(condition) = Condition::parse(&source) else {
            return;
        };
        // Every path has a root, and the source parses again to the same paths.
        let paths: Vec<String> = condition.paths().iter().map(|p| p.to_string()).collect();
        assert!(condition.paths().iter().all(|p| !p.root().is_empty()));
        let again = Condition::parse(condition.source()).expect("parses again");
        let again: Vec<String> = again.paths().iter().map(|p| p.to_string()).collect();
        assert_eq!(paths, again);
        let _ = condition.evaluate(&fixed);
        if let Ok(env) = serde_json::from_str::<Value>(&env) {
            let _ = condition.evaluate(&env);
        }
    });
}

#[test]
fn cron_schedule() {
    let now = Utc.with_ymd_and_hms(2027, 3, 28, 0, 30, 0).unwrap();
    target("cron_schedule", CRON, |input| {
        let (expression, zone) = two(input);
        let zone = (!zone.is_empty()).then_some(zone.as_str());
        let Ok(schedule) = Schedule::parse(&expression, zone) else {
            return;
        };
        schedule.describe();
        schedule.interval();
        // The next run is after now, and the one after it later still.
        if let Some(next) = schedule.next_after(now) {
            assert!(next > now, "{expression}: {next} is not after {now}");
            if let Some(later) = schedule.next_after(next) {
                assert!(later > next, "{expression}: {later} is not after {next}");
            }
        }
    });
}
