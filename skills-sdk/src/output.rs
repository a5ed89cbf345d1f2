//! What a tool returns, turned into the text the model sees (`invoke`'s `ok`).
//!
//! A `String` is passed as it is, so a tool can answer in prose; anything structured is
//! JSON. There is deliberately no blanket impl over `Serialize`: it would also cover
//! `String` and turn `hello` into `"hello"`. Wrap other serializable types in [`Json`].

use serde::Serialize;
use serde_json::Value;

/// A tool's successful result.
pub trait IntoOutput {
    /// The text for the model; `Err` if the value cannot be serialized.
    fn into_output(self) -> Result<String, String>;
}

impl IntoOutput for Value {
    fn into_output(self) -> Result<String, String> {
        Ok(self.to_string())
    }
}

impl IntoOutput for String {
    fn into_output(self) -> Result<String, String> {
        Ok(self)
    }
}

impl IntoOutput for &str {
    fn into_output(self) -> Result<String, String> {
        Ok(self.to_owned())
    }
}

/// Returns any `Serialize` value as JSON: `Ok(Json(my_struct))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoOutput for Json<T> {
    fn into_output(self) -> Result<String, String> {
        serde_json::to_string(&self.0)
            .map_err(|e| format!("could not encode the result as JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_text_and_values_become_json() {
        assert_eq!("hello".into_output().unwrap(), "hello");
        assert_eq!(String::from("a\"b").into_output().unwrap(), "a\"b");
        assert_eq!(
            serde_json::json!({"a": 1}).into_output().unwrap(),
            r#"{"a":1}"#
        );
        assert_eq!(Json(vec![1, 2]).into_output().unwrap(), "[1,2]");
        assert_eq!(Json("x").into_output().unwrap(), r#""x""#);
    }
}
