//! Test doubles for the capabilities the agent lends its skills: each records every call
//! and answers from a small in-memory model, so tests can check both what a skill asked
//! and what it got back.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use crate::ports::http::{HttpCap, HttpRequest, HttpResponse};
use crate::ports::memory::{FactRequest, MemoryCap};
use crate::ports::mesh::MeshCap;
use crate::ports::process::{ProcessCap, ProcessOutput, ProcessRequest};
use crate::ports::skills::{SkillSource, SkillsCap};

/// One call a skill made through a recording double, with the skill's name first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Fetch(String, HttpRequest),
    ReadState(String, String),
    WriteState(String, String, String, Option<u32>),
    ListState(String, String),
    Publish(String, String, String),
    ListAgents(String),
    SendMessage(String, String, String, String),
    Run(String, ProcessRequest),
    CreateSkill(String, SkillSource),
    RemoveSkill(String, String),
    SaveFact(String, FactRequest),
    SearchMemory(String, String, usize),
    Recall(String, String, Option<String>, usize),
}

/// An [`HttpCap`] that records requests and answers each with a fixed response.
#[derive(Debug)]
pub struct RecordingHttp {
    response: HttpResponse,
    calls: Mutex<Vec<Recorded>>,
}

impl RecordingHttp {
    /// Answers every request with `response`.
    pub fn replying(response: HttpResponse) -> Self {
        RecordingHttp {
            response,
            calls: Mutex::default(),
        }
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl HttpCap for RecordingHttp {
    async fn fetch(&self, skill: &str, request: HttpRequest) -> Result<HttpResponse, String> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Recorded::Fetch(skill.to_owned(), request));
        Ok(self.response.clone())
    }
}

/// A [`MeshCap`] over an in-memory blackboard that records every call. Writes answer
/// with `{"key", "value", "version"}`; publish reports one subscriber; `list_agents`
/// answers `[]`; messages answer `{"status":"delivered"}`.
#[derive(Debug, Default)]
pub struct RecordingMesh {
    board: Mutex<BTreeMap<String, (String, u64)>>,
    calls: Mutex<Vec<Recorded>>,
}

impl RecordingMesh {
    /// The calls so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, call: Recorded) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
    }

    fn entry(key: &str, value: &str, version: u64) -> String {
        let value: serde_json::Value = serde_json::from_str(value).unwrap_or_default();
        serde_json::json!({ "key": key, "value": value, "version": version }).to_string()
    }
}

#[async_trait::async_trait]
impl MeshCap for RecordingMesh {
    async fn read_state(&self, skill: &str, key: &str) -> Result<Option<String>, String> {
        self.record(Recorded::ReadState(skill.to_owned(), key.to_owned()));
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(board
            .get(key)
            .map(|(value, version)| Self::entry(key, value, *version)))
    }

    async fn write_state(
        &self,
        skill: &str,
        key: &str,
        value_json: &str,
        ttl_seconds: Option<u32>,
    ) -> Result<String, String> {
        self.record(Recorded::WriteState(
            skill.to_owned(),
            key.to_owned(),
            value_json.to_owned(),
            ttl_seconds,
        ));
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        let version = board.get(key).map_or(1, |(_, v)| v + 1);
        board.insert(key.to_owned(), (value_json.to_owned(), version));
        Ok(Self::entry(key, value_json, version))
    }

    async fn list_state(&self, skill: &str, prefix: &str) -> Result<String, String> {
        self.record(Recorded::ListState(skill.to_owned(), prefix.to_owned()));
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        let entries: Vec<serde_json::Value> = board
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, (value, version))| {
                serde_json::from_str(&Self::entry(key, value, *version)).unwrap_or_default()
            })
            .collect();
        Ok(serde_json::Value::Array(entries).to_string())
    }

    async fn publish(&self, skill: &str, topic: &str, payload_json: &str) -> Result<u32, String> {
        self.record(Recorded::Publish(
            skill.to_owned(),
            topic.to_owned(),
            payload_json.to_owned(),
        ));
        Ok(1)
    }

    async fn list_agents(&self, skill: &str) -> Result<String, String> {
        self.record(Recorded::ListAgents(skill.to_owned()));
        Ok("[]".into())
    }

    async fn send_message(
        &self,
        skill: &str,
        to: &str,
        kind: &str,
        payload_json: &str,
    ) -> Result<String, String> {
        self.record(Recorded::SendMessage(
            skill.to_owned(),
            to.to_owned(),
            kind.to_owned(),
            payload_json.to_owned(),
        ));
        Ok(r#"{"status":"delivered"}"#.into())
    }
}

/// A [`ProcessCap`] that records commands and answers each with a fixed output; it runs
/// nothing.
#[derive(Debug)]
pub struct RecordingProcess {
    output: ProcessOutput,
    calls: Mutex<Vec<Recorded>>,
}

impl RecordingProcess {
    /// Answers every command with `output`.
    pub fn replying(output: ProcessOutput) -> Self {
        RecordingProcess {
            output,
            calls: Mutex::default(),
        }
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait::async_trait]
impl ProcessCap for RecordingProcess {
    async fn run(&self, skill: &str, request: ProcessRequest) -> Result<ProcessOutput, String> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Recorded::Run(skill.to_owned(), request));
        Ok(self.output.clone())
    }
}

/// A [`SkillsCap`] that records `create` and `remove` and answers each with a fixed text.
#[derive(Debug, Default)]
pub struct RecordingSkills {
    calls: Mutex<Vec<Recorded>>,
}

impl RecordingSkills {
    /// The calls so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, call: Recorded) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
    }
}

#[async_trait::async_trait]
impl SkillsCap for RecordingSkills {
    async fn create(&self, skill: &str, source: SkillSource) -> Result<String, String> {
        let name = source.name.clone();
        self.record(Recorded::CreateSkill(skill.to_owned(), source));
        Ok(format!("created {name}"))
    }

    async fn remove(&self, skill: &str, name: &str) -> Result<String, String> {
        self.record(Recorded::RemoveSkill(skill.to_owned(), name.to_owned()));
        Ok(format!("removed {name}"))
    }
}

/// A [`MemoryCap`] that records every call and answers `{"ok": true}`.
#[derive(Debug, Default)]
pub struct RecordingMemory {
    calls: Mutex<Vec<Recorded>>,
}

impl RecordingMemory {
    /// The calls so far.
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, call: Recorded) -> Result<String, String> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
        Ok(r#"{"ok": true}"#.into())
    }
}

#[async_trait::async_trait]
impl MemoryCap for RecordingMemory {
    async fn save(&self, skill: &str, fact: FactRequest) -> Result<String, String> {
        self.record(Recorded::SaveFact(skill.to_owned(), fact))
    }

    async fn search(&self, skill: &str, query: &str, limit: usize) -> Result<String, String> {
        self.record(Recorded::SearchMemory(
            skill.to_owned(),
            query.to_owned(),
            limit,
        ))
    }

    async fn recall(
        &self,
        skill: &str,
        query: &str,
        category: Option<&str>,
        limit: usize,
    ) -> Result<String, String> {
        self.record(Recorded::Recall(
            skill.to_owned(),
            query.to_owned(),
            category.map(str::to_owned),
            limit,
        ))
    }
}
