//! The interactive chat: `openlegion chat NAME` (one agent) and the REPL that
//! `openlegion start` opens on a terminal. `@agent message` talks to an agent (and makes it
//! the current one), a plain line goes to the current agent, and `/commands` (see
//! [`commands`]) manage the fleet. Answers stream in as the agent produces them.
//!
//! Line editing, history (kept across sessions in the state directory) and completion of
//! commands and agent names are rustyline's. Its `readline` blocks, so the REPL runs on a
//! thread of its own and reaches the async world through the runtime's handle; when the
//! mesh stops, the process exits without waiting for that thread.

mod commands;
mod complete;
mod stream;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor};
use tokio::runtime::Handle;

use self::commands::Flow;
use self::complete::Completion;
use super::client::OperatorClient;

/// Lines of history kept.
const HISTORY: usize = 1000;

/// The history file, in the state directory.
pub(crate) const HISTORY_FILE: &str = "repl_history";

/// The REPL's state, handed to every command.
pub(super) struct Session<'a> {
    pub(super) client: &'a OperatorClient,
    /// Where plain lines go.
    pub(super) current: Option<String>,
    /// The agents' names, for completion (refreshed by `/agents`, `/add`).
    pub(super) names: Arc<Mutex<Vec<String>>>,
    pub(super) editor: &'a mut Editor<Completion, DefaultHistory>,
}

impl Session<'_> {
    /// Reads the running mesh's agents into the completion list; returns their listing.
    pub(super) async fn refresh_names(&self) -> Result<serde_json::Value> {
        let agents = self.client.get("/mesh/agents").await?;
        let names = agents
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        *self.names.lock().expect("names lock") = names;
        Ok(agents)
    }

    /// Asks one question with the REPL's own line editor (`None`: the user gave up).
    pub(super) fn ask(&mut self, prompt: &str) -> Option<String> {
        match self.editor.readline(prompt) {
            Ok(line) => Some(line.trim().to_owned()),
            Err(_) => None,
        }
    }
}

/// Runs the REPL until `/quit` or the end of input. `current` is the agent plain lines go
/// to; `history` the file lines are kept in across sessions.
pub(crate) async fn run(
    client: &OperatorClient,
    current: Option<String>,
    multi: bool,
    history: Option<PathBuf>,
) -> Result<()> {
    let client = client.clone();
    let handle = Handle::current();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    // A plain thread, not the runtime's blocking pool: a REPL waiting on the terminal must
    // not keep the process alive once the mesh has stopped.
    std::thread::Builder::new()
        .name("repl".into())
        .spawn(move || {
            let outcome = session(&handle, &client, current, multi, history);
            let _ = done_tx.send(outcome);
        })
        .context("cannot start the REPL")?;
    done_rx.await.context("the REPL stopped")?
}

fn session(
    handle: &Handle,
    client: &OperatorClient,
    current: Option<String>,
    multi: bool,
    history: Option<PathBuf>,
) -> Result<()> {
    let names = Arc::new(Mutex::new(Vec::new()));
    let config = Config::builder()
        .max_history_size(HISTORY)?
        .history_ignore_dups(true)?
        .history_ignore_space(true)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<Completion, DefaultHistory> = Editor::with_config(config)?;
    editor.set_helper(Some(Completion::new(Arc::clone(&names))));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut session = Session {
        client,
        current,
        names,
        editor: &mut editor,
    };
    let _ = handle.block_on(session.refresh_names());
    if multi {
        println!("OpenLegion REPL. @agent message talks to an agent; /help lists the commands.");
    } else {
        println!(
            "Chatting with {}. /reset clears the conversation, /help lists the commands, /quit leaves.",
            session.current.as_deref().unwrap_or("?")
        );
    }
    loop {
        let prompt = format!("{}> ", session.current.as_deref().unwrap_or(""));
        let line = match session.editor.readline(&prompt) {
            Ok(line) => line,
            // Ctrl-C drops the line being typed, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = session.editor.add_history_entry(line);
        if let Some(path) = &history {
            save_history(session.editor, path);
        }
        match handle.block_on(commands::dispatch(&mut session, line)) {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err(e) => println!("error: {e:#}"),
        }
    }
    Ok(())
}

/// Keeps the history after every line (a crash loses nothing), readable by the user only:
/// what is typed to agents may be private.
fn save_history(editor: &mut Editor<Completion, DefaultHistory>, path: &std::path::Path) {
    if editor.save_history(path).is_ok() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}
