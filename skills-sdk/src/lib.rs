//! # Writing OpenLegion skills in Rust
//!
//! A skill is a WebAssembly component of the WIT world `skill` in `openlegion:skill@0.1.4`
//! (see `wit/skill.wit`): it exports `describe` (its tools, each with a JSON Schema of its
//! arguments) and `invoke` (call one tool with a JSON object), and imports the capability
//! interfaces `log`, `workspace`, `http`, `mesh`, `process`, `skills`, `memory` and `browser`. This crate hides that plumbing, so a
//! tool is a plain function from a `Deserialize + JsonSchema` argument type to a result:
//!
//! ```
//! use openlegion_skill_sdk::prelude::*;
//!
//! /// Arguments of `shout`.
//! #[derive(Deserialize, JsonSchema)]
//! struct Shout {
//!     /// The text to upper-case.
//!     text: String,
//!     /// How many exclamation marks to add (default 1).
//!     bangs: Option<u8>,
//! }
//!
//! fn shout(args: Shout) -> Result<Value, String> {
//!     let bangs = "!".repeat(usize::from(args.bangs.unwrap_or(1)));
//!     log::info(format!("shouting {} characters", args.text.len()));
//!     Ok(json!({ "text": format!("{}{bangs}", args.text.to_uppercase()) }))
//! }
//!
//! openlegion_skill_sdk::skill! {
//!     shout: "Upper-case a text and add exclamation marks." => shout,
//! }
//!
//! # fn main() {
//! // `skill!` also defines `Skill`, whose `describe`/`invoke` are the component's exports.
//! let out = Skill::invoke("shout", r#"{"text": "hi", "bangs": 2}"#).unwrap();
//! assert_eq!(out, r#"{"text":"HI!!"}"#);
//! # }
//! ```
//!
//! What this crate owns:
//! - the bindings, generated once from the WIT and re-exported as [`bindings`], so no skill
//!   needs a path to the WIT or a `wit-bindgen` dependency;
//! - the [`skill!`] macro: `describe` from the argument types' schemas, `invoke` with
//!   argument parsing whose errors name the field, and the component export;
//! - safe wrappers of the imports: [`log`], [`workspace`], [`http`], [`mesh`], [`process`],
//!   [`skills`], [`memory`], [`browser`];
//! - natively (not on `wasm32`), a `testing` double for those imports, so skills can be
//!   unit-tested with `cargo test` on the host.
//!
//! What it does not own: confinement and limits. The host checks every path, URL, key and
//! size and returns the platform's error texts, which tools pass through unchanged; that is
//! why the wrappers' errors are plain `String`s: they are the texts the model reads.

// The export macro that wit-bindgen generates names the bindings by their absolute path,
// `::openlegion_skill_sdk::bindings`, which must also resolve inside this crate (doctests,
// unit tests).
extern crate self as openlegion_skill_sdk;

pub mod bindings;
mod imports;
mod output;
mod parse;
mod schema;
mod skill;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub mod browser;
pub mod http;
pub mod log;
pub mod memory;
pub mod mesh;
pub mod prelude;
pub mod process;
pub mod skills;
pub mod workspace;

pub use output::{IntoOutput, Json};
pub use parse::parse_args;
pub use schema::schema_for;
pub use skill::{NoArgs, ToolDef};

/// Re-exported so skills use the SDK's versions. The derives (`#[derive(Deserialize,
/// JsonSchema)]`) still need `serde` and `schemars` as direct dependencies of the skill,
/// because the code they generate names those crates.
pub use {schemars, serde, serde_json};

/// What the [`skill!`] macro expands to; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::skill::{check_tool_names, describe, invoke, tool_def_call, tool_def_schema};
}
