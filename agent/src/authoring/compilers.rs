//! Where the skill compilers are, and how each is called.
//!
//! They are the pinned compilers of `skills-sdk/compilers.sh` (and, for Rust, the
//! pre-warmed template workspace of its `ensure_rust_template`), installed with its layout
//! under one directory: `/opt/skill-compilers` in the full agent image, which sets
//! `SKILL_COMPILERS`; the project's `.cache/skill-compilers/` in development and tests
//! (the process backend passes the mesh's `SKILL_COMPILERS` on). The minimal image has
//! none, and says so.
//!
//! A Rust build writes into the template's target directory, where the dependencies are
//! compiled already. Where that directory is read-only (the full image's root file system
//! is), the first Rust build copies it, times kept so cargo still finds it fresh, to a
//! directory of the agent's own ([`Compilers::with_private_target`]) and builds there.

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
    /// Where Rust builds go when the template's target directory is read-only.
    private_target: Option<PathBuf>,
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
    /// For Rust: the target directory cargo writes to.
    pub(crate) rust_target: Option<PathBuf>,
}

impl Compilers {
    /// The compilers under `SKILL_COMPILERS`, or why there are none.
    pub(crate) fn from_env() -> Result<Self, String> {
        Self::from_env_value(std::env::var_os("SKILL_COMPILERS"))
    }

    /// The compilers under `value` (the value of `SKILL_COMPILERS`), or why there are none.
    pub(crate) fn from_env_value(value: Option<std::ffi::OsString>) -> Result<Self, String> {
        match value.filter(|v| !v.is_empty()) {
            Some(root) => Ok(Compilers {
                root: root.into(),
                private_target: None,
            }),
            None => Err(
                "this agent's sandbox has no skill compilers (SKILL_COMPILERS is not set). \
                 In a container, its image is the minimal one: ask the operator to run this \
                 agent with the full image (image: full for the agent in agents.yaml, or \
                 runtime.image: full in mesh.yaml), which carries the Python, JavaScript and \
                 Rust compilers. On the process backend, the operator starts the mesh with \
                 SKILL_COMPILERS naming the compilers skills-sdk/compilers.sh installs"
                    .into(),
            ),
        }
    }

    /// The compilers under `root` (tests point it at fakes).
    #[cfg(test)]
    pub(crate) fn at(root: impl Into<PathBuf>) -> Self {
        Compilers {
            root: root.into(),
            private_target: None,
        }
    }

    /// Builds Rust in `dir` (made on first use, from the template's target directory) when
    /// the template's own target directory is read-only.
    pub(crate) fn with_private_target(mut self, dir: PathBuf) -> Self {
        self.private_target = Some(dir);
        self
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
            rust_target: None,
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
                         ensure_rust_template prepares it, and the full agent image carries \
                         it when the mesh's machine has the pinned Rust toolchain with \
                         wasm32-wasip2)",
                        template.display(),
                        self.root.display()
                    )
                })
        };
        let stamp = read("stamp")?;
        let cargo = read("cargo")?;
        let rustc = read("rustc")?;
        let shared = template.join("target");
        let target = match &self.private_target {
            Some(private) if !writable(&shared) => private.clone(),
            _ => shared,
        };
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
            rust_target: Some(target),
        })
    }
}

/// Whether files can be made in `dir`.
fn writable(dir: &Path) -> bool {
    tempfile::tempfile_in(dir).is_ok()
}

/// Makes `invocation`'s Rust target directory if it is not the template's own: a copy of
/// the template's, with its files' times (cargo compares them), made beside it and renamed
/// into place so that a copy cut short is never used. Blocking: a few seconds for the
/// ~170 MB of compiled dependencies.
pub(crate) fn prepare_rust_target(invocation: &Invocation) -> std::io::Result<()> {
    let (Some(template), Some(target)) = (&invocation.rust_template, &invocation.rust_target)
    else {
        return Ok(());
    };
    let shared = template.join("target");
    if *target == shared || target.is_dir() {
        return Ok(());
    }
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let partial = tempfile::Builder::new()
        .prefix("rust-target.")
        .tempdir_in(parent)?;
    let copy = partial.path().join("target");
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(&shared)
        .arg(&copy)
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "cp -a {} {}: {}",
            shared.display(),
            copy.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    std::fs::rename(&copy, target)
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
    fn rust_builds_in_a_copy_of_a_read_only_template_target() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("rust-template");
        std::fs::create_dir_all(template.join("target/release/deps")).unwrap();
        std::fs::write(template.join("target/release/deps/libdep.rlib"), "dep").unwrap();
        for (file, text) in [("stamp", "s"), ("cargo", "/x/cargo"), ("rustc", "/x/rustc")] {
            std::fs::write(template.join(file), text).unwrap();
        }
        let private = dir.path().join("agent/rust-target");
        let compilers = Compilers::at(dir.path()).with_private_target(private.clone());
        let writable = compilers.invocation(Language::Rust).unwrap();
        assert_eq!(writable.rust_target, Some(template.join("target")));
        prepare_rust_target(&writable).unwrap();
        assert!(
            !private.exists(),
            "no copy while the template's own is writable"
        );

        let shared = template.join("target");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o555)).unwrap();
        if super::writable(&shared) {
            // Root ignores the mode: nothing more to see here.
            return;
        }
        let read_only = compilers.invocation(Language::Rust).unwrap();
        assert_eq!(read_only.rust_target, Some(private.clone()));
        let target_arg = read_only
            .args
            .iter()
            .position(|a| a == "--target-dir")
            .unwrap();
        assert_eq!(
            read_only.args[target_arg + 1],
            private.display().to_string()
        );
        prepare_rust_target(&read_only).unwrap();
        assert_eq!(
            std::fs::read_to_string(private.join("release/deps/libdep.rlib")).unwrap(),
            "dep"
        );
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
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
