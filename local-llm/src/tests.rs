//! The engine on a real (tiny, random) GGUF model: calls under the grammar are well formed
//! whatever the model would say, generation stays within its bounds, the caller going away
//! stops it, requests queue, the cache gives the same answers as a cold start, and a bad
//! file fails its request without stopping the engine.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use openlegion_llm::{Message, Role, ToolSpec};
use serde_json::{Value, json};

use crate::generate::{Bounds, generate};
use crate::{Engine, Grammars, Loaded, LocalLlmError, Piece, Request, ToolChoice, Weights};

/// The tiny model, written once per test process.
fn tiny() -> PathBuf {
    static PATH: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = PATH.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        crate::tiny::write(&path);
        (dir, path)
    });
    path.clone()
}

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "write_file".into(),
            description: "Write a text file. Creates parents.".into(),
            parameters: json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "append": {"type": "boolean"},
                    "content": {"type": "string", "maxLength": 40},
                    "path": {"type": "string", "maxLength": 40},
                },
                "required": ["path", "content"],
            }),
        },
        ToolSpec {
            name: "read_file".into(),
            description: "Read a text file.".into(),
            parameters: json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "path": {"type": "string", "maxLength": 40},
                    "limit": {"type": "integer", "minimum": 0},
                },
                "required": ["path"],
            }),
        },
    ]
}

fn user(text: &str) -> Message {
    Message {
        role: Role::User,
        content: text.into(),
        tool_calls: vec![],
        tool_call_id: None,
    }
}

fn request(text: &str, choice: ToolChoice, max_tokens: u32) -> Request {
    Request {
        messages: vec![user(text)],
        tools: tools(),
        tool_choice: choice,
        max_tokens,
        temperature: Some(0.0),
        seed: None,
        deadline: Instant::now() + Duration::from_secs(120),
        grammar: true,
        max_tools: None,
    }
}

struct NoBounds;

impl Bounds for NoBounds {
    fn check(&self) -> Result<(), LocalLlmError> {
        Ok(())
    }
}

fn loaded() -> (Loaded, Grammars) {
    let model = Loaded::open(&tiny(), Weights::Auto).unwrap();
    let grammars = Grammars::new(Arc::new(model.tokenizer.clone())).unwrap();
    (model, grammars)
}

/// The tokens of `text` fed to a fresh matcher for `tools`: how many it accepted, and
/// whether the call was complete.
fn feed(grammars: &Grammars, model: &Loaded, text: &str) -> (usize, bool) {
    let t = tools();
    let refs: Vec<&ToolSpec> = t.iter().collect();
    let mut matcher = grammars.matcher(&refs).unwrap();
    let tokens = model.tokenizer.encode(text).unwrap();
    for (i, tok) in tokens.iter().enumerate() {
        let mask = matcher.compute_mask().unwrap();
        if !mask.is_allowed(*tok) || matcher.consume_token(*tok).is_err() {
            return (i, false);
        }
    }
    let done = matcher.is_accepting().unwrap_or(false);
    (tokens.len(), done)
}

#[test]
fn the_grammar_takes_a_valid_call_and_nothing_else() {
    let (model, grammars) = loaded();
    let good = "<tool_call>\n{\"name\": \"write_file\", \"arguments\": {\"path\": \"a.md\", \"content\": \"hi\"}}\n</tool_call>";
    assert!(feed(&grammars, &model, good).1, "{good}");
    let optional = "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"a.md\", \"limit\": 3}}\n</tool_call>";
    assert!(feed(&grammars, &model, optional).1, "{optional}");
    for bad in [
        // An unknown tool.
        "<tool_call>\n{\"name\": \"delete_all\"",
        // A required argument missing.
        "<tool_call>\n{\"name\": \"write_file\", \"arguments\": {\"path\": \"a.md\"}}",
        // An argument of the wrong type.
        "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"a\", \"limit\": \"x\"",
        // An argument the schema does not have.
        "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"a\", \"mode\"",
        // Text instead of a call.
        "Sure, here is the file.",
    ] {
        let (accepted, done) = feed(&grammars, &model, bad);
        let tokens = model.tokenizer.encode(bad).unwrap().len();
        assert!(!done && accepted < tokens, "accepted {bad:?}");
    }
}

#[test]
fn the_call_schema_fixes_the_name_and_puts_required_arguments_first() {
    let t = tools();
    let schema = crate::call_schema(&[&t[0]]);
    let alt = &schema["anyOf"][0];
    assert_eq!(alt["properties"]["name"], json!({"const": "write_file"}));
    let order: Vec<&String> = alt["properties"]["arguments"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(order, ["path", "content", "append"]);
}

#[test]
fn a_random_model_under_the_grammar_still_makes_valid_calls() {
    let (mut model, grammars) = loaded();
    let t = tools();
    for (i, prompt) in ["write something", "read it", "zzz", "{\"name\":"]
        .iter()
        .enumerate()
    {
        let mut req = request(prompt, ToolChoice::Required, 400);
        req.temperature = Some(1.0);
        req.seed = Some(i as u64);
        let answer = generate(&mut model, &grammars, &req, &NoBounds, &mut |_| {}).unwrap();
        assert_eq!(answer.stop_reason, "tool_calls", "{answer:?}");
        let call = &answer.tool_calls[0];
        let tool = t
            .iter()
            .find(|t| t.name == call.name)
            .expect("an offered tool");
        let args: Value = serde_json::from_str(&call.arguments).unwrap();
        assert!(
            jsonschema::is_valid(&tool.parameters, &args),
            "{} {}",
            call.name,
            call.arguments
        );
    }
}

#[test]
fn a_named_tool_choice_calls_that_tool() {
    let (mut model, grammars) = loaded();
    let req = request("anything", ToolChoice::Named("read_file".into()), 120);
    let answer = generate(&mut model, &grammars, &req, &NoBounds, &mut |_| {}).unwrap();
    assert_eq!(answer.tool_calls[0].name, "read_file");
    let req = request("anything", ToolChoice::Named("rm".into()), 120);
    let err = generate(&mut model, &grammars, &req, &NoBounds, &mut |_| {}).unwrap_err();
    assert!(matches!(err, LocalLlmError::Grammar { .. }), "{err}");
}

#[test]
fn text_stops_at_max_tokens() {
    let (mut model, grammars) = loaded();
    let mut pieces = String::new();
    let req = request("hello", ToolChoice::None, 7);
    let answer = generate(&mut model, &grammars, &req, &NoBounds, &mut |p| {
        if let Piece::Text(t) = p {
            pieces.push_str(&t);
        }
    })
    .unwrap();
    assert!(answer.usage.output_tokens <= 7, "{answer:?}");
    assert!(answer.stop_reason == "length" || answer.stop_reason == "stop");
    assert_eq!(pieces, answer.content, "the streamed pieces are the answer");
}

#[test]
fn a_call_cut_short_by_max_tokens_is_no_call_at_all() {
    let (mut model, grammars) = loaded();
    let req = request("write", ToolChoice::Required, 5);
    let answer = generate(&mut model, &grammars, &req, &NoBounds, &mut |_| {}).unwrap();
    assert!(answer.tool_calls.is_empty(), "{answer:?}");
    assert_eq!(answer.stop_reason, "length");
}

#[test]
fn the_cache_gives_the_answer_a_cold_model_gives() {
    let (mut warm, grammars) = loaded();
    let first = request("first question", ToolChoice::None, 12);
    generate(&mut warm, &grammars, &first, &NoBounds, &mut |_| {}).unwrap();
    let mut second = request("first question", ToolChoice::None, 12);
    second.messages.push(Message {
        role: Role::Assistant,
        content: "an answer".into(),
        tool_calls: vec![],
        tool_call_id: None,
    });
    second.messages.push(user("and a second one"));
    let from_cache = generate(&mut warm, &grammars, &second, &NoBounds, &mut |_| {}).unwrap();
    assert!(from_cache.cached_tokens > 10, "{from_cache:?}");
    let (mut cold, grammars) = loaded();
    let from_scratch = generate(&mut cold, &grammars, &second, &NoBounds, &mut |_| {}).unwrap();
    assert_eq!(from_scratch.cached_tokens, 0);
    assert_eq!(from_cache.content, from_scratch.content);
}

#[test]
fn a_conversation_longer_than_the_context_keeps_its_newest_turns() {
    let (mut model, grammars) = loaded();
    let mut req = request("latest", ToolChoice::None, 8);
    req.messages = (0..80)
        .map(|i| user(&format!("message number {i} with some padding text")))
        .collect();
    let answer = generate(&mut model, &grammars, &req, &NoBounds, &mut |_| {}).unwrap();
    assert!(answer.usage.input_tokens <= 2048, "{answer:?}");
    assert!(
        answer.usage.input_tokens > 1500,
        "the newest turns fill it: {answer:?}"
    );
    req.messages = vec![user(&"x".repeat(3000))];
    let err = generate(&mut model, &grammars, &req, &NoBounds, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, LocalLlmError::ContextFull { context: 2048 }),
        "{err}"
    );
}

#[tokio::test]
async fn a_passed_deadline_is_a_timeout() {
    let engine = Engine::start(Weights::Auto);
    let mut req = request("hello", ToolChoice::None, 400);
    req.deadline = Instant::now();
    let err = engine.answer(&tiny(), req, None).await.unwrap_err();
    assert!(matches!(err, LocalLlmError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn requests_queue_and_a_dropped_stream_stops_its_generation() {
    let engine = Engine::start(Weights::Auto);
    // Warm up (load the model) so timings below are generation only.
    engine
        .answer(&tiny(), request("hi", ToolChoice::None, 1), None)
        .await
        .unwrap();
    // A long generation whose caller goes away after its first piece.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let long = tokio::spawn({
        let engine = engine.clone();
        async move {
            let mut req = request("go on", ToolChoice::None, 100_000);
            req.deadline = Instant::now() + Duration::from_secs(3600);
            engine.answer(&tiny(), req, Some(tx)).await
        }
    });
    rx.recv().await.expect("a first piece");
    drop(rx);
    let err = long.await.unwrap().unwrap_err();
    assert!(matches!(err, LocalLlmError::Cancelled), "{err}");
    // Three requests at once: each is answered, one after the other.
    let answers = futures_join(&engine).await;
    assert_eq!(answers, 3);
    assert_eq!(engine.waiting(), 0);
}

async fn futures_join(engine: &Engine) -> usize {
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .answer(
                        &tiny(),
                        request(&format!("q{i}"), ToolChoice::None, 4),
                        None,
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    ok
}

#[tokio::test]
async fn a_dropped_caller_frees_the_engine_for_the_next() {
    let engine = Engine::start(Weights::Auto);
    let mut req = request("go on", ToolChoice::None, 100_000);
    req.deadline = Instant::now() + Duration::from_secs(3600);
    let model = tiny();
    let abandoned = engine.answer(&model, req, None);
    // Let it start, then give up on it.
    let _ = tokio::time::timeout(Duration::from_millis(300), abandoned).await;
    let started = Instant::now();
    let answer = engine
        .answer(&tiny(), request("next", ToolChoice::None, 2), None)
        .await
        .unwrap();
    assert!(answer.usage.output_tokens <= 2);
    assert_eq!(
        engine.cancelled(),
        1,
        "the abandoned request was stopped, not finished"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test]
async fn a_file_that_is_not_a_model_fails_its_request_only() {
    let engine = Engine::start(Weights::Auto);
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"GGUF but not really").unwrap();
    let err = engine
        .answer(&junk, request("hi", ToolChoice::None, 2), None)
        .await
        .unwrap_err();
    assert!(matches!(err, LocalLlmError::Load { .. }), "{err}");
    let missing = dir.path().join("missing.gguf");
    let err = engine
        .answer(&missing, request("hi", ToolChoice::None, 2), None)
        .await
        .unwrap_err();
    assert!(matches!(err, LocalLlmError::Io { .. }), "{err}");
    engine
        .answer(&tiny(), request("hi", ToolChoice::None, 2), None)
        .await
        .expect("the engine still answers");
}
