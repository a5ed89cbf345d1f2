//! Builds the built-in skills (`skills/`, a separate cargo workspace for the
//! `wasm32-wasip2` target) and embeds each component with its manifest in the agent
//! binary, so the agent ships as one file with its tools inside.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest_dir
        .parent()
        .expect("the agent crate is in the workspace");
    let skills = root.join("skills");
    let target_dir = root.join("target").join("skills");
    for path in [
        root.join("wit"),
        root.join("skills-sdk/src"),
        root.join("skills-sdk/Cargo.toml"),
        skills.join("Cargo.toml"),
        skills.join("Cargo.lock"),
    ] {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    let members = members(&skills);
    for dir in &members {
        for part in ["src", "Cargo.toml", "skill.yaml"] {
            println!("cargo::rerun-if-changed={}", dir.join(part).display());
        }
    }
    ensure_wasm_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            WASM_TARGET,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(skills.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's settings are for the host target, not for the guests.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo to build the built-in skills");
    if !output.status.success() {
        panic!(
            "building the built-in skills failed (is the wasm32-wasip2 target installed? rust-toolchain.toml asks for it):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let artifacts = String::from_utf8_lossy(&output.stdout);
    let mut entries = Vec::new();
    for dir in &members {
        let wasm = artifacts
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact")
            .filter(|m| {
                m["manifest_path"]
                    .as_str()
                    .is_some_and(|p| Path::new(p).parent() == Some(dir.as_path()))
            })
            .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f.as_str().map(PathBuf::from))
            .find(|f| f.extension().is_some_and(|e| e == "wasm"))
            .unwrap_or_else(|| panic!("no component was built for {}", dir.display()));
        let name = dir
            .file_name()
            .expect("a member directory")
            .to_string_lossy()
            .into_owned();
        entries.push(format!(
            "    ({name:?}, include_str!({:?}), include_bytes!({:?})),",
            dir.join("skill.yaml").display().to_string(),
            wasm.display().to_string()
        ));
    }
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("builtin_skills.rs");
    let code = format!(
        "/// (name, manifest YAML, component) of each built-in skill.\npub(crate) const SKILLS: &[(&str, &str, &[u8])] = &[\n{}\n];\n",
        entries.join("\n")
    );
    std::fs::write(out, code).expect("write builtin_skills.rs");
}

/// The guests' target.
const WASM_TARGET: &str = "wasm32-wasip2";

/// Adds the `wasm32-wasip2` target to the toolchain building us when it lacks it.
///
/// rustup installs the targets of `rust-toolchain.toml` only with the toolchain: on a
/// machine where 1.95 was already there, the target is missing, and the skills' build would
/// fail minutes later with "can't find crate for `std`". This runs before that build, and
/// either installs the target or stops at once with the one command that does.
fn ensure_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |sysroot: &Path| sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir();
    if sysroot.as_deref().is_some_and(installed) {
        return;
    }
    let fix = format!("rustup target add {WASM_TARGET}");
    // Inside cargo started by rustup, RUSTUP_TOOLCHAIN names the toolchain in force
    // (the one rust-toolchain.toml pins), which is the one that needs the target.
    let mut add = Command::new("rustup");
    add.args(["target", "add", WASM_TARGET]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        add.args(["--toolchain", &toolchain]);
    }
    println!("cargo::warning=the {WASM_TARGET} target is missing: running `{fix}`");
    match add.status() {
        Ok(status) if status.success() && sysroot.as_deref().is_none_or(installed) => {}
        Ok(status) => panic!(
            "the {WASM_TARGET} target (for the built-in skills) is missing and `{fix}` failed ({status}); run it yourself, then build again"
        ),
        Err(e) => panic!(
            "the {WASM_TARGET} target (for the built-in skills) is missing and rustup could not be run ({e}); install the target for this toolchain (with rustup: `{fix}`), then build again"
        ),
    }
}

/// The member crates of the skills workspace that are skills (have a `skill.yaml`).
fn members(skills: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(skills)
        .expect("the skills directory exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("skill.yaml").is_file() && p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}
