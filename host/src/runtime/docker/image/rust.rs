//! The Rust toolchain of the full agent image, so that agents write skills in Rust inside
//! their container with no network.
//!
//! Debian's rustc is too old for the skill SDK, and the project already requires the pinned
//! toolchain of `rust-toolchain.toml` (with `wasm32-wasip2`) on the machine running the
//! mesh; this copies the part of that toolchain a skill build needs into the image. A first
//! build stage gets rustc, cargo, the host's standard library (build scripts and proc
//! macros run on the host), the `wasm32-wasip2` standard library, rust-lld and
//! `wasm-component-ld`, plus gcc from apt for linking build scripts, and prepares the
//! template of `compilers.sh`'s `ensure_rust_template` (its dependencies fetched from
//! crates.io and compiled once). It then drops what only that stage needed (the host's
//! standard library, gcc-ld) and checks that a changed skill still builds offline with what
//! is left; the image takes the toolchain and the template from that stage.
//!
//! Not here: how the agent calls cargo (`agent/src/authoring/compilers.rs`). With no such
//! toolchain on this machine the image is built without Rust, and `create_skill` in Rust
//! says it is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tarball::{Source, Tarball};

/// The toolchain the project pins; its `channel` names the toolchain to copy.
const RUST_TOOLCHAIN_TOML: &str = include_str!("../../../../../rust-toolchain.toml");
/// The target skills are built for.
const SKILL_TARGET: &str = "wasm32-wasip2";

/// What `ensure_rust_template` builds the template from, as the repository lays it out
/// (its stamp hashes these files).
const SDK_FILES: &[(&str, &str)] = &[
    (
        "skills-sdk/compilers.sh",
        include_str!("../../../../../skills-sdk/compilers.sh"),
    ),
    (
        "wit/skill.wit",
        include_str!("../../../../../wit/skill.wit"),
    ),
    (
        "skills/Cargo.toml",
        include_str!("../../../../../skills/Cargo.toml"),
    ),
    (
        "skills/Cargo.lock",
        include_str!("../../../../../skills/Cargo.lock"),
    ),
    (
        "skills-sdk/Cargo.toml",
        include_str!("../../../../../skills-sdk/Cargo.toml"),
    ),
    (
        "skills-sdk/src/bindings.rs",
        include_str!("../../../../../skills-sdk/src/bindings.rs"),
    ),
    (
        "skills-sdk/src/http.rs",
        include_str!("../../../../../skills-sdk/src/http.rs"),
    ),
    (
        "skills-sdk/src/imports.rs",
        include_str!("../../../../../skills-sdk/src/imports.rs"),
    ),
    (
        "skills-sdk/src/lib.rs",
        include_str!("../../../../../skills-sdk/src/lib.rs"),
    ),
    (
        "skills-sdk/src/log.rs",
        include_str!("../../../../../skills-sdk/src/log.rs"),
    ),
    (
        "skills-sdk/src/mesh.rs",
        include_str!("../../../../../skills-sdk/src/mesh.rs"),
    ),
    (
        "skills-sdk/src/output.rs",
        include_str!("../../../../../skills-sdk/src/output.rs"),
    ),
    (
        "skills-sdk/src/parse.rs",
        include_str!("../../../../../skills-sdk/src/parse.rs"),
    ),
    (
        "skills-sdk/src/prelude.rs",
        include_str!("../../../../../skills-sdk/src/prelude.rs"),
    ),
    (
        "skills-sdk/src/process.rs",
        include_str!("../../../../../skills-sdk/src/process.rs"),
    ),
    (
        "skills-sdk/src/schema.rs",
        include_str!("../../../../../skills-sdk/src/schema.rs"),
    ),
    (
        "skills-sdk/src/skill.rs",
        include_str!("../../../../../skills-sdk/src/skill.rs"),
    ),
    (
        "skills-sdk/src/skills.rs",
        include_str!("../../../../../skills-sdk/src/skills.rs"),
    ),
    (
        "skills-sdk/src/testing.rs",
        include_str!("../../../../../skills-sdk/src/testing.rs"),
    ),
    (
        "skills-sdk/src/workspace.rs",
        include_str!("../../../../../skills-sdk/src/workspace.rs"),
    ),
];

/// Where the toolchain is in the image.
const SYSROOT: &str = "/opt/rust";

/// The host's copy of the pinned toolchain.
#[derive(Debug, Clone)]
pub(super) struct Toolchain {
    sysroot: PathBuf,
    /// `rustc --version`.
    version: String,
    /// The host's target triple (`x86_64-unknown-linux-gnu`): the image's too.
    host: String,
}

/// The `channel` of `rust-toolchain.toml`.
fn channel() -> Option<&'static str> {
    RUST_TOOLCHAIN_TOML.lines().find_map(|line| {
        let value = line.trim().strip_prefix("channel")?.trim_start();
        Some(value.strip_prefix('=')?.trim().trim_matches('"'))
    })
}

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        // Never download a toolchain just to look for one.
        .env("RUSTUP_AUTO_INSTALL", "0")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The pinned toolchain on this machine, or why it cannot go into the image.
pub(super) fn find() -> Result<Toolchain, String> {
    let channel = channel().ok_or("rust-toolchain.toml names no channel")?;
    // rustup's copy of the pin; else whatever rustc is on PATH, if it is the pinned release.
    let sysroot = run("rustup", &["run", channel, "rustc", "--print", "sysroot"])
        .or_else(|| run("rustc", &["--print", "sysroot"]))
        .ok_or_else(|| {
            format!("no Rust toolchain found (rustup toolchain install {channel} --target {SKILL_TARGET})")
        })?;
    let sysroot = PathBuf::from(sysroot);
    let rustc = sysroot.join("bin/rustc");
    let rustc = rustc.to_string_lossy();
    let version = run(&rustc, &["--version"]).ok_or("rustc --version failed")?;
    if !version.starts_with(&format!("rustc {channel} ")) {
        return Err(format!(
            "the Rust toolchain found is {version}, not the pinned {channel} (rustup toolchain install {channel})"
        ));
    }
    let verbose = run(&rustc, &["-vV"]).ok_or("rustc -vV failed")?;
    let host = verbose
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or("rustc -vV names no host")?
        .to_owned();
    if !sysroot.join("lib/rustlib").join(SKILL_TARGET).is_dir() {
        return Err(format!(
            "the Rust toolchain at {} lacks the {SKILL_TARGET} target (rustup target add {SKILL_TARGET} --toolchain {channel})",
            sysroot.display()
        ));
    }
    Ok(Toolchain {
        sysroot,
        version,
        host,
    })
}

/// Every file under `dir`, recursively, with symbolic links apart.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, links: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            links.push(entry.path());
        } else if kind.is_dir() {
            walk(&entry.path(), files, links)?;
        } else {
            files.push(entry.path());
        }
    }
    Ok(())
}

/// Whether the build needs `relative` (a path under the sysroot): rustc, cargo, their
/// libraries, the host's standard library (not its sanitizer runtimes), the linkers, and
/// the skill target's standard library. Not rustdoc, clippy, rustfmt, docs, gdb scripts.
fn wanted(relative: &Path, host: &str) -> bool {
    let path = relative.to_string_lossy();
    let host_lib = format!("lib/rustlib/{host}/lib/");
    let host_bin = format!("lib/rustlib/{host}/bin/");
    match path.as_ref() {
        "bin/rustc" | "bin/cargo" => true,
        p if p.starts_with(&format!("lib/rustlib/{SKILL_TARGET}/")) => true,
        p if p.starts_with(&host_lib) => p.ends_with(".rlib") || p.ends_with(".rmeta"),
        p if p.starts_with(&host_bin) => {
            let tool = &p[host_bin.len()..];
            tool == "rust-lld" || tool == "wasm-component-ld" || tool.starts_with("gcc-ld/")
        }
        p => {
            p.strip_prefix("lib/").is_some_and(|f| !f.contains('/'))
                && (p.contains("librustc_driver") || p.contains("libLLVM"))
        }
    }
}

impl Toolchain {
    /// Adds the toolchain under `rust/` and the template's sources under `skill-sdk/` to the
    /// build context. Host files are named by path, size and time in its fingerprint, so
    /// the image is built again when the toolchain changes.
    pub(super) fn add(&self, t: &mut Tarball) -> std::io::Result<()> {
        let (mut files, mut links) = (Vec::new(), Vec::new());
        walk(&self.sysroot, &mut files, &mut links)?;
        for file in files {
            let relative = file.strip_prefix(&self.sysroot).expect("under the sysroot");
            if wanted(relative, &self.host) {
                let mode = if relative.starts_with("bin")
                    || relative.to_string_lossy().contains("/bin/")
                {
                    0o755
                } else {
                    0o644
                };
                let inside = Path::new("rust").join(relative).display().to_string();
                t.file(inside, Source::Host(file), mode);
            }
        }
        for link in links {
            let relative = link.strip_prefix(&self.sysroot).expect("under the sysroot");
            if wanted(relative, &self.host) {
                let target = std::fs::read_link(&link)?;
                let inside = Path::new("rust").join(relative).display().to_string();
                t.links.insert(inside, target.display().to_string());
            }
        }
        t.file("rust/VERSION", Source::Text(self.version.clone()), 0o644);
        for (path, text) in SDK_FILES {
            t.file(
                format!("skill-sdk/{path}"),
                Source::Text((*text).to_owned()),
                0o644,
            );
        }
        Ok(())
    }

    /// The build stage named `rust`, on `base`: the toolchain and the warm template.
    pub(super) fn stage(&self, base: &str) -> String {
        let host = &self.host;
        let template = "/opt/skill-compilers/rust-template";
        format!(
            r#"FROM {base} AS rust
COPY build-ca.crt /opt/openlegion/build-ca.crt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY rust/ {SYSROOT}/
COPY skill-sdk/ /opt/skill-sdk/
RUN if [ -s /opt/openlegion/build-ca.crt ]; then export CARGO_HTTP_CAINFO=/opt/openlegion/build-ca.crt; fi \
 && SKILL_COMPILERS_CACHE=/opt/skill-compilers RUST_SYSROOT={SYSROOT} bash -c \
      '. /opt/skill-sdk/skills-sdk/compilers.sh && ensure_rust_template' \
 && rm -rf {SYSROOT}/lib/rustlib/{host}/lib {SYSROOT}/lib/rustlib/{host}/bin/gcc-ld \
 && echo '// built again without the host standard library' >>{template}/warm/skills/skill/src/lib.rs \
 && env -i PATH=/usr/bin:/bin HOME=/tmp CARGO_HOME={template}/cargo-home RUSTC={SYSROOT}/bin/rustc \
      {SYSROOT}/bin/cargo build --release --offline --color never --target {SKILL_TARGET} \
      --manifest-path {template}/warm/skills/Cargo.toml --target-dir {template}/target \
 && rm -rf {template}/warm {template}/target/{SKILL_TARGET}/release/skill_warm.wasm

"#
        )
    }

    /// The final stage's lines taking the toolchain and the template (owned by the agent's
    /// user, who builds into the template's target when it can write there) from `rust`.
    pub(super) fn copy_lines(uid: u32, gid: u32) -> String {
        format!(
            "COPY --from=rust {SYSROOT}/ {SYSROOT}/\n\
             COPY --from=rust --chown={uid}:{gid} /opt/skill-compilers/rust-template/ /opt/skill-compilers/rust-template/\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_is_read_from_rust_toolchain_toml() {
        let channel = channel().unwrap();
        assert!(channel.starts_with("1."), "{channel}");
    }

    #[test]
    fn every_sdk_source_is_carried() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../skills-sdk/src");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let path = format!("skills-sdk/src/{name}");
            assert!(
                SDK_FILES.iter().any(|(p, _)| *p == path),
                "{path} is not in SDK_FILES: the image's Rust template would not build"
            );
        }
    }

    #[test]
    fn only_what_a_skill_build_needs_is_copied() {
        let host = "x86_64-unknown-linux-gnu";
        for yes in [
            "bin/rustc",
            "bin/cargo",
            "lib/librustc_driver-abc.so",
            "lib/libLLVM.so.22.1-rust-1.95.0-stable",
            "lib/rustlib/wasm32-wasip2/lib/libstd-x.rlib",
            "lib/rustlib/wasm32-wasip2/lib/self-contained/crt1-command.o",
            "lib/rustlib/x86_64-unknown-linux-gnu/lib/libstd-x.rlib",
            "lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld",
            "lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld",
            "lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld/ld.lld",
        ] {
            assert!(wanted(Path::new(yes), host), "{yes}");
        }
        for no in [
            "bin/rustdoc",
            "bin/clippy-driver",
            "bin/cargo-fmt",
            "lib/rustlib/x86_64-unknown-linux-gnu/lib/librustc-stable_rt.asan.a",
            "lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-objcopy",
            "lib/rustlib/etc/gdb_load_rust_pretty_printers.py",
            "lib/rustlib/components",
            "share/doc/rust/README.md",
        ] {
            assert!(!wanted(Path::new(no), host), "{no}");
        }
    }
}
