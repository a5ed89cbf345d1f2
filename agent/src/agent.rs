//! The agent: its conversation, its current task, its status, and what it remembers of
//! both. The HTTP server is a thin layer over this.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openlegion_protocol::{
    AgentMessage, AgentState, AgentStatus, ChatEvent, Origin, TaskAssignment, TaskResult,
    TaskStatus,
};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::context::{Context, ContextEnv, FactStore};
use crate::journal;
use crate::memory::Memory;
use crate::prompt::system_prompt;
use crate::turn::{Runner, TurnOutcome};

/// A task is refused while another one runs.
#[derive(Debug, thiserror::Error)]
#[error("Agent is working")]
pub struct Busy;

#[derive(Debug, Default)]
struct Counters {
    state: Option<AgentState>,
    current_task: Option<String>,
    tasks_completed: u64,
    tasks_failed: u64,
}

/// The chat so far, and its token accounting.
#[derive(Debug)]
struct Session {
    /// The messages, without the system prompt (which is rebuilt for every turn so
    /// workspace edits take effect).
    messages: Vec<Value>,
    context: Context,
}

#[derive(Debug)]
pub struct Agent {
    config: Arc<Config>,
    runner: Runner,
    context_env: Arc<ContextEnv>,
    session: tokio::sync::Mutex<Session>,
    /// Tokens of the chat's last request, for `/status` (which must not wait for a turn).
    context_tokens: AtomicU64,
    counters: Mutex<Counters>,
    last_result: Mutex<Option<TaskResult>>,
    /// Cancels whatever runs now (chat turn or task).
    cancel: Mutex<CancellationToken>,
    /// The tokens of the tasks running now, by task id (children of `cancel`).
    task_tokens: Mutex<std::collections::HashMap<String, CancellationToken>>,
    /// Tasks running through [`run_task_now`](Self::run_task_now), for `/status`.
    running_tasks: AtomicU64,
    started: Instant,
    /// The long-term memory; `None` only when it could not be opened at all.
    memory: Option<Arc<Memory>>,
}

impl Agent {
    /// An agent whose compactions keep facts in `facts` (and `MEMORY.md`).
    pub fn new(config: Arc<Config>, runner: Runner, facts: Option<Arc<dyn FactStore>>) -> Self {
        let context_env = Arc::new(ContextEnv {
            agent: config.agent_id.to_string(),
            window: config.context_window,
            mesh: runner.mesh.clone(),
            llm_timeout: config.llm_timeout,
            workspace: config.workspace_dir(),
            facts,
        });
        Self {
            config,
            runner,
            session: tokio::sync::Mutex::new(Session {
                messages: Vec::new(),
                context: Context::new(Arc::clone(&context_env)),
            }),
            context_env,
            context_tokens: AtomicU64::new(0),
            counters: Mutex::new(Counters::default()),
            last_result: Mutex::new(None),
            cancel: Mutex::new(CancellationToken::new()),
            task_tokens: Mutex::new(std::collections::HashMap::new()),
            running_tasks: AtomicU64::new(0),
            started: Instant::now(),
            memory: None,
        }
    }

    /// The same agent, with its long-term memory.
    pub fn with_memory(mut self, memory: Option<Arc<Memory>>) -> Self {
        self.memory = memory;
        self
    }

    /// The long-term memory (facts, workspace search, daily log), for the parts of the
    /// agent that keep facts ([`Memory::remember`]).
    pub fn memory(&self) -> Option<Arc<Memory>> {
        self.memory.clone()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn tool_definitions(&self) -> Vec<crate::tools::ToolDef> {
        self.runner.tools.definitions()
    }

    /// What the agent learnt in earlier sessions (`learnings/` in its workspace).
    pub fn learnings(&self) -> crate::learnings::Learnings {
        crate::learnings::Learnings::new(&self.config.workspace_dir())
    }

    /// Runs the heartbeat probes that look inside the agent (no LLM call).
    pub async fn heartbeat_probes(
        &self,
        req: &crate::heartbeat::ProbeRequest,
    ) -> crate::heartbeat::ProbeAnswer {
        crate::heartbeat::run(
            req,
            &self.config.data_dir,
            &self.config.workspace_dir(),
            self.runner.tools.as_ref(),
        )
        .await
    }

    /// The loaded skills, for `GET /skills`.
    pub fn skills(&self) -> Value {
        self.runner.tools.inventory()
    }

    fn system(&self) -> Value {
        let prompt = system_prompt(
            self.config.agent_id.as_str(),
            &self.config.role,
            &self.config.instructions,
            &self.config.workspace_dir(),
            self.memory.as_ref().and_then(|m| m.prompt_section()),
        );
        json!({"role": "system", "content": prompt})
    }

    fn set_state(&self, state: AgentState, task: Option<String>) {
        let mut c = self.counters.lock().expect("counters lock");
        c.state = Some(state);
        c.current_task = task;
    }

    fn token(&self) -> CancellationToken {
        self.cancel.lock().expect("cancel lock").clone()
    }

    /// One chat turn from `origin` (none: the operator). Turns are serialised: a second
    /// message waits for the first.
    pub async fn chat(
        &self,
        message: &str,
        origin: Option<&Origin>,
        events: Option<mpsc::Sender<ChatEvent>>,
    ) -> TurnOutcome {
        let mut session = self.session.lock().await;
        self.set_state(AgentState::Working, None);
        let who = match origin {
            Some(o) if o.kind != openlegion_protocol::OriginKind::Operator => {
                format!("User ({})", o.label())
            }
            _ => "User".to_owned(),
        };
        journal::append(&self.config.workspace_dir(), &format!("{who}: {message}"));
        let mut messages = vec![self.system()];
        messages.append(&mut session.messages);
        messages.push(json!({"role": "user", "content": crate::origin::frame(message, origin)}));
        let outcome = self
            .runner
            .run(
                &mut messages,
                &mut session.context,
                self.config.chat_max_rounds,
                events.as_ref(),
                &self.token(),
            )
            .await;
        session.messages = messages.split_off(1);
        self.context_tokens
            .store(session.context.tokens(), Ordering::Relaxed);
        journal::append(
            &self.config.workspace_dir(),
            &format!("Agent: {}", outcome.response),
        );
        self.set_state(AgentState::Idle, None);
        outcome
    }

    /// Forgets the conversation (the workspace and its files stay).
    pub async fn reset(&self) {
        let mut session = self.session.lock().await;
        session.messages.clear();
        session.context = Context::new(Arc::clone(&self.context_env));
        self.context_tokens.store(0, Ordering::Relaxed);
    }

    /// Starts `task` in the background unless a task is running.
    pub fn start_task(self: &Arc<Self>, task: TaskAssignment) -> Result<(), Busy> {
        {
            let mut c = self.counters.lock().expect("counters lock");
            if c.current_task.is_some() {
                return Err(Busy);
            }
            c.current_task = Some(task.task_id.clone());
            c.state = Some(AgentState::Working);
        }
        let agent = Arc::clone(self);
        tokio::spawn(async move {
            let result = agent.run_task(&task).await;
            let mut c = agent.counters.lock().expect("counters lock");
            if result.status == TaskStatus::Complete {
                c.tasks_completed += 1;
            } else {
                c.tasks_failed += 1;
            }
            c.current_task = None;
            c.state = Some(AgentState::Idle);
            drop(c);
            *agent.last_result.lock().expect("result lock") = Some(result);
        });
        Ok(())
    }

    /// Runs `task` now and returns its result (`POST /task/run`): the mesh's lanes call
    /// this, and decide themselves how many run at once, so it is never refused as busy.
    /// Counted and kept as the last result like a task started with
    /// [`start_task`](Self::start_task).
    pub async fn run_task_now(&self, task: &TaskAssignment) -> TaskResult {
        self.running_tasks.fetch_add(1, Ordering::Relaxed);
        self.set_state(AgentState::Working, Some(task.task_id.clone()));
        let result = self.run_task(task).await;
        let left = self.running_tasks.fetch_sub(1, Ordering::Relaxed) - 1;
        let mut c = self.counters.lock().expect("counters lock");
        if result.status == TaskStatus::Complete {
            c.tasks_completed += 1;
        } else {
            c.tasks_failed += 1;
        }
        if left == 0 {
            c.current_task = None;
            c.state = Some(AgentState::Idle);
        }
        drop(c);
        *self.last_result.lock().expect("result lock") = Some(result.clone());
        result
    }

    /// Cancels the task `task_id` alone; `false` if no such task runs.
    pub fn cancel_task(&self, task_id: &str) -> bool {
        match self
            .task_tokens
            .lock()
            .expect("task tokens lock")
            .get(task_id)
        {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    async fn run_task(&self, task: &TaskAssignment) -> TaskResult {
        let started = Instant::now();
        let body = format!(
            "Input:\n{}\n\nContext:\n{}",
            serde_json::to_string_pretty(&task.input_data).unwrap_or_default(),
            serde_json::to_string_pretty(&task.context).unwrap_or_default(),
        );
        let prompt = format!(
            "Task `{}` ({}). {}\n\nDo the task with your tools. End with your result; if it is data, give it as one JSON object.",
            task.task_id,
            task.task_type,
            crate::origin::frame(&body, task.origin.as_ref()),
        );
        let mut messages = vec![self.system(), json!({"role": "user", "content": prompt})];
        // Its own token under the agent's, so one task can be cancelled alone.
        let cancel = self.token().child_token();
        self.task_tokens
            .lock()
            .expect("task tokens lock")
            .insert(task.task_id.clone(), cancel.clone());
        let mut context = Context::new(Arc::clone(&self.context_env));
        let run = self.runner.run(
            &mut messages,
            &mut context,
            self.config.task_max_iterations,
            None,
            &cancel,
        );
        let (status, outcome) =
            match tokio::time::timeout(Duration::from_secs(task.timeout.max(1)), run).await {
                Ok(outcome) if outcome.stopped.as_deref() == Some("cancelled") => {
                    (TaskStatus::Cancelled, Some(outcome))
                }
                Ok(outcome) if outcome.stopped.is_some() => (TaskStatus::Failed, Some(outcome)),
                Ok(outcome) => (TaskStatus::Complete, Some(outcome)),
                Err(_) => (TaskStatus::Timeout, None),
            };
        let result = outcome.as_ref().map(|o| {
            let parsed = o
                .response
                .trim()
                .trim_start_matches("```json")
                .trim_matches('`')
                .trim()
                .parse::<Value>()
                .ok()
                .and_then(|v| v.as_object().cloned());
            parsed.unwrap_or_else(|| {
                Map::from_iter([("response".to_owned(), Value::String(o.response.clone()))])
            })
        });
        let error = match status {
            TaskStatus::Timeout => Some(format!("timed out after {}s", task.timeout)),
            TaskStatus::Complete => None,
            _ => outcome.as_ref().and_then(|o| o.stopped.clone()),
        };
        self.task_tokens
            .lock()
            .expect("task tokens lock")
            .remove(&task.task_id);
        journal::append(
            &self.config.workspace_dir(),
            &format!(
                "Task {} ({}) ended: {status:?}",
                task.task_id, task.task_type
            ),
        );
        TaskResult {
            task_id: task.task_id.clone(),
            status,
            result,
            error,
            promote_to_blackboard: Map::new(),
            tokens_used: outcome.map_or(0, |o| o.tokens_used),
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }

    pub fn last_result(&self) -> Option<TaskResult> {
        self.last_result.lock().expect("result lock").clone()
    }

    /// Cancels the running turn or task, and readies a fresh token for the next.
    pub fn cancel(&self) {
        let mut token = self.cancel.lock().expect("cancel lock");
        token.cancel();
        *token = CancellationToken::new();
    }

    pub fn status(&self) -> AgentStatus {
        let c = self.counters.lock().expect("counters lock");
        AgentStatus {
            agent_id: self.config.agent_id.to_string(),
            role: self.config.role.clone(),
            state: c.state.unwrap_or(AgentState::Idle),
            current_task: c.current_task.clone(),
            capabilities: self
                .tool_definitions()
                .into_iter()
                .map(|t| t.name)
                .collect(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            tasks_completed: c.tasks_completed,
            tasks_failed: c.tasks_failed,
            context_tokens: self.context_tokens.load(Ordering::Relaxed),
            context_max: u64::from(self.config.context_window),
            context_pct: self.context_tokens.load(Ordering::Relaxed) as f64
                / f64::from(self.config.context_window)
                * 100.0,
            tools: self.runner.tools.counts(),
            loop_warnings: crate::turn::loop_findings().0,
            loop_stops: crate::turn::loop_findings().1,
        }
    }

    /// A message pushed by the mesh (an event, a blackboard change, another agent): noted in
    /// the daily log for the next turn to find.
    pub fn receive(&self, message: &AgentMessage) {
        let payload = serde_json::to_string(&message.payload).unwrap_or_default();
        let kind = serde_json::to_value(message.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        journal::append(
            &self.config.workspace_dir(),
            &format!("Message from {} ({kind}): {payload}", message.from_agent),
        );
    }

    /// `/history`: recent daily logs and the long-term memory file, and what went wrong
    /// with the memory at start (`memory_problem`: a damaged database moved aside, or no
    /// memory at all).
    pub fn history(&self, days: u32) -> Value {
        let workspace = self.config.workspace_dir();
        let memory = std::fs::read_to_string(workspace.join("MEMORY.md")).unwrap_or_default();
        let problem = match &self.memory {
            Some(m) => m.startup_problem().map(str::to_owned),
            None => Some("the agent's memory could not be opened (see its log)".to_owned()),
        };
        json!({
            "memory_problem": problem,
            "agent_id": self.config.agent_id,
            "role": self.config.role,
            "logs": journal::recent(&workspace, days.clamp(1, 14)).into_iter().map(|(day, text)| json!({"date": day, "content": text})).collect::<Vec<_>>(),
            "memory": memory.chars().take(5000).collect::<String>(),
        })
    }
}
