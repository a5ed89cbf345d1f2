//! Where the skill compilers are, and how each is called.
//!
//! They are the pinned compilers of `skills-sdk/compilers.sh` (and, for Rust, the
//! pre-warmed template workspace of its `ensure_rust_template`), installed with its layout
//! under one directory: `/opt/skill-compilers` in the full agent image, which sets
//! `SKILL_COMPILERS`; the project's `.cache/skill-compilers/` in development and tests
//! (the process backend passes the mesh's `SKILL_COMPILERS` on). The minimal image has
//! none, and says so; the full image has no Rust toolchain yet.

use std::path::{Path, PathBuf};

use super::generate::{JAVASCRIPT_ENTRY, PYTHON_ENTRY, WIT_FILE};
use super::request::Language;

/// The pins, read from the script that installs them, so they are written in one place.
const COMPILERS_SH: &str = include_str!("../../../skills-sdk/compilers.sh");
/// Stands for the path of componentize-qjs's CLI script in its argument list.
const CLI_PLACEHOLDER: &str = "{cli}";
/// The component each build writes.
pub(crate) const OUTPUT: &str = "skill.wasm";

/// The installed compilers.
#[derive(Debug, Clone)]
pub(crate) struct Compilers {
    root: PathBuf,
}

/// A compiler ready to run: the program, its arguments, and its version (part of the
/// input hash: a new compiler rebuilds).
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    /// Variables set for the compiler (the environment is otherwise cleared).
    pub(crate) env: Vec<(String, String)>,
    pub(crate) version: String,
    /// For Rust: the pre-warmed template workspace the build reuses.
    pub(crate) rust_template: Option<PathBuf>,
}

impl Compilers {
    /// The compilers under `SKILL_COMPILERS`, or why there are none.
    pub(crate) fn from_env() -> Result<Self, String> {
        Self::from_env_value(std::env::var_os("SKILL_COMPILERS"))
    }

    /// The compilers under `value` (the value of `SKILL_COMPILERS`), or why there are none.
    pub(crate) fn from_env_value(value: Option<std::ffi::OsString>) -> Result<Self, String> {
        match value.filter(|v| !v.is_empty()) {
            Some(root) => Ok(Compilers { root: root.into() }),
            None => Err(
                "this agent's sandbox has no skill compilers (SKILL_COMPILERS is not set): \
                 its image is the minimal one. Ask the operator to run this agent with the \
                 full image (image: full for the agent in agents.yaml, or runtime.image: full \
                 in mesh.yaml), which carries Python and JavaScript compilers"
                    .into(),
            ),
        }
    }

    /// The compilers under `root` (tests point it at fakes).
    #[cfg(test)]
    pub(crate) fn at(root: impl Into<PathBuf>) -> Self {
        Compilers { root: root.into() }
    }

    /// How to compile `language`, or why it cannot be.
    pub(crate) fn invocation(&self, language: Language) -> Result<Invocation, String> {
        let (variable, package) = match language {
            Language::Python => ("COMPONENTIZE_PY_VERSION", "componentize-py"),
            Language::JavaScript => ("COMPONENTIZE_QJS_VERSION", "componentize-qjs"),
            Language::Rust => return self.rust(),
        };
        let version = pin(variable).ok_or_else(|| format!("no {variable} in compilers.sh"))?;
        let dir = self.root.join(format!("{package}-{version}"));
        // What must exist for the compiler to be there, the program and its arguments.
        let (installed, program, args) = match language {
            Language::Python => (
                dir.join("bin/componentize-py"),
                dir.join("bin/componentize-py"),
                vec![
                    "--wit-path",
                    WIT_FILE,
                    "--world",
                    "skill",
                    "componentize",
                    PYTHON_ENTRY,
                    "--python-path",
                    ".",
                    // No WASI imports at all: the component needs nothing but the skill world.
                    "--stub-wasi",
                    "--output",
                    OUTPUT,
                ],
            ),
            // Its CLI through node, not through npm's `bin` wrapper: that file is an ES
            // module without the `.mjs` extension, which Node 18 (Debian bookworm, the
            // full image) refuses to load as one.
            Language::JavaScript => (
                dir.join("node_modules/componentize-qjs/cli.mjs"),
                PathBuf::from("node"),
                vec![
                    CLI_PLACEHOLDER,
                    "--wit",
                    WIT_FILE,
                    "--world",
                    "skill",
                    "--js",
                    JAVASCRIPT_ENTRY,
                    "--stub-wasi",
                    // The plain canonical ABI: the agent's wasmtime does not enable
                    // component-model async.
                    "--sync",
                    "--opt-size",
                    "--output",
                    OUTPUT,
                ],
            ),
            Language::Rust => return self.rust(),
        };
        if !is_file(&installed) {
            return Err(format!(
                "the {} compiler ({package} {version}) is not installed in this sandbox: no \
                 {} (SKILL_COMPILERS={}); the full agent image carries it",
                language.name(),
                installed.display(),
                self.root.display()
            ));
        }
        let args = args
            .into_iter()
            .map(|arg| {
                if arg == CLI_PLACEHOLDER {
                    installed.display().to_string()
                } else {
                    arg.to_owned()
                }
            })
            .collect();
        Ok(Invocation {
            program,
            args,
            env: Vec::new(),
            version: format!("{package} {version}"),
            rust_template: None,
        })
    }

    /// cargo against the template of `compilers.sh`'s `ensure_rust_template`: offline, its
    /// own CARGO_HOME and warm target, the toolchain it recorded.
    fn rust(&self) -> Result<Invocation, String> {
        let template = self.root.join("rust-template");
        let read = |file: &str| {
            std::fs::read_to_string(template.join(file))
                .map(|text| text.trim().to_owned())
                .map_err(|_| {
                    format!(
                        "the rust compiler is not installed in this sandbox: no prepared \
                         template at {} (SKILL_COMPILERS={}; skills-sdk/compilers.sh \
                         ensure_rust_template prepares it)",
                        template.display(),
                        self.root.display()
                    )
                })
        };
        let stamp = read("stamp")?;
        let cargo = read("cargo")?;
        let rustc = read("rustc")?;
        let target = template.join("target");
        Ok(Invocation {
            program: PathBuf::from(cargo),
            args: [
                "build",
                "--release",
                "--offline",
                "--color",
                "never",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
                "skills/Cargo.toml",
                "--target-dir",
            ]
            .into_iter()
            .map(String::from)
            .chain([target.display().to_string()])
            .collect(),
            env: vec![
                (
                    "CARGO_HOME".into(),
                    template.join("cargo-home").display().to_string(),
                ),
                ("RUSTC".into(), rustc.clone()),
            ],
            version: format!("rust-template {stamp} ({rustc})"),
            rust_template: Some(template),
        })
    }
}

fn is_file(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
}

/// The value of `NAME=value` in compilers.sh.
fn pin(name: &str) -> Option<&'static str> {
    COMPILERS_SH.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix('=')?;
        value.split_whitespace().next()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pins_are_read_from_compilers_sh() {
        assert_eq!(pin("COMPONENTIZE_PY_VERSION"), Some("0.25.1"));
        assert_eq!(pin("COMPONENTIZE_QJS_VERSION"), Some("0.4.5"));
        assert_eq!(pin("NOPE"), None);
    }

    #[test]
    fn a_missing_compiler_is_named_with_where_it_was_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let err = Compilers::at(dir.path())
            .invocation(Language::Python)
            .unwrap_err();
        assert!(
            err.starts_with("the python compiler (componentize-py 0.25.1) is not installed"),
            "{err}"
        );
        let package = dir
            .path()
            .join("componentize-qjs-0.4.5/node_modules/componentize-qjs");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("cli.mjs"), "").unwrap();
        let js = Compilers::at(dir.path())
            .invocation(Language::JavaScript)
            .unwrap();
        assert_eq!(js.version, "componentize-qjs 0.4.5");
        assert_eq!(js.program, Path::new("node"));
        assert_eq!(js.args[0], package.join("cli.mjs").display().to_string());
        assert!(js.args.iter().any(|a| a == "--stub-wasi"));
        let rust = Compilers::at(dir.path())
            .invocation(Language::Rust)
            .unwrap_err();
        assert!(
            rust.starts_with(
                "the rust compiler is not installed in this sandbox: no prepared template"
            ),
            "{rust}"
        );
        assert!(rust.contains("ensure_rust_template"), "{rust}");
    }
}
