//! The browser tools against a recording stand-in for the mesh's browser.

use openlegion_skill_sdk::serde_json::{self, Value, json};
use openlegion_skill_sdk::testing::{self, Host};

use crate::Skill;

/// Records each action and answers as the mesh's browser would.
#[derive(Default)]
struct Browser {
    actions: Vec<(String, Value)>,
    registered: Vec<String>,
}

impl Host for Browser {
    fn browser(&mut self, action: &str, args: Value) -> Result<String, String> {
        self.actions.push((action.to_owned(), args.clone()));
        let page = json!({"url": "https://example.com/", "title": "Example"});
        Ok(match action {
            "navigate" if args["url"] == "http://10.0.0.1/" => {
                return Err("navigation to http://10.0.0.1/ refused: a private address".into());
            }
            "evaluate" => json!({"url": page["url"], "title": page["title"], "json": "{\"n\":2}"}),
            "screenshot" => json!({"url": page["url"], "path": args["path"], "bytes": 1234}),
            _ => page,
        }
        .to_string())
    }

    fn register_artifact(&mut self, name: &str) -> Result<String, String> {
        self.registered.push(name.to_owned());
        Ok(json!({"key": format!("artifacts/scout/{name}")}).to_string())
    }
}

fn call(tool: &str, args: Value) -> (Result<Value, String>, Browser) {
    let (out, host) = testing::with_host(Browser::default(), || {
        Skill::invoke(tool, &args.to_string())
    });
    (out.map(|text| serde_json::from_str(&text).unwrap()), host)
}

#[test]
fn every_tool_maps_onto_its_action() {
    let cases = [
        (
            "browser_navigate",
            json!({"url": "https://example.com/"}),
            "navigate",
            json!({"url": "https://example.com/", "new_tab": false}),
        ),
        ("browser_snapshot", json!({}), "snapshot", json!({})),
        (
            "browser_click",
            json!({"target": "e3"}),
            "click",
            json!({"target": "e3"}),
        ),
        (
            "browser_type",
            json!({"target": "#q", "text": "rust", "submit": true}),
            "type_text",
            json!({"target": "#q", "text": "rust", "submit": true}),
        ),
    ];
    for (tool, args, action, sent) in cases {
        let (out, host) = call(tool, args);
        assert_eq!(out.unwrap()["title"], "Example", "{tool}");
        assert_eq!(host.actions, [(action.to_owned(), sent)], "{tool}");
    }
}

#[test]
fn evaluate_returns_the_value_as_json() {
    let (out, _) = call("browser_evaluate", json!({"script": "({n: 1 + 1})"}));
    let out = out.unwrap();
    assert_eq!(out["result"], json!({"n": 2}));
    assert!(out.get("json").is_none());
}

#[test]
fn screenshots_go_to_artifacts_and_are_registered() {
    let (out, host) = call(
        "browser_screenshot",
        json!({"name": "pricing", "full_page": true}),
    );
    let out = out.unwrap();
    assert_eq!(out["path"], "artifacts/pricing.png");
    assert_eq!(out["registered"], "artifacts/scout/pricing.png");
    assert_eq!(
        host.actions[0].1,
        json!({"path": "artifacts/pricing.png", "full_page": true})
    );
    assert_eq!(host.registered, ["pricing.png"]);
    let (out, _) = call("browser_screenshot", json!({}));
    assert!(
        out.unwrap()["path"]
            .as_str()
            .unwrap()
            .starts_with("artifacts/screenshot-")
    );
    for bad in ["../x", "a/b", ""] {
        let (out, host) = call("browser_screenshot", json!({"name": bad}));
        assert_eq!(out.unwrap_err(), format!("Invalid screenshot name: {bad}"));
        assert!(host.actions.is_empty());
    }
}

#[test]
fn refusals_reach_the_model_unchanged() {
    let (out, _) = call("browser_navigate", json!({"url": "http://10.0.0.1/"}));
    assert_eq!(
        out.unwrap_err(),
        "navigation to http://10.0.0.1/ refused: a private address"
    );
}
