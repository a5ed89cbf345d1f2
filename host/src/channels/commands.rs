//! The commands a paired user can send, as in the REPL: `/agents`, `/use NAME`, `/reset`,
//! `/status`, `/costs`, `/help` (and Telegram's `/start`). Each returns the text of its
//! answer; none reaches an agent's model.

use std::time::Duration;

use super::conversation::Channel;
use crate::costs::Period;
use crate::store::channels::Paired;

pub(super) const HELP: &str = "@agent message  talk to an agent (and make it your current one)
/use NAME  make NAME your current agent
/agents  list the agents
/status  your current agent and its queue
/costs  today's LLM spending
/reset  clear your current agent's conversation
/help  this list";

/// Runs command `cmd` with argument `arg` for `user`, whose current agent is `current`.
pub(super) async fn run(
    channel: &Channel,
    user: &Paired,
    current: Option<&str>,
    cmd: &str,
    arg: &str,
) -> String {
    match cmd {
        "help" | "start" => HELP.to_owned(),
        "agents" => agents(channel, current),
        "use" => match arg.split_whitespace().next() {
            None => "Say which agent: /use NAME (/agents lists them).".into(),
            Some(agent) if channel.mesh.registry.exists(agent) => {
                channel.set_agent(&user.user_id, agent).await;
                format!("You are talking to {agent} now.")
            }
            Some(agent) => format!("There is no agent {agent}; /agents lists them."),
        },
        "reset" => match current {
            Some(agent) => reset(channel, agent).await,
            None => "You have no current agent.".into(),
        },
        "status" => status(channel, current).await,
        "costs" => costs(channel).await,
        _ => format!("There is no command /{cmd}; /help lists them."),
    }
}

fn agents(channel: &Channel, current: Option<&str>) -> String {
    let mut agents = channel.mesh.registry.snapshot();
    if agents.is_empty() {
        return "There are no agents.".into();
    }
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    agents
        .iter()
        .map(|a| {
            let state = channel.mesh.run_state(&a.id).unwrap_or_else(|| {
                if a.url.is_some() {
                    "running"
                } else {
                    "not running"
                }
                .into()
            });
            let mark = if Some(a.id.as_str()) == current {
                " (current)"
            } else {
                ""
            };
            match a.role.as_str() {
                "" => format!("{}{mark}: {state}", a.id),
                role => format!("{}{mark}: {role}, {state}", a.id),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn reset(channel: &Channel, agent: &str) -> String {
    let Some(url) = channel.mesh.registry.url(agent) else {
        return format!("{agent} is not running.");
    };
    let sent = channel
        .mesh
        .links
        .link(agent, &url)
        .request(reqwest::Method::POST, "/chat/reset")
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => format!("The conversation with {agent} is cleared."),
        Ok(r) => format!("{agent} refused to reset ({}).", r.status()),
        Err(e) => {
            tracing::warn!(agent, error = %e.without_url(), "a channel reset did not reach the agent");
            format!("{agent} could not be reached.")
        }
    }
}

async fn status(channel: &Channel, current: Option<&str>) -> String {
    let Some(agent) = current else {
        return "You have no current agent.".into();
    };
    let state = channel.mesh.run_state(agent).unwrap_or_else(|| {
        match channel.mesh.registry.url(agent) {
            Some(_) => "running",
            None => "not running",
        }
        .into()
    });
    let lane = match channel.mesh.lanes.status().await {
        Ok(lanes) => lanes
            .into_iter()
            .find(|l| l.agent == agent)
            .map_or("nothing waiting".into(), |l| {
                format!("{} waiting, {} running", l.queued, l.running)
            }),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the lanes for a channel /status");
            "its queue is unknown".into()
        }
    };
    format!(
        "You are talking to {agent} ({state}; {lane}). The mesh runs {} agents.",
        channel.mesh.registry.snapshot().len()
    )
}

async fn costs(channel: &Channel) -> String {
    match channel.mesh.proxy.costs().report(Period::Today, None).await {
        Ok(report) => {
            let mut lines = vec![format!("LLM spending today: ${:.4}", report.total_usd)];
            for (agent, c) in &report.agents {
                lines.push(format!(
                    "{agent}: ${:.4} in {} calls (budget ${:.2} a day)",
                    c.cost_usd, c.calls, c.budget.daily_usd
                ));
            }
            lines.join("\n")
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the costs for a channel /costs");
            "The costs cannot be read just now.".into()
        }
    }
}
