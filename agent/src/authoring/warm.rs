//! `openlegion-agent warm DIR`: the functions every skill of a language shares (CPython in
//! each Python skill, QuickJS in each JavaScript one) compiled ahead of time into DIR's
//! function cache, so that an agent's first skill in that language compiles only its own
//! code. The full agent image runs it at build time with the image's own compilers.
//!
//! A sample skill of each language goes through `create_skill`'s own build, check and
//! load, into a scratch skill host; only the host's function cache is kept (not the
//! sample's `.cwasm`, tens of megabytes no agent would ask for).

use std::path::Path;
use std::sync::Arc;

use openlegion_skill_host::{
    Capabilities, LimitsOverride, SkillHost, SkillHostSettings, SkillSource, SkillsCap,
    copy_function_cache,
};
use serde_json::json;

use super::Authoring;

/// The sample skills: one small tool each, in the languages whose runtime is compiled
/// into every component (Rust skills share little beyond the standard library).
const SAMPLES: [(&str, &str); 2] = [
    (
        "python",
        "def reverse_python(text):\n    return text[::-1]\n",
    ),
    (
        "javascript",
        "export function reverse_javascript({ text }) {\n  return Array.from(text).reverse().join(\"\");\n}\n",
    ),
];

/// Builds and compiles each sample, then writes the compiled functions to `into`. Returns
/// one line per language saying what happened; fails only if nothing could be kept.
pub async fn warm(into: &Path) -> Result<Vec<String>, String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("a scratch directory: {e}"))?;
    let data = scratch.path().join("data");
    let cache = scratch.path().join("cache");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let authoring = Authoring::new(data.join("skills"), data.join(".skill-staging"), []);
    let mut caps = Capabilities::new(&data);
    caps.skills = Arc::new(authoring.clone());
    let host = SkillHost::new(SkillHostSettings::new(&cache), caps).map_err(|e| e.to_string())?;
    authoring.attach(&host);
    let mut lines = Vec::new();
    let mut compiled = 0;
    for (language, code) in SAMPLES {
        let sample = SkillSource {
            name: format!("warm-{language}"),
            language: language.into(),
            code: code.into(),
            tools_json: json!([{"name": format!("reverse_{language}"),
                                "description": "Reverse a text.",
                                "parameters": {"type": "object",
                                               "properties": {"text": {"type": "string"}}}}])
            .to_string(),
            capabilities: vec![],
            description: None,
            limits: LimitsOverride::default(),
        };
        match authoring.create("warm", sample).await {
            Ok(report) => {
                compiled += 1;
                let report: serde_json::Value = serde_json::from_str(&report).unwrap_or_default();
                lines.push(format!(
                    "{language}: built in {} s, compiled and loaded in {} s",
                    report["compile_seconds"], report["load_seconds"]
                ));
            }
            Err(e) => lines.push(format!("{language}: not warmed: {e}")),
        }
    }
    drop(host);
    if compiled == 0 {
        return Err(lines.join("\n"));
    }
    copy_function_cache(&cache, into).map_err(|e| format!("{}\n{e}", lines.join("\n")))?;
    Ok(lines)
}
