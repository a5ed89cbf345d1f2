//! The group-commit writer thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::StoreError;

/// Most writes folded into one transaction; bounds the latency a write can add to others.
const MAX_GROUP: usize = 512;

/// What a job hands back after running: a callback told whether its group committed.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A queued write: run it inside the group transaction, or tell its caller it never ran.
trait Job: Send {
    fn run(self: Box<Self>, conn: &Connection) -> Completion;
    fn abort(self: Box<Self>, error: StoreError);
}

struct Pending<F, R, E> {
    f: F,
    reply: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> Job for Pending<F, R, E>
where
    F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Completion {
        let result = in_savepoint(conn, self.f);
        let reply = self.reply;
        Box::new(move |committed: Result<(), StoreError>| {
            let _ = reply.send(committed.map_err(E::from).and(result));
        })
    }

    fn abort(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(E::from(error)));
    }
}

/// What the writer thread receives.
enum Msg {
    Job(Box<dyn Job>),
    /// Commit what is queued, then fold the WAL into the database file (which cannot run
    /// inside a transaction).
    Checkpoint(oneshot::Sender<Result<(), StoreError>>),
}

/// A write nobody waits for: its outcome is only logged.
struct Detached<F> {
    what: &'static str,
    f: F,
}

impl<F> Job for Detached<F>
where
    F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Completion {
        let what = self.what;
        let result = in_savepoint(conn, self.f);
        Box::new(move |committed: Result<(), StoreError>| {
            if let Err(e) = committed.and(result) {
                tracing::error!(what, error = %e, "a background write failed");
            }
        })
    }

    fn abort(self: Box<Self>, error: StoreError) {
        tracing::error!(what = self.what, error = %error, "a background write was not run");
    }
}

#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Msg>,
    /// Dropped with the last handle; lets helpers notice the store has closed.
    alive: Arc<()>,
}

impl Writer {
    pub(super) fn spawn(conn: Connection) -> Self {
        let (jobs, rx) = mpsc::channel::<Msg>();
        std::thread::Builder::new()
            .name("mesh-db-writer".into())
            .spawn(move || run(&conn, &rx))
            .expect("spawn the database writer thread");
        Self {
            jobs,
            alive: Arc::new(()),
        }
    }

    /// A handle that stops upgrading once every `Writer` is gone.
    pub(super) fn watch(&self) -> std::sync::Weak<()> {
        Arc::downgrade(&self.alive)
    }

    pub(super) async fn run<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending { f, reply });
        self.jobs
            .send(Msg::Job(job))
            .map_err(|_| E::from(StoreError::Closed))?;
        answer.await.map_err(|_| E::from(StoreError::Panicked))?
    }

    /// Queues `f` without waiting for it. Writes queued later, and [`Writer::run`] jobs
    /// (reads included) queued later, see its effect.
    pub(super) fn detach<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        if self
            .jobs
            .send(Msg::Job(Box::new(Detached { what, f })))
            .is_err()
        {
            tracing::error!(
                what,
                "the database writer has stopped; a background write was lost"
            );
        }
    }

    pub(super) async fn checkpoint(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Msg::Checkpoint(reply))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Panicked)?
    }
}

/// Runs `f` in a savepoint, rolled back if `f` fails or panics.
fn in_savepoint<R, E, F>(conn: &Connection, f: F) -> Result<R, E>
where
    F: FnOnce(&Connection) -> Result<R, E>,
    E: From<StoreError>,
{
    conn.execute_batch("SAVEPOINT job")
        .map_err(|e| E::from(e.into()))?;
    let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(E::from(StoreError::Panicked)));
    let end = if result.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end).map_err(|e| E::from(e.into()))?;
    result
}

fn run(conn: &Connection, inbox: &mpsc::Receiver<Msg>) {
    while let Ok(first) = inbox.recv() {
        let mut group = Vec::new();
        let mut checkpoint = None;
        match first {
            Msg::Job(job) => group.push(job),
            Msg::Checkpoint(reply) => checkpoint = Some(reply),
        }
        while checkpoint.is_none() && group.len() < MAX_GROUP {
            match inbox.try_recv() {
                Ok(Msg::Job(job)) => group.push(job),
                Ok(Msg::Checkpoint(reply)) => checkpoint = Some(reply),
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            commit_group(conn, group);
        }
        if let Some(reply) = checkpoint {
            let done = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            let _ = reply.send(done.map_err(StoreError::from));
        }
    }
    // Every handle is gone: fold the WAL back into the database before the thread ends.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

/// Runs `group` in one transaction and tells each job whether it committed.
fn commit_group(conn: &Connection, group: Vec<Box<dyn Job>>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = Arc::new(e);
        for job in group {
            job.abort(StoreError::Commit(Arc::clone(&e)));
        }
        return;
    }
    let completions: Vec<Completion> = group.into_iter().map(|job| job.run(conn)).collect();
    let committed = conn.execute_batch("COMMIT").map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        Arc::new(e)
    });
    for done in completions {
        done(committed.clone().map_err(StoreError::Commit));
    }
}
