//! The minimal agent image: the agent binary (with the shared libraries it links, if it is
//! not static; its built-in skills are compiled into it), a static busybox for `exec` when
//! the host has one, and a passwd file — imported through the engine's `docker import`
//! endpoint from a tar made in memory. No registry, no base image, no build step.

use std::path::{Path, PathBuf};
use std::process::Command;

use bollard::Docker;

use super::tarball::{Source, Tarball, shared_libraries};
use super::{Built, Owner, engine, import};
use crate::runtime::RuntimeError;

/// Bumped when the layout below changes, so old images are not reused.
const RECIPE: &str = "openlegion-minimal-3";

/// Where the agent binary lives in the image.
pub(crate) const AGENT_PATH: &str = "/openlegion-agent";

/// A static busybox on the host (Debian's `busybox-static`), if there is one.
fn static_busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file() && shared_libraries(p).is_ok_and(|l| l.is_empty()))
}

pub(crate) fn root_filesystem(binary: &Path, owner: Owner) -> std::io::Result<Tarball> {
    let mut t = Tarball::default();
    t.file(AGENT_PATH, Source::Host(binary.to_owned()), 0o755);
    for lib in shared_libraries(binary)? {
        t.file(lib.display().to_string(), Source::Host(lib), 0o755);
    }
    if let Some(busybox) = static_busybox() {
        t.file("/bin/busybox", Source::Host(busybox.clone()), 0o755);
        let applets = Command::new(&busybox).arg("--list").output()?;
        for applet in String::from_utf8_lossy(&applets.stdout)
            .lines()
            .filter(|a| !a.is_empty() && *a != "busybox")
        {
            t.links.insert(format!("/bin/{applet}"), "busybox".into());
        }
    }
    let Owner { uid, gid } = owner;
    t.file(
        "/etc/passwd",
        Source::Text(format!(
            "root:x:0:0::/:/bin/false\nagent:x:{uid}:{gid}::/data:/bin/sh\n"
        )),
        0o644,
    );
    t.file(
        "/etc/group",
        Source::Text(format!("root:x:0:\nagent:x:{gid}:\n")),
        0o644,
    );
    t.dirs = vec![
        ("/data".into(), uid, gid, 0o755),
        ("/tmp".into(), 0, 0, 0o1777),
        ("/run/mesh".into(), 0, 0, 0o755),
    ];
    Ok(t)
}

/// Makes sure the minimal image for `binary` exists, building it if not.
pub(super) async fn ensure(
    docker: &Docker,
    binary: &Path,
    owner: Owner,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Built, RuntimeError> {
    let mut rootfs = {
        let binary = binary.to_owned();
        tokio::task::spawn_blocking(move || root_filesystem(&binary, owner))
            .await
            .map_err(engine)?
            .map_err(|e| engine(format!("cannot read the agent image's files: {e}")))?
    };
    let tag = format!(
        "{}:min-{}",
        super::REPOSITORY,
        rootfs.fingerprint(&format!("{RECIPE}/{}:{}", owner.uid, owner.gid))
    );
    if super::exists(docker, &tag).await {
        return Ok(Built::Existing(tag));
    }
    progress(&format!(
        "building the agent image {tag} from {} …",
        binary.display()
    ));
    let started = std::time::Instant::now();
    super::seed::add(&mut rootfs, binary, super::seed::DIR, progress).await;
    let busybox = rootfs.files.contains_key("/bin/busybox");
    let tar = tokio::task::spawn_blocking(move || rootfs.build())
        .await
        .map_err(engine)?
        .map_err(|e| engine(format!("cannot build the agent image's tar: {e}")))?;
    let size = tar.len();
    import(
        docker,
        &tag,
        tar,
        vec![
            format!("ENTRYPOINT [\"{AGENT_PATH}\"]"),
            format!("USER {}:{}", owner.uid, owner.gid),
            "ENV PATH=/bin".into(),
            "WORKDIR /data".into(),
            "LABEL openlegion.managed=true openlegion.image=minimal".into(),
        ],
    )
    .await?;
    progress(&format!(
        "agent image {tag} ready in {:.1} s ({} MB{})",
        started.elapsed().as_secs_f64(),
        size / 1_000_000,
        if busybox {
            ", with busybox"
        } else {
            "; no static busybox on this host, so no shell for exec (apt-get install busybox-static)"
        }
    ));
    Ok(Built::New(tag))
}
