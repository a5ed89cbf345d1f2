use serde_json::{Value, json};

use super::{Condition, MAX_DEPTH};

fn env() -> Value {
    json!({
        "trigger": {"payload": {"lead_id": 7, "tags": ["b2b", "eu"], "name": "Acme"}},
        "research": {"status": "complete", "result": {"score": 5, "ratio": 0.8, "label": "7",
                     "ok": true, "nothing": null, "company": {"domain": "acme.test"},
                     "items": [{"name": "first"}]}},
        "qualify": {"status": "skipped", "result": {"skipped": true, "reason": "condition_not_met"}},
    })
}

fn eval(src: &str) -> Result<bool, String> {
    Condition::parse(src)
        .unwrap_or_else(|e| panic!("{src:?} does not parse: {e}"))
        .evaluate(&env())
        .map_err(|m| m.0)
}

fn parse_error(src: &str) -> String {
    Condition::parse(src)
        .expect_err(&format!("{src:?} parsed"))
        .to_string()
}

#[test]
fn comparisons_over_numbers_strings_and_booleans() {
    assert_eq!(eval("research.result.score >= 5"), Ok(true));
    assert_eq!(eval("research.result.score > 5"), Ok(false));
    assert_eq!(eval("research.result.score == 5.0"), Ok(true), "5 == 5.0");
    assert_eq!(eval("research.result.ratio > 0.7"), Ok(true));
    assert_eq!(eval("research.result.ratio <= -1"), Ok(false));
    assert_eq!(eval("research.status == 'complete'"), Ok(true));
    assert_eq!(eval("research.status != \"failed\""), Ok(true));
    assert_eq!(eval("research.result.ok == true"), Ok(true));
    assert_eq!(eval("research.result.ok"), Ok(true), "a bare boolean");
    assert_eq!(eval("research.result.nothing == null"), Ok(true));
    assert_eq!(eval("'abc' < 'abd'"), Ok(true), "strings order");
    assert_eq!(
        eval("research.result.ok == True"),
        Ok(true),
        "Python's spelling"
    );
}

#[test]
fn the_original_s_shorthand_reaches_into_the_result() {
    assert_eq!(eval("research.score >= 5"), Ok(true));
    assert_eq!(
        eval("research.status == 'complete'"),
        Ok(true),
        "the record first"
    );
}

#[test]
fn paths_index_lists_and_nest() {
    assert_eq!(eval("research.result.items.0.name == 'first'"), Ok(true));
    assert_eq!(
        eval("research.result.company.domain == 'acme.test'"),
        Ok(true)
    );
    assert_eq!(eval("trigger.payload.lead_id == 7"), Ok(true));
}

#[test]
fn precedence_not_over_and_over_or() {
    // and binds tighter than or: true or (false and false)
    assert_eq!(
        eval("research.result.ok or research.result.score > 9 and false"),
        Ok(true)
    );
    assert_eq!(
        eval("(research.result.ok or research.result.score > 9) and false"),
        Ok(false)
    );
    // not binds tighter than and: (not false) and true
    assert_eq!(eval("not false and true"), Ok(true));
    assert_eq!(eval("not (false or true)"), Ok(false));
    assert_eq!(eval("!false && true || false"), Ok(true));
    assert_eq!(eval("not not research.result.ok"), Ok(true));
}

#[test]
fn membership_in_lists_strings_and_objects() {
    assert_eq!(eval("'eu' in trigger.payload.tags"), Ok(true));
    assert_eq!(eval("'us' not in trigger.payload.tags"), Ok(true));
    assert_eq!(eval("research.result.score in [1, 5, 9]"), Ok(true));
    assert_eq!(eval("research.status in ['failed', 'skipped']"), Ok(false));
    assert_eq!(eval("'cme' in trigger.payload.name"), Ok(true));
    assert_eq!(eval("'domain' in research.result.company"), Ok(true));
    assert_eq!(eval("[1, [2]] == [1, [2]]"), Ok(true));
    assert!(eval("5 in 'abc'").unwrap_err().contains("cannot look for"));
}

#[test]
fn types_are_strict() {
    // The original's quirk: a string score never compares with a number.
    let miss = eval("research.result.label >= 5").unwrap_err();
    assert!(miss.contains("cannot compare"), "{miss}");
    assert!(miss.contains("research.result.label"), "{miss}");
    assert_eq!(
        eval("research.result.label == 7"),
        Ok(false),
        "== across types"
    );
    assert_eq!(eval("research.result.label != 7"), Ok(true));
    assert!(
        eval("research.result.score")
            .unwrap_err()
            .contains("not true or false")
    );
    assert!(
        eval("research.result.nothing > 1")
            .unwrap_err()
            .contains("null")
    );
}

#[test]
fn a_missing_field_is_a_miss_that_names_it() {
    let miss = eval("qualify.result.score > 0.7").unwrap_err();
    assert!(miss.contains("`qualify.result.score` is missing"), "{miss}");
    assert!(
        miss.contains("qualify.result has no field `score`"),
        "{miss}"
    );
    let miss = eval("research.result.score.value > 1").unwrap_err();
    assert!(
        miss.contains("research.result.score is the number 5"),
        "{miss}"
    );
    let miss = eval("research.result.items.3 == 1").unwrap_err();
    assert!(miss.contains("a list of 1"), "{miss}");
    assert!(
        eval("outreach.status == 'x'")
            .unwrap_err()
            .contains("no step `outreach`")
    );
    // not over a miss does not turn it into true
    assert!(eval("not (qualify.result.score > 0.7)").is_err());
}

#[test]
fn and_or_stop_at_the_deciding_operand() {
    assert_eq!(
        eval("research.result.ok or qualify.result.score > 1"),
        Ok(true)
    );
    assert_eq!(eval("false and qualify.result.score > 1"), Ok(false));
    assert!(eval("true and qualify.result.score > 1").is_err());
}

#[test]
fn paths_are_listed_for_the_loader() {
    let c = Condition::parse("research.result.score >= 5 and 'x' in trigger.payload.tags or [a.b]")
        .unwrap();
    let paths: Vec<String> = c.paths().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        paths,
        ["research.result.score", "trigger.payload.tags", "a.b"]
    );
    assert_eq!(c.paths()[1].column, 39);
    assert_eq!(c.paths()[1].root(), "trigger");
}

#[test]
fn malformed_conditions_say_where() {
    assert!(parse_error("research.result.score >=").contains("column 25"));
    assert!(
        parse_error("research.result.score >= 5 5").contains("expected `and`, `or` or the end")
    );
    assert!(parse_error("(a > 1").contains("expected `)`"));
    assert!(parse_error("a > 'open").contains("not closed"));
    assert!(parse_error("a >> 1").contains("expected a value"));
    assert!(parse_error("a = 1").contains("unexpected character '='"));
    assert!(parse_error("a..b == 1").contains("empty segment"));
    assert!(parse_error("[1, 2").contains("not closed"));
    assert!(parse_error("a not b").contains("followed by `in`"));
    assert!(parse_error("   ").contains("empty"));
    assert!(parse_error("1.2.3 > 1").contains("not a number"));
}

#[test]
fn code_is_not_a_condition() {
    // The original's hostile examples: they do not parse, so they never run anything.
    for src in [
        "import os; os.system('rm -rf /')",
        "eval('bad')",
        "__import__('os')",
        "a; b",
        "${HOME} == 1",
    ] {
        assert!(Condition::parse(src).is_err(), "{src:?}");
    }
}

#[test]
fn ten_thousand_parentheses_are_an_error_not_a_stack_overflow() {
    let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse_error(&deep).contains("nested more than"), "parens");
    let nots = format!("{}true", "not ".repeat(10_000));
    assert!(parse_error(&nots).contains("nested more than"), "not");
    let lists = format!("a in {}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse_error(&lists).contains("nested more than"), "lists");
    // Up to the bound is fine.
    let ok = format!(
        "{}true{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert_eq!(Condition::parse(&ok).unwrap().evaluate(&env()), Ok(true));
    let huge = "a".repeat(100_000);
    assert!(parse_error(&huge).contains("longer than"));
}
