//! Token accounting without a tokenizer: a character estimate, calibrated by the counts the
//! provider reports for what was really sent.
//!
//! Every answer from the mesh says how many input tokens the request had (`input_tokens`,
//! counted by the provider's own tokenizer). The ratio of that count to our estimate of the
//! same request corrects the estimate of the next one, so the figure is exact for what was
//! sent and off only by the estimate's error on what was added since.

use serde_json::Value;

use crate::tools::ToolDef;

/// Characters per token before any calibration (English text and JSON run at 3.5 to 4.5).
const CHARS_PER_TOKEN: f64 = 4.0;

/// Bounds of the calibration ratio: a provider reporting nonsense cannot make the agent
/// believe its context is empty or full.
const RATIO_BOUNDS: (f64, f64) = (0.25, 4.0);

/// Characters of one message as a provider sees them: its text plus its other fields.
fn message_chars(message: &Value) -> usize {
    let Value::Object(map) = message else {
        return message.to_string().len();
    };
    map.iter()
        .map(|(key, value)| match (key.as_str(), value) {
            ("content", Value::String(text)) => text.len(),
            (_, other) => key.len() + other.to_string().len(),
        })
        .sum()
}

/// The uncalibrated estimate of a request of `messages` offering `tools`.
pub(crate) fn raw_estimate(messages: &[Value], tools: &[ToolDef]) -> u64 {
    let chars: usize = messages.iter().map(message_chars).sum::<usize>()
        + tools
            .iter()
            .map(|t| t.openai().to_string().len())
            .sum::<usize>();
    (chars as f64 / CHARS_PER_TOKEN).ceil() as u64
}

/// Tokens of `text` added to a request, uncalibrated.
pub(crate) fn text_tokens(text: &str) -> u64 {
    (text.len() as f64 / CHARS_PER_TOKEN).ceil() as u64
}

/// Tokens of one message, uncalibrated (to choose what to cut).
pub(crate) fn message_tokens(message: &Value) -> u64 {
    (message_chars(message) as f64 / CHARS_PER_TOKEN).ceil() as u64
}

/// The estimate, corrected by what the provider last reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counter {
    ratio: f64,
}

impl Default for Counter {
    fn default() -> Self {
        Self { ratio: 1.0 }
    }
}

impl Counter {
    /// Estimated tokens of a request.
    pub(crate) fn count(&self, messages: &[Value], tools: &[ToolDef]) -> u64 {
        self.calibrated(raw_estimate(messages, tools))
    }

    /// An uncalibrated estimate, corrected.
    pub(crate) fn calibrated(&self, raw: u64) -> u64 {
        (raw as f64 * self.ratio).ceil() as u64
    }

    /// Learns from a request whose uncalibrated estimate was `estimated` and which the
    /// provider counted as `reported` input tokens (0: not reported, nothing learnt).
    pub(crate) fn calibrate(&mut self, estimated: u64, reported: u64) {
        if estimated == 0 || reported == 0 {
            return;
        }
        self.ratio = (reported as f64 / estimated as f64).clamp(RATIO_BOUNDS.0, RATIO_BOUNDS.1);
    }

    #[cfg(test)]
    pub(crate) fn ratio(&self) -> f64 {
        self.ratio
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counts_text_and_structure() {
        let text = json!({"role": "user", "content": "a".repeat(400)});
        // 400 characters of text, plus "role" and "\"user\"".
        assert_eq!(raw_estimate(&[text], &[]), 103);
        let call = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "1"}]});
        assert!(raw_estimate(&[call], &[]) > 10);
    }

    #[test]
    fn calibration_follows_the_provider_within_bounds() {
        let messages = [json!({"role": "user", "content": "x".repeat(4000)})];
        let mut counter = Counter::default();
        let raw = raw_estimate(&messages, &[]);
        counter.calibrate(raw, raw * 2);
        assert_eq!(counter.count(&messages, &[]), raw * 2);
        counter.calibrate(raw, 1);
        assert_eq!(counter.ratio(), RATIO_BOUNDS.0);
        counter.calibrate(raw, 0);
        assert_eq!(counter.ratio(), RATIO_BOUNDS.0, "no report, nothing learnt");
    }
}
