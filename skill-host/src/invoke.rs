//! One call into a skill: a fresh store from the skill's cached `InstancePre`, under its
//! fuel, memory and wall-clock limits, and the translation of whatever went wrong into a
//! [`ToolError`] that names the tool and the limit.
//!
//! Every call gets its own store and instance. A trapped instance cannot be entered again,
//! and a guest's memory must not carry from one call to the next, so nothing is reused
//! but the compiled code; the pooling allocator makes that cost microseconds.

use wasmtime::{Engine, Store, Trap};

use crate::bindings::openlegion::skill::types::Tool;
use crate::call_state::CallState;
use crate::error::ToolError;
use crate::registry::LoadedSkill;

/// Longest crash description passed on to the model.
const MAX_CRASH_MESSAGE_CHARS: usize = 1000;

enum Request<'a> {
    Describe,
    Invoke { tool: &'a str, args_json: &'a str },
}

enum Answer {
    Tools(Vec<Tool>),
    Result(Result<String, String>),
}

/// Asks `skill` for its tools.
pub(crate) async fn describe(engine: &Engine, skill: &LoadedSkill) -> Result<Vec<Tool>, ToolError> {
    match run(engine, skill, "describe", Request::Describe).await? {
        Answer::Tools(tools) => Ok(tools),
        Answer::Result(_) => Err(mismatch("describe")),
    }
}

/// Calls `tool` of `skill`; the inner `Err` is the tool's own error.
pub(crate) async fn invoke(
    engine: &Engine,
    skill: &LoadedSkill,
    tool: &str,
    args_json: &str,
) -> Result<Result<String, String>, ToolError> {
    match run(engine, skill, tool, Request::Invoke { tool, args_json }).await? {
        Answer::Result(result) => Ok(result),
        Answer::Tools(_) => Err(mismatch(tool)),
    }
}

async fn run(
    engine: &Engine,
    skill: &LoadedSkill,
    label: &str,
    request: Request<'_>,
) -> Result<Answer, ToolError> {
    let limits = skill.limits;
    let mut store = Store::new(engine, CallState::new(skill.context.clone(), limits));
    store.limiter(|state| &mut state.limiter);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| crashed(label, &e.to_string()))?;
    // A new store's deadline is "now": without this the first check traps at once. One
    // tick ahead, then yield to the runtime at every tick so the timeout below can fire.
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);

    let work = async {
        let instance = skill.pre.instantiate_async(&mut store).await?;
        match request {
            Request::Describe => instance.call_describe(&mut store).await.map(Answer::Tools),
            Request::Invoke { tool, args_json } => instance
                .call_invoke(&mut store, tool, args_json)
                .await
                .map(Answer::Result),
        }
    };
    match tokio::time::timeout(limits.timeout, work).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(classify(label, &error, &store)),
        Err(_elapsed) => Err(ToolError::Timeout {
            tool: label.to_owned(),
            limit: limits.timeout,
        }),
    }
}

/// Which limit a failed call hit, or how it crashed.
fn classify(label: &str, error: &wasmtime::Error, store: &Store<CallState>) -> ToolError {
    let tool = label.to_owned();
    let limits = store.data().limits;
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            return ToolError::OutOfFuel {
                tool,
                limit: limits.fuel,
            };
        }
        Some(Trap::Interrupt) => {
            return ToolError::Timeout {
                tool,
                limit: limits.timeout,
            };
        }
        _ => {}
    }
    // A refused `memory.grow` is not a trap of its own: the guest sees -1 and (for Rust)
    // aborts, so the trap that reaches us is `unreachable`.
    if store.data().limiter.refused {
        return ToolError::OutOfMemory {
            tool,
            limit: limits.memory_bytes,
        };
    }
    tracing::debug!(tool = label, "skill call failed: {error:?}");
    let cause = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    let stderr = compact(&store.data().stderr.text());
    let message = if stderr.is_empty() {
        cause
    } else {
        format!("{stderr} ({cause})")
    };
    crashed(label, &message)
}

/// A guest's stderr on one line, without Rust's backtrace hint.
fn compact(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn crashed(label: &str, message: &str) -> ToolError {
    let mut short: String = message.chars().take(MAX_CRASH_MESSAGE_CHARS).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    ToolError::Crashed {
        tool: label.to_owned(),
        message: short,
    }
}

fn mismatch(label: &str) -> ToolError {
    crashed(label, "the skill answered a different call")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_read_as_one_line() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:19:9:\nboom requested\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            compact(stderr),
            "thread '<unnamed>' panicked at src/lib.rs:19:9: boom requested"
        );
    }
}
