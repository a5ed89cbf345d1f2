//! How streamed text and tool-call arguments are cut into deltas. Pieces
//! always concatenate back to the input exactly, and never split a character,
//! so a client that reassembles them must get the scripted text back.

/// Tool-call arguments are streamed in this many pieces (fewer when short),
/// so every client has to join argument fragments.
pub(crate) const ARGUMENT_PIECES: usize = 3;

/// The streamed pieces of `text`: `chunks` pieces of about equal length when
/// given, else one piece per word (each keeping the whitespace after it).
pub(crate) fn text_pieces(text: &str, chunks: Option<usize>) -> Vec<String> {
    match chunks {
        Some(chunks) => even(text, chunks),
        None => words(text),
    }
}

/// Words with their trailing whitespace; leading whitespace stays with the
/// first word. Empty text gives no pieces.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut after_space = false;
    for (at, ch) in text.char_indices() {
        if ch.is_whitespace() {
            after_space = true;
        } else if after_space {
            if text[..at].trim().is_empty() {
                // Only whitespace so far: it belongs to the first word.
                after_space = false;
                continue;
            }
            pieces.push(text[start..at].to_owned());
            start = at;
            after_space = false;
        }
    }
    if start < text.len() {
        pieces.push(text[start..].to_owned());
    }
    pieces
}

/// `count` pieces of about equal character count (fewer when `text` has fewer
/// characters). Empty text gives no pieces.
pub(crate) fn even(text: &str, count: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let count = count.clamp(1, chars.len().max(1));
    let mut pieces = Vec::with_capacity(count);
    let mut start = 0;
    for index in 0..count {
        let end = chars.len() * (index + 1) / count;
        if end > start {
            pieces.push(chars[start..end].iter().collect());
        }
        start = end;
    }
    pieces
}

/// About one token per four characters, at least one; deterministic so tests
/// can assert it.
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(4).max(1)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_whitespace() {
        assert_eq!(words("Hello big  world"), ["Hello ", "big  ", "world"]);
        assert_eq!(words("  lead and trail "), ["  lead ", "and ", "trail "]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("one"), ["one"]);
    }

    #[test]
    fn even_pieces_join_back_and_respect_chars() {
        assert_eq!(even("abcdefg", 3), ["ab", "cd", "efg"]);
        assert_eq!(even("ab", 5), ["a", "b"]);
        assert_eq!(even("héllo", 2), ["hé", "llo"]);
        assert_eq!(even("", 3), Vec::<String>::new());
        assert_eq!(even("abc", 0), ["abc"]);
    }

    #[test]
    fn token_estimate_rounds_up() {
        assert_eq!(estimate_tokens(0), 1);
        assert_eq!(estimate_tokens(4), 1);
        assert_eq!(estimate_tokens(5), 2);
    }
}
