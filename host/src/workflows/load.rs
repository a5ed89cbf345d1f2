//! Reading `config/workflows/*.yaml` strictly: unknown keys and wrong types (the strict
//! YAML reader), then everything the types cannot say — a `depends_on` or `input_from`
//! naming no step, a cycle, an agent not in agents.yaml, a condition that does not parse
//! or reads a step that has not run by then. Every error names the file, the line and
//! the field.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::condition::Condition;
use super::dag::{self, Graph, Problem, Upstream};
use super::definition::{
    DEFAULT_MAX_PARALLEL, DEFAULT_RETRIES, DEFAULT_RUN_TIMEOUT, DEFAULT_STEP_TIMEOUT, Input,
    Policy, Step, Triggers, WebhookTrigger, Workflow,
};
use super::file::{FailureSpec, StepFile, TriggerSpec, WorkflowFile};
use crate::config::ConfigError;

/// The directory under the config directory.
pub const WORKFLOWS_DIR: &str = "workflows";

/// Most attempts after the first under `retry`.
const MAX_RETRIES: u32 = 100;
/// Longest timeout of a run or a step: a week.
const MAX_TIMEOUT: u64 = 7 * 24 * 3600;

/// Loads every `*.yaml` / `*.yml` in `config_dir/workflows/` (none if it does not exist),
/// checking agents with `known_agent`. Names are unique across files.
pub fn load_dir(
    config_dir: &Path,
    known_agent: &dyn Fn(&str) -> bool,
) -> Result<BTreeMap<String, Arc<Workflow>>, ConfigError> {
    let dir = config_dir.join(WORKFLOWS_DIR);
    let read_err = |source| ConfigError::Read {
        path: dir.clone(),
        source,
    };
    let mut files = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_err)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(read_err(e)),
    };
    files.retain(|p| {
        p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
    });
    files.sort();
    let mut out: BTreeMap<String, Arc<Workflow>> = BTreeMap::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let wf = load_text(&path, &text, Some(known_agent))?;
        if let Some(other) = out.get(&wf.name) {
            return Err(ConfigError::Parse {
                path,
                line: 1,
                column: 1,
                field: "name".into(),
                message: format!(
                    "another workflow is named {:?} ({})",
                    wf.name,
                    other.file.display()
                ),
            });
        }
        out.insert(wf.name.clone(), Arc::new(wf));
    }
    Ok(out)
}

/// Parses and validates one workflow file's `text`. `known_agent` checks each agent
/// against agents.yaml; `None` skips that (a run resumed with the definition it started
/// with: its agents are checked when its steps run).
pub fn load_text(
    path: &Path,
    text: &str,
    known_agent: Option<&dyn Fn(&str) -> bool>,
) -> Result<Workflow, ConfigError> {
    let file: WorkflowFile = crate::config::parse_yaml(path, text).map_err(|e| match e {
        // The wrappers that keep positions show in the path as `value`: leave them out.
        ConfigError::Parse {
            path,
            line,
            column,
            field,
            message,
        } => ConfigError::Parse {
            path,
            line,
            column,
            field: field.replace(".value", ""),
            message,
        },
        other => other,
    })?;
    Checker { path, known_agent }.workflow(file, path, text)
}

struct Checker<'a> {
    path: &'a Path,
    known_agent: Option<&'a dyn Fn(&str) -> bool>,
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Checker<'_> {
    fn err<T>(
        &self,
        at: &Spanned<T>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Parse {
            path: self.path.to_owned(),
            line: at.referenced.line(),
            column: at.referenced.column(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn agent(&self, at: &Spanned<String>, field: String) -> Result<String, ConfigError> {
        let id = at.value.trim();
        if openlegion_protocol::AgentId::parse(id).is_err() {
            return Err(self.err(at, field, format!("{id:?} is not an agent id")));
        }
        if let Some(known) = self.known_agent
            && !known(id)
        {
            return Err(self.err(at, field, format!("no agent {id:?} in agents.yaml")));
        }
        Ok(id.to_owned())
    }

    fn timeout(
        &self,
        at: Option<&Spanned<u64>>,
        field: String,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        match at {
            None => Ok(Duration::from_secs(default)),
            Some(t) if t.value == 0 || t.value > MAX_TIMEOUT => Err(self.err(
                t,
                field,
                format!("{} seconds: must be 1 to {MAX_TIMEOUT}", t.value),
            )),
            Some(t) => Ok(Duration::from_secs(t.value)),
        }
    }

    fn workflow(
        &self,
        file: WorkflowFile,
        path: &Path,
        text: &str,
    ) -> Result<Workflow, ConfigError> {
        let name = file.name.value.trim().to_owned();
        // `runs` would shadow /mesh/workflows/runs/{id}.
        if !name_ok(&name) || name == "runs" {
            return Err(self.err(
                &file.name,
                "name",
                format!(
                    "{name:?}: 1 to 64 letters, digits, `_` or `-` (it is part of URLs), not `runs`"
                ),
            ));
        }
        let triggers = self.triggers(file.trigger.as_ref())?;
        let on_complete = match &file.on_complete {
            None => None,
            Some(t) if t.value.trim().is_empty() => {
                return Err(self.err(t, "on_complete", "an empty topic"));
            }
            Some(t) if triggers.topic.as_deref() == Some(t.value.trim()) => {
                return Err(self.err(
                    t,
                    "on_complete",
                    "the workflow's own trigger topic: each run would start another",
                ));
            }
            Some(t) => Some(t.value.trim().to_owned()),
        };
        let max_parallel = match &file.max_parallel {
            Some(m) if m.value == 0 => {
                return Err(self.err(m, "max_parallel", "must be at least 1"));
            }
            Some(m) => m.value,
            None => DEFAULT_MAX_PARALLEL,
        };
        if file.steps.value.is_empty() {
            return Err(self.err(&file.steps, "steps", "a workflow needs at least one step"));
        }
        let order = self.order(&file.steps.value)?;
        let graph = Graph::new(&file.steps.value);
        let mut steps = Vec::with_capacity(order.len());
        for i in order {
            let upstream = Upstream {
                graph: &graph,
                of: i,
            };
            steps.push(self.step(i, &file.steps.value[i], &upstream)?);
        }
        Ok(Workflow {
            name,
            description: file.description,
            file: path.to_owned(),
            source: text.to_owned(),
            triggers,
            timeout: self.timeout(file.timeout.as_ref(), "timeout".into(), DEFAULT_RUN_TIMEOUT)?,
            on_complete,
            max_parallel: max_parallel as usize,
            steps,
        })
    }

    fn triggers(&self, spec: Option<&Spanned<TriggerSpec>>) -> Result<Triggers, ConfigError> {
        let Some(spec) = spec else {
            return Ok(Triggers::default());
        };
        let topic_ok = |t: &str| {
            let t = t.trim();
            (!t.is_empty()
                && t.chars().count() <= openlegion_protocol::limits::MAX_NAME_CHARS
                && !t.chars().any(char::is_control))
            .then(|| t.to_owned())
        };
        match &spec.value {
            TriggerSpec::Topic(t) => {
                Ok(Triggers {
                    topic: Some(topic_ok(t).ok_or_else(|| {
                        self.err(spec, "trigger", format!("{t:?} is not a topic"))
                    })?),
                    ..Triggers::default()
                })
            }
            TriggerSpec::Map(map) => {
                let topic = match &map.topic {
                    Some(t) => Some(topic_ok(t).ok_or_else(|| {
                        self.err(spec, "trigger.topic", format!("{t:?} is not a topic"))
                    })?),
                    None => None,
                };
                let webhook = match map.webhook.as_ref().and_then(|w| w.0.as_ref()) {
                    None => None,
                    Some(w) => {
                        if w.rate_per_minute == Some(0) {
                            return Err(self.err(
                                spec,
                                "trigger.webhook.rate_per_minute",
                                "must be at least 1",
                            ));
                        }
                        Some(WebhookTrigger {
                            secret_env: w.secret_env.clone(),
                            rate_per_minute: w
                                .rate_per_minute
                                .unwrap_or(crate::webhooks::config::DEFAULT_RATE_PER_MINUTE),
                        })
                    }
                };
                let cron = match &map.cron {
                    None => None,
                    Some(expr) => Some(self.cron(spec, expr)?),
                };
                Ok(Triggers {
                    topic,
                    webhook,
                    cron,
                })
            }
        }
    }

    /// A cron trigger: 5 POSIX fields or `every 30m`, read in the mesh's local zone.
    fn cron(&self, at: &Spanned<TriggerSpec>, expr: &str) -> Result<String, ConfigError> {
        crate::triggers::Schedule::parse(expr, None)
            .map(|_| expr.trim().to_owned())
            .map_err(|e| self.err(at, "trigger.cron", format!("{expr:?}: {e}")))
    }

    /// The steps' indices, dependencies first; refuses bad and duplicate ids, unknown
    /// dependencies and cycles.
    fn order(&self, steps: &[StepFile]) -> Result<Vec<usize>, ConfigError> {
        dag::order(steps, |s| name_ok(s) && s != "trigger").map_err(|p| {
            let (at, field, message) = match p {
                Problem::BadId(i) => (
                    &steps[i].id,
                    format!("steps[{i}].id"),
                    format!(
                        "{:?}: 1 to 64 letters, digits, `_` or `-`, and not `trigger`",
                        steps[i].id.value
                    ),
                ),
                Problem::DuplicateId(i) => (
                    &steps[i].id,
                    format!("steps[{i}].id"),
                    format!("another step is {:?}", steps[i].id.value),
                ),
                Problem::Dependency { step, dep, why } => (
                    &steps[step].depends_on[dep],
                    format!("steps[{step}].depends_on[{dep}]"),
                    why,
                ),
            };
            self.err(at, field, message)
        })
    }

    fn step(&self, i: usize, s: &StepFile, upstream: &Upstream<'_>) -> Result<Step, ConfigError> {
        let field = |f: &str| format!("steps[{i}].{f}");
        let id = s.id.value.clone();
        let agent = match (&s.agent, &s.capability) {
            (Some(a), None) => self.agent(a, field("agent"))?,
            (None, Some(c)) => self.agent(c, field("capability"))?,
            (Some(_), Some(c)) => {
                return Err(self.err(
                    c,
                    field("capability"),
                    "give `agent` or `capability`, not both",
                ));
            }
            (None, None) => {
                return Err(self.err(&s.id, field("agent"), format!("step {id:?} names no agent")));
            }
        };
        if s.task_type.value.trim().is_empty() {
            return Err(self.err(&s.task_type, field("task_type"), "empty"));
        }
        if let Some(r) = &s.requires_approval
            && r.value
        {
            return Err(self.err(
                r,
                field("requires_approval"),
                "approval gates are not supported; remove the key or set it to false",
            ));
        }
        let input = match &s.input_from {
            None => Input::Trigger(Vec::new()),
            Some(at) => self.input(at, field("input_from"), upstream)?,
        };
        let condition = match &s.condition {
            None => None,
            Some(at) => Some(self.condition(at, field("condition"), upstream)?),
        };
        let on_failure = self.policy(s, i)?;
        let promote = match &s.promote_to_blackboard {
            None => None,
            Some(at) => {
                let key = at.value.trim();
                openlegion_protocol::validate_key(key)
                    .map_err(|e| self.err(at, field("promote_to_blackboard"), e.to_string()))?;
                placeholders(key).map_err(|m| self.err(at, field("promote_to_blackboard"), m))?;
                Some(key.to_owned())
            }
        };
        Ok(Step {
            id,
            agent,
            task_type: s.task_type.value.trim().to_owned(),
            input,
            depends_on: s.depends_on.iter().map(|d| d.value.clone()).collect(),
            condition,
            timeout: self.timeout(s.timeout.as_ref(), field("timeout"), DEFAULT_STEP_TIMEOUT)?,
            on_failure,
            max_retries: s.max_retries.as_ref().map_or(DEFAULT_RETRIES, |m| m.value),
            promote,
        })
    }

    fn policy(&self, s: &StepFile, i: usize) -> Result<Policy, ConfigError> {
        let field = |f: &str| format!("steps[{i}].{f}");
        let Some(spec) = &s.on_failure else {
            return Ok(Policy::Abort);
        };
        Ok(match &spec.value {
            FailureSpec::Abort => Policy::Abort,
            FailureSpec::Skip => Policy::Skip,
            FailureSpec::Retry(n) => {
                let times = match (n, &s.max_retries) {
                    (Some(_), Some(m)) => {
                        return Err(self.err(
                            m,
                            field("max_retries"),
                            "the count is given in on_failure already",
                        ));
                    }
                    (Some(n), None) => *n,
                    (None, Some(m)) => m.value,
                    (None, None) => DEFAULT_RETRIES,
                };
                if times > MAX_RETRIES {
                    return Err(self.err(
                        spec,
                        field("on_failure"),
                        format!("{times} retries: at most {MAX_RETRIES}"),
                    ));
                }
                if times == 0 {
                    Policy::Abort
                } else {
                    Policy::Retry { times }
                }
            }
            FailureSpec::Fallback(agent) => {
                let agent = match (agent, &s.fallback_agent) {
                    (Some(_), Some(f)) => {
                        return Err(self.err(
                            f,
                            field("fallback_agent"),
                            "the agent is given in on_failure already",
                        ));
                    }
                    (Some(a), None) => self.agent(
                        &Spanned::new(a.clone(), spec.referenced, spec.defined),
                        field("on_failure.fallback"),
                    )?,
                    (None, Some(f)) => self.agent(f, field("fallback_agent"))?,
                    (None, None) => {
                        return Err(self.err(spec, field("on_failure"), "fallback needs an agent: `fallback_agent: AGENT` or `on_failure: {fallback: AGENT}`"));
                    }
                };
                if agent == self.step_agent(s) {
                    return Err(self.err(
                        spec,
                        field("on_failure"),
                        "the fallback is the step's own agent",
                    ));
                }
                Policy::Fallback { agent }
            }
        })
    }

    fn step_agent(&self, s: &StepFile) -> String {
        s.agent
            .as_ref()
            .or(s.capability.as_ref())
            .map(|a| a.value.trim().to_owned())
            .unwrap_or_default()
    }

    fn input(
        &self,
        at: &Spanned<String>,
        field: String,
        upstream: &Upstream<'_>,
    ) -> Result<Input, ConfigError> {
        let text = at.value.trim();
        if let Some(key) = text.strip_prefix("blackboard://") {
            openlegion_protocol::validate_key(key)
                .map_err(|e| self.err(at, field.clone(), e.to_string()))?;
            placeholders(key).map_err(|m| self.err(at, field, m))?;
            return Ok(Input::Blackboard(key.to_owned()));
        }
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(self.err(at, field, format!("{text:?}: an empty segment")));
        }
        if segments[0] == "trigger" {
            if segments.get(1).map(String::as_str) != Some("payload") {
                return Err(self.err(
                    at,
                    field,
                    format!("{text:?}: write trigger.payload or a path under it"),
                ));
            }
            return Ok(Input::Trigger(segments[2..].to_vec()));
        }
        let step = segments[0].clone();
        self.upstream(at, field.clone(), &step, upstream)?;
        match segments.get(1).map(String::as_str) {
            None => Ok(Input::Step {
                step,
                path: Vec::new(),
            }),
            Some("result") => Ok(Input::Step {
                step,
                path: segments[2..].to_vec(),
            }),
            Some(_) => Err(self.err(
                at,
                field,
                format!("{text:?}: write {step}, {step}.result or a path under {step}.result"),
            )),
        }
    }

    /// Refuses `step` unless it is one this step depends on, directly or through others.
    fn upstream(
        &self,
        at: &Spanned<String>,
        field: String,
        step: &str,
        upstream: &Upstream<'_>,
    ) -> Result<(), ConfigError> {
        if upstream.contains(step) {
            return Ok(());
        }
        Err(self.err(at, field, format!("{step:?} is not a step this one depends on (add it to depends_on, directly or through another step)")))
    }

    fn condition(
        &self,
        at: &Spanned<String>,
        field: String,
        upstream: &Upstream<'_>,
    ) -> Result<Condition, ConfigError> {
        let c = Condition::parse(&at.value).map_err(|e| {
            self.err(
                at,
                field.clone(),
                format!("{:?} does not parse: {e}", at.value),
            )
        })?;
        for p in c.paths() {
            let root = p.root();
            if root == "trigger" {
                let ok = matches!(
                    p.segments.get(1).map(String::as_str),
                    Some("payload" | "kind" | "source" | "event")
                );
                if !ok {
                    return Err(self.err(
                        at,
                        field,
                        format!(
                            "column {}: `{p}`: the trigger has payload, kind, source and event",
                            p.column
                        ),
                    ));
                }
            } else if !upstream.contains(root) {
                return Err(self.err(at, field, format!("column {}: `{p}`: {root:?} is not a step this one depends on (add it to depends_on, directly or through another step)", p.column)));
            }
        }
        Ok(c)
    }
}

/// The `{field}` names in a key template; refuses unbalanced or empty braces.
pub(super) fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(format!("{template:?}: a `}}` without its `{{`"));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("{template:?}: a `{{` is not closed"))?;
        let name = &after[..close];
        if name.is_empty() || name.contains('{') {
            return Err(format!(
                "{template:?}: `{{{name}}}` is not a field of the trigger's payload"
            ));
        }
        out.push(name);
        rest = &after[close + 1..];
    }
    Ok(out)
}

/// Lists the workflow files' names and definitions, for `GET /mesh/workflows`.
pub(super) fn summary(defs: &BTreeMap<String, Arc<Workflow>>) -> Vec<serde_json::Value> {
    defs.values()
        .map(|w| {
            serde_json::json!({
                "name": w.name,
                "description": w.description,
                "file": w.file,
                "triggers": w.triggers,
                "timeout_seconds": w.timeout.as_secs(),
                "on_complete": w.on_complete,
                "steps": w.steps.iter().map(|s| serde_json::json!({
                    "id": s.id,
                    "agent": s.agent,
                    "task_type": s.task_type,
                    "depends_on": s.depends_on,
                    "input_from": s.input.describe(),
                    "condition": s.condition.as_ref().map(Condition::source),
                    "timeout_seconds": s.timeout.as_secs(),
                    "on_failure": s.on_failure,
                    "promote_to_blackboard": s.promote,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}
