//! The host side of the WIT interfaces, one file per interface, and the linker that
//! offers all of them (plus WASI) to every skill.
//!
//! Every interface is linked for every skill, so any component of the `skill` world
//! instantiates; each host function checks the calling skill's grant first and answers
//! `err("capability '<name>' is not granted to skill '<skill>'")` when it is missing.

pub(crate) mod browser;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod memory;
pub(crate) mod mesh;
pub(crate) mod process;
pub(crate) mod skills;
pub(crate) mod workspace;

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::Skill;
use crate::bindings::openlegion::skill::types;
use crate::call_state::CallState;
use crate::error::HostError;

/// A linker with WASI (preview 2, async) and every `openlegion:skill` interface.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<CallState>, HostError> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .and_then(|()| Skill::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s))
        .map_err(|e| HostError::Engine {
            source: e.context("cannot link the skill interfaces"),
        })?;
    Ok(linker)
}

/// `types` has no functions.
impl types::Host for CallState {}

/// Refuses a guest string longer than `max` bytes, naming the parameter. The canonical
/// ABI has already copied the string by then (bounded by the guest's memory limit); the
/// check keeps it from going further, to disk or over the mesh.
pub(crate) fn bounded(what: &str, value: &str, max: usize) -> Result<(), String> {
    if value.len() > max {
        Err(format!(
            "{what} is {} bytes, more than the {max} allowed",
            value.len()
        ))
    } else {
        Ok(())
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub(crate) fn truncate_at_char(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    text.truncate(text.floor_char_boundary(max));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        let mut text = "aé".to_string();
        assert!(truncate_at_char(&mut text, 2));
        assert_eq!(text, "a");
        let mut short = "abc".to_string();
        assert!(!truncate_at_char(&mut short, 3));
    }

    #[test]
    fn bounds_name_what_was_too_long() {
        assert_eq!(
            bounded("key", "abcd", 3),
            Err("key is 4 bytes, more than the 3 allowed".into())
        );
        assert_eq!(bounded("key", "abc", 3), Ok(()));
    }
}
