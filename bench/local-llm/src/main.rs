//! The local instruct model: load time, resident memory, prefill and decode speed, time to
//! first token of an agent's first and next call, and tool calls on the labelled prompts
//! of `bench/local-llm/prompts.json` (with the agent's real tools, `tools.json`), decoded
//! under the tools' grammar and freely. Run by `bench/local-llm.sh`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use openlegion_llm::{Message, Role, ToolSpec};
use openlegion_local_llm::{Engine, Loaded, Request, ToolChoice, Weights};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Parser)]
struct Args {
    /// The GGUF file.
    #[arg(long)]
    model: PathBuf,
    /// The labelled prompts.
    #[arg(long, default_value = "bench/local-llm/prompts.json")]
    prompts: PathBuf,
    /// The tools offered with each prompt.
    #[arg(long, default_value = "bench/local-llm/tools.json")]
    tools: PathBuf,
    /// The system turn: an agent's real one by default (the example assistant's, as the
    /// agent writes it on its first chat).
    #[arg(long, default_value = "bench/local-llm/system.md")]
    system: PathBuf,
    /// Weights: `auto` (by size), `f32`, `f16` or `quantized` (as in the file).
    #[arg(long, default_value = "auto")]
    weights: String,
    /// Skip the labelled prompts (speed only).
    #[arg(long)]
    speed_only: bool,
    /// Tools the model is shown (the engine's shortlist); default: as the engine decides
    /// by the model's size.
    #[arg(long)]
    max_tools: Option<usize>,
    /// Only the modes whose label contains this (e.g. `auto`).
    #[arg(long)]
    only: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Labelled {
    prompt: String,
    /// The tool expected, or none for a plain answer.
    tool: Option<String>,
    /// Expected arguments (a subset; strings compared trimmed, case-insensitively).
    #[serde(default)]
    args: serde_json::Map<String, Value>,
}

fn request(
    messages: Vec<Message>,
    tools: &[ToolSpec],
    choice: ToolChoice,
    grammar: bool,
    max_tokens: u32,
    max_tools: Option<usize>,
) -> Request {
    Request {
        messages,
        tools: tools.to_vec(),
        tool_choice: choice,
        max_tokens,
        temperature: Some(0.0),
        seed: None,
        deadline: Instant::now() + Duration::from_secs(600),
        grammar,
        max_tools,
    }
}

fn message(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.into(),
        tool_calls: vec![],
        tool_call_id: None,
    }
}

/// `VmRSS` and `VmHWM` (peak) of this process, in MiB.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    // The engine's warnings (a call cut short, say) on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let dequantize = match args.weights.as_str() {
        "f32" => Weights::F32,
        "f16" => Weights::F16,
        "quantized" => Weights::Quantized,
        _ => Weights::Auto,
    };
    let system = std::fs::read_to_string(&args.system)
        .with_context(|| format!("reading {}", args.system.display()))?;
    let system = system.trim();
    let tools: Vec<ToolSpec> = serde_json::from_slice(&std::fs::read(&args.tools)?)
        .with_context(|| format!("reading {}", args.tools.display()))?;

    // Load time and memory, then raw speed on the model itself.
    let (rss_before, _) = rss_mib();
    let mut loaded = Loaded::open(&args.model, dequantize)?;
    let (rss_loaded, _) = rss_mib();
    println!(
        "model {} ({:?}, {} layers, weights {:?})",
        args.model.display(),
        loaded.transformer.hparams.arch,
        loaded.transformer.hparams.layers,
        loaded.transformer.weights
    );
    println!(
        "load: {:.2} s, RSS +{:.0} MiB",
        loaded.load_time.as_secs_f64(),
        rss_loaded - rss_before
    );
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(60);
    let tokens = loaded.tokenizer.encode(&text)?;
    let prompt = &tokens[..512.min(tokens.len())];
    let started = Instant::now();
    for chunk in prompt.chunks(256) {
        loaded.transformer.forward(chunk)?;
    }
    let prefill = started.elapsed();
    println!(
        "prefill: {} tokens in {:.2} s = {:.0} tok/s",
        prompt.len(),
        prefill.as_secs_f64(),
        prompt.len() as f64 / prefill.as_secs_f64()
    );
    let started = Instant::now();
    let mut next = 0u32;
    for _ in 0..128 {
        let logits = loaded.transformer.forward(&[next])?;
        next = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32);
    }
    let decode = started.elapsed();
    println!(
        "decode: 128 tokens after 512 in {:.2} s = {:.1} tok/s",
        decode.as_secs_f64(),
        128.0 / decode.as_secs_f64()
    );
    drop(loaded);

    // Through the engine, as the mesh uses it: an agent's first call (its prompt with the
    // tools, cold cache) and its next one (the same prefix, cached).
    let engine = Engine::start(dequantize);
    let mut history = vec![
        message(Role::System, system),
        message(Role::User, "Hello! Who are you?"),
    ];
    for label in ["first call (cold cache)", "next call (cached prefix)"] {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let started = Instant::now();
        let req = request(
            history.clone(),
            &tools,
            ToolChoice::None,
            true,
            48,
            args.max_tools,
        );
        let req = Request {
            tools: tools.clone(),
            tool_choice: ToolChoice::Auto,
            ..req
        };
        let answer = tokio::spawn({
            let engine = engine.clone();
            let model = args.model.clone();
            async move { engine.answer(&model, req, Some(tx)).await }
        });
        let mut first = None;
        while let Some(_piece) = rx.recv().await {
            first.get_or_insert_with(|| started.elapsed());
        }
        let answer = answer.await??;
        let total = started.elapsed();
        println!(
            "{label}: prompt {} tokens ({} cached), time to first token {:.2} s, {} tokens in {:.2} s",
            answer.usage.input_tokens,
            answer.cached_tokens,
            first.unwrap_or(total).as_secs_f64(),
            answer.usage.output_tokens,
            total.as_secs_f64()
        );
        history.push(Message {
            role: Role::Assistant,
            content: answer.content.clone(),
            tool_calls: answer.tool_calls.clone(),
            tool_call_id: None,
        });
        history.push(message(Role::User, "Thanks. What can you do?"));
    }
    let (rss, peak) = rss_mib();
    println!("RSS after the engine's calls: {rss:.0} MiB (peak {peak:.0} MiB)");
    if args.speed_only {
        return Ok(());
    }

    let labelled: Vec<Labelled> = serde_json::from_slice(&std::fs::read(&args.prompts)?)
        .with_context(|| format!("reading {}", args.prompts.display()))?;
    let modes = [
        ("grammar, model decides (auto)", ToolChoice::Auto, true),
        ("grammar, call required", ToolChoice::Required, true),
        ("no grammar (free text)", ToolChoice::Auto, false),
    ];
    // How often the expected tool is among those a small model is shown.
    let keep = args
        .max_tools
        .unwrap_or(openlegion_local_llm::SMALL_MODEL_TOOLS);
    let (mut wanting, mut listed, mut shown) = (0, 0, 0);
    for case in &labelled {
        let messages = [message(Role::User, &case.prompt)];
        let list = openlegion_local_llm::shortlist(&tools, &messages, keep).tools;
        shown += list.len();
        if let Some(expected) = &case.tool {
            wanting += 1;
            listed += usize::from(list.iter().any(|t| &t.name == expected));
        }
    }
    println!(
        "shortlist of {keep} of {} tools: the expected tool listed for {listed} of {} prompts wanting a call; {:.1} tools shown on average",
        tools.len(),
        wanting,
        shown as f64 / labelled.len() as f64
    );
    for (label, choice, grammar) in modes {
        if args
            .only
            .as_ref()
            .is_some_and(|o| !label.contains(o.as_str()))
        {
            continue;
        }
        let mut score = Score::default();
        let started = Instant::now();
        for case in &labelled {
            if case.tool.is_none() && choice == ToolChoice::Required {
                continue;
            }
            let messages = vec![
                message(Role::System, system),
                message(Role::User, &case.prompt),
            ];
            let req = request(
                messages,
                &tools,
                choice.clone(),
                grammar,
                160,
                args.max_tools,
            );
            let answer = engine.answer(&args.model, req, None).await?;
            let call = answer
                .tool_calls
                .first()
                .map(|c| (c.name.clone(), c.arguments.clone()))
                .or_else(|| call_in_text(&answer.content));
            score.add(case, call.as_ref(), &tools);
            if choice == ToolChoice::Auto && grammar {
                println!(
                    "  p(call) {:>7.4}  wants {:<18} got {:<18} {} -> {} [{}]",
                    answer.call_probability.unwrap_or(0.0),
                    case.tool.as_deref().unwrap_or("(text)"),
                    call.as_ref().map_or("(text)", |(n, _)| n.as_str()),
                    case.prompt,
                    call.as_ref().map_or_else(
                        || answer.content.chars().take(80).collect::<String>(),
                        |(_, a)| a.chars().take(80).collect()
                    ),
                    answer.stop_reason
                );
            }
        }
        println!(
            "{label}: {} ({:.0} s)",
            score,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// A call written in free text, as the prompt asks: `<tool_call>{json}</tool_call>`, or a
/// bare JSON object with `name`.
fn call_in_text(text: &str) -> Option<(String, String)> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let value: Value = serde_json::from_str(text.get(start..=end)?).ok()?;
    let name = value.get("name")?.as_str()?.to_owned();
    Some((
        name,
        value
            .get("arguments")
            .cloned()
            .unwrap_or(Value::Null)
            .to_string(),
    ))
}

#[derive(Debug, Default)]
struct Score {
    calls_expected: u32,
    well_formed: u32,
    right_tool: u32,
    correct: u32,
    texts_expected: u32,
    texts: u32,
}

impl Score {
    fn add(&mut self, case: &Labelled, call: Option<&(String, String)>, tools: &[ToolSpec]) {
        let Some(expected) = &case.tool else {
            self.texts_expected += 1;
            if call.is_none() {
                self.texts += 1;
            }
            return;
        };
        self.calls_expected += 1;
        let Some((name, arguments)) = call else {
            return;
        };
        let Some(tool) = tools.iter().find(|t| &t.name == name) else {
            return;
        };
        let Ok(Value::Object(args)) = serde_json::from_str::<Value>(arguments) else {
            return;
        };
        if !jsonschema::is_valid(&tool.parameters, &Value::Object(args.clone())) {
            return;
        }
        self.well_formed += 1;
        if name != expected {
            return;
        }
        self.right_tool += 1;
        let matches = case.args.iter().all(|(k, want)| {
            let norm = |v: &Value| {
                v.as_str()
                    .map_or(v.to_string(), |s| s.trim().to_lowercase())
            };
            args.get(k).is_some_and(|got| norm(got) == norm(want))
        });
        if matches {
            self.correct += 1;
        }
    }
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |n: u32, of: u32| {
            if of == 0 {
                0.0
            } else {
                100.0 * f64::from(n) / f64::from(of)
            }
        };
        write!(
            f,
            "of {} prompts wanting a call: well-formed {} ({:.0} %), right tool {} ({:.0} %), right tool and arguments {} ({:.0} %)",
            self.calls_expected,
            self.well_formed,
            pct(self.well_formed, self.calls_expected),
            self.right_tool,
            pct(self.right_tool, self.calls_expected),
            self.correct,
            pct(self.correct, self.calls_expected),
        )?;
        if self.texts_expected > 0 {
            write!(
                f,
                "; of {} wanting text: text {} ({:.0} %)",
                self.texts_expected,
                self.texts,
                pct(self.texts, self.texts_expected)
            )?;
        }
        Ok(())
    }
}
