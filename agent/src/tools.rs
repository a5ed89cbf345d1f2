//! What the loop needs from the tools: their definitions for the model, and a way to call
//! one. The agent's WebAssembly skill host provides it; the loop special-cases no tool.

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
}

impl ToolDef {
    /// The OpenAI function-tool shape the mesh proxy takes.
    pub fn openai(&self) -> Value {
        json!({
            "type": "function",
            "function": { "name": self.name, "description": self.description, "parameters": self.parameters },
        })
    }
}

/// The agent's tools.
pub trait Toolbox: Send + Sync {
    fn definitions(&self) -> Vec<ToolDef>;

    /// Calls `name` with `args_json`; `Err` is a tool error, shown to the model as the result.
    fn call<'a>(
        &'a self,
        name: &'a str,
        args_json: &'a str,
    ) -> BoxFuture<'a, Result<String, String>>;

    /// What provides the tools (skills, their versions, grants and load errors), for
    /// `GET /skills`.
    fn inventory(&self) -> Value {
        Value::Array(Vec::new())
    }

    /// The tools that are heartbeat probes (run without the LLM on each heartbeat).
    fn probes(&self) -> Vec<String> {
        Vec::new()
    }

    /// How the calls of each tool ended so far, for `GET /status` (the mesh's metrics).
    fn counts(&self) -> std::collections::BTreeMap<String, openlegion_protocol::ToolCounts> {
        std::collections::BTreeMap::new()
    }
}
