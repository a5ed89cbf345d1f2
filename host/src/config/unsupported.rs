//! Keys of the original's agents.yaml and mesh.yaml that this mesh reads but does not act
//! on: each is refused while the file is parsed (so the error has the file, line, column and
//! key) with what to do instead, or accepted only at the value that is true here.
//!
//! The general rule and the permission flags are in `openlegion_protocol::unsupported`.

use openlegion_protocol::unsupported::refuse;
use serde::Deserialize;
use serde::de::{Deserializer, Error};

use super::Thinking;

/// `skills_dir` and `tools_dir`: the original's directories of Python tools.
pub(super) fn skills_dir<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    refuse(
        d,
        "tools here are WebAssembly components; build one with `openlegion skill build` and install it with `openlegion skill install AGENT DIR`",
    )
}

/// `initial_interface`: the original's INTERFACE.md, which no agent here reads.
pub(super) fn initial_interface<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    refuse(
        d,
        "agents here have no INTERFACE.md; describe what the agent takes and gives in its system_prompt",
    )
}

/// `escalation_to`: the original's hand-off target for team routing.
pub(super) fn escalation_to<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    refuse(
        d,
        "nothing escalates on its own here; name the agent to escalate to in the system_prompt and grant it in can_message",
    )
}

/// `preferred_inputs`, `expected_outputs`, `forbidden`: the original's routing hints; only
/// an empty list is true here.
pub(super) fn hints<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items = Vec::<String>::deserialize(d)?;
    if items.is_empty() {
        Ok(items)
    } else {
        Err(D::Error::custom(
            "is not supported: the mesh keeps no routing hints; say it in the system_prompt",
        ))
    }
}

/// `status`: only `active` (the agent runs) is true here.
pub(super) fn status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let status = Option::<String>::deserialize(d)?;
    match status.as_deref() {
        None | Some("active") => Ok(status),
        Some(other) => Err(D::Error::custom(format!(
            "{other:?} is not supported: every agent of agents.yaml runs (status: active); remove the agent with `openlegion agent remove` instead"
        ))),
    }
}

/// `thinking`: the mesh passes no reasoning setting to providers, so only `off` is true.
pub(super) fn thinking<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Thinking>, D::Error> {
    let thinking = Option::<Thinking>::deserialize(d)?;
    match thinking {
        None | Some(Thinking::Off) => Ok(thinking),
        Some(_) => Err(D::Error::custom(
            "is not supported: the mesh passes no reasoning setting to providers yet (only `off` is accepted)",
        )),
    }
}

/// `fleet_skills` of permissions.json: skills installed in every agent, which the mesh
/// does not do; only an empty list is true.
pub(super) fn fleet_skills<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items = Vec::<String>::deserialize(d)?;
    if items.is_empty() {
        Ok(items)
    } else {
        Err(D::Error::custom(
            "is not supported: install a skill into each agent with `openlegion skill install AGENT DIR`",
        ))
    }
}
