//! `http_request` against a recording stand-in for the mesh.

use openlegion_skill_sdk::http::{Request, Response};
use openlegion_skill_sdk::serde_json::{self, Value, json};
use openlegion_skill_sdk::testing::{self, Host};

use crate::Skill;

/// Records requests and answers with a canned response (or refuses like the mesh).
#[derive(Default)]
struct Mesh {
    sent: Vec<Request>,
    refuse: bool,
}

impl Host for Mesh {
    fn fetch(&mut self, request: &Request) -> Result<Response, String> {
        self.sent.push(request.clone());
        if self.refuse {
            return Err(
                "SSRF protection: requests to private/internal addresses are blocked".into(),
            );
        }
        Ok(Response {
            status: 404,
            headers: vec![
                ("content-type".into(), "text/plain".into()),
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            body: "not here".into(),
            truncated: false,
        })
    }
}

fn call(mesh: Mesh, args: Value) -> (Result<Value, String>, Mesh) {
    let (out, mesh) = testing::with_host(mesh, || Skill::invoke("http_request", &args.to_string()));
    (
        out.map(|text| serde_json::from_str(&text).expect("JSON")),
        mesh,
    )
}

#[test]
fn defaults_are_get_and_30_seconds() {
    let (out, mesh) = call(Mesh::default(), json!({"url": "https://example.com/x"}));
    assert_eq!(
        out.unwrap(),
        json!({
            "status": 404,
            "headers": {"content-type": "text/plain", "set-cookie": "a=1, b=2"},
            "body": "not here",
            "truncated": false,
        })
    );
    let sent = &mesh.sent[0];
    assert_eq!(
        (sent.method.as_str(), sent.url.as_str()),
        ("GET", "https://example.com/x")
    );
    assert_eq!(
        (sent.headers.len(), sent.body.as_deref(), sent.timeout_ms),
        (0, None, Some(30_000))
    );
}

#[test]
fn passes_method_headers_body_and_a_capped_timeout() {
    let args = json!({
        "url": "https://api.example.com/items",
        "method": "post",
        "headers": {"Accept": "application/json"},
        "body": "a=1",
        "timeout": 600,
    });
    let (_, mesh) = call(Mesh::default(), args);
    let sent = &mesh.sent[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.headers,
        [("Accept".to_owned(), "application/json".to_owned())]
    );
    assert_eq!(sent.body.as_deref(), Some("a=1"));
    assert_eq!(sent.timeout_ms, Some(120_000));
}

#[test]
fn a_structured_body_is_sent_as_json() {
    let args = json!({"url": "https://api.example.com", "method": "PUT", "body": {"n": 1}});
    let (_, mesh) = call(Mesh::default(), args);
    let sent = &mesh.sent[0];
    assert_eq!(sent.body.as_deref(), Some(r#"{"n":1}"#));
    assert_eq!(
        sent.headers,
        [("Content-Type".to_owned(), "application/json".to_owned())]
    );
}

#[test]
fn mesh_refusals_are_tool_errors() {
    let mesh = Mesh {
        refuse: true,
        ..Mesh::default()
    };
    let (out, _) = call(mesh, json!({"url": "http://10.0.0.1/"}));
    assert_eq!(
        out.unwrap_err(),
        "SSRF protection: requests to private/internal addresses are blocked"
    );
}

#[test]
fn schema_requires_only_the_url() {
    let schema: Value = serde_json::from_str(&Skill::describe()[0].parameters_schema).unwrap();
    assert_eq!(schema["required"], json!(["url"]));
    assert_eq!(schema["properties"]["method"]["default"], "GET");
    assert_eq!(schema["properties"]["body"]["type"], "string");
    assert_eq!(
        schema["properties"]["headers"]["additionalProperties"],
        json!({"type": "string"})
    );
    let (out, _) = call(
        Mesh::default(),
        json!({"url": "https://x", "headers": {"A": 1}}),
    );
    assert_eq!(
        out.unwrap_err(),
        "invalid arguments for tool 'http_request': field 'headers.A': invalid type: integer `1`, expected a string"
    );
}

/// Answers searches as the mesh does.
#[derive(Default)]
struct Search {
    asked: Vec<(String, u32)>,
}

impl Host for Search {
    fn web_search(&mut self, query: &str, limit: u32) -> Result<String, String> {
        self.asked.push((query.to_owned(), limit));
        Ok(json!({"provider": "duckduckgo", "query": query,
                  "results": [{"title": "Rust", "url": "https://www.rust-lang.org/", "snippet": "A language"}]})
        .to_string())
    }
}

#[test]
fn web_search_passes_the_query_and_returns_the_results() {
    let args = json!({"query": "rust language", "max_results": 3});
    let (out, host) = testing::with_host(Search::default(), || {
        Skill::invoke("web_search", &args.to_string())
    });
    let out: Value = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(out["results"][0]["url"], "https://www.rust-lang.org/");
    assert_eq!(host.asked, [("rust language".to_owned(), 3)]);
    let (out, _) = testing::with_host(Search::default(), || {
        Skill::invoke("web_search", r#"{"query": "x", "engine": "bing"}"#)
    });
    assert!(out.unwrap_err().contains("unknown field `engine`"));
}
