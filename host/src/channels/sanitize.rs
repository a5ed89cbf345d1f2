//! The input sanitiser: what a channel user types goes into an agent's prompt only after
//! the characters that can hide text from the person reading the chat are removed.
//!
//! Invisible and format characters (bidirectional overrides, tag characters, zero-width
//! spaces…) let a message carry instructions a human never sees, or show text in another
//! order than the model reads it. As in the original's `sanitize_for_prompt`: control,
//! format, private-use, surrogate and unassigned characters are dropped except tab, line
//! feed and carriage return, and except ZWNJ, ZWJ and the emoji/text presentation
//! selectors (VS15, VS16) that scripts and emoji need; the other variation selectors, the
//! combining grapheme joiner, the Hangul fillers and the object replacement character are
//! dropped; the Unicode line and paragraph separators become line feeds.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Characters of a dropped category that are kept: TAB, LF, CR, ZWNJ, ZWJ, VS15, VS16.
const KEEP: [char; 7] = [
    '\t', '\n', '\r', '\u{200C}', '\u{200D}', '\u{FE0E}', '\u{FE0F}',
];

/// Characters of a kept category that hide or fake content: the combining grapheme joiner,
/// the Hangul fillers, the object replacement character.
const DROP: [char; 6] = [
    '\u{034F}', '\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{FFFC}',
];

/// `text` with hidden characters removed (see the module doc).
pub fn sanitize(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\u{2028}' | '\u{2029}' => Some('\n'),
            c if KEEP.contains(&c) => Some(c),
            c if DROP.contains(&c) || is_variation_selector(c) => None,
            c if matches!(
                c.general_category(),
                GeneralCategory::Control
                    | GeneralCategory::Format
                    | GeneralCategory::PrivateUse
                    | GeneralCategory::Surrogate
                    | GeneralCategory::Unassigned
            ) =>
            {
                None
            }
            c => Some(c),
        })
        .collect()
}

/// VS1–VS14 and VS17–VS256 (VS15 and VS16 are in [`KEEP`]).
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0D}' | '\u{E0100}'..='\u{E01EF}')
}

/// A user's display name as it may appear in an origin label: letters, digits and `_.-`,
/// at most 32 of them (names are chosen by strangers; the label sits in the agent's
/// prompt).
pub fn name(raw: &str) -> String {
    sanitize(raw)
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_originals_cases() {
        assert_eq!(sanitize("a\u{2028}b"), "a\nb");
        assert_eq!(sanitize("a\u{2029}b"), "a\nb");
        assert_eq!(sanitize("hello\u{0}world"), "helloworld");
        assert_eq!(
            sanitize("a\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}b"),
            "ab",
            "bidirectional overrides"
        );
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(sanitize(family), family, "ZWJ sequences survive");
        assert_eq!(
            sanitize("line1\tfield\nline2\r\n"),
            "line1\tfield\nline2\r\n"
        );
    }

    #[test]
    fn hidden_characters_are_dropped_and_visible_text_is_kept() {
        // Tag characters spell invisible ASCII ("ignore" here).
        let smuggled: String = "ignore"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        assert_eq!(sanitize(&format!("hi{smuggled}!")), "hi!");
        assert_eq!(sanitize("zero\u{200B}width\u{FEFF}"), "zerowidth");
        assert_eq!(sanitize("private\u{E000}use"), "privateuse");
        assert_eq!(sanitize("unassigned\u{0378}"), "unassigned");
        assert_eq!(sanitize("vs\u{FE00}\u{E0100}"), "vs", "VS1 and VS17");
        assert_eq!(
            sanitize("\u{2764}\u{FE0F}"),
            "\u{2764}\u{FE0F}",
            "VS16 kept"
        );
        assert_eq!(sanitize("\u{3164}\u{FFFC}x\u{034F}"), "x");
        assert_eq!(sanitize("esc\u{1b}[31m"), "esc[31m");
        for kept in [
            "Grüße, 世界! ¿Qué?",
            "नमस्ते",
            "Ελληνικά",
            "👍🏽 ok",
            "a\u{200C}b",
        ] {
            assert_eq!(sanitize(kept), kept);
        }
    }

    #[test]
    fn names_keep_only_label_safe_characters() {
        assert_eq!(name("alice"), "alice");
        assert_eq!(name("Bob \"the\" <admin>"), "Bobtheadmin");
        assert_eq!(name(&"x".repeat(50)).len(), 32);
        assert_eq!(name("Zoë_2.0-b"), "Zoë_2.0-b");
    }
}
