//! The Rust toolchain of the full agent image, so that agents write skills in Rust inside
//! their container with no network.
//!
//! Debian's rustc is too old for the skill SDK, and the project already requires the pinned
//! toolchain of `rust-toolchain.toml` (with `wasm32-wasip2`) on the machine running the
//! mesh; this copies the part of that toolchain a skill build needs into an image of its
//! own, `openlegion-rust`, from which the full image copies it. That image gets rustc,
//! cargo, the host's standard library (build scripts and proc macros run on the host), the
//! `wasm32-wasip2` standard library, rust-lld and `wasm-component-ld`, plus gcc from apt
//! for linking build scripts, and prepares the template of `compilers.sh`'s
//! `ensure_rust_template` (its dependencies fetched from crates.io and compiled once). It
//! then drops what only that build needed (the host's standard library, gcc-ld) and checks
//! that a changed skill still builds offline with what is left.
//!
//! An image of its own, tagged by a hash of the toolchain's files (path, size, time), the
//! SDK and the base: the half-gigabyte toolchain is sent to the engine once per toolchain,
//! not with every new agent binary, and a new toolchain makes a new image.
//!
//! Not here: how the agent calls cargo (`agent/src/authoring/compilers.rs`). With no such
//! toolchain on this machine the image is built without Rust, and `create_skill` in Rust
//! says it is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::Docker;

use super::tarball::{Source, Tarball};
use super::{add_host_ca, build, engine, exists, prune};
use crate::runtime::RuntimeError;

const REPOSITORY: &str = "openlegion-rust";
/// Bumped when the recipe below changes.
const RECIPE: &str = "openlegion-rust-1";
/// Fetching and compiling the template's dependencies takes a minute or two; allow for a
/// slow registry on a loaded machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(1800);

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
        "skills-sdk/src/browser.rs",
        include_str!("../../../../../skills-sdk/src/browser.rs"),
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
        "skills-sdk/src/memory.rs",
        include_str!("../../../../../skills-sdk/src/memory.rs"),
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

    /// The Dockerfile: the toolchain and the warm template, on `base`.
    fn dockerfile(&self, base: &str) -> String {
        let host = &self.host;
        let template = TEMPLATE;
        format!(
            r#"FROM {base}
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
LABEL openlegion.managed=true openlegion.image=rust
"#
        )
    }
}

/// Where the warm template is, in the Rust image and the full one.
const TEMPLATE: &str = "/opt/skill-compilers/rust-template";

/// The full image's lines taking the toolchain and the template from the Rust image
/// `image` (the template owned by the agent's user, who builds into its target when it can
/// write there).
pub(super) fn copy_lines(image: &str, uid: u32, gid: u32) -> String {
    format!(
        "COPY --from={image} {SYSROOT}/ {SYSROOT}/\n\
         COPY --from={image} --chown={uid}:{gid} {TEMPLATE}/ {TEMPLATE}/\n"
    )
}

/// Makes sure the Rust image for `base` and this machine's toolchain exists, building it
/// if not; `None` (after a warning through `progress`) when there is no toolchain to copy.
pub(super) async fn ensure(
    docker: &Docker,
    base: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Option<String>, RuntimeError> {
    let prepared = {
        let base = base.to_owned();
        tokio::task::spawn_blocking(move || {
            find().map(|toolchain| {
                let mut t = Tarball::default();
                toolchain.add(&mut t).map(|()| {
                    add_host_ca(&mut t);
                    t.file(
                        "Dockerfile",
                        Source::Text(toolchain.dockerfile(&base)),
                        0o644,
                    );
                    (toolchain, t)
                })
            })
        })
        .await
        .map_err(engine)?
    };
    let (toolchain, context) = match prepared {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(e)) => return Err(engine(format!("cannot read the Rust toolchain: {e}"))),
        Err(why) => {
            progress(&format!(
                "warning: the full image gets no Rust toolchain, so its agents cannot write skills in Rust: {why}"
            ));
            return Ok(None);
        }
    };
    let tag = format!("{REPOSITORY}:{}", context.fingerprint(RECIPE));
    if exists(docker, &tag).await {
        return Ok(Some(tag));
    }
    progress(&format!(
        "[full image 2/3] building {tag}: {} from {} and the warm Rust skill template (a few minutes; once per toolchain) …",
        toolchain.version,
        toolchain.sysroot.display()
    ));
    let started = Instant::now();
    let tar = tokio::task::spawn_blocking(move || context.build())
        .await
        .map_err(engine)?
        .map_err(|e| engine(format!("cannot build the Rust image's context: {e}")))?;
    build(
        docker,
        &tag,
        tar,
        BUILD_DEADLINE,
        "[full image 2/3]",
        progress,
    )
    .await?;
    progress(&format!(
        "[full image 2/3] {tag} ready in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    prune(docker, "rust", &tag).await;
    Ok(Some(tag))
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
