//! What can go wrong loading a skill ([`HostError`]) and calling a tool ([`ToolError`]).
//!
//! Tool errors are shown to the model, so each one names the tool and, for a limit, the
//! limit that was hit. A guest's own `err` result is passed through unchanged.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::human_bytes;

/// A skill that could not be loaded, or a host that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is {size} bytes, more than the {max} allowed", path.display())]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    /// `skill.yaml` does not parse, or a field has a value it may not have.
    #[error("{}:{line}:{column}: {field}: {message}", path.display())]
    Manifest {
        path: PathBuf,
        line: u64,
        column: u64,
        /// Dotted path of the field (`limits.fuel`), or `(document)`.
        field: String,
        message: String,
    },
    /// A manifest built in code has a bad field.
    #[error("skill '{skill}': {field}: {message}")]
    InvalidManifest {
        skill: String,
        field: &'static str,
        message: String,
    },
    #[error("skill '{skill}': {message}")]
    InvalidLimits { skill: String, message: String },
    #[error("skill '{skill}' is not a WebAssembly component: {reason}")]
    NotAComponent { skill: String, reason: String },
    #[error(
        "skill '{skill}' imports '{import}': only openlegion:skill and wasi interfaces are allowed"
    )]
    ForbiddenImport { skill: String, import: String },
    #[error(
        "skill '{skill}' imports '{import}': a skill written by the agent may import only openlegion:skill interfaces"
    )]
    ForbiddenAuthoredImport { skill: String, import: String },
    /// wasmtime (or the task running it) failed to compile or map the component; the
    /// chain is kept as the source and shown in the message.
    #[error("skill '{skill}' does not compile: {source:#}")]
    Compile {
        skill: String,
        #[source]
        source: wasmtime::Error,
    },
    #[error("skill '{skill}' cannot be linked: {source:#}")]
    Link {
        skill: String,
        #[source]
        source: wasmtime::Error,
    },
    /// The component's `describe` failed, or described tools the host cannot offer.
    #[error("skill '{skill}': describe failed: {message}")]
    Describe { skill: String, message: String },
    #[error("skill '{skill}': tool {tool:?}: {message}")]
    InvalidTool {
        skill: String,
        tool: String,
        message: String,
    },
    #[error("skill '{skill}' offers tool '{tool}', which skill '{existing}' already offers")]
    DuplicateTool {
        skill: String,
        tool: String,
        existing: String,
    },
    #[error("skill cache {}: {source}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the skill engine cannot start: {source:#}")]
    Engine {
        #[source]
        source: wasmtime::Error,
    },
    #[error("invalid host configuration: {message}")]
    Config { message: String },
}

/// A tool call that did not produce an answer. The host keeps serving other calls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    #[error("no tool named '{tool}'")]
    UnknownTool { tool: String },
    #[error("tool '{tool}' arguments are {size} bytes, more than the {max} allowed{}",
        largest.as_ref().map(|(field, bytes)| format!(" (the field '{field}' alone is {bytes} bytes)")).unwrap_or_default())]
    ArgumentsTooLarge {
        tool: String,
        size: usize,
        max: usize,
        /// The biggest top-level field of the arguments and its size, when they are a JSON
        /// object: the model learns which value to shorten.
        largest: Option<(String, usize)>,
    },
    #[error("tool '{tool}' answered {size} bytes, more than the {max} allowed")]
    AnswerTooLarge {
        tool: String,
        size: usize,
        max: usize,
    },
    /// The tool's own error (the guest returned `err`), for the model to see as it is.
    #[error("{message}")]
    Tool { tool: String, message: String },
    #[error("tool '{tool}' ran out of fuel (limit {limit})")]
    OutOfFuel { tool: String, limit: u64 },
    #[error("tool '{tool}' timed out after {} ms", limit.as_millis())]
    Timeout { tool: String, limit: Duration },
    #[error("tool '{tool}' exceeded its memory limit of {}", human_bytes(*limit))]
    OutOfMemory { tool: String, limit: u64 },
    /// A trap: a panic, an `unreachable`, an out-of-bounds access, a host error.
    #[error("tool '{tool}' crashed: {message}")]
    Crashed { tool: String, message: String },
}

impl ToolError {
    /// The tool the failed call was for.
    pub fn tool(&self) -> &str {
        match self {
            ToolError::UnknownTool { tool }
            | ToolError::ArgumentsTooLarge { tool, .. }
            | ToolError::AnswerTooLarge { tool, .. }
            | ToolError::Tool { tool, .. }
            | ToolError::OutOfFuel { tool, .. }
            | ToolError::Timeout { tool, .. }
            | ToolError::OutOfMemory { tool, .. }
            | ToolError::Crashed { tool, .. } => tool,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_errors_name_the_tool_and_the_limit() {
        let texts = [
            ToolError::OutOfFuel {
                tool: "spin".into(),
                limit: 1_000_000,
            }
            .to_string(),
            ToolError::Timeout {
                tool: "sleepy".into(),
                limit: Duration::from_millis(300),
            }
            .to_string(),
            ToolError::OutOfMemory {
                tool: "hog".into(),
                limit: 16 << 20,
            }
            .to_string(),
        ];
        assert_eq!(
            texts,
            [
                "tool 'spin' ran out of fuel (limit 1000000)",
                "tool 'sleepy' timed out after 300 ms",
                "tool 'hog' exceeded its memory limit of 16 MiB",
            ]
        );
    }
}
