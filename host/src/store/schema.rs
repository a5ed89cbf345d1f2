//! The database schema and its migrations (`PRAGMA user_version`).

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Schema version this build writes: one migration per version, in order.
const VERSION: i64 = MIGRATIONS.len() as i64;

/// Version N is reached by running `MIGRATIONS[N - 1]` on version N - 1.
const MIGRATIONS: [&str; 7] = [V1, V2, V3, V4, V5, V6, V7];

const V1: &str = "
CREATE TABLE blackboard (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,            -- JSON object
    written_by  TEXT NOT NULL,
    workflow_id TEXT,
    created_at  INTEGER NOT NULL,         -- unix microseconds
    updated_at  INTEGER NOT NULL,
    ttl         INTEGER,                  -- seconds after updated_at
    expires_at  INTEGER,                  -- updated_at + ttl, for the GC index
    version     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX blackboard_expiry ON blackboard(expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL DEFAULT '',
    capabilities  TEXT NOT NULL DEFAULT '[]',   -- JSON array
    url           TEXT,
    registered    INTEGER NOT NULL DEFAULT 0,   -- announced itself with /mesh/register
    registered_at INTEGER NOT NULL               -- orders capability routing
);

CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,                 -- SHA-256 of the bearer token
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);

CREATE TABLE subscriptions (
    topic    TEXT NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    PRIMARY KEY (topic, agent_id)
) WITHOUT ROWID;

CREATE TABLE watches (
    agent_id TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    pattern  TEXT NOT NULL,
    PRIMARY KEY (agent_id, pattern)
) WITHOUT ROWID;

CREATE TABLE inbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    message     TEXT NOT NULL,                   -- AgentMessage JSON
    enqueued_at INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    dead        INTEGER NOT NULL DEFAULT 0       -- the agent refused it; kept for pulling
);
CREATE INDEX inbox_by_agent ON inbox(agent_id, seq);

-- Inbox sizes, kept by triggers so checking the bound costs one lookup, not a count.
CREATE TABLE inbox_size (
    agent_id TEXT PRIMARY KEY,
    n        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER inbox_added AFTER INSERT ON inbox BEGIN
    INSERT INTO inbox_size (agent_id, n) VALUES (new.agent_id, 1)
        ON CONFLICT (agent_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER inbox_removed AFTER DELETE ON inbox BEGIN
    UPDATE inbox_size SET n = n - 1 WHERE agent_id = old.agent_id;
END;
";

/// Version 2: the LLM usage ledger.
const V2: &str = "
CREATE TABLE usage (
    id                INTEGER PRIMARY KEY,
    agent_id          TEXT NOT NULL,           -- no foreign key: costs outlive agents
    model             TEXT NOT NULL,           -- provider/model that answered
    kind              TEXT NOT NULL,           -- chat | embed
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          REAL NOT NULL,
    created_at        INTEGER NOT NULL         -- unix microseconds
);
CREATE INDEX usage_by_agent_time ON usage(agent_id, created_at);
CREATE INDEX usage_by_time ON usage(created_at);
";

/// Version 3: lanes, each agent's ordered queue of turns (chat messages and tasks) with
/// the outcome of the finished ones, looked up by id after a restart.
const V3: &str = "
CREATE TABLE lane_items (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,   -- the order of the lane
    id          TEXT NOT NULL UNIQUE,                -- lane_… ticket id
    agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    work        TEXT NOT NULL,                       -- Work JSON (chat message or task)
    origin      TEXT NOT NULL,                       -- Origin JSON
    state       TEXT NOT NULL,                       -- queued | running | finished
    outcome     TEXT,                                -- Outcome JSON once finished
    attempts    INTEGER NOT NULL DEFAULT 0,
    enqueued_at INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER
);
CREATE INDEX lane_items_by_agent ON lane_items(agent_id, state, seq);
";

/// Version 4: the webhook deliveries seen in the last 24 hours (replay protection), by
/// hook and delivery id.
const V4: &str = "
CREATE TABLE webhook_deliveries (
    hook_id     TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    seen_at     INTEGER NOT NULL,                    -- unix microseconds
    PRIMARY KEY (hook_id, delivery_id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries(seen_at);
";

/// Version 5: what each file watcher has seen (its first scan done, and per file the size
/// and modification time it last fired for), so a restart fires nothing again.
const V5: &str = "
CREATE TABLE watcher_scans (
    watcher    TEXT PRIMARY KEY,                     -- agent:dir:pattern
    scanned_at INTEGER NOT NULL                      -- unix microseconds
) WITHOUT ROWID;
CREATE TABLE watcher_files (
    watcher     TEXT NOT NULL,
    name        TEXT NOT NULL,                       -- file name in the watched directory
    size        INTEGER NOT NULL,
    modified_ns INTEGER NOT NULL,                    -- unix nanoseconds
    seen_at     INTEGER NOT NULL,
    PRIMARY KEY (watcher, name)
) WITHOUT ROWID;
";

/// Version 6: workflow runs, the state of each of their steps, and each run's log, so a
/// run survives a restart of the mesh and can be looked up after it ends.
const V6: &str = "
CREATE TABLE workflow_runs (
    id          TEXT PRIMARY KEY,                    -- wfr_…
    workflow    TEXT NOT NULL,
    definition  TEXT NOT NULL,                       -- the workflow file's text at the start
    file        TEXT NOT NULL,                       -- where it was read from
    trigger     TEXT NOT NULL,                       -- JSON: kind, source, payload, trusted
    dedup       TEXT UNIQUE,                         -- the trigger's event or delivery id
    status      TEXT NOT NULL,                       -- running | complete | failed | cancelled
    error       TEXT,
    started_at  INTEGER NOT NULL,                    -- unix microseconds
    deadline    INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX workflow_runs_by_workflow ON workflow_runs(workflow, started_at);
CREATE INDEX workflow_runs_running ON workflow_runs(status) WHERE status = 'running';

CREATE TABLE workflow_steps (
    run_id        TEXT NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    step_id       TEXT NOT NULL,
    position      INTEGER NOT NULL,  -- the step's place in the workflow, dependencies first
    status        TEXT NOT NULL,   -- pending | running | waiting | complete | skipped | failed | cancelled
    attempts      INTEGER NOT NULL DEFAULT 0,
    agent         TEXT,
    lane_item     TEXT,            -- the lane item of the attempt running now
    next_at       INTEGER,         -- when a waiting step's next attempt is due
    dispatched_at INTEGER,
    finished_at   INTEGER,
    result        TEXT,            -- JSON object
    error         TEXT,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

CREATE TABLE workflow_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  TEXT NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    step    TEXT,
    message TEXT NOT NULL
);
CREATE INDEX workflow_log_by_run ON workflow_log(run_id, seq);
";

/// Version 7: chat channels (Telegram, Discord): paired users and their current agent,
/// pending pairing codes, each platform's read position, and every message received with
/// the answer owed to it, so a restart neither drops nor repeats one.
const V7: &str = "
CREATE TABLE channel_users (
    platform  TEXT NOT NULL,                       -- telegram | discord
    user_id   TEXT NOT NULL,
    name      TEXT NOT NULL,
    agent     TEXT,                                -- current agent; NULL: the default
    paired_at INTEGER NOT NULL,
    PRIMARY KEY (platform, user_id)
) WITHOUT ROWID;

CREATE TABLE channel_codes (
    code       TEXT PRIMARY KEY,
    platform   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    name       TEXT NOT NULL,
    chat_id    TEXT NOT NULL,                      -- where to say that pairing succeeded
    created_at INTEGER NOT NULL,
    UNIQUE (platform, user_id)
);

CREATE TABLE channel_cursors (
    platform TEXT PRIMARY KEY,
    cursor   TEXT NOT NULL                         -- Telegram: next update offset; Discord: session JSON
) WITHOUT ROWID;

CREATE TABLE channel_messages (
    platform    TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    inbound     TEXT NOT NULL,                     -- the message as received (JSON)
    state       TEXT NOT NULL,                     -- received | queued | done
    lane_item   TEXT,
    replies     TEXT NOT NULL DEFAULT '[]',        -- ids of the messages the answer went out as
    received_at INTEGER NOT NULL,
    PRIMARY KEY (platform, message_id)
) WITHOUT ROWID;
CREATE INDEX channel_messages_open ON channel_messages(platform, state) WHERE state <> 'done';
CREATE INDEX channel_messages_by_time ON channel_messages(received_at);
";

pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch("PRAGMA foreign_keys=ON;")?;
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
    if found > VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found,
            known: VERSION,
        });
    }
    for (version, sql) in (found + 1..).zip(&MIGRATIONS[found as usize..]) {
        conn.execute_batch(&format!(
            "BEGIN; {sql} PRAGMA user_version = {version}; COMMIT;"
        ))?;
    }
    Ok(())
}
