//! Skipping a test because a component outside the repository is absent from this machine
//! (a Docker engine, gVisor, a compiler's prerequisites). A skip is loud (a `*** SKIPPED`
//! line on stderr), counted (one line appended to the skip log, which `.ci/run` totals at
//! the end), and never allowed in CI, where every component is installed and an absent one
//! is a failure. Failures of a component that *is* present are never skips: callers panic.

use std::io::Write;
use std::path::PathBuf;

/// The file skips are appended to: `OPENLEGION_SKIP_LOG`, or `target/test-skips.log` in
/// the repository.
pub fn skip_log() -> PathBuf {
    std::env::var_os("OPENLEGION_SKIP_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("tests/ is in the repository")
                .join("target/test-skips.log")
        })
}

/// Records that `test` does not run here because `missing` is absent (`hint` says how to
/// get it). Panics in CI (`CI` set), where nothing may be missing.
pub fn skip(test: &str, missing: &str, hint: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {missing}, and CI needs it ({hint})"
    );
    eprintln!("\n*** SKIPPED {test}: {missing} here ({hint}) ***\n");
    let line = format!("{test}: {missing}\n");
    // One write of one short line to a file opened for appending: lines of tests running
    // in parallel do not interleave.
    let logged = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(skip_log())
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = logged {
        eprintln!(
            "*** (the skip could not be counted in {}: {e}) ***",
            skip_log().display()
        );
    }
}
