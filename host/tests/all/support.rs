//! A whole mesh started in the test process ([`Instance::start`] on a temporary config
//! directory, agents `external` so no process is started), and requests sent to its router
//! with `oneshot`: no socket, no process.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use openlegion_mesh::instance::Instance;
use openlegion_mesh::vault::Vault;
use serde_json::{Value, json};
use tower::ServiceExt;

/// What goes into the mesh's config directory.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) agents_yaml: String,
    /// The `permissions` object of permissions.json.
    pub(crate) permissions: Value,
    /// Sections appended to mesh.yaml (`llm:` …).
    pub(crate) mesh_yaml: String,
    /// The vault's variables (`OPENLEGION_CRED_*`), instead of this process's environment.
    pub(crate) env: Vec<(String, String)>,
    /// Other files of the config directory (`webhooks.json` …): name and contents.
    pub(crate) files: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            agents_yaml: "agents: {}\n".into(),
            permissions: json!({}),
            mesh_yaml: String::new(),
            env: Vec::new(),
            files: Vec::new(),
        }
    }
}

impl Options {
    pub(crate) fn with_permissions(permissions: Value) -> Self {
        Self {
            permissions,
            ..Self::default()
        }
    }
}

/// A started mesh and the directory it lives in.
#[derive(Debug)]
pub(crate) struct TestMesh {
    pub(crate) instance: Instance,
    /// The operator's token.
    pub(crate) op: String,
    dir: tempfile::TempDir,
}

/// A response, its body parsed as JSON where it is JSON (`Value::Null` otherwise).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
    pub(crate) raw: Bytes,
}

impl Reply {
    /// The body, after checking the status.
    #[track_caller]
    pub(crate) fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.raw)
        );
        self.body
    }

    /// The `detail` of an error body.
    pub(crate) fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

impl TestMesh {
    pub(crate) async fn start(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir(&config).unwrap();
        std::fs::write(
            config.join("mesh.yaml"),
            format!(
                "mesh:\n  host: 127.0.0.1\n  port: 0\nruntime:\n  isolation: external\n{}",
                options.mesh_yaml
            ),
        )
        .unwrap();
        std::fs::write(config.join("agents.yaml"), &options.agents_yaml).unwrap();
        std::fs::write(
            config.join("permissions.json"),
            json!({ "permissions": options.permissions }).to_string(),
        )
        .unwrap();
        for (name, contents) in &options.files {
            std::fs::write(config.join(name), contents).unwrap();
        }
        let config = openlegion_mesh::config::Config::load(&config).unwrap();
        let vault = Vault::load(&config.dotenv_path(), options.env).unwrap();
        let instance = Instance::start(config, vault).await.unwrap();
        let op = instance.operator_token.clone();
        Self { instance, op, dir }
    }

    pub(crate) fn config_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("config")
    }

    /// Sends one request; `body` is sent as JSON unless it is `Value::Null`.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Reply {
        let body = match body {
            Value::Null => Body::empty(),
            v => Body::from(v.to_string()),
        };
        self.raw(method, path, token, Some("application/json"), body)
            .await
    }

    /// Sends one request with a body as it is.
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Body,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.send(request.body(body).unwrap()).await
    }

    /// Sends a request as built by the caller.
    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.instance.app().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw,
        }
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), Value::Null).await
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), body).await
    }

    pub(crate) async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), body).await
    }

    pub(crate) async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), Value::Null)
            .await
    }

    /// Registers agent `id` as the operator and returns its bearer token.
    pub(crate) async fn agent(&self, id: &str) -> String {
        let body = self
            .post("/mesh/register", &self.op, json!({ "agent_id": id }))
            .await
            .expect(200);
        body["token"].as_str().expect("a token").to_owned()
    }

    pub(crate) async fn stop(self) {
        self.instance.shutdown_token().cancel();
        self.instance.stopped().await.unwrap();
    }
}
