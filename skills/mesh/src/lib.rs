//! The built-in `mesh` skill: blackboard, events, agents, the agent's own schedules (cron
//! jobs and heartbeat), sub-agents, and other agents' history and artifacts (capability
//! `mesh`).
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

use args::{
    ListSharedState, PublishEvent, ReadSharedState, RemoveCron, SetCron, SetHeartbeat,
    WriteSharedState,
};
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

fn set_cron(args: SetCron) -> Result<Value, String> {
    let job = mesh::set_cron(&args)?;
    Ok(json!({
        "scheduled": true, "id": job["id"], "name": job["name"], "schedule": job["schedule"],
        "timezone": job["timezone"], "next_run": job["next_run"],
    }))
}

fn list_cron(_: NoArgs) -> Result<Value, String> {
    let listed = mesh::list_cron()?;
    let jobs: Vec<Value> = listed["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|j| {
            json!({
                "id": j["id"], "name": j["name"], "schedule": j["schedule"],
                "timezone": j["timezone"], "heartbeat": j["heartbeat"],
                "message": j["message"], "enabled": j["enabled"], "next_run": j["next_run"],
                "last_run": j["last_run"], "run_count": j["run_count"],
                "last_error": j["last_error"],
            })
        })
        .collect();
    Ok(json!({ "count": jobs.len(), "jobs": jobs }))
}

fn remove_cron(args: RemoveCron) -> Result<Value, String> {
    mesh::remove_cron(&args.id)
}

fn set_heartbeat(args: SetHeartbeat) -> Result<Value, String> {
    let job = mesh::set_heartbeat(&args)?;
    Ok(json!({
        "heartbeat": true, "enabled": job["enabled"], "schedule": job["schedule"],
        "probes": job["probes"], "next_run": job["next_run"],
    }))
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
    set_cron: "Schedule yourself: you will get a turn with `message` on a schedule, e.g. \
        {\"schedule\": \"0 9 * * 1-5\", \"message\": \"Write the daily report\", \
        \"timezone\": \"Europe/Berlin\"} or {\"schedule\": \"every 30m\", ...}. Returns \
        {\"scheduled\": true, \"id\", \"next_run\"}. Needs the can_manage_cron permission."
        => set_cron,
    list_cron: "List your cron jobs and heartbeat with their schedule, next and last run and \
        any error. Returns {\"jobs\": [...], \"count\"}."
        => list_cron,
    remove_cron: "Remove one of your cron jobs by its id (or name) from list_cron."
        => remove_cron,
    set_heartbeat: "Set your heartbeat: cheap checks (probes) that run on a schedule without \
        you, giving you a turn only when one finds something, e.g. new signals/<you> or \
        tasks/<you> keys. Probes: disk, signals, tasks, inbox, lane, workspace, skills \
        (your skills' probe tools). Default schedule \"every 15m\"; enabled=false turns it off."
        => set_heartbeat,
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
