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
