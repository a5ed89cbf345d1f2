//! Loading and validating workflow files: the shipped ones, the templates', the original's,
//! and every kind of mistake, each reported with its file, line and field.

use std::path::{Path, PathBuf};

use super::definition::{Input, Policy};
use super::load::{load_dir, load_text};
use crate::config::ConfigError;

const AGENTS: &[&str] = &["research", "qualify", "outreach", "backup"];

fn known(id: &str) -> bool {
    AGENTS.contains(&id)
}

fn load(text: &str) -> Result<super::Workflow, ConfigError> {
    load_text(Path::new("/cfg/workflows/w.yaml"), text, Some(&known))
}

/// The error's text, which must name the file.
fn error(text: &str) -> String {
    let e = load(text).expect_err("the file loaded").to_string();
    assert!(e.starts_with("/cfg/workflows/w.yaml:"), "{e}");
    e
}

const THREE: &str = "name: p
trigger: new_prospect
steps:
  - id: research
    agent: research
    task_type: research_prospect
  - id: qualify
    agent: qualify
    task_type: qualify_lead
    depends_on: [research]
    condition: \"research.result.score >= 5\"
  - id: outreach
    agent: outreach
    task_type: draft
    depends_on: [qualify]
";

#[test]
fn the_shipped_prospect_pipeline_loads_against_the_example_agents() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let config = crate::config::Config::load(&dir).unwrap();
    let defs = super::load(&config.dir, &config.agents).unwrap_or_else(|e| panic!("{e}"));
    let wf = &defs["prospect_pipeline"];
    assert_eq!(wf.triggers.topic.as_deref(), Some("new_prospect"));
    assert!(wf.triggers.webhook.as_ref().unwrap().secret_env.is_some());
    let ids: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["research", "qualify", "outreach"]);
    assert_eq!(wf.steps[0].on_failure, Policy::Retry { times: 3 });
    assert_eq!(
        wf.steps[1].input,
        Input::Blackboard("context/prospect_{lead_id}".into())
    );
    assert_eq!(
        wf.steps[1].condition.as_ref().unwrap().source(),
        "research.result.score >= 5"
    );
    assert_eq!(wf.on_complete.as_deref(), Some("pipeline_complete"));
}

/// The `workflows:` map of a template, each entry as the YAML file `openlegion setup`
/// writes, loaded against the template's own agents.
fn template_workflows(name: &str) -> Vec<super::Workflow> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../templates/{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = openlegion_protocol::strict_yaml::from_str(&text).unwrap();
    let agents: Vec<String> = doc["agents"].as_object().unwrap().keys().cloned().collect();
    let known = |id: &str| agents.iter().any(|a| a == id);
    let map = doc["workflows"]
        .as_object()
        .expect("the template ships workflows");
    assert!(!map.is_empty());
    map.iter()
        .map(|(key, wf)| {
            let yaml = serde_saphyr::to_string(wf).unwrap();
            let file = PathBuf::from(format!("workflows/{key}.yaml"));
            let loaded = load_text(&file, &yaml, Some(&known))
                .unwrap_or_else(|e| panic!("template {name}, workflow {key}: {e}\n{yaml}"));
            assert_eq!(&loaded.name, key, "the key is the workflow's name");
            loaded
        })
        .collect()
}

#[test]
fn the_sales_and_devteam_templates_ship_workflows_for_their_agents() {
    let sales = template_workflows("sales");
    assert_eq!(sales[0].steps.len(), 3);
    assert!(
        sales[0]
            .agents()
            .all(|a| ["researcher", "qualifier", "outreach"].contains(&a))
    );
    let devteam = template_workflows("devteam");
    assert!(
        devteam[0]
            .agents()
            .all(|a| ["pm", "engineer", "reviewer"].contains(&a))
    );
    assert!(devteam[0].steps.iter().any(|s| s.condition.is_some()));
}

#[test]
fn the_original_s_file_loads_unchanged() {
    // config/workflows/prospect_pipeline.yaml of the Python original (v0), verbatim.
    let original = "name: prospect_pipeline
trigger: new_lead
timeout: 600

steps:
  - id: research
    agent: research
    task_type: research_prospect
    input_from: trigger.payload
    timeout: 120
    on_failure: retry
    max_retries: 3

  - id: qualify
    agent: qualify
    task_type: score_lead
    input_from: \"blackboard://context/prospect_{lead_id}\"
    depends_on: [research]
    timeout: 60
    on_failure: skip

  - id: outreach
    agent: outreach
    task_type: draft_sequence
    input_from: \"blackboard://context/prospect_{lead_id}\"
    depends_on: [qualify]
    condition: \"qualify.result.score > 0.7\"
    timeout: 90
    on_failure: abort
    fallback_agent: backup
    requires_approval: false
    approval_timeout: 3600

on_complete: pipeline_complete
";
    let wf = load(original).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wf.triggers.topic.as_deref(), Some("new_lead"));
    assert_eq!(wf.timeout.as_secs(), 600);
    assert_eq!(wf.steps[1].on_failure, Policy::Skip);
    assert_eq!(wf.steps[2].on_failure, Policy::Abort);
    assert_eq!(wf.steps[0].timeout.as_secs(), 120);
}

#[test]
fn steps_run_after_what_they_depend_on_whatever_the_file_order() {
    let wf = load(
        "name: p
steps:
  - {id: c, agent: research, task_type: t, depends_on: [a, b]}
  - {id: b, agent: research, task_type: t, depends_on: [a]}
  - {id: a, agent: research, task_type: t}
  - {id: d, agent: research, task_type: t}
",
    )
    .unwrap();
    let ids: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    assert_eq!(
        wf.steps[0].input,
        Input::Trigger(vec![]),
        "the default input"
    );
    assert_eq!(wf.steps[0].on_failure, Policy::Abort, "the default policy");
    assert_eq!(wf.steps[0].timeout.as_secs(), 120);
    assert_eq!(wf.timeout.as_secs(), 600);
    assert!(wf.triggers.topic.is_none(), "run by hand only");
}

#[test]
fn a_cycle_is_named_with_its_path_line_and_field() {
    let e = error(
        "name: p
steps:
  - id: a
    agent: research
    task_type: t
    depends_on: [c]
  - id: b
    agent: research
    task_type: t
    depends_on: [a]
  - id: c
    agent: research
    task_type: t
    depends_on: [b]
",
    );
    assert!(e.contains("a dependency cycle: a -> c -> b -> a"), "{e}");
    assert!(
        e.contains(":10:") && e.contains("steps[1].depends_on[0]"),
        "{e}"
    );
}

#[test]
fn a_long_chain_loads_without_deep_recursion() {
    let mut text = String::from("name: p\nsteps:\n  - {id: s0, agent: research, task_type: t}\n");
    for i in 1..3000 {
        text.push_str(&format!(
            "  - {{id: s{i}, agent: research, task_type: t, depends_on: [s{}]}}\n",
            i - 1
        ));
    }
    assert_eq!(load(&text).unwrap().steps.len(), 3000);
}

#[test]
fn unknown_steps_agents_and_keys_name_file_line_and_field() {
    let e = error(&THREE.replace("depends_on: [qualify]", "depends_on: [qualfy]"));
    assert!(
        e.contains(":15:") && e.contains("steps[2].depends_on[0]"),
        "{e}"
    );
    assert!(e.contains("no step \"qualfy\""), "{e}");

    let e = error(&THREE.replace("agent: outreach", "agent: sales"));
    assert!(e.contains(":13:") && e.contains("steps[2].agent"), "{e}");
    assert!(e.contains("no agent \"sales\" in agents.yaml"), "{e}");

    let e = error(&THREE.replace(
        "    task_type: draft\n",
        "    task_type: draft\n    retries: 2\n",
    ));
    assert!(
        e.contains(":15:") && e.contains("unknown field `retries`"),
        "{e}"
    );
    assert!(
        e.contains(": steps[2].retries: "),
        "Spanned's `value` is not in the path: {e}"
    );

    let e = error(&THREE.replace(
        "task_type: draft",
        "task_type: draft\n    input_from: reserch.result",
    ));
    assert!(
        e.contains("steps[2].input_from")
            && e.contains("\"reserch\" is not a step this one depends on"),
        "{e}"
    );

    let e = error(&THREE.replace("  - id: qualify", "  - id: research"));
    assert!(
        e.contains(":7:") && e.contains("another step is \"research\""),
        "{e}"
    );

    let e = error("name: p\nsteps: []\n");
    assert!(e.contains("at least one step"), "{e}");

    let e = error(&THREE.replace("name: p", "name: p/q"));
    assert!(e.contains(":1:") && e.contains("name"), "{e}");

    let e = error(&THREE.replace(
        "    task_type: draft\n",
        "    task_type: draft\n    timeout: 0\n",
    ));
    assert!(
        e.contains("steps[2].timeout") && e.contains("0 seconds"),
        "{e}"
    );
}

#[test]
fn a_condition_that_does_not_parse_or_reads_a_later_step_is_a_load_error() {
    let e = error(&THREE.replace("research.result.score >= 5", "research.result.score >= "));
    assert!(
        e.contains(":11:") && e.contains("steps[1].condition"),
        "{e}"
    );
    assert!(e.contains("does not parse: column"), "{e}");

    let e = error(&THREE.replace("research.result.score >= 5", "outreach.result.sent"));
    assert!(
        e.contains("\"outreach\" is not a step this one depends on"),
        "{e}"
    );

    let e = error(&THREE.replace("research.result.score >= 5", "trigger.body.x == 1"));
    assert!(e.contains("the trigger has payload"), "{e}");

    let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = error(&THREE.replace("research.result.score >= 5", &deep));
    assert!(e.contains("nested more than"), "{e}");

    // Transitive dependencies count: outreach may read research through qualify.
    let ok = THREE.replace(
        "depends_on: [qualify]\n",
        "depends_on: [qualify]\n    condition: \"research.result.score > 1\"\n",
    );
    load(&ok).unwrap();
}

#[test]
fn failure_policies_in_both_forms() {
    let with = |policy: &str| {
        THREE.replace(
            "    task_type: draft\n",
            &format!("    task_type: draft\n{policy}"),
        )
    };
    let p = |policy: &str| {
        load(&with(policy)).unwrap_or_else(|e| panic!("{e}")).steps[2]
            .on_failure
            .clone()
    };
    assert_eq!(
        p("    on_failure: {retry: 2}\n"),
        Policy::Retry { times: 2 }
    );
    assert_eq!(p("    on_failure: retry\n"), Policy::Retry { times: 3 });
    assert_eq!(
        p("    on_failure: retry\n    max_retries: 5\n"),
        Policy::Retry { times: 5 }
    );
    assert_eq!(
        p("    on_failure: retry\n    max_retries: 0\n"),
        Policy::Abort
    );
    assert_eq!(
        p("    on_failure: {fallback: backup}\n"),
        Policy::Fallback {
            agent: "backup".into()
        }
    );
    assert_eq!(
        p("    on_failure: fallback\n    fallback_agent: backup\n"),
        Policy::Fallback {
            agent: "backup".into()
        }
    );
    assert_eq!(p("    on_failure: skip\n"), Policy::Skip);

    let e = error(&with("    on_failure: fallback\n"));
    assert!(e.contains("fallback needs an agent"), "{e}");
    let e = error(&with("    on_failure: {fallback: nobody}\n"));
    assert!(e.contains("no agent \"nobody\""), "{e}");
    let e = error(&with("    on_failure: {retry: 2}\n    max_retries: 3\n"));
    assert!(e.contains("steps[2].max_retries"), "{e}");
    let e = error(&with("    on_failure: retry_forever\n"));
    assert!(
        e.contains("steps[2].on_failure") && e.contains("retry_forever"),
        "{e}"
    );
    let e = error(&with("    on_failure: {fallback: outreach}\n"));
    assert!(e.contains("the step's own agent"), "{e}");
    let e = error(&with("    requires_approval: true\n"));
    assert!(e.contains("not supported"), "{e}");
}

#[test]
fn trigger_forms_and_their_mistakes() {
    let with = |t: &str| THREE.replace("trigger: new_prospect\n", t);
    let wf = load(&with("trigger:\n  topic: t\n  webhook: true\n")).unwrap();
    assert_eq!(wf.triggers.topic.as_deref(), Some("t"));
    assert_eq!(wf.triggers.webhook.as_ref().unwrap().rate_per_minute, 120);
    let wf = load(&with(
        "trigger:\n  webhook: {secret_env: S, rate_per_minute: 5}\n",
    ))
    .unwrap();
    assert_eq!(
        wf.triggers.webhook.as_ref().unwrap().secret_env.as_deref(),
        Some("S")
    );
    let e = error(&with("trigger:\n  topik: t\n"));
    assert!(
        e.contains("unknown field `topik`") && e.contains(":3:"),
        "{e}"
    );
    let e = error(&with("trigger: new_prospect\non_complete: new_prospect\n"));
    assert!(
        e.contains("on_complete") && e.contains("each run would start another"),
        "{e}"
    );
}

#[test]
fn promote_and_blackboard_keys_are_checked() {
    let with = |k: &str| {
        THREE.replace(
            "    task_type: draft\n",
            &format!("    task_type: draft\n{k}"),
        )
    };
    let wf = load(&with(
        "    promote_to_blackboard: \"context/draft_{lead_id}\"\n",
    ))
    .unwrap();
    assert_eq!(
        wf.steps[2].promote.as_deref(),
        Some("context/draft_{lead_id}")
    );
    let e = error(&with(
        "    promote_to_blackboard: \"context/draft_{lead_id\"\n",
    ));
    assert!(e.contains("not closed"), "{e}");
    let e = error(&with("    input_from: \"blackboard:///abs\"\n"));
    assert!(
        e.contains("steps[2].input_from") && e.contains("starts with '/'"),
        "{e}"
    );
}

#[test]
fn names_are_unique_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let wf_dir = dir.path().join(super::WORKFLOWS_DIR);
    std::fs::create_dir(&wf_dir).unwrap();
    std::fs::write(wf_dir.join("a.yaml"), THREE).unwrap();
    std::fs::write(wf_dir.join("b.yml"), THREE).unwrap();
    std::fs::write(wf_dir.join("notes.txt"), "not a workflow").unwrap();
    let e = load_dir(dir.path(), &known).unwrap_err().to_string();
    assert!(
        e.contains("b.yml") && e.contains("another workflow is named \"p\""),
        "{e}"
    );
    std::fs::remove_file(wf_dir.join("b.yml")).unwrap();
    assert_eq!(load_dir(dir.path(), &known).unwrap().len(), 1);
    let none = tempfile::tempdir().unwrap();
    assert!(load_dir(none.path(), &known).unwrap().is_empty());
}
