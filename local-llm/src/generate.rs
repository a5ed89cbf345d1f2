//! One answer: prefill the prompt (reusing the cache up to the first token that differs
//! from the previous prompt), decide between a tool call and text, then decode, bounded by
//! the token budget, the deadline and the caller's presence.
//!
//! With tools offered and `tool_choice` left to the model, the choice is made once, before
//! the first token. A small model is shown only a shortlist of the tools (`shortlist`) and
//! calls one when the user's last message asks for it by name or by a word of its name;
//! otherwise, and always for a larger model, the answer becomes a call when the model gives
//! the call marker's first token at least [`CALL_THRESHOLD`] of probability. (SmolLM2-135M
//! gives the marker 0.1-2 % even when a call is what the user asked for: on the labelled
//! prompts of `bench/local-llm/` no threshold separates calls from chat.) A call is then
//! decoded greedily under the grammar of the tools shown; text is sampled freely.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use openlegion_llm::{Message, ToolCall, ToolSpec, Usage};
use serde_json::Value;

use crate::grammar::{CALL_CLOSE, CALL_OPEN, Grammars};
use crate::loaded::Loaded;
use crate::model::PREFILL_CHUNK;
use crate::shortlist::{SMALL_MODEL_PARAMS, SMALL_MODEL_TOOLS, shortlist};
use crate::{LocalLlmError, prompt};

/// Probability of the call marker's first token above which the model is taken to want
/// a tool (see the module doc).
pub const CALL_THRESHOLD: f32 = 0.02;

/// Length of the token runs a call may not repeat (see `repeating`).
const NO_REPEAT: usize = 4;

/// Who decides whether to call a tool (OpenAI's `tool_choice`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolChoice {
    #[default]
    Auto,
    /// Text only, tools or not.
    None,
    /// A call to one of the tools.
    Required,
    /// A call to this tool.
    Named(String),
}

impl ToolChoice {
    /// From the request's `tool_choice` (absent or unknown: auto).
    pub fn from_value(value: Option<&Value>) -> Self {
        match value {
            Some(Value::String(s)) if s == "none" => ToolChoice::None,
            Some(Value::String(s)) if s == "required" || s == "any" => ToolChoice::Required,
            Some(Value::Object(o)) => o
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| o.get("name"))
                .and_then(Value::as_str)
                .map_or(ToolChoice::Auto, |n| ToolChoice::Named(n.to_owned())),
            _ => ToolChoice::Auto,
        }
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Request {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    pub max_tokens: u32,
    /// Sampling temperature of text (0 or none: greedy). Calls are always greedy.
    pub temperature: Option<f64>,
    /// Seed of the sampler (a fixed default: the same request gives the same answer).
    pub seed: Option<u64>,
    /// When to give up (queueing included).
    pub deadline: Instant,
    /// Whether calls are decoded under the tools' grammar. Off, the tools are described
    /// all the same but the answer is free text (a call, if any, is in it): only to measure
    /// what the grammar buys (`bench/local-llm`).
    pub grammar: bool,
    /// How many of the tools the model is shown (`shortlist`); none: a few for a small
    /// model ([`SMALL_MODEL_TOOLS`] below [`SMALL_MODEL_PARAMS`]), all for a larger one.
    pub max_tools: Option<usize>,
}

/// A piece of the answer, as it is decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Call(ToolCall),
}

/// The whole answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// `stop`, `tool_calls` or `length`.
    pub stop_reason: String,
    /// Prompt tokens taken from the cache instead of computed.
    pub cached_tokens: usize,
    /// With tools offered and the choice left to the model: the probability it gave the
    /// call marker's first token (compared with [`CALL_THRESHOLD`]).
    pub call_probability: Option<f32>,
}

/// Whether to stop: the caller went away or the deadline passed.
pub(crate) trait Bounds {
    fn check(&self) -> Result<(), LocalLlmError>;
}

/// The answer to `req`, its pieces passed to `emit` as they come.
pub(crate) fn generate(
    model: &mut Loaded,
    grammars: &Grammars,
    req: &Request,
    bounds: &dyn Bounds,
    emit: &mut dyn FnMut(Piece),
) -> Result<Answer, LocalLlmError> {
    let context = model.transformer.hparams.context;
    let reserve = (req.max_tokens as usize).clamp(1, context / 2);
    let (tools, asked) = shown_tools(model, req);
    let prompt = prompt::render(&model.tokenizer, &req.messages, &tools, context, reserve)?;
    let cached_tokens = prefill(model, &prompt, bounds)?;
    let mut answer = Answer {
        cached_tokens,
        usage: Usage {
            input_tokens: prompt.len() as u64,
            output_tokens: 0,
        },
        ..Answer::default()
    };
    let mut logits = model.last_logits.clone();
    let offered: Vec<&ToolSpec> = match &req.tool_choice {
        ToolChoice::Named(name) => tools.iter().filter(|t| &t.name == name).collect(),
        _ => tools.iter().collect(),
    };
    if matches!(&req.tool_choice, ToolChoice::Named(_)) && offered.is_empty() {
        return Err(LocalLlmError::Grammar {
            message: "tool_choice names a tool that is not offered".into(),
        });
    }
    if !offered.is_empty() && req.tool_choice == ToolChoice::Auto {
        answer.call_probability = Some(call_probability(model, &logits)?);
    }
    let call = req.grammar
        && !offered.is_empty()
        && (asked || answer.call_probability.is_none_or(|p| p >= CALL_THRESHOLD));
    let limit = (req.max_tokens as usize).min(context.saturating_sub(prompt.len()));
    if call {
        let mut matcher = grammars.matcher(&offered)?;
        let mut bytes = Vec::new();
        let mut tokens = Vec::new();
        let mut finished = false;
        while answer.usage.output_tokens < limit as u64 {
            bounds.check()?;
            let mask = matcher.compute_mask().map_err(grammar_error)?;
            let repeats = repeating(&tokens, NO_REPEAT);
            let next = argmax_where(&logits, |t| mask.is_allowed(t) && !repeats.contains(&t))
                .or_else(|| argmax_where(&logits, |t| mask.is_allowed(t)));
            let Some(next) = next else { break };
            tokens.push(next);
            if next == model.tokenizer.markers.close
                || model.tokenizer.markers.stops.contains(&next)
            {
                finished = matcher.is_accepting().unwrap_or(false);
                break;
            }
            matcher.consume_token(next).map_err(grammar_error)?;
            answer.usage.output_tokens += 1;
            bytes.extend_from_slice(model.tokenizer.token_bytes(next));
            if matcher.is_stopped() {
                finished = true;
                break;
            }
            logits = step(model, next)?;
        }
        if !finished {
            // Out of tokens in the middle of a call: no call rather than a broken one.
            tracing::warn!(
                tokens = answer.usage.output_tokens,
                call = %String::from_utf8_lossy(&bytes),
                "the local model's tool call did not finish within its token budget"
            );
            answer.stop_reason = "length".into();
            return Ok(answer);
        }
        let call = parse_call(&bytes)?;
        emit(Piece::Call(call.clone()));
        answer.tool_calls.push(call);
        answer.stop_reason = "tool_calls".into();
        return Ok(answer);
    }
    let mut sampler = Sampler::new(req.temperature, req.seed);
    let mut pending = Vec::new();
    answer.stop_reason = "length".into();
    while answer.usage.output_tokens < limit as u64 {
        bounds.check()?;
        let next = sampler.sample(&logits);
        if model.tokenizer.markers.stops.contains(&next) {
            answer.stop_reason = "stop".into();
            break;
        }
        answer.usage.output_tokens += 1;
        pending.extend_from_slice(model.tokenizer.token_bytes(next));
        let text = take_utf8(&mut pending);
        if !text.is_empty() {
            answer.content.push_str(&text);
            emit(Piece::Text(text));
        }
        if answer.usage.output_tokens as usize == limit {
            break;
        }
        logits = step(model, next)?;
    }
    if !pending.is_empty() {
        let text = String::from_utf8_lossy(&pending).into_owned();
        answer.content.push_str(&text);
        emit(Piece::Text(text));
    }
    Ok(answer)
}

/// The tools the model is shown for `req`: none when it may not call one, else the
/// shortlist its size calls for (the named tool, or some tool when a call is required,
/// always among them); and whether the user asked for one of them (only said of a
/// shortlist: a larger model decides by itself).
fn shown_tools(model: &Loaded, req: &Request) -> (Vec<ToolSpec>, bool) {
    if req.tool_choice == ToolChoice::None {
        return (Vec::new(), false);
    }
    let hp = &model.transformer.hparams;
    // Weights of the attention and MLP blocks, the bulk of a model's parameters.
    let params = 12 * hp.layers as u64 * (hp.embedding as u64).pow(2);
    let keep = req.max_tools.unwrap_or(if params < SMALL_MODEL_PARAMS {
        SMALL_MODEL_TOOLS
    } else {
        usize::MAX
    });
    let list = shortlist(&req.tools, &req.messages, keep);
    let asked = list.asked && req.tools.len() > keep;
    let mut shown: Vec<ToolSpec> = list.tools.into_iter().cloned().collect();
    match &req.tool_choice {
        ToolChoice::Named(name) if !shown.iter().any(|t| &t.name == name) => {
            shown.extend(req.tools.iter().find(|t| &t.name == name).cloned());
        }
        ToolChoice::Required if shown.is_empty() => {
            shown = req.tools.iter().take(keep.max(1)).cloned().collect();
        }
        _ => {}
    }
    (shown, asked)
}

/// Runs the prompt through the model, starting after the longest prefix the cache already
/// holds; leaves the last position's logits in `model.last_logits`. Returns the number of
/// tokens taken from the cache.
fn prefill(
    model: &mut Loaded,
    prompt: &[u32],
    bounds: &dyn Bounds,
) -> Result<usize, LocalLlmError> {
    let cached = model.transformer.cached().min(model.history.len());
    let mut common = model
        .history
        .iter()
        .zip(prompt)
        .take(cached)
        .take_while(|(a, b)| a == b)
        .count();
    // At least one token must run, for its logits.
    common = common.min(prompt.len().saturating_sub(1));
    model.transformer.truncate(common);
    model.history.truncate(common);
    for chunk in prompt[common..].chunks(PREFILL_CHUNK) {
        bounds.check()?;
        model.last_logits = model.transformer.forward(chunk)?;
        model.history.extend_from_slice(chunk);
    }
    Ok(common)
}

/// One decoding step: `token` goes into the model and the cache.
fn step(model: &mut Loaded, token: u32) -> Result<Vec<f32>, LocalLlmError> {
    let logits = model.transformer.forward(&[token])?;
    model.history.push(token);
    model.last_logits = logits.clone();
    Ok(logits)
}

/// The probability the model gives the call marker's first token.
fn call_probability(model: &Loaded, logits: &[f32]) -> Result<f32, LocalLlmError> {
    let marker = model.tokenizer.encode(CALL_OPEN)?;
    let Some(&first) = marker.first() else {
        return Ok(0.0);
    };
    let p = probabilities(logits, 1.0)
        .get(first as usize)
        .copied()
        .unwrap_or(0.0);
    tracing::debug!(p_call = p, "tool call or text");
    Ok(p)
}

fn grammar_error(e: impl std::fmt::Display) -> LocalLlmError {
    LocalLlmError::Grammar {
        message: e.to_string(),
    }
}

/// The call in the text the grammar accepted.
fn parse_call(bytes: &[u8]) -> Result<ToolCall, LocalLlmError> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let text = String::from_utf8_lossy(bytes);
    let json = text
        .trim()
        .trim_start_matches(CALL_OPEN.trim())
        .trim_end_matches(CALL_CLOSE.trim())
        .trim();
    let value: Value = serde_json::from_str(json).map_err(|e| LocalLlmError::Grammar {
        message: format!("the grammar let through {json:?}: {e}"),
    })?;
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let arguments = value
        .get("arguments")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    Ok(ToolCall {
        id: format!("call_local_{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        name,
        arguments: arguments.to_string(),
    })
}

/// The longest valid UTF-8 prefix of `pending`, removed from it (a character split across
/// tokens waits for its rest).
fn take_utf8(pending: &mut Vec<u8>) -> String {
    let valid = match std::str::from_utf8(pending) {
        Ok(s) => s.len(),
        Err(e) if e.error_len().is_some() => {
            // Invalid, not merely incomplete: replace it rather than wait forever.
            let text = String::from_utf8_lossy(pending).into_owned();
            pending.clear();
            return text;
        }
        Err(e) => e.valid_up_to(),
    };
    let rest = pending.split_off(valid);
    String::from_utf8(std::mem::replace(pending, rest)).unwrap_or_default()
}

/// The tokens that would repeat a run of `n` tokens already in `tokens` (the last `n - 1`
/// followed by them). Greedy decoding of a small model falls into loops — "This is a
/// note. This is a note. …" inside a string until the token budget runs out, and the
/// call with it. A call's JSON rarely holds the same run of that length twice; a value
/// that must (a line repeated on purpose) is the price, and the grammar alone decides
/// when it allows nothing else.
fn repeating(tokens: &[u32], n: usize) -> Vec<u32> {
    if tokens.len() < n {
        return Vec::new();
    }
    let tail = &tokens[tokens.len() - (n - 1)..];
    tokens
        .windows(n)
        .filter(|w| &w[..n - 1] == tail)
        .map(|w| w[n - 1])
        .collect()
}

fn argmax_where(logits: &[f32], allowed: impl Fn(u32) -> bool) -> Option<u32> {
    logits
        .iter()
        .enumerate()
        .filter(|(i, l)| allowed(*i as u32) && l.is_finite())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i as u32)
}

fn probabilities(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits
        .iter()
        .map(|l| ((l - max) / temperature).exp())
        .collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// Greedy, or temperature sampling from the top 90 % of probability (nucleus).
struct Sampler {
    temperature: f32,
    state: u64,
}

impl Sampler {
    fn new(temperature: Option<f64>, seed: Option<u64>) -> Self {
        Self {
            temperature: temperature.unwrap_or(0.0).clamp(0.0, 2.0) as f32,
            state: seed.unwrap_or(0x5EED_CAFE_F00D_D00D) | 1,
        }
    }

    /// xorshift64*: enough for sampling, no dependency.
    fn next_f32(&mut self) -> f32 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let x = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }

    fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.temperature < 1e-3 {
            return argmax_where(logits, |_| true).unwrap_or(0);
        }
        let probs = probabilities(logits, self.temperature);
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_unstable_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let mut kept = Vec::new();
        let mut mass = 0.0;
        for i in order {
            kept.push(i);
            mass += probs[i];
            if mass >= 0.9 {
                break;
            }
        }
        let mut r = self.next_f32() * mass;
        for &i in &kept {
            r -= probs[i];
            if r <= 0.0 {
                return i as u32;
            }
        }
        kept.last().copied().unwrap_or(0) as u32
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_run_of_four_tokens_is_not_repeated() {
        // "a b c d a b c" -> "d" would repeat "a b c d".
        assert_eq!(super::repeating(&[1, 2, 3, 4, 1, 2, 3], 4), [4]);
        assert!(super::repeating(&[1, 2, 3, 4, 1, 2, 5], 4).is_empty());
        assert!(super::repeating(&[1, 2], 4).is_empty());
    }

    use super::*;

    #[test]
    fn utf8_split_across_tokens_waits_for_its_rest() {
        let mut pending = "é".as_bytes()[..1].to_vec();
        assert_eq!(take_utf8(&mut pending), "");
        pending.push("é".as_bytes()[1]);
        pending.extend_from_slice(b"!");
        assert_eq!(take_utf8(&mut pending), "é!");
        assert!(pending.is_empty());
    }

    #[test]
    fn tool_choice_reads_openai_shapes() {
        use serde_json::json;
        assert_eq!(ToolChoice::from_value(None), ToolChoice::Auto);
        assert_eq!(
            ToolChoice::from_value(Some(&json!("none"))),
            ToolChoice::None
        );
        assert_eq!(
            ToolChoice::from_value(Some(&json!("required"))),
            ToolChoice::Required
        );
        assert_eq!(
            ToolChoice::from_value(Some(
                &json!({"type": "function", "function": {"name": "f"}})
            )),
            ToolChoice::Named("f".into())
        );
    }

    #[test]
    fn sampling_is_deterministic_for_a_seed() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32).collect();
        let draw = |seed| {
            let mut s = Sampler::new(Some(1.0), Some(seed));
            (0..20).map(|_| s.sample(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        let mut greedy = Sampler::new(Some(0.0), None);
        assert_eq!(greedy.sample(&logits), 48);
    }
}
