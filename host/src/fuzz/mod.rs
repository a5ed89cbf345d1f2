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

/// Tokens of YAML that mutations insert whole.
const YAML: &[&[u8]] = &[
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

/// Tokens of JSON that mutations insert whole.
const JSON: &[&[u8]] = &[
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
