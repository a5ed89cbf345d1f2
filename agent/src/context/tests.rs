use serde_json::json;

use super::*;
use crate::config::MeshAddr;

fn context(window: u32, workspace: &std::path::Path) -> Context {
    Context::new(Arc::new(ContextEnv {
        agent: "a".into(),
        window,
        mesh: MeshClient::new(&MeshAddr::Tcp("http://127.0.0.1:9".into()), "t"),
        llm_timeout: 10,
        workspace: workspace.to_owned(),
        facts: None,
    }))
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

fn call(id: &str) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}}]})
}

fn result(id: &str, text: &str) -> Value {
    json!({"role": "tool", "tool_call_id": id, "content": text})
}

#[test]
fn the_tail_keeps_four_messages_and_never_starts_with_a_tool_result() {
    let system = json!({"role": "system", "content": "s"});
    let plain = vec![
        system.clone(),
        user("1"),
        user("2"),
        user("3"),
        user("4"),
        user("5"),
    ];
    assert_eq!(tail_start(&plain, 4), 2);
    let calls = vec![
        system.clone(),
        user("1"),
        call("a"),
        result("a", "x"),
        result("a", "y"),
        user("2"),
        user("3"),
    ];
    // Four back is the first tool result; its call comes along.
    assert_eq!(tail_start(&calls, 4), 2);
    assert_eq!(tail_start(&[system, user("1")], 4), 1);
}

#[test]
fn fit_archives_the_oldest_groups_first_and_keeps_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(1_000, dir.path());
    let big = "w".repeat(1_600);
    let mut messages = vec![json!({"role": "system", "content": "s"})];
    for i in 0..6 {
        messages.push(user(&format!("{i} {big}")));
        messages.push(json!({"role": "assistant", "content": format!("answer {i}")}));
    }
    messages.push(user("the question now"));
    ctx.fit(&mut messages, &[], 900).unwrap();
    assert!(ctx.counter.count(&messages, &[]) <= 900);
    assert!(starts_with(&messages[1], DROPPED_PREFIX));
    assert_eq!(role(&messages[2]), "assistant", "roles still alternate");
    assert_eq!(messages.last().unwrap()["content"], "the question now");
    let archive = std::fs::read_dir(dir.path().join("memory/archive")).unwrap();
    let texts: String = archive
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        texts.contains(&format!("user: 0 {big}")),
        "dropped messages archived whole"
    );
}

#[test]
fn fit_cuts_the_longest_message_when_one_group_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(1_000, dir.path());
    let mut messages = vec![
        json!({"role": "system", "content": "s"}),
        user("read it"),
        call("a"),
        result("a", &"z".repeat(20_000)),
    ];
    ctx.fit(&mut messages, &[], 900).unwrap();
    assert!(ctx.counter.count(&messages, &[]) <= 900);
    let cut = messages.last().unwrap()["content"].as_str().unwrap();
    assert!(cut.contains("cut to fit the context window"));
    assert_eq!(
        role(&messages[2]),
        "assistant",
        "the call stays with its result"
    );
}

#[test]
fn fit_refuses_when_the_tools_alone_are_too_big() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(1_000, dir.path());
    let tools: Vec<ToolDef> = (0..20)
        .map(|i| ToolDef {
            name: format!("t{i}"),
            description: "d".repeat(400),
            parameters: json!({"type": "object"}),
        })
        .collect();
    let mut messages = vec![json!({"role": "system", "content": "s"}), user("hi")];
    let e = ctx.fit(&mut messages, &tools, 900).unwrap_err();
    assert!(
        e.contains("context window of 1000 tokens") && e.contains("tools"),
        "{e}"
    );
}

#[tokio::test]
async fn small_conversations_pass_untouched_and_warnings_start_at_80_percent() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = context(10_000, dir.path());
    let mut messages = vec![json!({"role": "system", "content": "s"}), user("hi")];
    let before = messages.clone();
    let prepared = ctx.prepare(&mut messages, &[]).await.unwrap();
    assert_eq!(prepared.warning, None);
    assert_eq!(prepared.raw, super::raw_estimate(&messages, &[]));
    assert_eq!(messages, before);
    // 85 % of the window with nothing older than the last four messages to compact
    // (the extraction call would fail: no mesh listens).
    let mut messages = vec![
        json!({"role": "system", "content": "s"}),
        user(&"q".repeat(34_000)),
    ];
    let prepared = ctx.prepare(&mut messages, &[]).await.unwrap();
    let warning = prepared.warning.unwrap();
    // What is sent: the warning at the end of the system prompt, counted once.
    let sent = crate::turn::with_warning(&messages, &warning);
    assert!(prepared.raw.abs_diff(super::raw_estimate(&sent, &[])) <= 1);
    assert!(
        warning.starts_with("CONTEXT WARNING: Your context is 85% full"),
        "{warning}"
    );
}
