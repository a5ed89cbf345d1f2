//! Configuration errors. Every one names the file, and where the parser knows it, the line,
//! column and field, so a user can go straight to the mistake.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {field}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: u64,
        column: u64,
        /// Dotted path of the field (`agents.researcher.budget.daily_usd`), or `(document)`.
        field: String,
        message: String,
    },
    #[error("{}: {field}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
