//! # Fuzzing support
//!
//! The fuzz targets are bolero `check!()` tests next to the parsers they exercise (so they
//! reach private functions and run in `cargo test` on the pinned stable toolchain). Bolero
//! in test mode replays the target's corpus and then feeds random byte strings; random
//! bytes rarely get past the first token of a YAML or JSON reader, so each target also uses
//! those bytes as a *tape* that mutates one of its seeds (the corpus files: real configs,
//! templates, fixtures) with the moves of a mutation fuzzer: splice, delete, duplicate,
//! insert a token of the format's dictionary. This crate owns that tape, the time budget
//! and the per-input hang check; it knows nothing of any format.
//!
//! The budget is `OPENLEGION_FUZZ_SECS` per target (default [`DEFAULT_SECS`]), so
//! `cargo test` stays quick and CI can run longer.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Seconds per target when `OPENLEGION_FUZZ_SECS` is unset: enough to replay the corpus
/// and try a few thousand inputs without slowing an ordinary `cargo test`.
pub const DEFAULT_SECS: f64 = 1.0;

/// One input taking longer than this is a hang. Far above any parser's real cost (under a
/// millisecond), yet below what a quadratic blow-up on a 16 KiB input takes in a debug
/// build on a loaded machine.
pub const HANG: Duration = Duration::from_secs(10);

/// The longest input a mutation may grow to: large enough for nesting and repetition
/// bugs, small enough that each input stays cheap.
const MAX_MUTATED: usize = 16 * 1024;

/// Time each target runs for: `OPENLEGION_FUZZ_SECS` (fractions allowed), else
/// [`DEFAULT_SECS`].
pub fn budget() -> Duration {
    let secs = std::env::var("OPENLEGION_FUZZ_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(DEFAULT_SECS);
    Duration::from_secs_f64(secs)
}

/// A target's seeds: every file of `dir` (its bolero `corpus/`), sorted by name so a tape
/// picks the same seed on every machine.
pub fn seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the corpus {} is missing: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("a corpus file reads"))
        .collect();
    assert!(!seeds.is_empty(), "the corpus {} is empty", dir.display());
    seeds
}

/// Reads a tape of bytes.
struct Tape<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Tape<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// A number below `n` (0 when `n` is 0), from two bytes.
    fn below(&mut self, n: usize) -> Option<usize> {
        let hi = self.byte()? as usize;
        let lo = self.byte()? as usize;
        Some(if n == 0 { 0 } else { (hi << 8 | lo) % n })
    }
}

/// The text `tape` makes of `seeds`: the first byte picks a seed, then each move is read
/// off the tape until it runs out. `dict` holds the format's tokens (keys, punctuation,
/// keywords), which a mutation inserts whole.
pub fn mutate(seeds: &[Vec<u8>], dict: &[&[u8]], tape: &[u8]) -> Vec<u8> {
    let mut tape = Tape { bytes: tape, at: 0 };
    let Some(pick) = tape.byte() else {
        return seeds.first().cloned().unwrap_or_default();
    };
    let mut out = seeds[pick as usize % seeds.len()].clone();
    while let Some(op) = tape.byte() {
        let Some(at) = tape.below(out.len() + 1) else {
            break;
        };
        let len = tape.byte().map_or(1, |b| (b as usize % 32) + 1);
        let end = (at + len).min(out.len());
        match op % 8 {
            // Insert a token of the format.
            0 | 1 if !dict.is_empty() => {
                let token = dict[(len - 1) % dict.len()];
                out.splice(at..at, token.iter().copied());
            }
            // Delete a run.
            2 => {
                out.drain(at..end);
            }
            // Duplicate a run (repetition and nesting).
            3 => {
                let run = out[at..end].to_vec();
                out.splice(at..at, run);
            }
            // Overwrite a byte with one off the tape.
            4 => {
                if let (Some(b), Some(slot)) = (tape.byte(), out.get_mut(at)) {
                    *slot = b;
                }
            }
            // Splice a run of another seed in.
            5 => {
                let Some(other) = tape.byte().map(|b| &seeds[b as usize % seeds.len()]) else {
                    break;
                };
                let from = tape.below(other.len()).unwrap_or(0);
                let run = &other[from..(from + len).min(other.len())];
                out.splice(at..at, run.iter().copied());
            }
            // Insert raw bytes off the tape.
            6 => {
                let raw: Vec<u8> = (0..len).map_while(|_| tape.byte()).collect();
                out.splice(at..at, raw);
            }
            // Cut the text short (a truncated file or body).
            _ => out.truncate(at),
        }
        out.truncate(MAX_MUTATED);
    }
    out
}

/// Tokens of YAML that mutations insert whole (a crate adds its format's keys).
pub const YAML: &[&[u8]] = &[
    b": ",
    b"- ",
    b"\n",
    b"\n  ",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"{",
    b"}",
    b"[",
    b"]",
    b"'",
    b"\"",
    b"!!str ",
    b"!!binary ",
    b"~",
    b"null",
    b"yes",
    b"1e999",
    b"-1",
    b"0x1F",
    b"18446744073709551616",
    b"|\n  ",
    b">-\n  ",
    b"# ",
    b"\t",
    b"---\n",
    b"...\n",
    b"? ",
    b"\\u0000",
    b"\xc3\x28",
    b".nan",
    b"-.inf",
];

/// Tokens of JSON that mutations insert whole (a crate adds its format's keys).
pub const JSON: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\"",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1.5",
    b"\"\":",
    b"{\"a\":",
    b"[[[[",
    b"\xff",
];

/// Runs a fuzz target: bolero replays its corpus and then feeds random tapes for
/// [`budget`]; each input is checked as it is and as a mutation of a seed of `corpus` (a
/// directory). A macro rather than a function so that `bolero::check!` expands in the
/// calling file, beside which bolero looks for `__fuzz__/NAME/` (the calling crate needs
/// bolero as a dev-dependency).
#[macro_export]
macro_rules! run {
    ($name:expr, $corpus:expr, $dict:expr, $check:expr) => {{
        let check = $check;
        let dict: &[&[u8]] = $dict;
        let seeds = $crate::seeds(&$corpus);
        let tally = $crate::Tally::new($name);
        bolero::check!(name = $name)
            .with_test_time($crate::budget())
            .for_each(|input: &[u8]| {
                tally.input(|| {
                    check(input);
                    check(&$crate::mutate(&seeds, dict, input));
                })
            });
    }};
}

/// Counts a target's inputs and checks each for hangs; prints the count when dropped, so
/// a run with `--nocapture` shows how many inputs each target tried.
#[derive(Debug)]
pub struct Tally {
    name: &'static str,
    inputs: AtomicU64,
    started: Instant,
}

impl Tally {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            inputs: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Runs `check` on one input, failing if it takes longer than [`HANG`].
    pub fn input(&self, check: impl FnOnce()) {
        let start = Instant::now();
        check();
        let took = start.elapsed();
        assert!(took < HANG, "{}: one input took {took:?}", self.name);
        self.inputs.fetch_add(1, Ordering::Relaxed);
    }

    /// Inputs checked so far.
    pub fn count(&self) -> u64 {
        self.inputs.load(Ordering::Relaxed)
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            eprintln!(
                "fuzz {}: {} inputs in {:.1} s",
                self.name,
                self.count(),
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tape_mutates_a_seed_and_an_empty_tape_gives_the_first() {
        let seeds = vec![b"key: value\n".to_vec(), b"{\"a\": 1}".to_vec()];
        assert_eq!(mutate(&seeds, &[], &[]), seeds[0]);
        assert_eq!(mutate(&seeds, &[], &[1]), seeds[1]);
        // Insert the dictionary's token at 0.
        let out = mutate(&seeds, &[b"[[", b"]]"], &[0, 0, 0, 0, 0]);
        assert_eq!(out, b"[[key: value\n");
        // Truncate at 3.
        let out = mutate(&seeds, &[], &[0, 7, 0, 3, 0]);
        assert_eq!(out, b"key");
    }

    #[test]
    fn mutation_never_grows_past_the_limit() {
        let seeds = vec![vec![b'x'; 1000]];
        // Duplicate 32 bytes again and again.
        let tape: Vec<u8> = std::iter::once(0)
            .chain((0..5000).flat_map(|_| [3u8, 0, 0, 31]))
            .collect();
        assert!(mutate(&seeds, &[], &tape).len() <= MAX_MUTATED);
    }
}
