//! `openlegion:skill/skills`: skills the agent writes at run time.
//!
//! This crate checks the grant and bounds what the guest hands over; the agent's
//! [`SkillsCap`] does the work (it runs the compilers inside its sandbox, writes the skill
//! directory and loads it into this host). Nothing here compiles anything: a host that was
//! not handed a `SkillsCap` refuses every call, granted or not ([`DenySkills`]).

use crate::bindings::openlegion::skill::skills::{Host, Limits, Source};
use crate::call_state::CallState;
use crate::capability::Capability;
use crate::config::LimitsOverride;
use crate::host::bounded;
use crate::manifest::name_problem;
use crate::ports::skills::{MAX_SOURCE_BYTES, MAX_TOOLS_JSON_BYTES, SkillSource};

/// Longest language name and description accepted.
const MAX_LANGUAGE_BYTES: usize = 32;
const MAX_DESCRIPTION_BYTES: usize = 16 * 1024;
/// More capability names than the WIT package has is a mistake, not a request.
const MAX_CAPABILITIES: usize = 16;

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
