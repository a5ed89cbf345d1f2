//! Components built against an older `openlegion:skill@0.1.x` keep working: the linker
//! serves an import of `…@0.1.0` with the `…@0.1.4` it links (wasmtime matches 0.x
//! versions by their minor), and a component that does not import an interface never
//! notices it exists.

use openlegion_skill_host::Capability;
use serde_json::json;

use crate::support::{TestHost, fixture};

/// Whether `needle` occurs in `bytes` (import names are stored as plain strings).
fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_skill_built_against_0_1_0_loads_and_runs() {
    let legacy = fixture("legacy");
    assert!(contains(&legacy, "openlegion:skill/workspace@0.1.0"));
    assert!(!contains(&legacy, "@0.1.1"));
    assert!(!contains(&legacy, "@0.1.2"));
    assert!(!contains(&legacy, "@0.1.3"));
    assert!(!contains(&legacy, "openlegion:skill/process"));

    let t = TestHost::new(&[Capability::Workspace]);
    let report = t.load("legacy", "legacy", &[Capability::Workspace]).await;
    assert_eq!(report.tools, ["legacy"]);
    let answer = t
        .host
        .invoke("legacy", &json!({"n": 1}).to_string())
        .await
        .unwrap();
    assert_eq!(answer, r#"{"n":1}"#);
    assert_eq!(
        std::fs::read_to_string(t.workspace.join("legacy.txt")).unwrap(),
        r#"{"n":1}"#
    );
}

#[tokio::test]
async fn a_skill_built_against_0_1_2_loads_and_runs() {
    let legacy = fixture("legacy-012");
    assert!(contains(&legacy, "openlegion:skill/workspace@0.1.2"));
    assert!(contains(&legacy, "openlegion:skill/skills@0.1.2"));
    assert!(!contains(&legacy, "@0.1.3"));
    assert!(!contains(&legacy, "openlegion:skill/memory"));

    let t = TestHost::new(&[Capability::Workspace]);
    let report = t
        .load("legacy-012", "legacy012", &[Capability::Workspace])
        .await;
    assert_eq!(report.tools, ["legacy012"]);
    let answer = t
        .host
        .invoke("legacy012", &json!({"n": 2}).to_string())
        .await
        .unwrap();
    assert_eq!(answer, r#"{"n":2}"#);
}

#[tokio::test]
async fn the_current_fixtures_import_0_1_4() {
    let echo = fixture("echo");
    assert!(contains(&echo, "openlegion:skill/memory@0.1.4"));
    assert!(contains(&echo, "openlegion:skill/workspace@0.1.4"));
}
