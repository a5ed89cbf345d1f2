//! The REPL's `/commands`, one table: help, completion and dispatch all read
//! [`COMMANDS`]. A new command is one row here and one function beside the others.

use anyhow::{Result, bail};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde_json::json;

use super::Session;
use super::stream::say;
use crate::cli::table;

/// What the REPL does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Quit,
}

type Run = for<'s, 'a> fn(&'s mut Session<'a>, &'s str) -> LocalBoxFuture<'s, Result<Flow>>;

/// One `/command`.
pub(crate) struct Command {
    pub(crate) name: &'static str,
    /// Its arguments, for the help.
    pub(crate) args: &'static str,
    pub(crate) help: &'static str,
    /// Whether its argument is an agent's name (completed as one).
    pub(crate) takes_agent: bool,
    run: Run,
}

pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "/help",
        args: "",
        help: "this list",
        takes_agent: false,
        run: |s, a| Box::pin(help(s, a)),
    },
    Command {
        name: "/agents",
        args: "",
        help: "the agents, their roles and states",
        takes_agent: false,
        run: |s, a| Box::pin(agents(s, a)),
    },
    Command {
        name: "/use",
        args: "AGENT",
        help: "make AGENT the one plain lines go to",
        takes_agent: true,
        run: |s, a| Box::pin(use_agent(s, a)),
    },
    Command {
        name: "/add",
        args: "[NAME [ROLE]]",
        help: "add an agent to agents.yaml and start it now (asks what is not given)",
        takes_agent: false,
        run: |s, a| Box::pin(add(s, a)),
    },
    Command {
        name: "/broadcast",
        args: "MESSAGE",
        help: "send MESSAGE to every agent; their answers as they come",
        takes_agent: false,
        run: |s, a| Box::pin(broadcast(s, a)),
    },
    Command {
        name: "/costs",
        args: "[today|week|month]",
        help: "LLM spending per agent and model, and the budgets",
        takes_agent: false,
        run: |s, a| Box::pin(costs(s, a)),
    },
    Command {
        name: "/status",
        args: "",
        help: "the mesh, its agents and their lanes",
        takes_agent: false,
        run: |s, a| Box::pin(status(s, a)),
    },
    Command {
        name: "/reset",
        args: "",
        help: "clear the current agent's conversation",
        takes_agent: false,
        run: |s, a| Box::pin(reset(s, a)),
    },
    Command {
        name: "/pair",
        args: "CODE",
        help: "let the Telegram/Discord user with this pairing code talk to the agents",
        takes_agent: false,
        run: |s, a| Box::pin(pair(s, a)),
    },
    Command {
        name: "/quit",
        args: "",
        help: "leave (the mesh stops with the REPL of `start`)",
        takes_agent: false,
        run: |_, _| Box::pin(async { Ok(Flow::Quit) }),
    },
    Command {
        name: "/exit",
        args: "",
        help: "the same as /quit",
        takes_agent: false,
        run: |_, _| Box::pin(async { Ok(Flow::Quit) }),
    },
];

/// Runs one line: a `/command`, `@agent message`, or a message to the current agent.
pub(crate) async fn dispatch(session: &mut Session<'_>, line: &str) -> Result<Flow> {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    if let Some(agent) = word.strip_prefix('@').filter(|a| !a.is_empty()) {
        session.current = Some(agent.to_owned());
        if !rest.is_empty() {
            say(session.client, agent, rest).await?;
        }
        return Ok(Flow::Continue);
    }
    if word.starts_with('/') {
        let Some(command) = COMMANDS.iter().find(|c| c.name == word) else {
            println!("unknown command {word}; /help lists them");
            return Ok(Flow::Continue);
        };
        return (command.run)(session, rest).await;
    }
    match session.current.clone() {
        Some(agent) => say(session.client, &agent, line).await?,
        None => println!("talk to an agent with @agent message"),
    }
    Ok(Flow::Continue)
}

async fn help(_: &mut Session<'_>, _: &str) -> Result<Flow> {
    let mut rows = table::plain(&[]);
    rows.add_row([
        "@agent message",
        "talk to an agent (and make it the current one)",
    ]);
    for c in COMMANDS {
        rows.add_row([format!("{} {}", c.name, c.args).trim_end(), c.help]);
    }
    table::print(&rows);
    Ok(Flow::Continue)
}

async fn agents(session: &mut Session<'_>, _: &str) -> Result<Flow> {
    let agents = session.refresh_names().await?;
    let mut rows = table::plain(&[]);
    for (id, a) in agents.as_object().into_iter().flatten() {
        rows.add_row([
            id.as_str(),
            a["role"].as_str().unwrap_or(""),
            a["state"].as_str().unwrap_or(if a["url"].is_null() {
                "not running"
            } else {
                "running"
            }),
        ]);
    }
    table::print(&rows);
    Ok(Flow::Continue)
}

async fn use_agent(session: &mut Session<'_>, name: &str) -> Result<Flow> {
    if name.is_empty() {
        bail!("/use AGENT");
    }
    session.current = Some(name.to_owned());
    Ok(Flow::Continue)
}

async fn add(session: &mut Session<'_>, args: &str) -> Result<Flow> {
    let (name, role) = args.split_once(' ').unwrap_or((args, ""));
    let name = match name {
        "" => match session.ask("name: ") {
            Some(n) if !n.is_empty() => n,
            _ => return Ok(Flow::Continue),
        },
        n => n.to_owned(),
    };
    let role = match role.trim() {
        "" if args.is_empty() => session.ask("role [assistant]: ").unwrap_or_default(),
        r => r.to_owned(),
    };
    let model = if args.is_empty() {
        session
            .ask("model [the default model]: ")
            .filter(|m| !m.is_empty())
    } else {
        None
    };
    let role = if role.is_empty() {
        "assistant".to_owned()
    } else {
        role
    };
    let status = session.client.get("/mesh/status").await?;
    let Some(config_dir) = status["config_dir"].as_str() else {
        bail!("the mesh did not say where its configuration is");
    };
    let id = crate::cli::agent::write_agent(std::path::Path::new(config_dir), &name, role, model)?;
    session.client.post("/mesh/reload", &json!({})).await?;
    println!("added {id} to agents.yaml; starting it …");
    crate::cli::ready::announce(session.client, vec![id.to_string()]).await;
    session.refresh_names().await?;
    Ok(Flow::Continue)
}

async fn broadcast(session: &mut Session<'_>, message: &str) -> Result<Flow> {
    if message.is_empty() {
        bail!("/broadcast MESSAGE");
    }
    let agents = session.refresh_names().await?;
    let names: Vec<String> = agents
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, a)| !a["url"].is_null())
        .map(|(id, _)| id.clone())
        .collect();
    if names.is_empty() {
        println!("no agent is running");
        return Ok(Flow::Continue);
    }
    let client = session.client;
    let mut answers = futures_util::stream::iter(names)
        .map(|agent| async move {
            let answer = client
                .post(
                    &format!("/mesh/agents/{agent}/api/chat"),
                    &json!({ "message": message }),
                )
                .await;
            (agent, answer)
        })
        .buffer_unordered(16);
    while let Some((agent, answer)) = answers.next().await {
        match answer {
            Ok(a) => println!("[{agent}] {}", a["response"].as_str().unwrap_or_default()),
            Err(e) => println!("[{agent}] error: {e:#}"),
        }
    }
    Ok(Flow::Continue)
}

async fn costs(session: &mut Session<'_>, period: &str) -> Result<Flow> {
    let period = match period {
        "" => "today",
        p @ ("today" | "week" | "month") => p,
        other => bail!("{other}: /costs today, week or month"),
    };
    let report = session
        .client
        .get(&format!("/mesh/costs?period={period}"))
        .await?;
    crate::cli::costs::print_report(&report, period);
    Ok(Flow::Continue)
}

async fn status(session: &mut Session<'_>, _: &str) -> Result<Flow> {
    let s = session.client.get("/mesh/status").await?;
    println!(
        "mesh pid {}, up {}s, {} agents ({} registered), {} inbox messages waiting",
        s["pid"], s["uptime_seconds"], s["agents"], s["registered_agents"], s["inbox_messages"]
    );
    let lanes = session.client.get("/mesh/lanes").await?;
    for line in crate::cli::status::lane_lines(&lanes) {
        println!("{line}");
    }
    Ok(Flow::Continue)
}

async fn pair(session: &mut Session<'_>, code: &str) -> Result<Flow> {
    if code.is_empty() {
        bail!("/pair needs the code the bot sent (/pair CODE)");
    }
    println!("{}", crate::cli::channel::pair(session.client, code).await?);
    Ok(Flow::Continue)
}

async fn reset(session: &mut Session<'_>, _: &str) -> Result<Flow> {
    match session.current.clone() {
        Some(agent) => {
            session
                .client
                .post(&format!("/mesh/agents/{agent}/api/chat/reset"), &json!({}))
                .await?;
            println!("conversation cleared");
        }
        None => println!("no current agent: /use one first"),
    }
    Ok(Flow::Continue)
}
