//! Skill projects: made from the SDK's templates, built with the SDK's pinned compilers
//! (Python, JavaScript) or cargo (Rust), laid out as agents load skills:
//! `dist/<name>/skill.wasm` and `dist/<name>/skill.yaml`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cli::progress::Activity;

/// The languages a skill can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    Python,
    Javascript,
    Rust,
}

impl Lang {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Lang::Python => "Python",
            Lang::Javascript => "JavaScript",
            Lang::Rust => "Rust",
        }
    }

    /// The file that marks a project of this language.
    fn marker(self) -> &'static str {
        match self {
            Lang::Python => "app.py",
            Lang::Javascript => "skill.js",
            Lang::Rust => "Cargo.toml",
        }
    }

    /// The language of the project in `dir`.
    fn of(dir: &Path) -> Result<Self> {
        [Lang::Rust, Lang::Python, Lang::Javascript]
            .into_iter()
            .find(|l| dir.join(l.marker()).is_file())
            .with_context(|| {
                format!(
                    "{} is not a skill project: it has no Cargo.toml, app.py or skill.js \
                     (start one with `openlegion skill new`)",
                    dir.display()
                )
            })
    }
}

/// Checks a new skill's name: it names a directory, a crate and a manifest.
fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        bail!("skill name {name:?}: use 1 to 64 of a-z, 0-9, `-` and `_`, starting with a letter");
    }
    Ok(())
}

/// The `name:` of a skill.yaml (the rest is the agent's to check).
pub(super) fn manifest_name(dir: &Path) -> Result<String> {
    let path = dir.join("skill.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    #[derive(serde::Deserialize)]
    struct Named {
        name: String,
    }
    let named: Named = openlegion_protocol::strict_yaml::from_str(&text)
        .with_context(|| format!("{}: no valid `name:`", path.display()))?;
    check_name(&named.name).with_context(|| path.display().to_string())?;
    Ok(named.name)
}

const RUST_MANIFEST: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
openlegion-skill-sdk = { path = "{sdk}" }
schemars = { version = "1.2.3", default-features = false, features = ["derive", "std"] }
serde = { version = "1", features = ["derive"] }

# Small components: about 200 KB.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"

# A project of its own, wherever it is created.
[workspace]
"#;

const RUST_LIB: &str = r#"//! The `{name}` skill. Each tool is a function from its arguments to a result; the doc
//! comments of the argument fields are what the model reads about them.

use openlegion_skill_sdk::prelude::*;

/// Arguments of `reverse`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Reverse {
    /// The text to reverse.
    text: String,
}

fn reverse(args: Reverse) -> Result<String, String> {
    Ok(args.text.chars().rev().collect())
}

openlegion_skill_sdk::skill! {
    reverse: "Reverse a text, character by character." => reverse,
}
"#;

/// Creates `parent/name/` from the SDK's template for `lang`; returns it.
pub(crate) fn scaffold(sdk: &Path, name: &str, lang: Lang, parent: &Path) -> Result<PathBuf> {
    check_name(name)?;
    let dir = parent.join(name);
    if dir.exists() {
        bail!(
            "{} exists already; choose another name or directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let manifest = format!(
        "# Rename the skill here, and list the capabilities its tools use (workspace, http,\n\
         # mesh, process; log is always granted).\n\
         name: {name}\nversion: 0.1.0\ndescription: What the {name} skill does.\ncapabilities: []\n"
    );
    let write = |file: &str, text: &str| {
        std::fs::write(dir.join(file), text).with_context(|| format!("cannot write {file}"))
    };
    match lang {
        Lang::Python | Lang::Javascript => {
            let template = sdk.join(match lang {
                Lang::Python => "python",
                _ => "javascript",
            });
            for entry in std::fs::read_dir(&template)
                .with_context(|| format!("cannot read the template {}", template.display()))?
            {
                let entry = entry?;
                let file = entry.file_name().to_string_lossy().into_owned();
                // The template's own build output and caches are not part of it.
                if entry.file_type()?.is_file() && file != "skill.yaml" {
                    std::fs::copy(entry.path(), dir.join(&file))
                        .with_context(|| format!("cannot copy {file}"))?;
                }
            }
        }
        Lang::Rust => {
            let sdk = sdk.canonicalize()?;
            write(
                "Cargo.toml",
                &RUST_MANIFEST
                    .replace("{name}", name)
                    .replace("{sdk}", &sdk.display().to_string()),
            )?;
            std::fs::create_dir_all(dir.join("src"))?;
            write("src/lib.rs", &RUST_LIB.replace("{name}", name))?;
            // The toolchain of the source tree, which has the wasm32-wasip2 target.
            if let Some(pin) = sdk.parent().map(|p| p.join("rust-toolchain.toml"))
                && pin.is_file()
            {
                std::fs::copy(&pin, dir.join("rust-toolchain.toml"))?;
            }
        }
    }
    write("skill.yaml", &manifest)?;
    Ok(dir)
}

/// Builds the project in `dir`; returns its `dist/<name>/`.
pub(crate) async fn build(sdk: &Path, dir: &Path) -> Result<PathBuf> {
    let lang = Lang::of(dir)?;
    let name = manifest_name(dir)?;
    let activity = Activity::start(&format!("compiling skill {name} ({})", lang.name()));
    match compile(sdk, dir, lang, &name, &activity).await {
        Ok(out) => {
            activity.finish(&format!("compiled skill {name}"));
            Ok(out)
        }
        Err(e) => {
            let tail = activity.fail();
            if !tail.is_empty() {
                eprintln!("{tail}");
            }
            Err(e)
        }
    }
}

async fn compile(
    sdk: &Path,
    dir: &Path,
    lang: Lang,
    name: &str,
    activity: &Activity,
) -> Result<PathBuf> {
    let out = dir.join("dist").join(name);
    match lang {
        Lang::Python | Lang::Javascript => {
            run(
                tokio::process::Command::new("bash")
                    .arg(dir.join("build.sh"))
                    .env("OPENLEGION_SKILL_SDK", sdk.canonicalize()?),
                activity,
            )
            .await?;
        }
        Lang::Rust => {
            run(
                tokio::process::Command::new("cargo")
                    .args(["build", "--release", "--target", "wasm32-wasip2"])
                    .current_dir(dir),
                activity,
            )
            .await?;
            let crate_name = cargo_package_name(dir)?.replace('-', "_");
            let wasm = dir
                .join("target/wasm32-wasip2/release")
                .join(format!("{crate_name}.wasm"));
            std::fs::create_dir_all(&out)?;
            std::fs::copy(&wasm, out.join("skill.wasm"))
                .with_context(|| format!("cannot copy {}", wasm.display()))?;
            std::fs::copy(dir.join("skill.yaml"), out.join("skill.yaml"))?;
            run(
                tokio::process::Command::new("bash")
                    .arg(sdk.join("check-component.sh"))
                    .arg(out.join("skill.wasm")),
                activity,
            )
            .await?;
        }
    }
    if !out.join("skill.wasm").is_file() {
        bail!(
            "the build ended without {}",
            out.join("skill.wasm").display()
        );
    }
    Ok(out)
}

/// The package name in `dir/Cargo.toml`.
fn cargo_package_name(dir: &Path) -> Result<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml"))?;
    text.lines()
        .skip_while(|l| l.trim() != "[package]")
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == "name").then(|| value.trim().trim_matches('"').to_owned())
        })
        .context("Cargo.toml has no [package] name")
}

/// Runs a build step, its output shown beside the spinner as it comes (and printed whole
/// when there is no terminal); fails with its exit status.
async fn run(command: &mut tokio::process::Command, activity: &Activity) -> Result<()> {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};

    let program = command.as_std().get_program().to_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {program:?}"))?;
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped")).lines();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            line = out.next_line(), if out_open => match line? {
                Some(line) => activity.line(&format!("  {line}")),
                None => out_open = false,
            },
            line = err.next_line(), if err_open => match line? {
                Some(line) => activity.line(&format!("  {line}")),
                None => err_open = false,
            },
        }
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!("{program:?} failed ({status})");
    }
    Ok(())
}

/// A built skill: `path` itself if it holds skill.yaml and skill.wasm, else the project's
/// `dist/<name>/`.
pub(crate) fn built_dir(path: &Path) -> Result<PathBuf> {
    if path.join("skill.wasm").is_file() && path.join("skill.yaml").is_file() {
        return Ok(path.to_owned());
    }
    Lang::of(path)?;
    let dist = path.join("dist").join(manifest_name(path)?);
    if !dist.join("skill.wasm").is_file() {
        bail!(
            "{} is not built yet: run `openlegion skill build {}`",
            path.display(),
            path.display()
        );
    }
    Ok(dist)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["a", "greet", "text-tools", "x_1"] {
            check_name(good).unwrap();
        }
        for bad in ["", "Greet", "1x", "../x", "a b", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_package_name_is_read_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            RUST_MANIFEST
                .replace("{name}", "greet-me")
                .replace("{sdk}", "/x"),
        )
        .unwrap();
        assert_eq!(cargo_package_name(dir.path()).unwrap(), "greet-me");
    }
}
