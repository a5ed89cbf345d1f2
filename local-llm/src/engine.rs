//! The engine: one thread that owns the model and answers requests one at a time.
//!
//! Two cores cannot run two generations faster than one after the other, and each would
//! need its own cache, so requests wait in a queue. The model is loaded by the first
//! request that names it (and replaced when a request names another file); a file that
//! fails to load fails that request, and the next one tries again. A generation that
//! panics fails its request and drops the model, whose cache may be half-written; the
//! thread lives on. Each request stops at its deadline (queueing included) and as soon as
//! its caller drops the future or the stream's receiver.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use tokio::sync::{mpsc as async_mpsc, oneshot};

use crate::generate::{Answer, Bounds, Piece, Request, generate};
use crate::{Grammars, Loaded, LocalLlmError, Weights};

/// A request waiting for the engine.
struct Job {
    model: PathBuf,
    request: Request,
    queued: Instant,
    cancel: Arc<AtomicBool>,
    pieces: Option<async_mpsc::UnboundedSender<Piece>>,
    reply: oneshot::Sender<Result<Answer, LocalLlmError>>,
}

/// The local model's engine. Cheap to clone; the thread stops when the last clone goes.
#[derive(Debug, Clone)]
pub struct Engine {
    jobs: mpsc::Sender<Job>,
    waiting: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
}

/// Sets the request's cancel flag when the caller's future is dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the engine thread holds between requests.
struct Slot {
    path: PathBuf,
    model: Loaded,
    grammars: Grammars,
}

impl Engine {
    /// Starts the engine's thread; nothing is loaded until the first request.
    /// `weights`: see [`Loaded::open`].
    pub fn start(weights: Weights) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        let waiting = Arc::new(AtomicUsize::new(0));
        let cancelled = Arc::new(AtomicUsize::new(0));
        let counters = (Arc::clone(&waiting), Arc::clone(&cancelled));
        std::thread::Builder::new()
            .name("local-llm".into())
            .spawn(move || run(rx, counters, weights))
            .expect("spawning the local model's thread");
        Self {
            jobs,
            waiting,
            cancelled,
        }
    }

    /// Requests queued or running.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Requests stopped because their caller went away, since the start.
    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Answers `request` with the model in the GGUF file `model`. With `pieces`, every
    /// piece of the answer is sent there as it is decoded; dropping its receiver stops the
    /// generation. Dropping the returned future stops it too.
    pub async fn answer(
        &self,
        model: &Path,
        request: Request,
        pieces: Option<async_mpsc::UnboundedSender<Piece>>,
    ) -> Result<Answer, LocalLlmError> {
        let cancel = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(Arc::clone(&cancel));
        let (reply, answer) = oneshot::channel();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            model: model.to_owned(),
            request,
            queued: Instant::now(),
            cancel,
            pieces,
            reply,
        };
        if self.jobs.send(job).is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(LocalLlmError::Stopped);
        }
        answer.await.unwrap_or(Err(LocalLlmError::Stopped))
    }
}

struct JobBounds<'a> {
    job: &'a Job,
}

impl Bounds for JobBounds<'_> {
    fn check(&self) -> Result<(), LocalLlmError> {
        if self.job.cancel.load(Ordering::Relaxed)
            || self.job.pieces.as_ref().is_some_and(|p| p.is_closed())
        {
            return Err(LocalLlmError::Cancelled);
        }
        if Instant::now() >= self.job.request.deadline {
            return Err(LocalLlmError::Timeout {
                after: self.job.queued.elapsed(),
            });
        }
        Ok(())
    }
}

fn run(
    jobs: mpsc::Receiver<Job>,
    (waiting, cancelled): (Arc<AtomicUsize>, Arc<AtomicUsize>),
    weights: Weights,
) {
    let mut slot: Option<Slot> = None;
    while let Ok(job) = jobs.recv() {
        let result = serve(&job, &mut slot, weights);
        match &result {
            Err(LocalLlmError::Cancelled) => {
                cancelled.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "local model request failed"),
            Ok(_) => {}
        }
        waiting.fetch_sub(1, Ordering::Relaxed);
        let _ = job.reply.send(result);
    }
}

fn serve(job: &Job, slot: &mut Option<Slot>, weights: Weights) -> Result<Answer, LocalLlmError> {
    let bounds = JobBounds { job };
    bounds.check()?;
    if slot.as_ref().is_none_or(|s| s.path != job.model) {
        *slot = None; // free the old model before reading the new one
        *slot = Some(guarded(|| load(&job.model, weights))?);
    }
    let s = slot.as_mut().expect("loaded above");
    let mut emit = |piece: Piece| {
        if let Some(pieces) = &job.pieces {
            let _ = pieces.send(piece);
        }
    };
    let result = guarded(|| generate(&mut s.model, &s.grammars, &job.request, &bounds, &mut emit));
    if matches!(result, Err(LocalLlmError::Panicked { .. })) {
        *slot = None;
    }
    result
}

fn load(path: &Path, weights: Weights) -> Result<Slot, LocalLlmError> {
    let model = Loaded::open(path, weights)?;
    let grammars = Grammars::new(Arc::new(model.tokenizer.clone()))?;
    Ok(Slot {
        path: path.to_owned(),
        model,
        grammars,
    })
}

/// Runs `f`, turning a panic into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, LocalLlmError>) -> Result<T, LocalLlmError> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            tracing::error!(%message, "the local model panicked");
            Err(LocalLlmError::Panicked { message })
        }
    }
}
