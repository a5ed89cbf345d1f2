//! What a component must be before the host runs it: a component (not a core module or
//! other bytes), importing nothing but `openlegion:skill` interfaces and WASI.
//!
//! WASI is linked with an empty context, so its imports give a skill clocks and
//! randomness and nothing else; anything outside these two packages would be a way around
//! the capability model, and is refused by name rather than by a linker error.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::HostError;

const MAGIC: &[u8; 4] = b"\0asm";
/// Version and layer of a component (layer 1) and of a core module (layer 0).
const COMPONENT_VERSION: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];
const CORE_MODULE_VERSION: [u8; 4] = [0x01, 0x00, 0x00, 0x00];

const ALLOWED_PREFIXES: [&str; 2] = ["openlegion:skill/", "wasi:"];
/// What an agent-written component may import: this package and nothing else. Its
/// compilers are run with WASI stubbed out, so a WASI import means it was not built the
/// way the agent builds skills.
const AUTHORED_PREFIX: &str = "openlegion:skill/";
/// The exports of the world `skill`.
const WORLD_EXPORTS: [&str; 2] = ["describe", "invoke"];

/// Whether `bytes` start like a WebAssembly component.
pub(crate) fn check_header(skill: &str, bytes: &[u8]) -> Result<(), HostError> {
    let refuse = |reason: &str| {
        Err(HostError::NotAComponent {
            skill: skill.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return refuse("the file is not WebAssembly (no \\0asm header)");
    }
    match <[u8; 4]>::try_from(&bytes[4..8]) {
        Ok(COMPONENT_VERSION) => Ok(()),
        Ok(CORE_MODULE_VERSION) => refuse(
            "it is a core WebAssembly module; build a component (cargo build --target \
             wasm32-wasip2, or wasm-tools component new)",
        ),
        _ => refuse("unknown WebAssembly version or layer"),
    }
}

/// Refuses a component that imports anything outside `openlegion:skill/*` and `wasi:*`,
/// naming every such import.
pub(crate) fn check_imports(
    skill: &str,
    component: &Component,
    engine: &Engine,
) -> Result<(), HostError> {
    let ty = component.component_type();
    let forbidden: Vec<&str> = ty
        .imports(engine)
        .map(|(name, _)| name)
        .filter(|name| !ALLOWED_PREFIXES.iter().any(|p| name.starts_with(p)))
        .collect();
    if forbidden.is_empty() {
        Ok(())
    } else {
        Err(HostError::ForbiddenImport {
            skill: skill.to_owned(),
            import: forbidden.join("', '"),
        })
    }
}

/// Checks, without compiling it, that `bytes` are a component of the world `skill` as the
/// agent builds them from source: it imports only `openlegion:skill/*` (and WASI if
/// `allow_wasi`: Rust's std always imports it, and the host links an empty WASI context,
/// as for the built-in skills) and exports `describe` and `invoke`. Names every import that
/// is not allowed.
pub fn check_authored(skill: &str, bytes: &[u8], allow_wasi: bool) -> Result<(), HostError> {
    check_header(skill, bytes)?;
    let not_a_component = |reason: String| HostError::NotAComponent {
        skill: skill.to_owned(),
        reason,
    };
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    // Nested modules and components have sections of their own; only the outermost
    // component's imports and exports are the world's.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| not_a_component(format!("malformed: {e}")))?;
        match payload {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| not_a_component(format!("malformed: {e}")))?;
                    // A type (the world's `use types.{tool}`) gives no capability; functions,
                    // instances (interfaces), modules and components do.
                    if !matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        imports.push(import.name.name.to_owned());
                    }
                }
            }
            wasmparser::Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.map_err(|e| not_a_component(format!("malformed: {e}")))?;
                    exports.push(export.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    let forbidden: Vec<&str> = imports
        .iter()
        .map(String::as_str)
        .filter(|name| !name.starts_with(AUTHORED_PREFIX))
        .filter(|name| !(allow_wasi && name.starts_with("wasi:")))
        .collect();
    if !forbidden.is_empty() {
        return Err(HostError::ForbiddenAuthoredImport {
            skill: skill.to_owned(),
            import: forbidden.join("', '"),
        });
    }
    let missing: Vec<&str> = WORLD_EXPORTS
        .into_iter()
        .filter(|wanted| !exports.iter().any(|e| e == wanted))
        .collect();
    if !missing.is_empty() {
        return Err(not_a_component(format!(
            "it does not export '{}' of the world openlegion:skill/skill",
            missing.join("', '")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_components_from_the_rest() {
        assert!(check_header("s", b"\0asm\x0d\0\x01\0rest").is_ok());
        let core = check_header("s", b"\0asm\x01\0\0\0")
            .unwrap_err()
            .to_string();
        assert!(
            core.starts_with(
                "skill 's' is not a WebAssembly component: it is a core WebAssembly module"
            ),
            "{core}"
        );
        let garbage = check_header("s", b"PK\x03\x04 a zip")
            .unwrap_err()
            .to_string();
        assert_eq!(
            garbage,
            "skill 's' is not a WebAssembly component: the file is not WebAssembly (no \\0asm header)"
        );
        assert!(check_header("s", b"").is_err());
    }
}
