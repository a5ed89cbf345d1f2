//! Putting a built skill where an agent loads skills (`/data/skills/<name>/`): a file copy
//! on the process backend, an upload into the running container otherwise (its `/data` is
//! a Docker volume the CLI cannot reach as a path). The agent's watcher loads it within a
//! second; a broken one is refused there and reported in its log and `skill list`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use bollard::query_parameters::UploadToContainerOptionsBuilder;
use openlegion_mesh::config::{Config, Isolation};
use openlegion_mesh::fleet::Backends;

/// Installs the skill built in `built` into `agent`; says where it went.
pub(crate) async fn install(config_dir: &Path, agent: &str, built: &Path) -> Result<String> {
    let config = Config::load(config_dir)?;
    let cfg = config
        .agents
        .agents
        .iter()
        .find_map(|(id, cfg)| (id.as_str() == agent).then_some(cfg));
    let Some(cfg) = cfg else {
        bail!(
            "no agent {agent} in {}",
            config_dir.join("agents.yaml").display()
        );
    };
    let name = super::project::manifest_name(built)?;
    let files = ["skill.yaml", "skill.wasm"];
    let backends = Backends::new(&config, std::sync::Arc::new(|_: &str| {}));
    match backends.isolation(cfg).await {
        Some(Isolation::Process) => {
            let skills = config
                .state_dir()
                .join("agents")
                .join(agent)
                .join("data/skills");
            let target = skills.join(&name);
            // Built beside, then renamed into place: the watcher never sees half a skill.
            let staging = skills.join(format!(".{name}.installing"));
            let _ = std::fs::remove_dir_all(&staging);
            std::fs::create_dir_all(&staging)
                .with_context(|| format!("cannot create {}", staging.display()))?;
            for file in files {
                std::fs::copy(built.join(file), staging.join(file))
                    .with_context(|| format!("cannot copy {file}"))?;
            }
            let _ = std::fs::remove_dir_all(&target);
            std::fs::rename(&staging, &target)?;
            Ok(target.display().to_string())
        }
        Some(Isolation::Docker | Isolation::Gvisor) => {
            let docker = openlegion_mesh::runtime::docker::connect().await?;
            let container = openlegion_mesh::runtime::docker::container_name(
                &openlegion_mesh::fleet::instance_id(&config.state_dir()),
                agent,
            );
            let inspected = docker
                .inspect_container(&container, None)
                .await
                .with_context(|| {
                    format!("agent {agent} is not running (container {container}); start it first")
                })?;
            let user = inspected.config.and_then(|c| c.user).unwrap_or_default();
            let (uid, gid) = user.split_once(':').unwrap_or((&user, &user));
            let (uid, gid) = (uid.parse().unwrap_or(1000), gid.parse().unwrap_or(1000));
            let mut tar = tar::Builder::new(Vec::new());
            let dir = |tar: &mut tar::Builder<Vec<u8>>, path: &str| {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_uid(uid);
                header.set_gid(gid);
                header.set_size(0);
                tar.append_data(&mut header, path, std::io::empty())
            };
            dir(&mut tar, "skills")?;
            dir(&mut tar, &format!("skills/{name}"))?;
            // No rename into place through an upload: should the watcher catch the component
            // half-written, it refuses it and loads it at its next poll, once complete.
            for file in files {
                let bytes = std::fs::read(built.join(file))
                    .with_context(|| format!("cannot read {file}"))?;
                let mut header = tar::Header::new_gnu();
                header.set_mode(0o644);
                header.set_uid(uid);
                header.set_gid(gid);
                header.set_size(bytes.len() as u64);
                tar.append_data(
                    &mut header,
                    format!("skills/{name}/{file}"),
                    bytes.as_slice(),
                )?;
            }
            let options = UploadToContainerOptionsBuilder::default()
                .path("/data")
                .build();
            docker
                .upload_to_container(
                    &container,
                    Some(options),
                    bollard::body_full(tar.into_inner()?.into()),
                )
                .await
                .with_context(|| format!("cannot upload into {container}"))?;
            Ok(format!("/data/skills/{name} in container {container}"))
        }
        Some(Isolation::Microvm) => {
            bail!(
                "agent {agent} runs in a microVM, whose /data is a disk inside the VM: the CLI cannot \
                 install skills into it; ask the agent to build the skill itself (create_skill)"
            )
        }
        Some(Isolation::External) => {
            bail!(
                "agent {agent} runs elsewhere (isolation: external); copy the skill into its skills directory there"
            )
        }
        None => bail!("{}", backends.detected().await.why),
    }
}
