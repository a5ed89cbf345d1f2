//! Runs on disk: each run with the definition it started with, the state of every step
//! and the run's log (plain functions over a `&Connection`, like the rest of the store).
//!
//! The executor writes a step's state before it acts on it (a lane item's id before the
//! item is queued), so after a crash the state says what may be in flight, and the next
//! start resumes from there. The JSON columns are opaque here.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::store::StoreError;

/// Finished runs kept per workflow (older ones are deleted as new ones finish).
pub const KEEP_FINISHED: u32 = 500;
/// Log lines kept per run; the earliest are kept, the later dropped with a note.
pub const MAX_LOG_LINES: u32 = 1000;

/// A row of `workflow_runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: String,
    pub workflow: String,
    pub definition: String,
    pub file: String,
    pub trigger: String,
    pub status: String,
    pub error: Option<String>,
    pub started_at: i64,
    pub deadline: i64,
    pub finished_at: Option<i64>,
}

/// A row of `workflow_steps`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepRow {
    pub step_id: String,
    pub status: String,
    pub attempts: u32,
    pub agent: Option<String>,
    pub lane_item: Option<String>,
    pub next_at: Option<i64>,
    pub dispatched_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub result: Option<String>,
    pub error: Option<String>,
}

/// A line of a run's log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at: i64,
    pub step: Option<String>,
    pub message: String,
}

const RUN_COLUMNS: &str =
    "id, workflow, definition, file, trigger, status, error, started_at, deadline, finished_at";

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        workflow: r.get(1)?,
        definition: r.get(2)?,
        file: r.get(3)?,
        trigger: r.get(4)?,
        status: r.get(5)?,
        error: r.get(6)?,
        started_at: r.get(7)?,
        deadline: r.get(8)?,
        finished_at: r.get(9)?,
    })
}

/// Inserts a run and a `pending` row for each of `steps` (in the workflow's order). With a `dedup` key already used
/// by another run, inserts nothing and returns that run's id.
pub fn insert(
    conn: &Connection,
    run: &RunRow,
    dedup: Option<&str>,
    steps: &[&str],
) -> Result<Option<String>, StoreError> {
    if let Some(key) = dedup
        && let Some(existing) = by_dedup(conn, key)?
    {
        return Ok(Some(existing));
    }
    conn.prepare_cached(
        "INSERT INTO workflow_runs (id, workflow, definition, file, trigger, dedup, status, started_at, deadline)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8)",
    )?
    .execute(params![run.id, run.workflow, run.definition, run.file, run.trigger, dedup, run.started_at, run.deadline])?;
    let mut add = conn.prepare_cached(
        "INSERT INTO workflow_steps (run_id, step_id, position, status) VALUES (?1, ?2, ?3, 'pending')",
    )?;
    for (i, step) in steps.iter().enumerate() {
        add.execute(params![run.id, step, i as i64])?;
    }
    Ok(None)
}

/// The run started under `dedup`, if it is still kept.
pub fn by_dedup(conn: &Connection, dedup: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM workflow_runs WHERE dedup = ?1")?
        .query_row([dedup], |r| r.get(0))
        .optional()?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<RunRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = ?1"
        ))?
        .query_row([id], run_row)
        .optional()?)
}

/// Runs still `running` (to resume at start), oldest first.
pub fn running(conn: &Connection) -> Result<Vec<RunRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE status = 'running' ORDER BY started_at"
    ))?;
    Ok(stmt.query_map([], run_row)?.collect::<Result<_, _>>()?)
}

/// The newest `limit` runs of `workflow`, newest first.
pub fn of_workflow(
    conn: &Connection,
    workflow: &str,
    limit: u32,
) -> Result<Vec<RunRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE workflow = ?1 ORDER BY started_at DESC LIMIT ?2"
    ))?;
    Ok(stmt
        .query_map(params![workflow, limit], run_row)?
        .collect::<Result<_, _>>()?)
}

/// Ends a running run; `false` if it had ended already.
pub fn finish(
    conn: &Connection,
    id: &str,
    status: &str,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE workflow_runs SET status = ?2, error = ?3, finished_at = ?4
             WHERE id = ?1 AND status = 'running'",
        )?
        .execute(params![id, status, error, now])?;
    Ok(n == 1)
}

/// Deletes finished runs of `workflow` beyond the newest [`KEEP_FINISHED`].
pub fn prune(conn: &Connection, workflow: &str) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM workflow_runs WHERE id IN (
                SELECT id FROM workflow_runs WHERE workflow = ?1 AND status != 'running'
                ORDER BY started_at DESC LIMIT -1 OFFSET ?2)",
        )?
        .execute(params![workflow, KEEP_FINISHED])?)
}

const STEP_COLUMNS: &str = "step_id, status, attempts, agent, lane_item, next_at, dispatched_at, finished_at, result, error";

fn step_row(r: &Row<'_>) -> rusqlite::Result<StepRow> {
    Ok(StepRow {
        step_id: r.get(0)?,
        status: r.get(1)?,
        attempts: r.get(2)?,
        agent: r.get(3)?,
        lane_item: r.get(4)?,
        next_at: r.get(5)?,
        dispatched_at: r.get(6)?,
        finished_at: r.get(7)?,
        result: r.get(8)?,
        error: r.get(9)?,
    })
}

pub fn steps(conn: &Connection, run: &str) -> Result<Vec<StepRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {STEP_COLUMNS} FROM workflow_steps WHERE run_id = ?1 ORDER BY position"
    ))?;
    Ok(stmt.query_map([run], step_row)?.collect::<Result<_, _>>()?)
}

/// Writes a step's whole state.
pub fn put_step(conn: &Connection, run: &str, s: &StepRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE workflow_steps SET status = ?3, attempts = ?4, agent = ?5, lane_item = ?6,
             next_at = ?7, dispatched_at = ?8, finished_at = ?9, result = ?10, error = ?11
         WHERE run_id = ?1 AND step_id = ?2",
    )?
    .execute(params![
        run,
        s.step_id,
        s.status,
        s.attempts,
        s.agent,
        s.lane_item,
        s.next_at,
        s.dispatched_at,
        s.finished_at,
        s.result,
        s.error
    ])?;
    Ok(())
}

/// Marks every step of `run` that has not ended `cancelled`; returns the lane items of
/// those that were running.
pub fn cancel_open_steps(
    conn: &Connection,
    run: &str,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let items: Vec<String> = conn
        .prepare_cached(
            "SELECT lane_item FROM workflow_steps
             WHERE run_id = ?1 AND status = 'running' AND lane_item IS NOT NULL",
        )?
        .query_map([run], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    conn.prepare_cached(
        "UPDATE workflow_steps SET status = 'cancelled', finished_at = ?2, next_at = NULL
         WHERE run_id = ?1 AND status IN ('pending', 'running', 'waiting')",
    )?
    .execute(params![run, now])?;
    Ok(items)
}

/// Lane items of steps left `running` in runs that have ended (a crash between ending the
/// run and cancelling them): the next start cancels them.
pub fn orphaned_items(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.lane_item FROM workflow_steps s JOIN workflow_runs r ON r.id = s.run_id
         WHERE r.status != 'running' AND s.status = 'running' AND s.lane_item IS NOT NULL",
    )?;
    let items = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    conn.prepare_cached(
        "UPDATE workflow_steps SET status = 'cancelled' WHERE status = 'running'
         AND run_id IN (SELECT id FROM workflow_runs WHERE status != 'running')",
    )?
    .execute([])?;
    Ok(items)
}

/// Appends a line to `run`'s log (beyond [`MAX_LOG_LINES`], a last note and nothing more).
pub fn log(
    conn: &Connection,
    run: &str,
    step: Option<&str>,
    message: &str,
    now: i64,
) -> Result<(), StoreError> {
    let n: u32 = conn
        .prepare_cached("SELECT COUNT(*) FROM workflow_log WHERE run_id = ?1")?
        .query_row([run], |r| r.get(0))?;
    let message = match n {
        n if n < MAX_LOG_LINES - 1 => message,
        n if n == MAX_LOG_LINES - 1 => "(the log is full; later lines are not kept)",
        _ => return Ok(()),
    };
    conn.prepare_cached(
        "INSERT INTO workflow_log (run_id, at, step, message) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![run, now, step, message])?;
    Ok(())
}

pub fn log_lines(conn: &Connection, run: &str) -> Result<Vec<LogLine>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, step, message FROM workflow_log WHERE run_id = ?1 ORDER BY seq",
    )?;
    Ok(stmt
        .query_map([run], |r| {
            Ok(LogLine {
                at: r.get(0)?,
                step: r.get(1)?,
                message: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}
