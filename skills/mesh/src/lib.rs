//! The built-in `mesh` skill: blackboard, events, agents, sub-agents and other agents'
//! history and artifacts (capability `mesh`).
//!
//! The mesh decides what this agent may read, write and publish; its refusals come back as
//! tool errors. This crate turns the mesh's JSON into compact results for the model: a
//! missing key is `{"found": false}` (an answer, not an error), and listings show previews
//! rather than whole values so that a large blackboard does not flood the context.

use openlegion_skill_sdk::prelude::*;

mod args;
mod team;
// The tests use the SDK's native stand-in for the host, so they run on the host target only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use args::{ListSharedState, PublishEvent, ReadSharedState, WriteSharedState};
use team::{read_agent_history, read_artifact, spawn_agent};

/// Longest value preview in `list_shared_state`, in characters.
const PREVIEW_CHARS: usize = 200;

fn list_agents(_: NoArgs) -> Result<Value, String> {
    let agents: Vec<Value> = mesh::list_agents()?
        .into_iter()
        .map(|(name, info)| {
            json!({
                "name": name,
                "role": info.role,
                "capabilities": info.capabilities,
                "registered": info.registered,
            })
        })
        .collect();
    Ok(json!({ "count": agents.len(), "agents": agents }))
}

fn read_shared_state(args: ReadSharedState) -> Result<Value, String> {
    Ok(match mesh::read_state(&args.key)? {
        None => json!({ "found": false, "key": args.key }),
        Some(entry) => json!({
            "found": true,
            "key": entry.key,
            "value": entry.value,
            "written_by": entry.written_by,
            "updated_at": entry.updated_at,
            "version": entry.version,
        }),
    })
}

fn write_shared_state(args: WriteSharedState) -> Result<Value, String> {
    let entry = mesh::write_state(&args.key, &args.value, args.ttl)?;
    Ok(json!({ "written": true, "key": entry.key, "version": entry.version }))
}

fn list_shared_state(args: ListSharedState) -> Result<Value, String> {
    let entries: Vec<Value> = mesh::list_state(&args.prefix)?
        .into_iter()
        .map(|entry| {
            json!({
                "key": entry.key,
                "written_by": entry.written_by,
                "updated_at": entry.updated_at,
                "version": entry.version,
                "value_preview": preview(&Value::Object(entry.value)),
            })
        })
        .collect();
    Ok(json!({ "prefix": args.prefix, "count": entries.len(), "entries": entries }))
}

fn publish_event(args: PublishEvent) -> Result<Value, String> {
    let notified = mesh::publish(&args.topic, &args.payload)?;
    Ok(json!({ "published": true, "topic": args.topic, "subscribers_notified": notified }))
}

/// `value` as JSON text, cut to [`PREVIEW_CHARS`] characters with a trailing "...".
fn preview(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

openlegion_skill_sdk::skill! {
    list_agents: "List the agents of the mesh with their role and capabilities, to find who \
        can help or whom a task concerns. Returns {\"agents\": [{\"name\", \"role\", \
        \"capabilities\", \"registered\"}], \"count\"}; registered=false means the agent is \
        configured but not running."
        => list_agents,
    read_shared_state: "Read one entry of the shared blackboard, the store that agents use \
        to hand data to each other. Returns {\"found\": true, \"key\", \"value\", \
        \"written_by\", \"updated_at\", \"version\"}, or {\"found\": false, \"key\"} if there \
        is no such key (or it expired). If you do not know the exact key, use \
        list_shared_state first."
        => read_shared_state,
    write_shared_state: "Write a JSON object to the shared blackboard for other agents to \
        read, replacing any value at that key. Use hierarchical keys such as \
        \"status/<your-name>\" for your progress or \"research/acme\" for results others \
        need; keys under history/ can be written once only. Optionally expire the entry \
        after ttl seconds. Returns {\"written\": true, \"key\", \"version\"}. For one-off \
        signals that need not be stored, use publish_event."
        => write_shared_state,
    list_shared_state: "List blackboard entries whose key starts with a prefix (\"\" for all, \
        or e.g. \"status/\"). Returns {\"prefix\", \"entries\": [{\"key\", \"written_by\", \
        \"updated_at\", \"version\", \"value_preview\"}], \"count\"}; previews are cut to 200 \
        characters, so use read_shared_state for a full value."
        => list_shared_state,
    publish_event: "Publish a one-off event (a JSON object) on a topic; agents subscribed to \
        that topic are notified. Use it for signals such as \"research_complete\". The event \
        is not stored: if nobody is subscribed it is lost, so write data others must find \
        later with write_shared_state. Returns {\"published\": true, \"topic\", \
        \"subscribers_notified\"}."
        => publish_event,
    spawn_agent: "Start a sub-agent to work on a separate task in parallel, e.g. research one \
        company while you research another. It works on your instructions at once, with at \
        most your permissions and a budget taken out of yours, and is stopped (its files \
        deleted) after ttl seconds. Returns {\"agent_id\", \"expires_at\", \
        \"budget_usd\", ...}. Read its result with read_agent_history(agent_id) once it is \
        done (\"task_results\"), or send it a message. Refused unless you may spawn, and \
        when you already run as many sub-agents as the mesh allows."
        => spawn_agent,
    read_agent_history: "Read another agent's recent conversation (its daily log) and task \
        results, e.g. to see what a sub-agent you spawned found. Returns {\"agent_id\", \
        \"role\", \"state\", \"entries\": [{\"date\", \"text\"}], \"task_results\"}, \
        newest entries last; credentials are shown as [REDACTED]. Allowed for your own \
        sub-agents and where your permissions say so."
        => read_agent_history,
    read_artifact: "Read a deliverable another agent saved with save_artifact (listed on the \
        blackboard under artifacts/<agent>/). Returns {\"agent\", \"name\", \"mime\", \
        \"size\", \"sha256\", \"content\"} for text (cut at 1 MiB), or \"base64\" for \
        binary files. Needs read access to the key artifacts/<agent>/<name>."
        => read_artifact,
}
