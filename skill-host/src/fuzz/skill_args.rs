//! Fuzz target for the arguments a model sends a skill's tools (the WIT `call` string):
//! the SDK's `parse_args` reads them inside the guest, where a panic is a trap that ends the
//! call with no error the model can act on. The skills SDK builds in the wasm32 workspace,
//! whose lock the agents' offline skill builds share, so the target compiles the SDK's own
//! `parse.rs` here (the same file, not a copy). Corpus in
//! `src/fuzz/__fuzz__/skill_args/corpus/`. Properties: no panic, no hang; every error names
//! the tool and carries no line/column; what parses as a map was a JSON object (or empty /
//! `null`), and a parsed struct serializes back to what it parses from.

use std::path::Path;

use openlegion_fuzz::JSON;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[path = "../../../skills-sdk/src/parse.rs"]
#[allow(
    unreachable_pub,
    reason = "the SDK exports parse_args; here it is one module's"
)]
mod sdk_parse;

use sdk_parse::parse_args;

/// Keys and values of the skills' own argument shapes, added to the JSON tokens.
const ARG_KEYS: &[&[u8]] = &[
    b"\"path\":",
    b"\"content\":",
    b"\"limit\":",
    b"\"offset\":",
    b"\"append\":true",
    b"\"items\":[",
    b"\"n\":",
    b"\"mode\":\"fast\"",
    b"\"mode\":{\"custom\":",
    b"4294967296",
    b"256",
    b"\"\\ud83d\\ude00\"",
];

/// A tool's arguments with every shape the skills use: required and optional fields,
/// defaults, nested lists of structs, an enum, unknown fields refused.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Args {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
    #[serde(default)]
    append: bool,
    #[serde(default)]
    items: Vec<Item>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    extra: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Item {
    n: u8,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Mode {
    #[default]
    Fast,
    Custom(String),
}

/// A tool without arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[test]
fn skill_args() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fuzz/__fuzz__/skill_args/corpus");
    let dict: Vec<&[u8]> = JSON.iter().chain(ARG_KEYS).copied().collect();
    openlegion_fuzz::run!("skill_args", corpus, &dict, check);
}

fn check(input: &[u8]) {
    // Arguments arrive as a WIT `string`: always UTF-8.
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let trimmed = text.trim();
    let no_arguments = trimmed.is_empty() || trimmed == "null";

    // As a map: parses exactly when serde_json reads an object, or there are no arguments.
    let as_map = parse_args::<serde_json::Map<String, Value>>("fuzz", text);
    well_formed(&as_map);
    let is_object = matches!(serde_json::from_str::<Value>(text), Ok(Value::Object(_)));
    assert_eq!(
        as_map.is_ok(),
        is_object || no_arguments,
        "parse_args and serde_json disagree on {text:?}: {as_map:?}"
    );

    // As a typed struct: a success round-trips.
    let typed = parse_args::<Args>("fuzz", text);
    well_formed(&typed);
    if let Ok(args) = typed {
        let again = serde_json::to_string(&args).expect("parsed arguments serialize");
        assert_eq!(parse_args::<Args>("fuzz", &again).as_ref(), Ok(&args));
    }

    // No arguments: only an empty object (or nothing) parses.
    let none = parse_args::<NoArgs>("fuzz", text);
    well_formed(&none);
    if none.is_ok() {
        assert!(no_arguments || is_object, "{text:?} parsed as no arguments");
    }
}

/// An error names the tool and no position in the text (the model wrote one short object).
fn well_formed<T: std::fmt::Debug>(result: &Result<T, String>) {
    if let Err(message) = result {
        assert!(
            message.starts_with("invalid arguments for tool 'fuzz': "),
            "{message}"
        );
        assert!(!message.contains(" at line "), "{message}");
    }
}
