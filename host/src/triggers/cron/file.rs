//! `config/cron.json`: the jobs, in the original's shape (`{"jobs": [ {job}, … ]}`).
//!
//! Parsing is strict: wrong types and unknown keys are errors naming the file, line and
//! field, and a file with such an error is never written over (the mesh keeps the jobs it
//! has, the CLI refuses to edit). Writes are atomic, and every read-modify-write (the
//! mesh's run state, the CLI's edits) holds [`CronLock`], so neither loses the other's
//! change.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use openlegion_protocol::CronJob;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

pub const CRON_FILE: &str = "cron.json";

/// The lock file beside cron.json.
const LOCK_FILE: &str = ".cron.json.lock";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronFile {
    #[serde(default)]
    pub jobs: Vec<CronJob>,
}

impl CronFile {
    /// The job named `key` (its id or its name).
    pub fn find(&self, key: &str) -> Option<&CronJob> {
        self.jobs.iter().find(|j| j.is_named(key))
    }

    pub fn find_mut(&mut self, key: &str) -> Option<&mut CronJob> {
        self.jobs.iter_mut().find(|j| j.is_named(key))
    }
}

/// Exclusive use of cron.json between processes (the mesh and the CLI), held until dropped.
#[derive(Debug)]
pub struct CronLock {
    _file: File,
}

impl CronLock {
    /// Waits for the lock of the cron.json in `config_dir`.
    pub fn take(config_dir: &Path) -> Result<Self, ConfigError> {
        let path = config_dir.join(LOCK_FILE);
        let io = |source| ConfigError::Write {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// When and how big the file was, to notice edits by others.
pub type Stamp = Option<(SystemTime, u64)>;

pub fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

pub fn path(config_dir: &Path) -> PathBuf {
    config_dir.join(CRON_FILE)
}

/// Loads `path`; a missing or empty file means no jobs. Checks what serde cannot: unique
/// ids and names, agent ids. (Schedules are checked by the scheduler, which disables a job
/// with a bad one instead of refusing the file.)
pub fn load(path: &Path) -> Result<CronFile, ConfigError> {
    match crate::config::read_nonblank(path)? {
        Some(text) => parse(path, &text),
        None => Ok(CronFile::default()),
    }
}

/// Parses and checks `text`, the contents of the cron.json at `path`.
pub fn parse(path: &Path, text: &str) -> Result<CronFile, ConfigError> {
    let file: CronFile = crate::config::parse_json(path, text)?;
    validate(path, &file)?;
    Ok(file)
}

fn validate(path: &Path, file: &CronFile) -> Result<(), ConfigError> {
    let invalid = |field: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        field,
        message,
    };
    let mut ids = std::collections::HashSet::new();
    let mut names = std::collections::HashSet::new();
    for (i, job) in file.jobs.iter().enumerate() {
        if job.id.is_empty() || job.id.len() > 128 {
            return Err(invalid(
                format!("jobs[{i}].id"),
                "an id is 1 to 128 characters".into(),
            ));
        }
        if !ids.insert(job.id.as_str()) {
            return Err(invalid(
                format!("jobs[{i}].id"),
                format!("another job has the id {:?}", job.id),
            ));
        }
        if let Some(name) = &job.name
            && !names.insert(name.as_str())
        {
            return Err(invalid(
                format!("jobs[{i}].name"),
                format!("another job is named {name:?}"),
            ));
        }
        if openlegion_protocol::AgentId::parse(&job.agent).is_err() {
            return Err(invalid(
                format!("jobs[{i}].agent"),
                format!("{:?} is not an agent id", job.agent),
            ));
        }
    }
    Ok(())
}

/// Writes `file` to `path` atomically (hold the [`CronLock`]).
pub fn save(path: &Path, file: &CronFile) -> Result<(), ConfigError> {
    let mut text = serde_json::to_string_pretty(file).expect("jobs serialise");
    text.push('\n');
    crate::atomic_file::write(path, text.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_job_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        let mut job = CronJob::new("scout", "every 30m", "look around");
        job.name = Some("patrol".into());
        job.run_count = 3;
        let file = CronFile { jobs: vec![job] };
        let _lock = CronLock::take(dir.path()).unwrap();
        save(&path, &file).unwrap();
        assert_eq!(load(&path).unwrap(), file);
        assert!(load(&path).unwrap().find("patrol").is_some());
    }

    #[test]
    fn a_wrong_type_names_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        std::fs::write(
            &path,
            "{\"jobs\": [\n  {\"id\": \"cron_1\", \"agent\": \"a\", \"schedule\": \"every 1m\"},\n  {\"id\": \"cron_2\", \"agent\": \"a\",\n   \"schedule\": \"every 1m\", \"run_count\": \"many\"}]}",
        )
        .unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("cron.json:4:"), "{e}");
        assert!(e.contains("jobs[1].run_count"), "{e}");
    }

    #[test]
    fn unknown_keys_and_duplicate_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path());
        std::fs::write(
            &path,
            "{\"jobs\": [{\"id\": \"cron_1\", \"agent\": \"a\", \"schedule\": \"every 1m\",\n \"workflow\": \"x\"}]}",
        )
        .unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(
            e.contains("cron.json:2:") && e.contains("jobs[0]") && e.contains("`workflow`"),
            "{e}"
        );
        std::fs::write(
            &path,
            r#"{"jobs": [{"id": "c", "agent": "a", "schedule": "every 1m"}, {"id": "c", "agent": "b", "schedule": "every 1m"}]}"#,
        )
        .unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("jobs[1].id"), "{e}");
    }
}
