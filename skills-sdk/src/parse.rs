//! Parsing a tool's arguments, with errors the model can act on.
//!
//! Models get arguments wrong in ordinary ways (a missing field, a number sent as a
//! string); the error names the tool and the field so the next call can be fixed. The
//! line/column of serde_json's messages are dropped: the model wrote one short object and
//! the field path says more.

use serde::de::DeserializeOwned;

/// Parses `args_json`, which must be a JSON object, into `A`. Empty text and `null` count as
/// `{}`, since some models send them for a tool without arguments.
///
/// ```
/// # use openlegion_skill_sdk::prelude::*;
/// #[derive(Debug, Deserialize)]
/// struct Args { path: String, limit: Option<u32> }
///
/// let err = openlegion_skill_sdk::parse_args::<Args>("read_file", r#"{"path": "a", "limit": "ten"}"#).unwrap_err();
/// assert_eq!(err, "invalid arguments for tool 'read_file': field 'limit': invalid type: string \"ten\", expected u32");
/// ```
pub fn parse_args<A: DeserializeOwned>(tool: &str, args_json: &str) -> Result<A, String> {
    let trimmed = args_json.trim();
    let text = if trimmed.is_empty() || trimmed == "null" {
        "{}"
    } else {
        args_json
    };
    let invalid = |detail: String| format!("invalid arguments for tool '{tool}': {detail}");
    // serde would also read a struct from an array of its fields in order; a model that
    // sends `[..]` has misunderstood the schema, so say so instead.
    if !text.trim_start().starts_with('{') {
        return Err(invalid("expected a JSON object".into()));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let args = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = without_position(e.inner());
        // Only a data error belongs to a field; broken JSON has no meaningful path.
        if path == "." || !e.inner().is_data() {
            invalid(message)
        } else {
            invalid(format!("field '{path}': {message}"))
        }
    })?;
    de.end().map_err(|e| invalid(without_position(&e)))?;
    Ok(args)
}

/// serde_json's message without its " at line L column C" suffix.
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match message.strip_suffix(&suffix) {
        Some(stripped) => stripped.to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::parse_args;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Args {
        path: String,
        limit: Option<u32>,
        #[serde(default)]
        nested: Vec<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        n: u8,
    }

    fn err(json: &str) -> String {
        parse_args::<Args>("t", json).unwrap_err()
    }

    #[test]
    fn parses_valid_arguments() {
        let args: Args = parse_args("t", r#" {"path": "a", "limit": 3} "#).unwrap();
        assert_eq!(args.path, "a");
        assert_eq!(args.limit, Some(3));
    }

    #[test]
    fn names_the_missing_field() {
        assert_eq!(
            err("{}"),
            "invalid arguments for tool 't': missing field `path`"
        );
    }

    #[test]
    fn names_the_field_of_a_wrong_type_even_nested() {
        assert_eq!(
            err(r#"{"path": 1}"#),
            "invalid arguments for tool 't': field 'path': invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            err(r#"{"path": "a", "nested": [{"n": 1}, {"n": 300}]}"#),
            "invalid arguments for tool 't': field 'nested[1].n': invalid value: integer `300`, expected u8"
        );
    }

    #[test]
    fn names_an_unknown_field() {
        assert_eq!(
            err(r#"{"path": "a", "lines": 2}"#),
            "invalid arguments for tool 't': field 'lines': unknown field `lines`, expected one of `path`, `limit`, `nested`"
        );
    }

    #[test]
    fn empty_and_null_mean_no_arguments() {
        #[derive(Debug, Deserialize)]
        struct None_ {}
        for text in ["", "  ", "null", "{}"] {
            parse_args::<None_>("t", text).unwrap();
        }
    }

    #[test]
    fn rejects_broken_json_and_trailing_text() {
        assert_eq!(
            err(r#"{"path": "a""#),
            "invalid arguments for tool 't': EOF while parsing an object"
        );
        assert_eq!(
            err(r#"{"path": "a"} {}"#),
            "invalid arguments for tool 't': trailing characters"
        );
        assert_eq!(
            err(r#"["a"]"#),
            "invalid arguments for tool 't': expected a JSON object"
        );
        assert_eq!(
            err("42"),
            "invalid arguments for tool 't': expected a JSON object"
        );
    }
}
