//! Asking the model what in a stretch of conversation is worth keeping: durable facts, and
//! a summary to stand in for the messages themselves.

use serde::Deserialize;
use serde_json::{Value, json};

/// Characters of one message kept in the transcript the model reads.
pub(crate) const MESSAGE_CHARS: usize = 4_000;

/// A fact worth keeping beyond the conversation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Fact {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub category: Option<String>,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Extracted {
    #[serde(default)]
    pub(crate) facts: Vec<Fact>,
    #[serde(default)]
    pub(crate) summary: String,
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept} […]")
}

/// The messages as plain text (`role: text`, tool calls as `→ name(args)`), each cut to
/// `per_message` characters and the whole to `budget` (its end kept: the latest matters
/// most).
pub(crate) fn transcript(messages: &[Value], per_message: usize, budget: usize) -> String {
    let mut lines = Vec::new();
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("?");
        if let Some(text) = m.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            lines.push(format!("{role}: {}", clip(text, per_message)));
        }
        for call in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let f = &call["function"];
            lines.push(format!(
                "{role} → {}({})",
                f["name"].as_str().unwrap_or("?"),
                clip(f["arguments"].as_str().unwrap_or(""), per_message)
            ));
        }
    }
    let text = lines.join("\n");
    let chars = text.chars().count();
    if chars <= budget {
        return text;
    }
    let tail: String = text.chars().skip(chars - budget).collect();
    format!("[… earlier lines cut]\n{tail}")
}

/// The request that asks for facts and a summary of `transcript`.
pub(crate) fn request(agent: &str, transcript: &str) -> Vec<Value> {
    let system = format!(
        "You keep the long-term memory of the agent {agent}. Read the conversation below and \
         answer with one JSON object and nothing else: {{\"facts\": [{{\"key\": \"short_snake_case_key\", \
         \"value\": \"the fact, self-contained\", \"category\": \"one word\"}}], \"summary\": \"…\"}}. \
         Facts are what must survive the conversation: names, preferences, decisions, results, \
         open tasks, anything the user or a tool stated that will matter later. The summary \
         says what happened and what is still in progress, in at most 200 words."
    );
    vec![
        json!({"role": "system", "content": system}),
        json!({"role": "user", "content": format!("Conversation:\n{transcript}")}),
    ]
}

/// Reads the model's answer: the JSON object, alone or in a fenced block or amid prose.
pub(crate) fn parse(answer: &str) -> Result<Extracted, String> {
    let text = answer.trim();
    let start = text.find('{');
    let end = text.rfind('}');
    let (Some(start), Some(end)) = (start, end) else {
        return Err(format!(
            "the model's answer holds no JSON object: {}",
            clip(text, 200)
        ));
    };
    let mut extracted: Extracted = serde_json::from_str(&text[start..=end])
        .map_err(|e| format!("the model's facts are not the JSON asked for: {e}"))?;
    extracted
        .facts
        .retain(|f| !f.key.trim().is_empty() && !f.value.trim().is_empty());
    Ok(extracted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_fenced_and_prose_wrapped_answers() {
        let plain = r#"{"facts":[{"key":"cat","value":"The cat is Whiskerino","category":"pets"}],"summary":"Talked about the cat."}"#;
        let fenced = format!("```json\n{plain}\n```");
        let prose = format!("Here you go: {plain} Hope it helps.");
        for answer in [plain.to_owned(), fenced, prose] {
            let e = parse(&answer).unwrap();
            assert_eq!(e.facts.len(), 1);
            assert_eq!(e.facts[0].category.as_deref(), Some("pets"));
            assert_eq!(e.summary, "Talked about the cat.");
        }
    }

    #[test]
    fn refuses_what_is_not_the_json_asked_for() {
        assert!(
            parse("no facts today")
                .unwrap_err()
                .contains("no JSON object")
        );
        assert!(
            parse(r#"{"facts": "many"}"#)
                .unwrap_err()
                .contains("not the JSON")
        );
        let empty = parse(r#"{"facts":[{"key":" ","value":"x"}]}"#).unwrap();
        assert!(empty.facts.is_empty(), "blank keys are dropped");
    }

    #[test]
    fn transcript_shows_calls_and_keeps_the_end() {
        let messages = vec![
            json!({"role": "user", "content": "first"}),
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a\"}"}}]}),
            json!({"role": "tool", "tool_call_id": "1", "content": "last"}),
        ];
        let t = transcript(&messages, MESSAGE_CHARS, 10_000);
        assert!(t.contains("user: first") && t.contains("→ read_file({\"path\":\"a\"})"));
        let short = transcript(&messages, MESSAGE_CHARS, 12);
        assert!(short.starts_with("[… earlier lines cut]") && short.ends_with("tool: last"));
    }
}
