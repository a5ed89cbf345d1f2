//! The grammar of a tool call, derived from the offered tools' JSON schemas, and the
//! llguidance matcher that holds decoding to it.
//!
//! A call is written the way ChatML models with tool training write it (Qwen, Hermes):
//!
//! ```text
//! <tool_call>
//! {"name": "write_file", "arguments": {"path": "a.md", "content": "hi"}}
//! </tool_call>
//! ```
//!
//! The JSON is one `anyOf` alternative per tool, each fixing `name` to the tool's name and
//! `arguments` to the tool's parameter schema; llguidance compiles that to a grammar over
//! the model's own tokens and masks every token that would leave it. So the model can pick
//! the wrong tool or a wrong value, but never an unknown tool, a missing required argument,
//! a value of the wrong type or broken JSON. Keywords llguidance does not enforce (such as
//! `format`) are ignored rather than refused (`lenient`), and whitespace is fixed, so a
//! small model cannot stall in an endless run of spaces.

use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{InferenceCapabilities, TokEnv, TokRxInfo, TokTrie, TokenizerEnv};
use llguidance::{Matcher, ParserFactory};
use openlegion_llm::ToolSpec;
use serde_json::{Value, json};

use crate::{LocalLlmError, Tokenizer};

/// What opens and closes a call in the model's answer.
pub(crate) const CALL_OPEN: &str = "<tool_call>\n";
pub(crate) const CALL_CLOSE: &str = "\n</tool_call>";

/// The parameters schema used for a tool whose own cannot be compiled: any object.
fn any_object() -> Value {
    json!({"type": "object"})
}

/// `schema` (an object's) with its required properties first, each group in the
/// schema's order: the grammar writes properties in that order, and a model writes
/// `path` before `content` more readily than after.
pub(crate) fn required_first(schema: &Value) -> Value {
    let mut schema = schema.clone();
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        let mut ordered = serde_json::Map::new();
        for name in &required {
            if let Some(v) = props.get(name) {
                ordered.insert(name.clone(), v.clone());
            }
        }
        for (name, v) in props.iter() {
            if !required.contains(name) {
                ordered.insert(name.clone(), v.clone());
            }
        }
        *props = ordered;
    }
    schema
}

/// The JSON schema of one call to any of `tools`.
pub fn call_schema(tools: &[&ToolSpec]) -> Value {
    let alternatives: Vec<Value> = tools
        .iter()
        .map(|t| {
            let mut params = required_first(&t.parameters);
            if !params.is_object() {
                params = any_object();
            }
            json!({
                "type": "object",
                "properties": {
                    "name": {"const": t.name},
                    "arguments": params,
                },
                "required": ["name", "arguments"],
                "additionalProperties": false,
            })
        })
        .collect();
    json!({
        "anyOf": alternatives,
        "x-guidance": {
            "whitespace_flexible": false,
            "item_separator": ", ",
            "key_separator": ": ",
            "lenient": true,
        },
    })
}

/// The lark grammar of an answer that is exactly one call to one of `tools`.
pub fn call_grammar(tools: &[&ToolSpec]) -> String {
    let schema = call_schema(tools);
    format!(
        "start: {} call {}\ncall: %json {}\n",
        lark_literal(CALL_OPEN),
        lark_literal(CALL_CLOSE),
        schema
    )
}

fn lark_literal(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The tokenizer as llguidance sees it.
struct Env {
    trie: TokTrie,
    tokenizer: Arc<Tokenizer>,
}

impl TokenizerEnv for Env {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, s: &[u8]) -> Vec<u32> {
        self.tokenizer
            .encode(&String::from_utf8_lossy(s))
            .unwrap_or_default()
    }
}

/// Compiles call grammars for one model's tokenizer (built once per model: the token
/// trie takes a moment for a large vocabulary).
pub struct Grammars {
    factory: ParserFactory,
}

impl std::fmt::Debug for Grammars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grammars").finish_non_exhaustive()
    }
}

impl Grammars {
    pub fn new(tokenizer: Arc<Tokenizer>) -> Result<Self, LocalLlmError> {
        let info = TokRxInfo::new(tokenizer.vocab_size() as u32, tokenizer.markers.close);
        let trie = TokTrie::from(&info, &tokenizer.bytes);
        let env: TokEnv = Arc::new(Env { trie, tokenizer });
        let mut factory = ParserFactory::new(
            &env,
            InferenceCapabilities::default(),
            &llguidance::earley::SlicedBiasComputer::general_slices(),
        )
        .map_err(|e| LocalLlmError::Grammar {
            message: e.to_string(),
        })?;
        factory.quiet();
        Ok(Self { factory })
    }

    /// A matcher for one call to one of `tools`. A tool whose schema llguidance rejects is
    /// offered with any object as its arguments, so one odd schema does not take away the
    /// others.
    pub fn matcher(&self, tools: &[&ToolSpec]) -> Result<Matcher, LocalLlmError> {
        match self.try_matcher(tools) {
            Ok(m) => Ok(m),
            Err(first) => {
                let loose: Vec<ToolSpec> = tools
                    .iter()
                    .map(|t| {
                        let alone = self.try_matcher(&[t]);
                        ToolSpec {
                            parameters: if alone.is_ok() {
                                t.parameters.clone()
                            } else {
                                tracing::warn!(tool = %t.name, "its schema cannot be compiled; any object is accepted");
                                any_object()
                            },
                            ..(*t).clone()
                        }
                    })
                    .collect();
                let refs: Vec<&ToolSpec> = loose.iter().collect();
                self.try_matcher(&refs).map_err(|_| first)
            }
        }
    }

    fn try_matcher(&self, tools: &[&ToolSpec]) -> Result<Matcher, LocalLlmError> {
        let grammar = TopLevelGrammar::from_lark(call_grammar(tools));
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| LocalLlmError::Grammar {
                message: e.to_string(),
            })?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(LocalLlmError::Grammar { message: e });
        }
        Ok(matcher)
    }
}
