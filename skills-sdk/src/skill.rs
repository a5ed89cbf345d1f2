//! Tools as plain functions: the [`skill!`](crate::skill!) macro and what it expands to.
//!
//! A tool is a function `fn(A) -> Result<R, E>` where `A: Deserialize + JsonSchema` are its
//! arguments, `R:` [`IntoOutput`] its result and `E: Display` its error text. The macro
//! builds a table of [`ToolDef`]s from `name: "description" => function` lines; `describe`
//! and `invoke` read that table. Argument and result types are inferred from each
//! function's signature, so the macro never needs to name them.

use std::fmt::Display;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::Tool;
use crate::output::IntoOutput;
use crate::parse::parse_args;
use crate::schema::schema_for;

/// One tool of a skill, as the [`skill!`](crate::skill!) macro records it.
#[derive(Debug, Clone, Copy)]
pub struct ToolDef {
    /// 1 to 64 of `a-z A-Z 0-9 _ -`, unique within the skill (checked at compile time).
    pub name: &'static str,
    /// What the model reads to decide when and how to call the tool.
    pub description: &'static str,
    /// The JSON Schema of the arguments object.
    pub schema: fn() -> Value,
    /// Parses the arguments, calls the function and encodes its result.
    pub call: fn(&str) -> Result<String, String>,
}

/// The arguments of a tool that takes none: `fn list_agents(_: NoArgs) -> …`.
/// Its schema is an object without properties; any property sent is an error.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `describe`: the tools of `tools`, with their schemas as JSON text.
pub fn describe(tools: &[ToolDef]) -> Vec<Tool> {
    tools
        .iter()
        .map(|t| Tool {
            name: t.name.to_owned(),
            description: t.description.to_owned(),
            parameters_schema: (t.schema)().to_string(),
        })
        .collect()
}

/// `invoke`: calls the tool called `tool` with `args_json`.
pub fn invoke(tools: &[ToolDef], tool: &str, args_json: &str) -> Result<String, String> {
    match tools.iter().find(|t| t.name == tool) {
        Some(t) => (t.call)(args_json),
        None => {
            let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
            Err(format!(
                "unknown tool '{tool}'; this skill has: {}",
                names.join(", ")
            ))
        }
    }
}

/// A [`ToolDef::call`]: parse, call, encode.
pub fn tool_def_call<A, R, E>(
    tool: &str,
    args_json: &str,
    function: impl FnOnce(A) -> Result<R, E>,
) -> Result<String, String>
where
    A: DeserializeOwned,
    R: IntoOutput,
    E: Display,
{
    let args = parse_args(tool, args_json)?;
    function(args).map_err(|e| e.to_string())?.into_output()
}

/// A [`ToolDef::schema`]: the schema of `function`'s argument type.
pub fn tool_def_schema<A: JsonSchema, R, E>(_function: impl FnOnce(A) -> Result<R, E>) -> Value {
    schema_for::<A>()
}

/// Fails compilation (through a `const` evaluation) if a tool name is not 1 to 64 of
/// `a-z A-Z 0-9 _ -`, as the WIT requires, or if two tools share a name.
pub const fn check_tool_names(names: &[&str]) {
    let mut i = 0;
    while i < names.len() {
        let name = names[i].as_bytes();
        assert!(
            !name.is_empty() && name.len() <= 64,
            "a tool name must be 1 to 64 characters long"
        );
        let mut c = 0;
        while c < name.len() {
            let b = name[c];
            assert!(
                b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
                "a tool name may only contain a-z A-Z 0-9 _ -"
            );
            c += 1;
        }
        let mut j = 0;
        while j < i {
            assert!(
                !eq(names[j].as_bytes(), name),
                "two tools have the same name"
            );
            j += 1;
        }
        i += 1;
    }
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Defines the tools of a skill and exports them as the component's `describe`/`invoke`.
///
/// Each line is `name: "description" => function`, where `name` is an identifier or a
/// string literal (for names with `-`) and `function` has the shape described in the
/// [module docs](crate). The macro defines a `pub struct Skill` whose associated functions
/// `Skill::describe()` and `Skill::invoke(tool, args_json)` are the exports, callable from
/// native unit tests too; on `wasm32` it also emits the component's export glue. Use it
/// once per crate.
///
/// ```
/// use openlegion_skill_sdk::prelude::*;
///
/// fn ping(_: NoArgs) -> Result<&'static str, String> {
///     Ok("pong")
/// }
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Add { a: i64, b: i64 }
///
/// fn add(args: Add) -> Result<Value, String> {
///     args.a.checked_add(args.b).map(|sum| json!({"sum": sum})).ok_or("overflow".to_string())
/// }
///
/// openlegion_skill_sdk::skill! {
///     ping: "Answer pong." => ping,
///     "add-numbers": "Add two integers." => add,
/// }
///
/// # fn main() {
/// assert_eq!(Skill::invoke("ping", "").unwrap(), "pong");
/// assert_eq!(Skill::invoke("add-numbers", r#"{"a": 2, "b": 3}"#).unwrap(), r#"{"sum":5}"#);
/// assert_eq!(Skill::invoke("add-numbers", r#"{"a": 9223372036854775807, "b": 1}"#).unwrap_err(), "overflow");
/// assert_eq!(Skill::describe()[1].name, "add-numbers");
/// # }
/// ```
#[macro_export]
macro_rules! skill {
    ($($name:tt : $description:expr => $function:path),+ $(,)?) => {
        /// The tools of this skill, exported as the component's `describe` and `invoke`.
        #[derive(Debug)]
        pub struct Skill;

        impl Skill {
            /// The tools, in the order they were declared.
            pub const TOOLS: &'static [$crate::ToolDef] = &[$(
                $crate::ToolDef {
                    name: $crate::__tool_name!($name),
                    description: $description,
                    schema: || $crate::__private::tool_def_schema($function),
                    call: |args| $crate::__private::tool_def_call(
                        $crate::__tool_name!($name), args, $function,
                    ),
                }
            ),+];

            /// The `describe` export.
            pub fn describe() -> ::std::vec::Vec<$crate::bindings::Tool> {
                $crate::__private::describe(Self::TOOLS)
            }

            /// The `invoke` export.
            pub fn invoke(
                tool: &str,
                args_json: &str,
            ) -> ::std::result::Result<::std::string::String, ::std::string::String> {
                $crate::__private::invoke(Self::TOOLS, tool, args_json)
            }
        }

        const _: () = $crate::__private::check_tool_names(&[$($crate::__tool_name!($name)),+]);

        impl $crate::bindings::Guest for Skill {
            fn describe() -> ::std::vec::Vec<$crate::bindings::Tool> {
                Skill::describe()
            }

            fn invoke(
                tool: ::std::string::String,
                args_json: ::std::string::String,
            ) -> ::std::result::Result<::std::string::String, ::std::string::String> {
                Skill::invoke(&tool, &args_json)
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!(Skill with_types_in $crate::bindings);
    };
}

/// A tool name token as text: `read_file` → `"read_file"`, `"my-tool"` → `"my-tool"`.
#[doc(hidden)]
#[macro_export]
macro_rules! __tool_name {
    ($name:ident) => {
        stringify!($name)
    };
    ($name:literal) => {
        $name
    };
}

#[cfg(test)]
mod tests {
    use super::check_tool_names;

    #[test]
    fn tool_names_follow_the_wit() {
        check_tool_names(&["read_file", "a", "web-get", &"x".repeat(64)]);
    }

    #[test]
    #[should_panic(expected = "same name")]
    fn duplicate_names_are_refused() {
        check_tool_names(&["a", "b", "a"]);
    }

    #[test]
    #[should_panic(expected = "may only contain")]
    fn other_characters_are_refused() {
        check_tool_names(&["read file"]);
    }

    #[test]
    #[should_panic(expected = "1 to 64")]
    fn long_names_are_refused() {
        check_tool_names(&[&"x".repeat(65)]);
    }
}
