//! `openlegion:skill/skills`: skills the agent writes at run time.
//!
//! This crate checks the grant and bounds what the guest hands over; the agent's
//! [`SkillsCap`] does the work (it runs the compilers inside its sandbox, writes the skill
//! directory and loads it into this host). Nothing here compiles anything: a host that was
//! not handed a `SkillsCap` refuses every call, granted or not ([`DenySkills`]).

use crate::bindings::openlegion::skill::skills::{Host, Limits, Source};
use crate::capability::{Capability, not_granted};
use crate::config::LimitsOverride;
use crate::host::bounded;
use crate::manifest::name_problem;
use crate::state::CallState;

/// Longest source a skill may hand over: far beyond any tool a model writes in one call,
/// small enough that a runaway guest cannot fill the agent's disk through it.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;
/// Longest tools list (JSON): 128 tools with generous schemas.
pub const MAX_TOOLS_JSON_BYTES: usize = 64 * 1024;
/// Longest language name and description accepted.
const MAX_LANGUAGE_BYTES: usize = 32;
const MAX_DESCRIPTION_BYTES: usize = 16 * 1024;
/// More capability names than the WIT package has is a mistake, not a request.
const MAX_CAPABILITIES: usize = 16;

/// A skill to create, as the guest asked for it, bounded. The agent checks the rest (the
/// language, the tools, the capability names) and names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillSource {
    /// A valid skill name (checked here).
    pub name: String,
    pub language: String,
    pub code: String,
    pub tools_json: String,
    pub capabilities: Vec<String>,
    pub description: Option<String>,
    pub limits: LimitsOverride,
}

/// The agent's way to create, list, remove and reload its own skills. Every method refuses
/// unless implemented. `Ok` and `Err` are the texts the skill (and so the model) sees.
#[async_trait::async_trait]
pub trait SkillsCap: Send + Sync {
    async fn create(&self, skill: &str, source: SkillSource) -> Result<String, String> {
        let _ = source;
        Err(not_granted(Capability::Skills, skill))
    }

    async fn list(&self, skill: &str) -> Result<String, String> {
        Err(not_granted(Capability::Skills, skill))
    }

    async fn remove(&self, skill: &str, name: &str) -> Result<String, String> {
        let _ = name;
        Err(not_granted(Capability::Skills, skill))
    }

    async fn reload(&self, skill: &str) -> Result<String, String> {
        Err(not_granted(Capability::Skills, skill))
    }
}

/// No skill authoring at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct DenySkills;

impl SkillsCap for DenySkills {}

impl Host for CallState {
    async fn create(&mut self, source: Source) -> Result<String, String> {
        self.skill.check(Capability::Skills)?;
        let source = checked(source)?;
        let skills = self.skill.caps.skills.clone();
        skills.create(&self.skill.name, source).await
    }

    async fn list_skills(&mut self) -> Result<String, String> {
        self.skill.check(Capability::Skills)?;
        let skills = self.skill.caps.skills.clone();
        skills.list(&self.skill.name).await
    }

    async fn remove(&mut self, name: String) -> Result<String, String> {
        self.skill.check(Capability::Skills)?;
        name_problem(&name)?;
        let skills = self.skill.caps.skills.clone();
        skills.remove(&self.skill.name, &name).await
    }

    async fn reload(&mut self) -> Result<String, String> {
        self.skill.check(Capability::Skills)?;
        let skills = self.skill.caps.skills.clone();
        skills.reload(&self.skill.name).await
    }
}

fn checked(source: Source) -> Result<SkillSource, String> {
    name_problem(&source.name)?;
    bounded("language", &source.language, MAX_LANGUAGE_BYTES)?;
    bounded("code", &source.code, MAX_SOURCE_BYTES)?;
    bounded("tools", &source.tools_json, MAX_TOOLS_JSON_BYTES)?;
    if let Some(description) = &source.description {
        bounded("description", description, MAX_DESCRIPTION_BYTES)?;
    }
    if source.capabilities.len() > MAX_CAPABILITIES {
        return Err(format!(
            "{} capabilities asked for; there are at most {MAX_CAPABILITIES}",
            source.capabilities.len()
        ));
    }
    for capability in &source.capabilities {
        bounded("a capability name", capability, MAX_LANGUAGE_BYTES)?;
    }
    // A NUL byte ends a C string: the compilers would read a different source than the
    // one hashed and stored.
    if source.code.contains('\0') {
        return Err("code contains a NUL byte".into());
    }
    let limits = source
        .limits
        .map_or_else(LimitsOverride::default, |l: Limits| LimitsOverride {
            fuel: l.fuel,
            memory_mib: l.memory_mib.map(u64::from),
            timeout_ms: l.timeout_ms.map(u64::from),
        });
    Ok(SkillSource {
        name: source.name,
        language: source.language,
        code: source.code,
        tools_json: source.tools_json,
        capabilities: source.capabilities,
        description: source.description,
        limits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source {
            name: "rev".into(),
            language: "python".into(),
            code: "def reverse(text):\n    return text[::-1]\n".into(),
            tools_json: "[]".into(),
            capabilities: vec!["workspace".into()],
            description: None,
            limits: Some(Limits {
                fuel: None,
                memory_mib: Some(16),
                timeout_ms: None,
            }),
        }
    }

    #[test]
    fn a_good_source_passes_with_its_limits() {
        let checked = checked(source()).unwrap();
        assert_eq!(checked.limits.memory_mib, Some(16));
        assert_eq!(checked.capabilities, ["workspace"]);
    }

    #[test]
    fn bad_names_sizes_and_nul_bytes_are_named() {
        let bad_name = checked(Source {
            name: "../x".into(),
            ..source()
        });
        assert!(bad_name.unwrap_err().contains("invalid name \"../x\""));
        let huge = checked(Source {
            code: "x".repeat(MAX_SOURCE_BYTES + 1),
            ..source()
        });
        assert_eq!(
            huge.unwrap_err(),
            format!(
                "code is {} bytes, more than the {MAX_SOURCE_BYTES} allowed",
                MAX_SOURCE_BYTES + 1
            )
        );
        let nul = checked(Source {
            code: "a\0b".into(),
            ..source()
        });
        assert_eq!(nul.unwrap_err(), "code contains a NUL byte");
    }
}
