//! `exec` against a recording stand-in for the agent's sandbox.

use openlegion_skill_sdk::process::Output;
use openlegion_skill_sdk::serde_json::{self, Value, json};
use openlegion_skill_sdk::testing::{self, Host};

use crate::Skill;

/// Records commands; answers with a canned output, or refuses like the agent does.
#[derive(Default)]
struct Sandbox {
    ran: Vec<(String, Option<String>, Option<u32>)>,
    refuse: bool,
}

impl Host for Sandbox {
    fn run(
        &mut self,
        command: &str,
        workdir: Option<&str>,
        timeout_ms: Option<u32>,
    ) -> Result<Output, String> {
        self.ran
            .push((command.to_owned(), workdir.map(String::from), timeout_ms));
        if self.refuse {
            return Err(format!(
                "workdir must be under /data, got: {}",
                workdir.unwrap_or_default()
            ));
        }
        Ok(Output {
            exit_code: 2,
            stdout: "some\n".into(),
            stderr: "ls: nope: No such file or directory\n".into(),
            timed_out: false,
            truncated: false,
        })
    }
}

fn call(sandbox: Sandbox, args: Value) -> (Result<Value, String>, Sandbox) {
    let (out, sandbox) = testing::with_host(sandbox, || Skill::invoke("exec", &args.to_string()));
    (
        out.map(|text| serde_json::from_str(&text).expect("JSON")),
        sandbox,
    )
}

#[test]
fn runs_in_data_with_30_seconds_by_default() {
    let (out, sandbox) = call(Sandbox::default(), json!({"command": "ls some nope"}));
    assert_eq!(
        out.unwrap(),
        json!({
            "exit_code": 2,
            "stdout": "some\n",
            "stderr": "ls: nope: No such file or directory\n",
            "timed_out": false,
            "truncated": false,
        })
    );
    assert_eq!(sandbox.ran, [("ls some nope".into(), None, Some(30_000))]);
}

#[test]
fn passes_the_workdir_and_a_bounded_timeout() {
    let (_, sandbox) = call(
        Sandbox::default(),
        json!({"command": "make", "workdir": "/data/src", "timeout": 900}),
    );
    let (_, sandbox) = testing::with_host(sandbox, || {
        Skill::invoke("exec", r#"{"command": "true", "timeout": 0}"#)
    });
    assert_eq!(
        sandbox.ran,
        [
            ("make".into(), Some("/data/src".into()), Some(300_000)),
            ("true".into(), None, Some(1000)),
        ]
    );
}

#[test]
fn refusals_are_tool_errors() {
    let sandbox = Sandbox {
        refuse: true,
        ..Sandbox::default()
    };
    let (out, _) = call(sandbox, json!({"command": "ls", "workdir": "../etc"}));
    assert_eq!(out.unwrap_err(), "workdir must be under /data, got: ../etc");
    let (out, _) = call(Sandbox::default(), json!({"command": "ls", "cwd": "x"}));
    assert!(
        out.unwrap_err().contains("unknown field `cwd`"),
        "unknown fields are refused"
    );
}

#[test]
fn without_the_capability_exec_says_so() {
    // Outside `with_host` the stand-in grants nothing, as an agent without `process`.
    assert_eq!(
        Skill::invoke("exec", r#"{"command": "id"}"#).unwrap_err(),
        "capability 'process' is not granted to skill 'test'"
    );
}

#[test]
fn schema_requires_only_the_command() {
    let schema: Value = serde_json::from_str(&Skill::describe()[0].parameters_schema).unwrap();
    assert_eq!(schema["required"], json!(["command"]));
    assert_eq!(schema["additionalProperties"], json!(false));
    assert!(schema["properties"]["timeout"].is_object());
}
