//! A call that hits a limit or crashes fails with an error naming the tool and the limit,
//! and the host goes on serving.

use std::time::{Duration, Instant};

use openlegion_skill_host::{LimitsOverride, SkillHostSettings, ToolError};

use crate::support::{TestHost, shared_cache};

fn limits(fuel: Option<u64>, memory_mib: Option<u64>, timeout_ms: Option<u64>) -> LimitsOverride {
    LimitsOverride {
        fuel,
        memory_mib,
        timeout_ms,
    }
}

/// The host still answers: echo returns its arguments.
async fn still_serving(t: &TestHost) {
    assert_eq!(
        t.host.invoke("echo", r#"{"after":1}"#).await.unwrap(),
        r#"{"after":1}"#
    );
}

#[tokio::test]
async fn fuel_exhaustion_fails_that_call_only() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    t.load_limited("spin", "spin", &[], limits(Some(1_000_000), None, None))
        .await;
    let err = t.host.invoke("spin", "{}").await.unwrap_err();
    assert_eq!(
        err,
        ToolError::OutOfFuel {
            tool: "spin".into(),
            limit: 1_000_000
        }
    );
    assert_eq!(
        err.to_string(),
        "tool 'spin' ran out of fuel (limit 1000000)"
    );
    still_serving(&t).await;
    // The trapped instance is gone; the next call of the same tool gets a fresh one.
    assert_eq!(t.host.invoke("spin", "{}").await.unwrap_err(), err);
}

#[tokio::test]
async fn a_spinning_guest_is_stopped_by_the_wall_clock() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    t.load_limited(
        "spin",
        "spin",
        &[],
        limits(Some(u64::MAX / 2), None, Some(300)),
    )
    .await;
    let started = Instant::now();
    let err = t.host.invoke("spin", "{}").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.to_string(), "tool 'spin' timed out after 300 ms");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    still_serving(&t).await;
}

/// On a current-thread runtime the guest holds the only worker; the epoch thread still
/// makes it yield, so the timer can fire.
#[tokio::test(flavor = "current_thread")]
async fn timeouts_work_on_a_single_threaded_runtime() {
    let t = TestHost::new(&[]);
    t.load_limited("sleepy", "sleepy", &[], limits(None, None, Some(300)))
        .await;
    let err = t
        .host
        .invoke("sleepy", r#"{"ms": 5000}"#)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "tool 'sleepy' timed out after 300 ms");
    assert_eq!(
        t.host.invoke("sleepy", r#"{"ms": 20}"#).await.unwrap(),
        "slept 20 ms"
    );
}

#[tokio::test]
async fn memory_growth_past_the_limit_fails_that_call_only() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    t.load_limited("hog", "hog", &[], limits(None, Some(64), None))
        .await;
    let err = t.host.invoke("hog", "{}").await.unwrap_err();
    assert_eq!(
        err,
        ToolError::OutOfMemory {
            tool: "hog".into(),
            limit: 64 << 20
        }
    );
    assert_eq!(
        err.to_string(),
        "tool 'hog' exceeded its memory limit of 64 MiB"
    );
    still_serving(&t).await;

    t.load_limited("hog", "hog", &[], limits(None, Some(16), None))
        .await;
    let err = t.host.invoke("hog", "{}").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "tool 'hog' exceeded its memory limit of 16 MiB"
    );
}

#[tokio::test]
async fn a_panic_is_a_crash_with_the_panic_message() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    t.load("boom", "boom", &[]).await;
    for _ in 0..2 {
        let err = t.host.invoke("boom", "{}").await.unwrap_err();
        let ToolError::Crashed { tool, message } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(tool, "boom");
        assert!(message.contains("panicked at"), "{message}");
        assert!(message.contains("boom requested"), "{message}");
        assert!(message.contains("unreachable"), "{message}");
        assert!(
            err.to_string().starts_with("tool 'boom' crashed: "),
            "{err}"
        );
        still_serving(&t).await;
    }
}

#[tokio::test]
async fn a_guest_error_is_passed_through_unchanged() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    let err = t.host.invoke("cap", r#"{"op":"nope"}"#).await.unwrap_err();
    assert_eq!(
        err,
        ToolError::Tool {
            tool: "cap".into(),
            message: "unknown op: nope".into()
        }
    );
    assert_eq!(err.to_string(), "unknown op: nope");
}

#[tokio::test]
async fn unknown_tools_and_oversized_arguments_are_refused() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    let err = t.host.invoke("teleport", "{}").await.unwrap_err();
    assert_eq!(err.to_string(), "no tool named 'teleport'");
    let huge = format!(r#"{{"x":"{}"}}"#, "a".repeat(1024 * 1024));
    let err = t.host.invoke("echo", &huge).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "tool 'echo' arguments are 1048584 bytes, more than the 1048576 allowed (the field 'x' alone is 1048576 bytes)"
    );
}

#[tokio::test]
async fn a_chatty_guest_is_not_hurt_by_the_stderr_cap() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    assert_eq!(
        t.cap(serde_json::json!({"op": "stderr", "lines": 5000}))
            .await
            .unwrap(),
        "printed"
    );
}

#[tokio::test]
async fn calls_beyond_the_pool_wait_for_a_slot() {
    let mut config = SkillHostSettings::new(shared_cache());
    config.max_concurrent_calls = 2;
    let t = TestHost::with(&[], config);
    t.load("sleepy", "sleepy", &[]).await;
    let calls = (0..8).map(|_| t.host.invoke("sleepy", r#"{"ms": 30}"#));
    for answer in futures_util::future::join_all(calls).await {
        assert_eq!(answer.unwrap(), "slept 30 ms");
    }
}

#[tokio::test]
async fn answers_and_tool_errors_are_bounded() {
    let t = TestHost::new(&[]);
    t.load("echo", "echo", &[]).await;
    let big = serde_json::json!({"op": "answer", "text": "x", "repeat": 4 * 1024 * 1024 + 1});
    assert_eq!(
        t.cap(big).await,
        Err("tool 'cap' answered 4194305 bytes, more than the 4194304 allowed".into())
    );
    let just_fits = serde_json::json!({"op": "answer", "text": "x", "repeat": 4 * 1024 * 1024});
    assert_eq!(t.cap(just_fits).await.unwrap().len(), 4 * 1024 * 1024);
    let long_error = serde_json::json!({"op": "fail", "text": "e", "repeat": 100_000});
    let err = t.cap(long_error).await.unwrap_err();
    assert_eq!(err, format!("{} …(truncated)", "e".repeat(64 * 1024)));
}
