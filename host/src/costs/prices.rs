//! What a model costs per token: built-in list prices, overridden by `llm.prices` in
//! mesh.yaml.

use std::collections::BTreeMap;

use crate::config::Price;

/// USD per million tokens (input, output), for models the table does not know. The
/// original's default ($0.003 / $0.015 per thousand), which errs on the expensive side.
const UNKNOWN: (f64, f64) = (3.0, 15.0);

/// List prices (USD per million input, output tokens), matched by the longest prefix of
/// `provider/model`, so dated snapshots (`…-20250929`) find their family.
const DEFAULTS: &[(&str, f64, f64)] = &[
    ("openai/gpt-4o-mini", 0.15, 0.60),
    ("openai/gpt-4o", 2.50, 10.00),
    ("openai/gpt-4.1-nano", 0.10, 0.40),
    ("openai/gpt-4.1-mini", 0.40, 1.60),
    ("openai/gpt-4.1", 2.00, 8.00),
    ("openai/gpt-5-nano", 0.05, 0.40),
    ("openai/gpt-5-mini", 0.25, 2.00),
    ("openai/gpt-5", 1.25, 10.00),
    ("openai/o3-mini", 1.10, 4.40),
    ("openai/o4-mini", 1.10, 4.40),
    ("openai/o3", 2.00, 8.00),
    ("openai/text-embedding-3-small", 0.02, 0.0),
    ("openai/text-embedding-3-large", 0.13, 0.0),
    ("anthropic/claude-opus-4-5", 5.00, 25.00),
    ("anthropic/claude-opus-4", 15.00, 75.00),
    ("anthropic/claude-sonnet-4", 3.00, 15.00),
    ("anthropic/claude-3-7-sonnet", 3.00, 15.00),
    ("anthropic/claude-3-5-sonnet", 3.00, 15.00),
    ("anthropic/claude-haiku-4-5", 1.00, 5.00),
    ("anthropic/claude-3-5-haiku", 0.80, 4.00),
    ("groq/llama-3.3-70b-versatile", 0.59, 0.79),
    ("groq/llama-3.1-8b-instant", 0.05, 0.08),
];

/// Local servers cost nothing per token.
const FREE_PROVIDERS: &[&str] = &["ollama", "llamacpp", "vllm", "local"];

#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    overrides: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new(overrides: BTreeMap<String, Price>) -> Self {
        Self { overrides }
    }

    /// USD per million (input, output) tokens for `model` (`provider/model`).
    pub fn per_million(&self, model: &str) -> (f64, f64) {
        if let Some(p) = self.overrides.get(model) {
            return (p.input_per_mtok, p.output_per_mtok);
        }
        if FREE_PROVIDERS
            .iter()
            .any(|p| model.split('/').next() == Some(p))
        {
            return (0.0, 0.0);
        }
        DEFAULTS
            .iter()
            .filter(|(prefix, ..)| model.starts_with(prefix))
            .max_by_key(|(prefix, ..)| prefix.len())
            .map_or(UNKNOWN, |&(_, i, o)| (i, o))
    }

    /// USD for `input` prompt and `output` completion tokens.
    pub fn cost(&self, model: &str, input: u64, output: u64) -> f64 {
        let (i, o) = self.per_million(model);
        (input as f64 * i + output as f64 * o) / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overrides_and_unknowns() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "openai/gpt-4o".into(),
            Price {
                input_per_mtok: 1.0,
                output_per_mtok: 2.0,
            },
        );
        let t = PriceTable::new(overrides);
        assert_eq!(t.per_million("openai/gpt-4o-mini-2024-07-18"), (0.15, 0.60));
        assert_eq!(t.per_million("openai/gpt-4o"), (1.0, 2.0));
        assert_eq!(
            t.per_million("anthropic/claude-sonnet-4-5-20250929"),
            (3.0, 15.0)
        );
        assert_eq!(t.per_million("ollama/llama3"), (0.0, 0.0));
        assert_eq!(t.per_million("somebody/new-model"), UNKNOWN);
        // The original's pre-flight figure: 4096 tokens split 70/30 on an unknown model.
        let est = t.cost("somebody/new-model", 2867, 1229);
        assert!((est - 0.027_036).abs() < 1e-9, "{est}");
    }
}
