//! The JSON Schema of a tool's arguments, in the plain dialect every LLM provider accepts.
//!
//! schemars writes full JSON Schema 2020-12; providers' function-calling validators are
//! stricter than the standard and differ from each other. So the schema is reduced to the
//! common subset: no `$schema`, no `$ref` (subschemas are inlined), an object root always
//! has `properties` (even `{}`, as OpenAI expects for a tool without arguments), no
//! non-standard `format`s on numbers (`uint32`), an optional field is simply one that is not
//! `required` (no `null` in its type), and "any value" is `{}` rather than `true`.
//!
//! The root's `title` and `description` (the argument type's name and doc comment) are
//! dropped too: the tool's description is what the model reads, and a doc comment such as
//! "Arguments of `read_file`." would only repeat it. Field doc comments are kept: they are
//! the per-argument help.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The parameters schema of a tool taking `A`.
///
/// ```
/// # use openlegion_skill_sdk::prelude::*;
/// #[derive(Deserialize, JsonSchema)]
/// struct Args {
///     /// Where to look.
///     path: String,
///     limit: Option<u32>,
/// }
///
/// assert_eq!(openlegion_skill_sdk::schema_for::<Args>(), json!({
///     "type": "object",
///     "properties": {
///         "path": {"type": "string", "description": "Where to look."},
///         "limit": {"type": "integer", "minimum": 0},
///     },
///     "required": ["path"],
/// }));
/// ```
pub fn schema_for<A: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.meta_schema = None;
            s.inline_subschemas = true;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<A>().to_value();
    if let Some(root) = schema.as_object_mut() {
        root.remove("title");
        root.remove("description");
        if root.get("type").and_then(Value::as_str) == Some("object") {
            root.entry("properties")
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    simplify(&mut schema);
    schema
}

/// Number formats that are schemars' own names for Rust types, not JSON Schema formats.
const RUST_NUMBER_FORMATS: &[&str] = &[
    "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
    "float", "double",
];

/// Applies the reductions described in the module doc, recursively.
fn simplify(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::String(format)) = object.get("format")
        && RUST_NUMBER_FORMATS.contains(&format.as_str())
    {
        object.remove("format");
    }
    if object.get("default") == Some(&Value::Null) {
        object.remove("default");
    }
    let required: Vec<String> = match object.get("required") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            if *property == Value::Bool(true) {
                *property = Value::Object(Map::new());
            }
            if !required.contains(name) {
                drop_null(property);
            }
        }
    }
    for value in object.values_mut() {
        match value {
            Value::Object(_) => simplify(value),
            Value::Array(items) => items.iter_mut().for_each(simplify),
            _ => {}
        }
    }
}

/// Makes an optional property's schema say what to send rather than "this or null":
/// `{"type": ["integer", "null"]}` becomes `{"type": "integer"}`, a `null` leaves an `enum`,
/// and an `anyOf` with a
/// `{"type": "null"}` branch loses that branch (and its wrapper if one branch is left).
fn drop_null(property: &mut Value) {
    let Some(object) = property.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = object.get_mut(key) else {
            continue;
        };
        branches.retain(|b| b.get("type").and_then(Value::as_str) != Some("null"));
        if branches.len() == 1
            && let Some(Value::Object(only)) = branches.pop()
        {
            object.remove(key);
            for (k, v) in only {
                object.entry(k).or_insert(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use schemars::JsonSchema;
    use serde::Deserialize;
    use serde_json::json;

    use super::schema_for;

    #[expect(dead_code, reason = "only the schema of these types is used")]
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    /// Arguments.
    struct Args {
        /// A path.
        path: String,
        count: Option<u8>,
        #[serde(default = "get")]
        method: String,
        headers: Option<BTreeMap<String, String>>,
        value: serde_json::Map<String, serde_json::Value>,
        anything: serde_json::Value,
        inner: Option<Inner>,
        mode: Option<Mode>,
    }

    #[expect(dead_code, reason = "only the schema of these types is used")]
    #[derive(Deserialize, JsonSchema)]
    struct Inner {
        n: i64,
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Slow,
    }

    fn get() -> String {
        "GET".into()
    }

    #[test]
    fn is_the_plain_subset() {
        assert_eq!(
            schema_for::<crate::NoArgs>(),
            json!({"type": "object", "properties": {}, "additionalProperties": false})
        );
        assert_eq!(
            schema_for::<Args>(),
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "A path."},
                    "count": {"type": "integer", "minimum": 0, "maximum": 255},
                    "method": {"type": "string", "default": "GET"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "value": {"type": "object", "additionalProperties": true},
                    "anything": {},
                    "inner": {
                        "type": "object",
                        "properties": {"n": {"type": "integer"}},
                        "required": ["n"],
                    },
                    "mode": {"type": "string", "enum": ["fast", "slow"]},
                },
                "required": ["path", "value", "anything"],
                "additionalProperties": false,
            })
        );
    }
}
