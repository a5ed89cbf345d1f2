//! Fuzz target for skill manifests (`skill.yaml`), which an agent's model can write through
//! `create_skill`. A bolero target run as a test for `OPENLEGION_FUZZ_SECS` (see
//! `openlegion-fuzz`); corpus in `src/fuzz/__fuzz__/skill_manifest/corpus/`. Properties: no
//! panic, no hang; an error names the file, line and field; a manifest that parses
//! writes back and parses equal, and its limits either apply or say why not.

use std::path::Path;

use crate::config::Limits;
use crate::error::HostError;
use crate::manifest::Manifest;

/// Keys of a manifest, added to the YAML tokens of `openlegion_fuzz`.
const MANIFEST_KEYS: &[&[u8]] = &[
    b"capabilities: [",
    b"limits: {",
    b"memory_mib: ",
    b"fuel: ",
    b"timeout_ms: ",
    b"probes: [",
];

fn check(path: &Path, input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match Manifest::from_yaml(path, text) {
        Ok(manifest) => {
            let written = serde_saphyr::to_string(&manifest).expect("serialises");
            let again = Manifest::from_yaml(path, &written)
                .unwrap_or_else(|e| panic!("{e}\nafter writing:\n{written}"));
            assert_eq!(manifest, again, "not equal after writing:\n{written}");
            if let Some(limits) = &manifest.limits {
                limits.apply(Limits::default()).problem();
            }
        }
        Err(HostError::Manifest { line, field, .. }) => {
            assert!(line >= 1, "a manifest error without a line");
            assert!(!field.is_empty(), "a manifest error without a field");
        }
        Err(other) => panic!("not a manifest error: {other}"),
    }
}

#[test]
fn skill_manifest() {
    let path = Path::new("/skills/x/skill.yaml");
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fuzz/__fuzz__/skill_manifest/corpus");
    openlegion_fuzz::run!(
        "skill_manifest",
        corpus,
        &[openlegion_fuzz::YAML, MANIFEST_KEYS].concat(),
        |input: &[u8]| check(path, input)
    );
}
