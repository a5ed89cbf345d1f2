//! Fuzz targets for every parser of outside input the mesh has: its config files, the
//! permission globs, the workflow condition language and cron schedules, channel updates
//! and webhook bodies. Each is a bolero target run as a test for `OPENLEGION_FUZZ_SECS`
//! (see `openlegion-fuzz`); its corpus (seeds and kept crash inputs) is
//! `src/fuzz/__fuzz__/NAME/corpus/`. The property is always: no panic, no hang; where it
//! means something, also a round trip or an invariant, checked in the target.

mod channels;
mod config;
mod language;

use std::panic::RefUnwindSafe;
use std::path::Path;

use openlegion_fuzz::{JSON, YAML};

/// Runs the target `name`: its corpus, then random tapes, each checked both as it is and
/// as a mutation of a seed (see `openlegion_fuzz::mutate`).
fn target(name: &'static str, dict: &[&[u8]], check: impl Fn(&[u8]) + RefUnwindSafe) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/fuzz/__fuzz__")
        .join(name)
        .join("corpus");
    openlegion_fuzz::run!(name, corpus, dict, check);
}

/// The input as text, as a file or body read with `read_to_string` would be: invalid
/// UTF-8 never reaches these parsers.
fn text(input: &[u8]) -> Option<&str> {
    std::str::from_utf8(input).ok()
}

/// `input` cut at its first NUL into two texts (a pattern and its subject, an expression
/// and its zone …), each lossily decoded.
fn two(input: &[u8]) -> (String, String) {
    let (a, b) = match input.iter().position(|&b| b == 0) {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &[][..]),
    };
    (
        String::from_utf8_lossy(a).into_owned(),
        String::from_utf8_lossy(b).into_owned(),
    )
}
