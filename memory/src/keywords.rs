//! The words of a query that are worth searching for.
//!
//! Lower-cased runs of letters and digits, without one-letter words and without the stop
//! words of the original's workspace search (notes: 24 words). A query made only of those
//! has nothing to search for, and gets no results rather than an error or everything.

/// `a an and are as at be by for from has have i in is it of on or that the to was with`.
const STOP_WORDS: [&str; 24] = [
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "i", "in", "is",
    "it", "of", "on", "or", "that", "the", "to", "was", "with",
];

/// The distinct search words of `text`, in order.
pub(crate) fn keywords(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
    {
        if word.chars().count() > 1
            && !STOP_WORDS.contains(&word.as_str())
            && !words.contains(&word)
        {
            words.push(word);
        }
    }
    words
}

/// An FTS5 query matching any of `words`: each quoted, so no word is read as an operator
/// (`AND`, `NEAR`, `col:`), joined with `OR` for BM25 to rank.
pub(crate) fn fts_query(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_punctuation_and_operators() {
        assert_eq!(
            keywords("What is the user's favourite colour? AND/OR NEAR x"),
            ["what", "user", "favourite", "colour", "near"]
        );
        assert!(keywords("the of and a I is").is_empty());
        assert!(keywords("  ?! ").is_empty());
        assert_eq!(
            fts_query(&keywords("deploy NEAR prod")),
            r#""deploy" OR "near" OR "prod""#
        );
    }
}
