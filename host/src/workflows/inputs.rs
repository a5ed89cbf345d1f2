//! What a step sees: the environment its condition is evaluated over (the trigger and the
//! records of the steps that ended before it), the input it is handed (`input_from`), and
//! blackboard keys written with `{field}`s of the trigger's payload.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::definition::Input;
use super::load::placeholders;
use super::runs::StepRow;

/// What started a run; `trigger.*` in conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// `topic`, `webhook`, `manual` or `cron`.
    pub kind: String,
    /// The topic, the webhook's workflow, `operator`, the schedule.
    pub source: String,
    pub payload: Map<String, Value>,
    /// Whether the payload may be taken as instructions: not when it came from outside
    /// (a webhook), which the agents are told.
    pub trusted: bool,
    /// The pub/sub event's id, topic, source and time (topic triggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
}

/// The record of an ended step, as conditions see it (`research.result.score`).
pub(super) fn step_record(row: &StepRow) -> Value {
    let result = row
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
        .unwrap_or_else(|| json!({}));
    json!({
        "status": row.status,
        "result": result,
        "error": row.error,
        "attempts": row.attempts,
        "agent": row.agent,
    })
}

/// The environment of conditions and inputs: `trigger` and each ended step by id.
pub(super) fn environment<'a>(
    trigger: &Trigger,
    ended: impl Iterator<Item = &'a StepRow>,
) -> Value {
    let mut env = Map::new();
    env.insert(
        "trigger".into(),
        serde_json::to_value(trigger).expect("a trigger serialises"),
    );
    for row in ended {
        env.insert(row.step_id.clone(), step_record(row));
    }
    Value::Object(env)
}

/// Follows `path` from `value`; says where it stops.
fn follow<'a>(mut value: &'a Value, start: &str, path: &[String]) -> Result<&'a Value, String> {
    let mut at = start.to_owned();
    for seg in path {
        let next = match value {
            Value::Object(m) => m.get(seg),
            Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        value = next.ok_or_else(|| format!("{at} has no field `{seg}`"))?;
        at.push('.');
        at.push_str(seg);
    }
    Ok(value)
}

/// A value as a task's input: objects as they are, anything else as `{"value": …}`.
pub(super) fn as_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        other => Map::from_iter([("value".to_owned(), other)]),
    }
}

/// The input of a step whose source is the trigger or a step (a blackboard source is read
/// by the caller, which knows the blackboard). `Err` says what is missing.
pub(super) fn resolve(input: &Input, env: &Value) -> Result<Map<String, Value>, String> {
    match input {
        Input::Trigger(path) => {
            let payload = &env["trigger"]["payload"];
            follow(payload, "trigger.payload", path).map(|v| as_object(v.clone()))
        }
        Input::Step { step, path } => {
            let result = env
                .get(step)
                .map(|r| &r["result"])
                .ok_or_else(|| format!("step {step} has no result"))?;
            follow(result, &format!("{step}.result"), path).map(|v| as_object(v.clone()))
        }
        Input::Blackboard(_) => unreachable!("the caller reads the blackboard"),
    }
}

/// `template` with each `{field}` replaced by that field of the trigger's payload (a
/// string or a number).
pub(super) fn fill(template: &str, payload: &Map<String, Value>) -> Result<String, String> {
    let mut out = template.to_owned();
    for name in placeholders(template)? {
        let value = match payload.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(format!(
                    "trigger.payload.{name} is not a string or a number ({other})"
                ));
            }
            None => return Err(format!("trigger.payload has no field `{name}`")),
        };
        out = out.replace(&format!("{{{name}}}"), &value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger() -> Trigger {
        Trigger {
            kind: "manual".into(),
            source: "operator".into(),
            payload: as_object(
                json!({"lead_id": 7, "company": {"domain": "acme.test"}, "tags": ["x"]}),
            ),
            trusted: true,
            event: None,
        }
    }

    fn row(id: &str, result: Value) -> StepRow {
        StepRow {
            step_id: id.into(),
            status: "complete".into(),
            result: Some(result.to_string()),
            ..StepRow::default()
        }
    }

    #[test]
    fn inputs_follow_paths_into_the_trigger_and_earlier_results() {
        let research = row(
            "research",
            json!({"score": 8, "company": {"domain": "acme.test"}}),
        );
        let env = environment(&trigger(), [&research].into_iter());
        assert_eq!(
            resolve(&Input::Trigger(vec![]), &env).unwrap()["lead_id"],
            7
        );
        assert_eq!(
            resolve(&Input::Trigger(vec!["company".into()]), &env).unwrap(),
            as_object(json!({"domain": "acme.test"}))
        );
        assert_eq!(
            resolve(
                &Input::Step {
                    step: "research".into(),
                    path: vec!["company".into(), "domain".into()]
                },
                &env
            )
            .unwrap(),
            as_object(json!({"value": "acme.test"}))
        );
        let e = resolve(
            &Input::Step {
                step: "research".into(),
                path: vec!["company".into(), "name".into()],
            },
            &env,
        )
        .unwrap_err();
        assert_eq!(e, "research.result.company has no field `name`");
        assert_eq!(env["research"]["status"], "complete");
        assert_eq!(env["trigger"]["payload"]["tags"][0], "x");
    }

    #[test]
    fn key_templates_take_strings_and_numbers_from_the_payload() {
        let payload = trigger().payload;
        assert_eq!(
            fill("context/prospect_{lead_id}", &payload).unwrap(),
            "context/prospect_7"
        );
        assert!(
            fill("context/{company}", &payload)
                .unwrap_err()
                .contains("not a string")
        );
        assert!(
            fill("context/{nope}", &payload)
                .unwrap_err()
                .contains("no field `nope`")
        );
        assert_eq!(fill("context/plain", &payload).unwrap(), "context/plain");
    }
}
