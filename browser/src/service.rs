//! The service the mesh holds: one Chromium, started on first use and again after a
//! crash, and one browser context per agent with its tabs, closed when idle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::target::CreateBrowserContextParams;
use chromiumoxide::cdp::js_protocol::runtime::TerminateExecutionParams;
use openlegion_protocol::{AgentId, BrowserAction, BrowserReply};
use tokio::task::JoinHandle;

use crate::actions::Tab;
use crate::launch::{BrowserSettings, Running};
use crate::{BrowserError, RequestPolicy};

/// One agent's browsing: its context, its tabs, the tab commands go to.
#[derive(Debug)]
struct Session {
    /// Which browser (by start count) the context lives in; a context of a crashed browser
    /// is gone with it.
    generation: u64,
    context: BrowserContextId,
    tabs: Vec<Tab>,
    active: usize,
    last_used: Instant,
}

#[derive(Debug, Default)]
struct Browser {
    running: Option<Running>,
    generation: u64,
}

/// The browser service. Cheap to hold in an `Arc`; nothing starts until the first command.
#[derive(Debug)]
pub struct BrowserService {
    settings: BrowserSettings,
    policy: Arc<dyn RequestPolicy>,
    /// Held only to start, check or stop Chromium and to open or close contexts and tabs,
    /// never while a page loads: agents browse in parallel.
    browser: tokio::sync::Mutex<Browser>,
    /// Each agent's session behind its own lock: one agent's commands run in order, and
    /// never wait for another agent's.
    sessions: Mutex<HashMap<AgentId, Arc<tokio::sync::Mutex<Option<Session>>>>>,
}

impl BrowserService {
    pub fn new(settings: BrowserSettings, policy: Arc<dyn RequestPolicy>) -> Self {
        Self {
            settings,
            policy,
            browser: tokio::sync::Mutex::default(),
            sessions: Mutex::default(),
        }
    }

    pub fn settings(&self) -> &BrowserSettings {
        &self.settings
    }

    /// Runs `action` for `agent` in the agent's own context. The caller has checked that
    /// the agent may browse at all; where it may go is the policy's to say.
    pub async fn run(
        &self,
        agent: &AgentId,
        action: BrowserAction,
    ) -> Result<BrowserReply, BrowserError> {
        action
            .check_bounds()
            .map_err(|problem| BrowserError::BadCommand { problem })?;
        if let BrowserAction::Navigate { url, .. } = &action {
            self.policy
                .check(url)
                .await
                .map_err(|reason| BrowserError::Refused {
                    url: url.clone(),
                    reason,
                })?;
        }
        let slot = self.slot(agent);
        let mut slot = slot.lock().await;
        self.ensure_session(&mut slot).await?;
        let session = slot.as_mut().ok_or(BrowserError::NoPage)?;
        session.last_used = Instant::now();
        let result = self.dispatch(session, action).await;
        session.last_used = Instant::now();
        result
    }

    async fn dispatch(
        &self,
        session: &mut Session,
        action: BrowserAction,
    ) -> Result<BrowserReply, BrowserError> {
        let deadline = self.settings.action_timeout;
        let name = action.name();
        let timeout = |_| BrowserError::Timeout {
            action: name,
            ms: deadline.as_millis() as u64,
        };
        if let BrowserAction::Navigate { url, new_tab } = &action {
            if *new_tab || session.tabs.is_empty() {
                self.open_tab(session).await?;
            }
            let tab = &mut session.tabs[session.active];
            let total = self.settings.navigation_timeout + deadline;
            return tokio::time::timeout(
                total,
                tab.navigate(url, self.settings.navigation_timeout),
            )
            .await
            .map_err(|_| BrowserError::Timeout {
                action: name,
                ms: total.as_millis() as u64,
            })?;
        }
        let tab = session
            .tabs
            .get_mut(session.active)
            .ok_or(BrowserError::NoPage)?;
        match action {
            BrowserAction::Snapshot => tokio::time::timeout(deadline, tab.snapshot())
                .await
                .map_err(timeout)?,
            BrowserAction::Click { target } => tokio::time::timeout(deadline, tab.click(&target))
                .await
                .map_err(timeout)?,
            BrowserAction::Type {
                target,
                text,
                submit,
            } => tokio::time::timeout(deadline, tab.type_text(&target, &text, submit))
                .await
                .map_err(timeout)?,
            BrowserAction::Screenshot { full_page } => {
                tokio::time::timeout(deadline, tab.screenshot(full_page))
                    .await
                    .map_err(timeout)?
            }
            BrowserAction::Evaluate { script } => {
                match tokio::time::timeout(deadline, tab.evaluate(&script)).await {
                    Ok(result) => result,
                    Err(elapsed) => {
                        // A script that loops forever holds the page's main thread: stop it
                        // so the tab answers again.
                        tab.terminate_script(TerminateExecutionParams::default())
                            .await;
                        Err(timeout(elapsed))
                    }
                }
            }
            BrowserAction::Navigate { .. } => unreachable!("handled above"),
        }
    }

    async fn open_tab(&self, session: &mut Session) -> Result<(), BrowserError> {
        if session.tabs.len() >= self.settings.max_tabs {
            return Err(BrowserError::TooManyTabs {
                max: self.settings.max_tabs,
            });
        }
        let browser = self.browser.lock().await;
        let running = browser.running.as_ref().ok_or(BrowserError::NoPage)?;
        let tab = Tab::open(&running.browser, &session.context, self.policy.clone()).await?;
        session.tabs.push(tab);
        session.active = session.tabs.len() - 1;
        Ok(())
    }

    fn slot(&self, agent: &AgentId) -> Arc<tokio::sync::Mutex<Option<Session>>> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.entry(agent.clone()).or_default().clone()
    }

    /// Makes sure Chromium runs (starting it, or starting it again after a crash) and that
    /// the agent has a context in it.
    async fn ensure_session(&self, slot: &mut Option<Session>) -> Result<(), BrowserError> {
        let mut browser = self.browser.lock().await;
        let alive = browser.running.as_mut().is_some_and(Running::is_alive);
        if !alive {
            if let Some(dead) = browser.running.take() {
                tracing::warn!("browser died; starting it again");
                dead.stop().await;
            }
            let started = Instant::now();
            let proxy = self
                .policy
                .proxy()
                .map_err(|problem| BrowserError::NoProxy { problem })?;
            browser.running = Some(Running::start(&self.settings, proxy.as_deref()).await?);
            browser.generation += 1;
            tracing::info!(elapsed = ?started.elapsed(), "browser started");
        }
        let generation = browser.generation;
        if slot.as_ref().is_some_and(|s| s.generation == generation) {
            return Ok(());
        }
        // The agent's old context (if any) died with the old browser: forget its tabs.
        if let Some(old) = slot.take() {
            for tab in old.tabs {
                tab.close().await;
            }
        }
        let running = browser.running.as_ref().ok_or(BrowserError::NoPage)?;
        let context = running
            .browser
            .create_browser_context(CreateBrowserContextParams::default())
            .await
            .map_err(BrowserError::cdp("creating the agent's context"))?;
        *slot = Some(Session {
            generation,
            context,
            tabs: Vec::new(),
            active: 0,
            last_used: Instant::now(),
        });
        Ok(())
    }

    /// Closes `agent`'s context: its tabs, cookies and storage are gone.
    pub async fn close_agent(&self, agent: &AgentId) {
        let slot = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.remove(agent)
        };
        if let Some(slot) = slot {
            let session = slot.lock().await.take();
            if let Some(session) = session {
                self.dispose(session).await;
            }
        }
    }

    async fn dispose(&self, session: Session) {
        for tab in session.tabs {
            tab.close().await;
        }
        let browser = self.browser.lock().await;
        if browser.generation == session.generation
            && let Some(running) = browser.running.as_ref()
        {
            let closing = running.browser.dispose_browser_context(session.context);
            if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(3), closing).await {
                tracing::debug!(%error, "disposing a browser context");
            }
        }
    }

    /// Closes the contexts unused for longer than the idle timeout, and stops Chromium when
    /// no context is left (it is started again on the next command).
    pub async fn close_idle(&self) -> usize {
        let idle = self.settings.idle_timeout;
        let slots: Vec<(AgentId, Arc<tokio::sync::Mutex<Option<Session>>>)> = {
            let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions
                .iter()
                .map(|(a, s)| (a.clone(), s.clone()))
                .collect()
        };
        let mut closed = 0;
        for (agent, slot) in slots {
            // A session busy with a command is in use, not idle.
            let Ok(mut guard) = slot.try_lock() else {
                continue;
            };
            if guard
                .as_ref()
                .is_some_and(|s| s.last_used.elapsed() >= idle)
            {
                if let Some(session) = guard.take() {
                    tracing::info!(%agent, "closing an idle browser context");
                    self.dispose(session).await;
                    closed += 1;
                }
                drop(guard);
                let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                sessions.remove(&agent);
            }
        }
        let empty = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        if empty && let Some(running) = self.browser.lock().await.running.take() {
            running.stop().await;
        }
        closed
    }

    /// Runs [`Self::close_idle`] every quarter of the idle timeout (at most every 30 s).
    pub fn spawn_reaper(self: &Arc<Self>) -> JoinHandle<()> {
        let service = Arc::downgrade(self);
        let period = (self.settings.idle_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(30));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(service) = service.upgrade() else {
                    return;
                };
                service.close_idle().await;
            }
        })
    }

    /// How many agents have a context open now.
    pub fn open_contexts(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Chromium's process id, if it runs (for status, and for tests that crash it).
    pub async fn browser_pid(&self) -> Option<u32> {
        self.browser.lock().await.running.as_mut()?.pid()
    }

    /// Closes every context and stops Chromium.
    pub async fn shutdown(&self) {
        let agents: Vec<AgentId> = {
            let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.keys().cloned().collect()
        };
        for agent in agents {
            self.close_agent(&agent).await;
        }
        if let Some(running) = self.browser.lock().await.running.take() {
            running.stop().await;
        }
    }
}
