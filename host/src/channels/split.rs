//! Splitting an answer into messages a platform accepts (4,096 characters on Telegram,
//! 2,000 on Discord).
//!
//! A part ends at the last paragraph break that leaves it at least half full, else at the
//! last line break, else the last space, else it is cut at the limit. A code block is never
//! left open: a part that ends inside one closes the fence, and the next part reopens it
//! with the same language, so each message renders on its own. Lengths are counted in
//! UTF-16 code units, which is what Telegram counts and never less than what Discord
//! counts.

/// The fence that closes a code block at the end of a part.
const CLOSE: &str = "\n```";

/// Longest language tag carried over to a reopened fence.
const MAX_LANG: usize = 20;

/// Length as the platforms count it.
pub fn units(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The longest prefix of `s` of at most `limit` units, as a byte index.
fn prefix_within(s: &str, limit: usize) -> usize {
    let mut n = 0;
    for (i, c) in s.char_indices() {
        n += c.len_utf16();
        if n > limit {
            return i;
        }
    }
    s.len()
}

/// Whether `text` ends inside a code block, and the language of that block.
fn open_fence(text: &str) -> Option<String> {
    let mut open: Option<String> = None;
    for line in text.lines() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            open = match open {
                Some(_) => None,
                None => Some(
                    info.trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || "+-#._".contains(*c))
                        .take(MAX_LANG)
                        .collect(),
                ),
            };
        }
    }
    open
}

/// Where to end a part within `window` (a byte index into it, past `floor`), and how many
/// separator bytes after it to drop.
fn cut_point(window: &str, floor: usize) -> (usize, usize) {
    let half = window.len() / 2;
    let candidates = [
        window.rfind("\n\n").map(|i| (i, 2)),
        window.rfind('\n').map(|i| (i, 1)),
        window.rfind(' ').map(|i| (i, 1)),
    ];
    // The best kind of break that leaves the part at least half full…
    if let Some(found) = candidates
        .iter()
        .flatten()
        .find(|(i, _)| *i >= half.max(floor + 1))
    {
        return *found;
    }
    // …else the best kind of break at all, else a cut at the limit.
    candidates
        .iter()
        .skip(1)
        .flatten()
        .find(|(i, _)| *i > floor)
        .copied()
        .unwrap_or((window.len(), 0))
}

/// `text` in parts of at most `limit` units each (`limit` must leave room for a fence:
/// at least 32). Blank parts are left out; an empty text gives no parts.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    assert!(
        limit >= 32,
        "a limit of {limit} leaves no room for a code fence"
    );
    let mut parts = Vec::new();
    let mut rest = text.trim_end().to_owned();
    loop {
        if units(&rest) <= limit {
            if !rest.trim().is_empty() {
                parts.push(rest);
            }
            return parts;
        }
        // The reopened fence of the previous part must stay in this one.
        let floor = if rest.starts_with("```") {
            rest.find('\n').unwrap_or(0)
        } else {
            0
        };
        let mut window = &rest[..prefix_within(&rest, limit)];
        let (mut cut, mut skip) = cut_point(window, floor);
        let mut fence = open_fence(&rest[..cut]);
        if fence.is_some() && units(&rest[..cut]) + units(CLOSE) > limit {
            window = &rest[..prefix_within(&rest, limit - units(CLOSE))];
            (cut, skip) = cut_point(window, floor);
            fence = open_fence(&rest[..cut]);
        }
        let mut head = rest[..cut].trim_end().to_owned();
        let tail = &rest[cut + skip..];
        let tail = match &fence {
            Some(lang) => {
                head.push_str(CLOSE);
                format!("```{lang}\n{tail}")
            }
            None => tail.trim_start_matches('\n').to_owned(),
        };
        if !head.trim().is_empty() {
            parts.push(head);
        }
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(parts: &[String], limit: usize) {
        for p in parts {
            assert!(units(p) <= limit, "{} > {limit}: {p:?}", units(p));
            assert!(open_fence(p).is_none(), "a part leaves a fence open: {p:?}");
        }
    }

    /// The words of `text`, fences aside: nothing is lost or invented by splitting.
    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace()
            .filter(|w| !w.starts_with("```"))
            .collect()
    }

    #[test]
    fn the_originals_cases() {
        assert_eq!(split("hello", 100), ["hello"]);
        let a = "a".repeat(40);
        assert_eq!(split(&a, 32), ["a".repeat(32), "a".repeat(8)]);
        assert_eq!(
            split("line1\nline2\nline3\nline4\nline5\nline6\nline7", 35),
            ["line1\nline2\nline3\nline4\nline5", "line6\nline7"]
        );
        assert!(split("", 100).is_empty());
        assert!(split(" \n\n ", 100).is_empty());
    }

    #[test]
    fn paragraphs_come_before_lines_and_lines_before_words() {
        let para = format!("{}\n\n{}", "x ".repeat(30).trim_end(), "y ".repeat(30));
        let parts = split(&para, 80);
        assert_eq!(parts[0], "x ".repeat(30).trim_end());
        let lines = format!("{}\n{}", "w".repeat(50), "v ".repeat(30));
        let parts = split(&lines, 80);
        assert_eq!(parts[0], "w".repeat(50));
        let prose = "word ".repeat(100);
        let parts = split(&prose, 64);
        check(&parts, 64);
        assert!(parts.iter().all(|p| !p.contains("wor d")));
        assert_eq!(words(&parts.join(" ")), words(&prose));
    }

    #[test]
    fn a_long_answer_splits_at_the_limit_and_keeps_every_word() {
        let text: String = (0..200)
            .map(|i| format!("Paragraph {i}: {}\n\n", "lorem ipsum dolor ".repeat(3)))
            .collect();
        assert!(text.len() > 10_000);
        for limit in [4096, 2000] {
            let parts = split(&text, limit);
            check(&parts, limit);
            assert!(parts.len() >= text.len() / limit);
            assert_eq!(words(&parts.join("\n\n")), words(&text));
            assert!(
                parts.iter().all(|p| p.starts_with("Paragraph")),
                "cut at paragraphs"
            );
        }
    }

    #[test]
    fn a_code_block_is_closed_and_reopened_across_parts() {
        let code: String = (0..60).map(|i| format!("    let x{i} = {i};\n")).collect();
        let text = format!("Here:\n\n```rust\nfn main() {{\n{code}}}\n```\nDone.");
        let parts = split(&text, 300);
        check(&parts, 300);
        assert!(parts.len() > 3);
        for p in &parts[1..parts.len() - 1] {
            assert!(p.starts_with("```rust\n"), "{p:?}");
            assert!(p.ends_with("\n```"), "{p:?}");
        }
        assert!(parts.last().unwrap().ends_with("Done."));
        assert_eq!(words(&parts.join("\n")), words(&text));
        // Indentation inside the block survives the cut.
        assert!(parts[1].contains("\n    let x"));
    }

    #[test]
    fn wide_characters_count_as_the_platforms_count_them() {
        let emoji = "😀".repeat(50); // 2 UTF-16 units each
        let parts = split(&emoji, 40);
        check(&parts, 40);
        assert_eq!(parts[0].chars().count(), 20);
        assert_eq!(parts.concat(), emoji);
    }

    #[test]
    fn random_texts_always_fit_and_lose_nothing() {
        // A small deterministic generator: words, line and paragraph breaks, fences.
        let mut seed: u64 = 7;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for round in 0..200 {
            let mut text = String::new();
            for _ in 0..next(400) {
                match next(20) {
                    0 => text.push_str("\n\n"),
                    1 | 2 => text.push('\n'),
                    3 => text.push_str("\n```py\n"),
                    4 => text.push_str(&"z".repeat(next(120) as usize)),
                    _ => {
                        text.push_str(["alpha", "βeta", "😀", "x", "longerword"][next(5) as usize]);
                        text.push(' ');
                    }
                }
            }
            let limit = 32 + next(200) as usize;
            let parts = split(&text, limit);
            for p in &parts {
                assert!(units(p) <= limit, "round {round}: {p:?}");
            }
            assert_eq!(
                words(&parts.join(" ")).concat(),
                words(&text).concat(),
                "round {round}"
            );
        }
    }
}
