//! The full agent image, for agents that need a shell, Python, Node and the skill
//! compilers: a Debian base made by `mmdebstrap --variant=minbase` and imported (no
//! registry), then an apt layer, the compilers of `skills-sdk/compilers.sh`, the host's Rust
//! toolchain with the warm skill template ([`super::rust`], a stage of its own) and the
//! agent binary, built by the engine's (legacy) builder. The base and the layers before the
//! agent are cached by the engine, so a new agent binary costs seconds, not the minutes of
//! a first build.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use tokio::io::AsyncBufReadExt;

use super::tarball::{Source, Tarball, shared_libraries};
use super::{Built, Owner, build, engine, import};
use crate::runtime::RuntimeError;

/// Bumped when the recipe below changes.
const RECIPE: &str = "openlegion-full-4";
const SUITE: &str = "bookworm";
const BASE_REPOSITORY: &str = "openlegion-base";
/// mmdebstrap fetches about 90 packages; the apt layer and the compilers a few hundred
/// more. Generous, for a slow mirror on a loaded machine.
const BASE_DEADLINE: Duration = Duration::from_secs(900);
const BUILD_DEADLINE: Duration = Duration::from_secs(1800);

/// The skill compilers, pinned in one place for the SDK's build scripts and this image.
const COMPILERS_SH: &str = include_str!("../../../../../skills-sdk/compilers.sh");

/// The apt sources of the base: the host's own Debian sources when it runs the same
/// release (its mirror, its proxy settings), else the public mirror.
fn apt_sources() -> Vec<String> {
    let host = Path::new("/etc/apt/sources.list.d/debian.sources");
    let same_release = std::fs::read_to_string("/etc/os-release")
        .is_ok_and(|r| r.lines().any(|l| l == format!("VERSION_CODENAME={SUITE}")));
    if same_release && host.is_file() {
        return vec![host.display().to_string()];
    }
    vec![
        format!("deb http://deb.debian.org/debian {SUITE} main"),
        format!("deb http://deb.debian.org/debian {SUITE}-updates main"),
        format!("deb http://deb.debian.org/debian-security {SUITE}-security main"),
    ]
}

/// The mmdebstrap command line, minus the output path.
fn mmdebstrap_args(sources: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--variant=minbase",
        "--quiet",
        // merged /usr without installing usrmerge (and perl with it)
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--dpkgopt=path-include=/usr/share/locale/locale.alias",
        "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*.bin",
        SUITE,
    ]
    .map(str::to_owned)
    .into();
    args.push(String::new()); // the output, filled in by the caller
    args.extend(sources.iter().cloned());
    args
}

/// Makes sure the Debian base image exists, running mmdebstrap if not.
async fn ensure_base(
    docker: &Docker,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, RuntimeError> {
    let sources = apt_sources();
    let mut recipe = Tarball::default();
    for (i, arg) in mmdebstrap_args(&sources).into_iter().enumerate() {
        let source = if Path::new(&arg).is_file() {
            Source::Host(PathBuf::from(&arg))
        } else {
            Source::Text(arg)
        };
        recipe.file(format!("arg{i:02}"), source, 0);
    }
    let tag = format!(
        "{BASE_REPOSITORY}:{SUITE}-{}",
        recipe.fingerprint("openlegion-base-1")
    );
    if super::exists(docker, &tag).await {
        return Ok(tag);
    }
    which("mmdebstrap").ok_or_else(|| {
        engine(
            "the full agent image starts from a Debian base made with mmdebstrap, which is not installed \
             (sudo apt-get install mmdebstrap)",
        )
    })?;
    progress(&format!(
        "[full image 1/3] making a Debian {SUITE} base with mmdebstrap (about a minute; once per machine) …"
    ));
    let started = Instant::now();
    let dir = tempfile::tempdir().map_err(engine)?;
    let out = dir.path().join("base.tar");
    let mut args = mmdebstrap_args(&sources);
    let slot = args
        .iter()
        .position(String::is_empty)
        .expect("an output slot");
    args[slot] = out.display().to_string();
    run_logged("mmdebstrap", &args, BASE_DEADLINE, progress).await?;
    let tar = tokio::fs::read(&out).await.map_err(engine)?;
    import(
        docker,
        &tag,
        tar,
        vec![
            "CMD [\"/bin/bash\"]".into(),
            "LABEL openlegion.managed=true openlegion.image=base".into(),
        ],
    )
    .await?;
    progress(&format!(
        "[full image 1/3] Debian base {tag} ready in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(tag)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// Runs `program`, passing each line it prints to `progress`; fails with its last lines.
async fn run_logged(
    program: &str,
    args: &[String],
    deadline: Duration,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), RuntimeError> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| engine(format!("cannot run {program}: {e}")))?;
    let stderr = child.stderr.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut tail: Vec<String> = Vec::new();
    let run = async {
        while let Ok(Some(line)) = lines.next_line().await {
            progress(&format!("  {program}: {line}"));
            tail.push(line);
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
        child.wait().await
    };
    let status = tokio::time::timeout(deadline, run)
        .await
        .map_err(|_| {
            engine(format!(
                "{program} did not finish within {}s",
                deadline.as_secs()
            ))
        })?
        .map_err(engine)?;
    if !status.success() {
        return Err(engine(format!(
            "{program} failed ({status}):\n{}",
            tail.join("\n")
        )));
    }
    Ok(())
}

/// The Dockerfile of the full image on `base`, with the Rust toolchain and template of the
/// image `rust` if there is one.
fn dockerfile(base: &str, owner: Owner, entrypoint: &[String], rust: Option<&str>) -> String {
    let Owner { uid, gid } = owner;
    // The agent warms the seed: a sample skill per language built and compiled with this
    // image's compilers, so that agents reuse what every such skill shares (CPython,
    // QuickJS) instead of compiling it again. Without it agents still work, slower.
    let warm = format!(
        "{} warm {seed} || echo 'warning: no compiled skill runtimes in this image; \
         each agent compiles its own'",
        entrypoint.join(" "),
        seed = super::seed::DIR
    );
    let entrypoint = serde_json::to_string(entrypoint).expect("strings serialize");
    let copy_rust = rust.map_or_else(String::new, |image| {
        super::rust::copy_lines(image, uid, gid)
    });
    format!(
        r#"FROM {base}
COPY build-ca.crt /opt/openlegion/build-ca.crt
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates python3 python3-venv nodejs npm \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY compilers.sh /opt/skill-compilers/compilers.sh
RUN if [ -s /opt/openlegion/build-ca.crt ]; then \
      export PIP_CERT=/opt/openlegion/build-ca.crt NODE_EXTRA_CA_CERTS=/opt/openlegion/build-ca.crt; fi \
 && SKILL_COMPILERS_CACHE=/opt/skill-compilers bash -c \
      '. /opt/skill-compilers/compilers.sh && ensure_wasm_tools && ensure_componentize_py && ensure_componentize_qjs' \
 && npm cache clean --force && rm -rf /root/.cache /root/.npm
{copy_rust}RUN groupadd -g {gid} agent && useradd -u {uid} -g {gid} -d /data -s /bin/bash agent \
 && mkdir -p /data /run/mesh && chown {uid}:{gid} /data
COPY opt/openlegion/ /opt/openlegion/
ENV PATH=/usr/local/bin:/usr/bin:/bin SKILL_COMPILERS=/opt/skill-compilers
RUN {warm}
USER {uid}:{gid}
WORKDIR /data
ENTRYPOINT {entrypoint}
LABEL openlegion.managed=true openlegion.image=full
"#
    )
}

/// The build context: the Dockerfile (taking Rust from the image `rust`, if any), the
/// compilers script, the host's CA bundle, and the agent binary with the shared libraries
/// it links (run through their own loader, so the binary works whatever glibc the base
/// has).
fn context(
    base: &str,
    binary: &Path,
    owner: Owner,
    rust: Option<&str>,
) -> std::io::Result<Tarball> {
    let mut t = Tarball::default();
    let agent = "/opt/openlegion/openlegion-agent";
    t.file(
        agent.trim_start_matches('/'),
        Source::Host(binary.to_owned()),
        0o755,
    );
    let mut entrypoint = vec![agent.to_owned()];
    for lib in shared_libraries(binary)? {
        let name = lib.file_name().expect("a library file").to_string_lossy();
        let inside = format!("/opt/openlegion/lib/{name}");
        if name.starts_with("ld-linux") {
            entrypoint = vec![
                inside.clone(),
                "--library-path".into(),
                "/opt/openlegion/lib".into(),
                agent.into(),
            ];
        }
        t.file(inside.trim_start_matches('/'), Source::Host(lib), 0o755);
    }
    super::add_host_ca(&mut t);
    t.file("compilers.sh", Source::Text(COMPILERS_SH.into()), 0o644);
    t.file(
        "Dockerfile",
        Source::Text(dockerfile(base, owner, &entrypoint, rust)),
        0o644,
    );
    Ok(t)
}

/// Makes sure the full image for `binary` exists, building it (and its base) if not.
pub(super) async fn ensure(
    docker: &Docker,
    binary: &Path,
    owner: Owner,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Built, RuntimeError> {
    let base = ensure_base(docker, progress).await?;
    let rust = super::rust::ensure(docker, &base, progress).await?;
    let mut context = {
        let (base, binary) = (base.clone(), binary.to_owned());
        tokio::task::spawn_blocking(move || context(&base, &binary, owner, rust.as_deref()))
            .await
            .map_err(engine)?
            .map_err(|e| engine(format!("cannot read the full image's files: {e}")))?
    };
    let tag = format!("{}:full-{}", super::REPOSITORY, context.fingerprint(RECIPE));
    if super::exists(docker, &tag).await {
        return Ok(Built::Existing(tag));
    }
    progress(&format!(
        "[full image 3/3] building {tag}: Python, Node and the skill compilers on the base, then the agent (a few minutes the first time) …"
    ));
    let started = Instant::now();
    let seed = super::seed::DIR.trim_start_matches('/');
    super::seed::add(&mut context, binary, seed, progress).await;
    let tar = tokio::task::spawn_blocking(move || context.build())
        .await
        .map_err(engine)?
        .map_err(|e| engine(format!("cannot build the full image's context: {e}")))?;
    build(
        docker,
        &tag,
        tar,
        BUILD_DEADLINE,
        "[full image 3/3]",
        progress,
    )
    .await?;
    progress(&format!(
        "[full image 3/3] {tag} ready in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(Built::New(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dockerfile_runs_the_agent_as_its_user_through_its_own_loader() {
        let owner = Owner {
            uid: 1000,
            gid: 1001,
        };
        let entry = [
            "/opt/openlegion/lib/ld-linux-x86-64.so.2".to_owned(),
            "--library-path".into(),
            "/opt/openlegion/lib".into(),
            "/opt/openlegion/openlegion-agent".into(),
        ];
        let file = dockerfile("openlegion-base:bookworm-x", owner, &entry, None);
        assert!(file.starts_with("FROM openlegion-base:bookworm-x\n"));
        assert!(file.contains("USER 1000:1001"));
        assert!(file.contains("useradd -u 1000 -g 1001"));
        assert!(file.contains(
            r#"ENTRYPOINT ["/opt/openlegion/lib/ld-linux-x86-64.so.2","--library-path","/opt/openlegion/lib","/opt/openlegion/openlegion-agent"]"#
        ));
        assert!(file.contains(
            "\nRUN /opt/openlegion/lib/ld-linux-x86-64.so.2 --library-path /opt/openlegion/lib \
             /opt/openlegion/openlegion-agent warm /opt/openlegion/skill-cache || echo "
        ));
    }

    #[test]
    fn the_context_holds_what_the_dockerfile_copies_and_runs() {
        // Any dynamically linked binary will do.
        let binary = Path::new("/bin/ls");
        let owner = Owner {
            uid: 1000,
            gid: 1000,
        };
        let t = context("base", binary, owner, Some("openlegion-rust:abc")).unwrap();
        let Source::Text(file) = &t.files["Dockerfile"].0 else {
            panic!("the Dockerfile is text")
        };
        assert!(
            file.contains("COPY --from=openlegion-rust:abc /opt/rust/ /opt/rust/\n"),
            "{file}"
        );
        for line in file
            .lines()
            .filter(|l| l.starts_with("COPY ") && !l.starts_with("COPY --from="))
        {
            let from = line.split_whitespace().nth(1).unwrap();
            assert!(
                t.files.keys().any(|p| p.starts_with(from)),
                "{from} is not in the context: {:?}",
                t.files.keys()
            );
        }
        let entry = file.lines().find(|l| l.starts_with("ENTRYPOINT ")).unwrap();
        let entry: Vec<String> = serde_json::from_str(&entry["ENTRYPOINT ".len()..]).unwrap();
        for program in [&entry[0], entry.last().unwrap()] {
            assert!(
                t.files.contains_key(program.trim_start_matches('/')),
                "{program} is not in the image"
            );
        }
    }

    #[test]
    fn mmdebstrap_gets_one_output_slot_before_the_sources() {
        let args = mmdebstrap_args(&["deb http://m bookworm main".into()]);
        let slot = args.iter().position(String::is_empty).unwrap();
        assert_eq!(args[slot - 1], SUITE);
        assert_eq!(args[slot + 1], "deb http://m bookworm main");
    }
}
