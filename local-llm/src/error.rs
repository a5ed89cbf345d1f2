//! What can go wrong with the local model.

use std::path::PathBuf;
use std::time::Duration;

/// A failure to load the local model or to answer with it. Each is the failure of one
/// call: the engine stays up for the next.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LocalLlmError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    /// The file is not a model this engine runs.
    #[error("cannot load the model {}: {problem}", path.display())]
    Load { path: PathBuf, problem: String },
    /// A tensor operation failed (a bug, or a model file that lies about its shapes).
    #[error("the local model failed ({what}): {message}")]
    Inference { what: &'static str, message: String },
    /// The generation panicked; the model was dropped and is loaded again by the next call.
    #[error("the local model crashed: {message}")]
    Panicked { message: String },
    /// The prompt does not fit the model's context window, even without the older messages.
    #[error("the prompt needs more than the model's {context} tokens of context")]
    ContextFull { context: usize },
    /// The request's wall time ran out (queueing included).
    #[error("the local model did not answer within {}s", after.as_secs_f64())]
    Timeout { after: Duration },
    /// The tools' schemas could not be made into a grammar.
    #[error("cannot constrain tool calls to the offered tools: {message}")]
    Grammar { message: String },
    /// The caller went away.
    #[error("the request was cancelled")]
    Cancelled,
    /// The engine's thread is gone (the process is shutting down).
    #[error("the local model's engine has stopped")]
    Stopped,
}

impl LocalLlmError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        LocalLlmError::Io {
            path: path.to_owned(),
            source: std::sync::Arc::new(source),
        }
    }
}
