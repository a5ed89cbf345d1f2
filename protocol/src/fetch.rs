//! `POST /mesh/http`: a request the mesh makes on an agent's behalf, the only way a
//! sandboxed agent reaches the web, and its answer.

use serde::{Deserialize, Serialize};

/// What the agent asks the mesh to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    #[serde(default = "get")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<String>,
    /// Bounded by the mesh (default 30 s, at most 120 s).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

fn get() -> String {
    "GET".into()
}

/// What the site answered, as the mesh relays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body was cut at the mesh's size limit.
    pub truncated: bool,
    /// The URL that answered, after redirects.
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_request_is_a_get() {
        let req: FetchRequest =
            serde_json::from_value(json!({"url": "https://a.example/"})).unwrap();
        assert_eq!(req.method, "GET");
        assert!(req.headers.is_empty() && req.body.is_none() && req.timeout_ms.is_none());
    }

    #[test]
    fn both_types_round_trip() {
        let req = FetchRequest {
            method: "POST".into(),
            url: "https://a.example/x".into(),
            headers: vec![("accept".into(), "text/plain".into())],
            body: Some("hi".into()),
            timeout_ms: Some(500),
        };
        let back: FetchRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(back, req);
        let resp = FetchResponse {
            status: 200,
            headers: vec![],
            body: "ok".into(),
            truncated: false,
            url: "https://a.example/x".into(),
        };
        let back: FetchResponse =
            serde_json::from_str(&serde_json::to_string(&resp).unwrap()).unwrap();
        assert_eq!(back, resp);
    }
}
