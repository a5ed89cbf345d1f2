//! Agent images, built on this machine with no registry: [`minimal`] (the agent binary and
//! a static busybox, imported from a tar in about a second) for most agents, and [`full`]
//! (Debian with Python, Node, Rust and the skill compilers) for agents that ask for it.
//!
//! Each image is tagged by a hash of what goes in, so it is built once and reused until its
//! inputs change; the image it replaces is removed unless a container still uses it.

mod full;
pub(crate) mod minimal;
mod rust;
pub(crate) mod seed;
pub(crate) mod tarball;

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;

use crate::config::AgentImage;
use crate::runtime::RuntimeError;

const REPOSITORY: &str = "openlegion-agent";
/// Importing a 100 MB debug binary takes a second or two; allow for a loaded machine.
const IMPORT_DEADLINE: Duration = Duration::from_secs(180);

/// Only one image is built at a time, whichever backend (runc, runsc) asks: two agents
/// asking for the full image at once wait for one build.
static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The user agents run as, who owns `/data` in the image.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// An image tag, and whether it was just built.
#[derive(Debug)]
enum Built {
    Existing(String),
    New(String),
}

fn engine(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Engine(e.to_string())
}

async fn exists(docker: &Docker, tag: &str) -> bool {
    tokio::time::timeout(Duration::from_secs(30), docker.inspect_image(tag))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// Imports a root filesystem tar as image `tag`, with Dockerfile-style `changes`.
async fn import(
    docker: &Docker,
    tag: &str,
    tar: Vec<u8>,
    changes: Vec<String>,
) -> Result<(), RuntimeError> {
    let (repo, version) = tag.split_once(':').expect("the tag has a version");
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(version)
        .changes(changes)
        .build();
    let run = async {
        let mut stream =
            docker.create_image(Some(options), Some(bollard::body_full(tar.into())), None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| engine(format!("importing {tag}: {e}")))?;
        }
        Ok::<_, RuntimeError>(())
    };
    tokio::time::timeout(IMPORT_DEADLINE, run)
        .await
        .map_err(|_| {
            engine(format!(
                "importing {tag} took longer than {}s",
                IMPORT_DEADLINE.as_secs()
            ))
        })?
}

/// The host's CA bundle: builds that fetch over HTTPS (pip, npm, cargo) trust what the host
/// trusts, which matters behind an intercepting proxy.
const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Adds the host's CA bundle to a build context as `build-ca.crt` (empty if it has none).
fn add_host_ca(t: &mut tarball::Tarball) {
    let ca = std::path::Path::new(HOST_CA_BUNDLE);
    t.file(
        "build-ca.crt",
        if ca.is_file() {
            tarball::Source::Host(ca.to_owned())
        } else {
            tarball::Source::Text(String::new())
        },
        0o644,
    );
}

/// Builds image `tag` from the context `tar` with the engine's (legacy) builder, passing
/// each step to `progress` after `label`; fails with the build's last lines.
async fn build(
    docker: &Docker,
    tag: &str,
    tar: Vec<u8>,
    deadline: Duration,
    label: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), RuntimeError> {
    let options = BuildImageOptionsBuilder::default()
        .t(tag)
        .rm(true)
        .forcerm(true)
        .build();
    let mut tail: Vec<String> = Vec::new();
    let run = async {
        let mut stream = docker.build_image(options, None, Some(bollard::body_full(tar.into())));
        while let Some(item) = stream.next().await {
            let info =
                item.map_err(|e| engine(format!("building {tag}: {e}\n{}", tail.join(""))))?;
            if let Some(detail) = info.error_detail {
                return Err(engine(format!(
                    "building {tag}: {}\n{}",
                    detail.message.unwrap_or_default(),
                    tail.join("")
                )));
            }
            if let Some(line) = info.stream {
                if line.starts_with("Step ") {
                    progress(&format!("{label} {}", line.trim_end()));
                }
                tail.push(line);
                if tail.len() > 30 {
                    tail.remove(0);
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(deadline, run).await.map_err(|_| {
        engine(format!(
            "building {tag} took longer than {}s",
            deadline.as_secs()
        ))
    })??;
    if !exists(docker, tag).await {
        return Err(engine(format!(
            "the build of {tag} ended without an image:\n{}",
            tail.join("")
        )));
    }
    Ok(())
}

/// Removes the other images of `kind` (`openlegion.image` label) but `keep`. An image a
/// container still uses is left alone (the engine refuses), which is what we want.
async fn prune(docker: &Docker, kind: &str, keep: &str) {
    let filters = HashMap::from([("label", vec![format!("openlegion.image={kind}")])]);
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let Ok(Ok(images)) =
        tokio::time::timeout(Duration::from_secs(30), docker.list_images(Some(options))).await
    else {
        return;
    };
    for image in images {
        if image.repo_tags.iter().any(|t| t == keep) {
            continue;
        }
        let options = RemoveImageOptionsBuilder::default().noprune(false).build();
        let removed = tokio::time::timeout(
            Duration::from_secs(30),
            docker.remove_image(&image.id, Some(options), None),
        )
        .await;
        if matches!(removed, Ok(Ok(_))) {
            tracing::info!(image = %image.id, tags = ?image.repo_tags, "removed an outdated agent image");
        }
    }
}

/// Makes sure the `kind` image for `binary` exists (building it if not) and returns its
/// tag. `progress` is told what happens, for the user watching `openlegion start`.
pub(crate) async fn ensure(
    docker: &Docker,
    kind: AgentImage,
    binary: &std::path::Path,
    owner: Owner,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, RuntimeError> {
    if !binary.is_file() {
        return Err(engine(format!(
            "the agent binary {} does not exist (build it with `cargo build -p openlegion-agent`, or set runtime.agent_binary)",
            binary.display()
        )));
    }
    let _one_at_a_time = BUILDING.lock().await;
    let (built, label) = match kind {
        AgentImage::Minimal => (
            minimal::ensure(docker, binary, owner, progress).await?,
            "minimal",
        ),
        AgentImage::Full => (full::ensure(docker, binary, owner, progress).await?, "full"),
    };
    Ok(match built {
        Built::Existing(tag) => tag,
        Built::New(tag) => {
            prune(docker, label, &tag).await;
            tag
        }
    })
}
