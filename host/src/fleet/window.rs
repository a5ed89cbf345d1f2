//! The context window of an agent's model, handed to the agent so it can compact before
//! the provider refuses the conversation.

/// Windows of well-known model families, by prefix of the model's name after its
/// provider (`openai/gpt-4o-mini` → `gpt-4o-mini`). The first match wins, so longer
/// prefixes come first.
const WINDOWS: &[(&str, u32)] = &[
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4", 8_192),
    ("gpt-5", 400_000),
    ("gpt-3.5", 16_385),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("claude", 200_000),
    ("gemini", 1_048_576),
    ("mistral", 128_000),
    ("deepseek", 128_000),
    ("llama", 128_000),
];

/// The window assumed for a model the table does not know.
pub(crate) const DEFAULT_WINDOW: u32 = 128_000;

/// The window of `model` (`provider/name` or a bare name): the agent's own
/// `context_window` from agents.yaml wins, then the table, then [`DEFAULT_WINDOW`].
pub(crate) fn context_window(configured: Option<u32>, model: Option<&str>) -> u32 {
    if let Some(w) = configured {
        return w;
    }
    let Some(model) = model else {
        return DEFAULT_WINDOW;
    };
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    WINDOWS
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map_or(DEFAULT_WINDOW, |(_, w)| *w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_wins_then_table_then_default() {
        assert_eq!(context_window(Some(8_000), Some("openai/gpt-4o")), 8_000);
        assert_eq!(context_window(None, Some("openai/gpt-4o-mini")), 128_000);
        assert_eq!(context_window(None, Some("openai/gpt-4.1-mini")), 1_047_576);
        assert_eq!(context_window(None, Some("openai/gpt-4")), 8_192);
        assert_eq!(
            context_window(None, Some("anthropic/claude-sonnet-4-5")),
            200_000
        );
        assert_eq!(context_window(None, Some("mock/unknown")), DEFAULT_WINDOW);
        assert_eq!(context_window(None, None), DEFAULT_WINDOW);
    }
}
