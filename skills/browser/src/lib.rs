//! The built-in `browser` skill: `browser_navigate`, `browser_snapshot`, `browser_click`,
//! `browser_type`, `browser_screenshot` and `browser_evaluate` (capability `browser`).
//!
//! The browser runs in the mesh, which checks every request a page makes against its
//! allowlist and SSRF rules and keeps each agent in a context of its own; its refusals
//! come back as tool errors (or, for a page's sub-requests, in `"blocked"`). This crate
//! only maps the tools' arguments onto the WIT calls, names screenshots, and registers
//! them as artifacts.

use openlegion_skill_sdk::prelude::*;
use openlegion_skill_sdk::serde_json;

// The tests use the SDK's native stand-in for the host, so they run on the host target only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

/// Arguments of `browser_navigate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Navigate {
    /// The full URL, including http:// or https://.
    url: String,
    /// Open it in a new tab instead of the current one (default false).
    #[serde(default)]
    new_tab: bool,
}

fn browser_navigate(args: Navigate) -> Result<Value, String> {
    parse(browser::navigate(&args.url, args.new_tab)?)
}

fn browser_snapshot(_: NoArgs) -> Result<Value, String> {
    parse(browser::snapshot()?)
}

/// Arguments of `browser_click`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Click {
    /// The element: a ref from the last browser_snapshot (e.g. "e12") or a CSS selector.
    target: String,
}

fn browser_click(args: Click) -> Result<Value, String> {
    parse(browser::click(&args.target)?)
}

/// Arguments of `browser_type`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Type {
    /// The field: a ref from the last browser_snapshot (e.g. "e7") or a CSS selector.
    target: String,
    /// The text to type; it replaces what the field held.
    text: String,
    /// Submit the field's form afterwards (default false).
    #[serde(default)]
    submit: bool,
}

fn browser_type(args: Type) -> Result<Value, String> {
    parse(browser::type_text(&args.target, &args.text, args.submit)?)
}

/// Arguments of `browser_screenshot`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Screenshot {
    /// File name under artifacts/, e.g. "pricing.png" (default: screenshot-<time>.png).
    name: Option<String>,
    /// The whole page instead of the visible part (default false).
    #[serde(default)]
    full_page: bool,
}

fn browser_screenshot(args: Screenshot) -> Result<Value, String> {
    let name = match args.name {
        Some(name) => png_name(&name)?,
        None => format!("screenshot-{}.png", now_ms()),
    };
    let path = format!("artifacts/{name}");
    let mut answer = parse(browser::screenshot(&path, args.full_page)?)?;
    // The PNG is saved whatever happens next; a registration that fails is reported.
    match mesh::register_artifact(&name) {
        Ok(entry) => answer["registered"] = entry["key"].clone(),
        Err(e) => {
            answer["registered"] = Value::Bool(false);
            answer["registration_error"] = Value::String(e);
        }
    }
    Ok(answer)
}

/// Arguments of `browser_evaluate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Evaluate {
    /// JavaScript: an expression such as "document.title", or a function such as
    /// "() => [...document.querySelectorAll('h2')].map(h => h.innerText)". A promise is
    /// awaited.
    script: String,
}

fn browser_evaluate(args: Evaluate) -> Result<Value, String> {
    let mut answer = parse(browser::evaluate(&args.script)?)?;
    // The host sends the value as JSON text; the model reads it better as JSON.
    if let Some(Value::String(json)) = answer.get("json").cloned() {
        let value = serde_json::from_str(&json).unwrap_or(Value::String(json));
        if let Some(object) = answer.as_object_mut() {
            object.remove("json");
            object.insert("result".into(), value);
        }
    }
    Ok(answer)
}

/// A plain file name ending in `.png` (added if missing).
fn png_name(name: &str) -> Result<String, String> {
    if name.is_empty() || name == "." || name.contains(['/', '\\']) || name.contains("..") {
        return Err(format!("Invalid screenshot name: {name}"));
    }
    Ok(if name.to_ascii_lowercase().ends_with(".png") {
        name.to_owned()
    } else {
        format!("{name}.png")
    })
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn parse(answer: String) -> Result<Value, String> {
    serde_json::from_str(&answer)
        .map_err(|e| format!("the mesh sent a browser answer this skill cannot read: {e}"))
}

openlegion_skill_sdk::skill! {
    browser_navigate: "Open a web page in your browser (run by the mesh) and read it. \
        Returns {\"url\", \"title\", \"text\": the page's visible text (at most 20,000 \
        characters, \"truncated\" says if cut), \"timed_out\", \"blocked\": requests of \
        the page the mesh refused}. Private and internal addresses, and hosts outside the \
        mesh's allowlist, are refused. Use it for pages that need JavaScript, clicking or \
        forms; for a plain document or an API, http_request is lighter."
        => browser_navigate,
    browser_snapshot: "Read the current page's structure: its accessibility tree as text, \
        one element per line with a ref such as [e12] for links, buttons and fields. Use \
        the refs with browser_click and browser_type; take a new snapshot after the page \
        changes, since refs then change too. Returns {\"url\", \"title\", \"text\"}."
        => browser_snapshot,
    browser_click: "Click an element of the current page: a ref from browser_snapshot \
        (e.g. \"e12\") or a CSS selector (e.g. \"#submit\"). Waits briefly for a page it \
        opens. Returns {\"url\", \"title\", \"text\"}; check url to see where you are."
        => browser_click,
    browser_type: "Type text into a field of the current page (a ref from browser_snapshot \
        or a CSS selector), replacing its content; submit=true then submits its form. \
        Returns {\"url\", \"title\", \"text\"}."
        => browser_type,
    browser_screenshot: "Save a PNG screenshot of the current page (the visible part, or \
        the whole page with full_page=true) in your artifacts/ folder, registered for \
        teammates like save_artifact. Returns {\"path\", \"bytes\", \"url\", \"title\", \
        \"registered\"}. You cannot see the image yourself; use browser_snapshot or \
        browser_navigate to read a page."
        => browser_screenshot,
    browser_evaluate: "Run JavaScript in the current page and get its value, e.g. \
        \"document.title\" or \"() => [...document.querySelectorAll('a')].map(a => \
        a.href)\". Returns {\"url\", \"title\", \"result\": the value as JSON, at most 64 \
        KiB}. The script runs in the page only; it cannot reach anything the page could \
        not."
        => browser_evaluate,
}
