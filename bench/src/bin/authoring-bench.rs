//! Agent-written skills: the time from a `create_skill` call to its tool being callable,
//! per language — cold (built and compiled) and cached (the same inputs again: neither
//! built nor compiled) — through the whole platform (operator → mesh → agent → mock LLM →
//! `create_skill` → compilers in the agent's sandbox → load); each component's size; and,
//! in the skill host agents use, the load of an already compiled skill (what an agent
//! restart costs per skill) and the latency of a call of its tool.
//!
//! Agents get the seed of compiled runtime functions `SKILL_CACHE_SEED_DIR` names, as
//! agents on the full image do (`bench/authoring.sh` makes one with `openlegion-agent
//! warm`); the first cold creation's reuse of compiled functions is reported.
//!
//! Run with `bench/authoring.sh` (release build; it installs the compilers).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use openlegion_bench::machine;
use openlegion_bench::platform::Platform;
use openlegion_skill_host::{CacheOutcome, Capabilities, Manifest, SkillHost, SkillHostSettings};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// Cold creations per language (each with different code).
    #[arg(long, default_value_t = 3)]
    cold: usize,
    /// Cached creations per language (the last cold one's inputs again).
    #[arg(long, default_value_t = 5)]
    cached: usize,
    /// Tool calls timed per language.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// The tool each language's skill offers (tool names are unique within an agent).
fn tool(language: &str) -> String {
    format!("reverse_{language}")
}

/// A tool reversing a text in `language`; `nonce` makes the code (and so the build) new.
fn code(language: &str, nonce: &str) -> String {
    let tool = tool(language);
    match language {
        "python" => format!("def {tool}(text):\n    return text[::-1]\n# {nonce}\n"),
        "javascript" => format!(
            "export function {tool}(args) {{\n  return [...args.text].reverse().join(\"\");\n}}\n// {nonce}\n"
        ),
        _ => format!(
            "use openlegion_skill_sdk::prelude::*;\n\n#[derive(Deserialize, JsonSchema)]\nstruct Text {{\n    /// The text to reverse.\n    text: String,\n}}\n\nfn reverse(args: Text) -> Result<String, String> {{\n    Ok(args.text.chars().rev().collect())\n}}\n\nopenlegion_skill_sdk::skill! {{\n    {tool}: \"Reverse a text.\" => reverse,\n}}\n// {nonce}\n"
        ),
    }
}

/// One chat turn in which the model calls `create_skill`; its time and report.
async fn create(
    platform: &Platform,
    name: &str,
    language: &str,
    code: &str,
) -> Result<(Duration, Value)> {
    let mut arguments = json!({"name": name, "language": language, "code": code});
    if language != "rust" {
        arguments["tools"] = json!([{
            "name": tool(language),
            "description": "Reverse a text.",
            "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        }]);
    }
    platform
        .script(vec![
            json!({"type": "tool_calls", "calls": [{"name": "create_skill", "arguments": arguments}]}),
            json!({"type": "text", "text": "Created."}),
        ])
        .await?;
    let started = Instant::now();
    let reply = platform.chat("Add a tool that reverses a string.").await?;
    let took = started.elapsed();
    let output = reply["tool_outputs"][0]["output"]
        .as_str()
        .unwrap_or_default();
    let report: Value = serde_json::from_str(output)
        .with_context(|| format!("create_skill of {name} failed: {output}"))?;
    Ok((took, report))
}

/// In a skill host of its own: loads of the compiled skill from the disk cache, and calls
/// of its tool.
async fn in_host(
    skill_dir: &Path,
    tool: &str,
    calls: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let yaml = std::fs::read_to_string(skill_dir.join("skill.yaml"))?;
    let wasm = std::fs::read(skill_dir.join("skill.wasm"))?;
    let scratch = tempfile::tempdir()?;
    let workspace = scratch.path().join("data");
    std::fs::create_dir(&workspace)?;
    let cache = scratch.path().join("cache");
    let host = |cache: &Path| -> Result<SkillHost> {
        Ok(SkillHost::new(
            SkillHostSettings::new(cache),
            Capabilities::new(&workspace),
        )?)
    };
    let manifest = || Manifest::from_yaml(&skill_dir.join("skill.yaml"), &yaml);
    host(&cache)?.load_bytes(manifest()?, wasm.clone()).await?;
    let mut loads = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let fresh = host(&cache)?;
        let started = Instant::now();
        let report = fresh.load_bytes(manifest()?, wasm.clone()).await?;
        loads.push(started.elapsed());
        if report.cache != CacheOutcome::Disk {
            bail!(
                "expected a load from the disk cache, got {:?}",
                report.cache
            );
        }
        last = Some(fresh);
    }
    let host = last.context("a host")?;
    let args = r#"{"text": "stressed"}"#;
    for _ in 0..calls / 10 {
        host.invoke(tool, args).await?;
    }
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let answer = host.invoke(tool, args).await?;
        times.push(started.elapsed());
        if !answer.contains("desserts") {
            bail!("reverse answered {answer}");
        }
    }
    loads.sort();
    times.sort();
    Ok((loads, times))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let compilers = std::env::var_os("SKILL_COMPILERS")
        .context("SKILL_COMPILERS is not set: run bench/authoring.sh")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("machine: {}", machine());
    match std::env::var_os("SKILL_CACHE_SEED_DIR") {
        Some(seed) => println!("seed of compiled functions: {}", Path::new(&seed).display()),
        None => {
            println!("no seed of compiled functions: each agent's first skill compiles its runtime")
        }
    }
    runtime.block_on(async {
        let platform = Platform::start(
            "  allow_skill_compile: true\n",
            &[("SKILL_COMPILERS", Path::new(&compilers))],
        )
        .await?;
        println!(
            "\n| language | create_skill → callable, cold: n, p50 s, max s | first cold: functions reused / compiled | cached: n, p50 ms, max ms | component KB | load of the compiled skill p50 ms | tool call p50 / p99 µs |\n|---|---|---|---|---|---|---|"
        );
        let run = std::process::id();
        for language in ["rust", "javascript", "python"] {
            let name = format!("bench-{language}");
            let mut cold = Vec::new();
            let mut last_code = String::new();
            let mut first = Value::Null;
            for i in 0..args.cold {
                last_code = code(language, &format!("run {run}, build {i}"));
                let (took, report) = create(&platform, &name, language, &last_code).await?;
                if report["compiled"] == json!(false) {
                    bail!("{language}: new code was not compiled: {report}");
                }
                if i == 0 {
                    first = report["functions"].clone();
                }
                cold.push(took);
            }
            let mut cached = Vec::new();
            for _ in 0..args.cached {
                let (took, report) = create(&platform, &name, language, &last_code).await?;
                if report["compiled"] != json!(false) {
                    bail!("{language}: the same code was compiled again: {report}");
                }
                cached.push(took);
            }
            cold.sort();
            cached.sort();
            let dir = platform.agent_data().join("skills").join(&name);
            let size = std::fs::metadata(dir.join("skill.wasm"))?.len();
            let (loads, calls) = in_host(&dir, &tool(language), args.calls).await?;
            println!(
                "| {language} | {}, {:.1}, {:.1} | {} / {} | {}, {:.0}, {:.0} | {:.0} | {:.1} | {:.1} / {:.1} |",
                cold.len(),
                percentile(&cold, 0.5).as_secs_f64(),
                cold.last().map_or(0.0, Duration::as_secs_f64),
                first["reused"],
                first["compiled"],
                cached.len(),
                ms(percentile(&cached, 0.5)),
                cached.last().map_or(0.0, |d| ms(*d)),
                size as f64 / 1000.0,
                ms(percentile(&loads, 0.5)),
                percentile(&calls, 0.5).as_secs_f64() * 1e6,
                percentile(&calls, 0.99).as_secs_f64() * 1e6,
            );
        }
        Ok(())
    })
}
