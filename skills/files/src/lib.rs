//! The built-in `files` skill: the agent's files under `/data` (capability `workspace`).
//!
//! Confinement is the host's job, not this crate's: it resolves every path under the data
//! directory and refuses the rest with the platform's texts ("Path traversal not allowed:
//! ../x"), which these tools return unchanged as tool errors. The guest only shapes
//! arguments and results the way the original tools did, and checks artifact names, since
//! `artifacts/<name>` must stay a single file name. `save_artifact` also registers the
//! artifact on the blackboard (`artifacts/<agent>/<name>`, through `mesh`) so teammates can
//! find and fetch it.

use openlegion_skill_sdk::prelude::*;

// The tests use the SDK's native stand-in for the host, so they run on the host target only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

/// Arguments of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadFile {
    /// File path relative to /data, e.g. "notes/todo.md".
    path: String,
    /// First line to return, counting from 0 (default 0).
    offset: Option<u32>,
    /// Maximum number of lines to return (default: to the end of the file).
    limit: Option<u32>,
}

fn read_file(args: ReadFile) -> Result<Value, String> {
    let content = workspace::read_file(&args.path, args.offset, args.limit)?;
    Ok(json!({ "content": content }))
}

/// Arguments of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WriteFile {
    /// File path relative to /data, e.g. "notes/todo.md".
    path: String,
    /// The text to write.
    content: String,
    /// Add to the end of the file instead of replacing it (default false).
    #[serde(default)]
    append: bool,
}

fn write_file(args: WriteFile) -> Result<Value, String> {
    let written = if args.append {
        workspace::append_file(&args.path, &args.content)?
    } else {
        workspace::write_file(&args.path, &args.content)?
    };
    Ok(json!({ "path": args.path, "bytes_written": written }))
}

/// Arguments of `list_files`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListFiles {
    /// Directory relative to /data (default: /data itself).
    path: Option<String>,
    /// Glob on the file name, e.g. "*.md" (default: everything).
    pattern: Option<String>,
    /// Include subdirectories (default false).
    #[serde(default)]
    recursive: bool,
}

fn list_files(args: ListFiles) -> Result<Value, String> {
    let path = args.path.as_deref().unwrap_or(".");
    let entries = workspace::list_files(path, args.pattern.as_deref(), args.recursive)?;
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let kind = if e.is_dir { "dir" } else { "file" };
            json!({ "path": e.path, "type": kind, "size": e.size })
        })
        .collect();
    Ok(json!({ "count": entries.len(), "entries": entries }))
}

/// Arguments of `save_artifact`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SaveArtifact {
    /// A plain file name, e.g. "market_report.md": no "/" and no "..".
    name: String,
    /// The full content of the artifact.
    content: String,
}

fn save_artifact(args: SaveArtifact) -> Result<Value, String> {
    let name = args.name;
    if !is_plain_file_name(&name) {
        return Err(format!("Invalid artifact name: {name}"));
    }
    let path = format!("artifacts/{name}");
    let written = workspace::write_file(&path, &args.content)?;
    let mut answer = json!({ "saved": true, "path": path, "name": name, "bytes_written": written });
    // The file is saved whatever happens next; a registration the mesh refuses (or that
    // cannot reach it) is reported beside it, not as a failure of the tool.
    match mesh::register_artifact(&name) {
        Ok(entry) => answer["registered"] = entry["key"].clone(),
        Err(e) => {
            answer["registered"] = Value::Bool(false);
            answer["registration_error"] = Value::String(e);
        }
    }
    Ok(answer)
}

/// Whether `name` names one file directly inside `artifacts/`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && !name.contains(['/', '\\']) && !name.contains("..")
}

openlegion_skill_sdk::skill! {
    read_file: "Read a text file from your data directory (/data). The path is relative to \
        /data (a leading \"/data/\" is accepted). Returns {\"content\": text}. For large \
        files, page with offset and limit, both counted in lines; one call returns at most \
        500,000 characters. Fails if the file does not exist: use list_files to find files."
        => read_file,
    write_file: "Write a text file in your data directory (/data), replacing its content, or \
        adding to its end with append=true. Missing parent directories are created. Returns \
        {\"path\", \"bytes_written\"}. At most 10 MiB per call. The identity files \
        workspace/SOUL.md, AGENTS.md, INSTRUCTIONS.md, HEARTBEAT.md, USER.md and MEMORY.md \
        cannot be written with this tool. For a finished deliverable, use save_artifact."
        => write_file,
    list_files: "List files and directories in your data directory (/data). Returns \
        {\"entries\": [{\"path\", \"type\": \"file\" or \"dir\", \"size\"}], \"count\"}, \
        with paths relative to /data and at most 500 entries. Narrow it with path (a \
        directory), pattern (a glob on the file name, e.g. \"*.csv\") and recursive=true to \
        include subdirectories."
        => list_files,
    save_artifact: "Save a finished deliverable (a report, an export, code) as \
        artifacts/<name> in /data, where the user and your teammates look for results. Use \
        write_file for intermediate working files instead. The name is a plain file name \
        such as \"report.md\" (no \"/\" or \"..\"); an existing artifact of that name is \
        replaced. It is registered on the shared blackboard as artifacts/<your name>/<name> \
        (path, size, sha256, mime type), so teammates can find it and fetch it with \
        read_artifact. Returns {\"saved\": true, \"path\", \"name\", \"bytes_written\", \
        \"registered\": the blackboard key}."
        => save_artifact,
}
