//! What a skill usually needs: `use openlegion_skill_sdk::prelude::*;`.
//!
//! The derives come from `serde` and `schemars`, which a skill must also list as
//! dependencies (their generated code names those crates).

pub use schemars::JsonSchema;
pub use serde::{Deserialize, Serialize};
pub use serde_json::{Map, Value, json};

pub use crate::{
    IntoOutput, Json, NoArgs, browser, http, log, memory, mesh, process, skills, workspace,
};
