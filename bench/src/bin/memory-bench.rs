//! Agent memory: how long recalling a fact takes as an agent's store grows to 1k, 10k and
//! 100k facts (p50/p99), how fast facts are saved, what the local model costs per fact,
//! and how large the database gets.
//!
//! Facts are the labelled evaluation set of `memory/tests/data/eval.json` (embedded by the
//! local model, all-MiniLM-L6-v2) among generated distractors. Embedding 100k distractors
//! with the model would take most of an hour on two cores and tells nothing about search
//! time (sqlite-vec compares every vector the same way whatever it holds), so distractors
//! get random unit vectors; their text is varied so the keyword index does real work.
//! Query vectors are computed once before timing: the search figures are the store's own
//! (vector scan + BM25 + salience, three tiers), and the model's time per query is
//! reported apart. `memory_recall` and `memory_search` are timed through the agent's own
//! memory, the code behind those tools (JSON answers, uses recorded; search also brings a
//! workspace of 300 markdown files up to date and merges its BM25 hits).
//!
//! Run with `bench/memory.sh`, which installs the model the way `openlegion setup` does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use openlegion_agent::memory::Memory;
use openlegion_bench::{machine, p50_p99};
use openlegion_embed::{LocalEmbedder, ModelFiles};
use openlegion_memory::eval::{EvalSet, recall_at_5};
use openlegion_memory::{EmbedError, Embedder, NewFact, SearchOptions};
use openlegion_skill_host::MemoryCap;

#[derive(Debug, Parser)]
struct Args {
    /// The models directory holding all-minilm-l6-v2.
    #[arg(long, env = "OPENLEGION_MODELS_DIR")]
    models: PathBuf,
    /// Store sizes to measure at, ascending (one store grows through them).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000, 100_000])]
    sizes: Vec<usize>,
    /// Searches timed at each size.
    #[arg(long, default_value_t = 300)]
    searches: usize,
}

/// Distractor keys start so; their vectors are random.
const FILLER: &str = "filler";

/// The local model for real texts, random unit vectors for distractors, and a cache so
/// query vectors are computed once.
struct BenchEmbedder {
    model: LocalEmbedder,
    cache: Mutex<HashMap<String, Vec<f32>>>,
}

impl std::fmt::Debug for BenchEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BenchEmbedder")
    }
}

/// A unit vector from `seed` (xorshift; the same text always gets the same vector).
fn random_unit(mut seed: u64, dimensions: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dimensions)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish() | 1
}

#[async_trait::async_trait]
impl Embedder for BenchEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            if text.starts_with(FILLER) {
                out.push(random_unit(hash(text), openlegion_embed::DIMENSIONS));
                continue;
            }
            if let Some(v) = self.cache.lock().unwrap().get(text) {
                out.push(v.clone());
                continue;
            }
            let v = self.model.embed(&[text])?.vectors.remove(0);
            self.cache.lock().unwrap().insert(text.clone(), v.clone());
            out.push(v);
        }
        Ok(out)
    }
}

const SUBJECTS: &[&str] = &[
    "the client",
    "the team",
    "Alice",
    "Bob",
    "Carmen",
    "Dmitri",
    "the vendor",
    "the board",
    "the Lisbon office",
    "the data team",
    "the landlord",
    "the auditor",
    "the new hire",
    "the support desk",
    "the Berlin partner",
    "the finance lead",
];
const VERBS: &[&str] = &[
    "prefers",
    "asked for",
    "signed off on",
    "rejected",
    "scheduled",
    "postponed",
    "paid for",
    "complained about",
    "reviewed",
    "forgot",
    "ordered",
    "renamed",
];
const OBJECTS: &[&str] = &[
    "the quarterly report",
    "a blue standing desk",
    "the Kubernetes migration",
    "invoice 4411",
    "the onboarding checklist",
    "a vegetarian lunch",
    "the Tokyo trip",
    "the pricing page",
    "the backup policy",
    "a faster laptop",
    "the March newsletter",
    "the security audit",
    "the office plants",
    "the API rate limits",
    "the holiday rota",
    "a second monitor",
    "the churn analysis",
    "the logo refresh",
    "the parking permits",
];
const WHEN: &[&str] = &[
    "on Monday",
    "last week",
    "before the launch",
    "in the retro",
    "by email",
    "during the offsite",
    "after lunch",
    "in Q3",
    "yesterday",
    "twice",
];

/// The `n`-th distractor: its key and text.
fn filler(n: usize) -> NewFact {
    let pick = |list: &[&'static str], k: usize| list[(n / k) % list.len()];
    let value = format!(
        "{} {} {} {} (item {n})",
        pick(SUBJECTS, 1),
        pick(VERBS, SUBJECTS.len()),
        pick(OBJECTS, 7),
        pick(WHEN, 3),
    );
    NewFact::new(format!("{FILLER}_{n}"), value).category(["work", "people", "admin"][n % 3])
}

/// Times `searches` calls of a memory tool over the labelled queries; p50 and p99.
async fn time_tool<'a, F, Fut>(
    eval: &'a EvalSet,
    searches: usize,
    tool: F,
) -> Result<(Duration, Duration)>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let mut sample = Vec::with_capacity(searches);
    for i in 0..searches {
        let q = &eval.queries[i % eval.queries.len()];
        let start = Instant::now();
        tool(&q.query).await.map_err(anyhow::Error::msg)?;
        sample.push(start.elapsed());
    }
    Ok(p50_p99(&mut sample))
}

/// A workspace like an agent's after some months: 300 markdown files (daily logs, notes)
/// of about 2 KB each.
fn write_workspace(workspace: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(workspace.join("memory"))?;
    for day in 0..300 {
        let mut text = format!("# Log of day {day}\n\n");
        for line in 0..25 {
            text.push_str(&format!("- {}\n", filler(day * 25 + line).value));
        }
        std::fs::write(workspace.join(format!("memory/day-{day:03}.md")), text)?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn db_bytes(path: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    println!("{}", machine());
    let files = ModelFiles::under(&args.models);
    let model = LocalEmbedder::load(&files)
        .with_context(|| format!("load the local model from {}", args.models.display()))?;
    let eval = EvalSet::bundled();

    // The model's cost per fact: one at a time (what a save costs) and in batches.
    let texts: Vec<String> = eval
        .facts
        .iter()
        .map(|f| format!("{}: {}", f.key.replace('_', " "), f.value))
        .collect();
    model.embed(&[&texts[0]])?; // warm up
    let mut one = Vec::new();
    for t in &texts {
        let start = Instant::now();
        model.embed(&[t])?;
        one.push(start.elapsed());
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let start = Instant::now();
    for batch in refs.chunks(32) {
        model.embed(batch)?;
    }
    let batched = start.elapsed() / texts.len() as u32;
    let (one_p50, one_p99) = p50_p99(&mut one);
    println!(
        "embedding, local model: one fact p50 {:.1} ms, p99 {:.1} ms; in batches of 32 {:.1} ms per fact",
        ms(one_p50),
        ms(one_p99),
        ms(batched)
    );

    let dir = tempfile::tempdir()?;
    let workspace = dir.path().join("workspace");
    write_workspace(&workspace)?;
    let path = dir.path().join("memory.db");
    let embedder = Arc::new(BenchEmbedder {
        model,
        cache: Mutex::new(HashMap::new()),
    });
    let memory = Memory::open(dir.path(), &workspace, Some(embedder.clone()))?;
    let store = memory.store();
    for fact in eval.new_facts() {
        store.save(fact).await?;
    }
    // Query vectors, once.
    for q in &eval.queries {
        embedder
            .embed(std::slice::from_ref(&q.query))
            .await
            .map_err(|e| anyhow::anyhow!("embedding {:?}: {e}", q.query))?;
    }

    println!();
    println!(
        "| facts | save: facts/s (last 1,000) | store search p50 / p99 ms | memory_recall p50 / p99 ms | memory_search p50 / p99 ms | eval recall@5 | database MB |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut saved = eval.facts.len();
    for &size in &args.sizes {
        let mut last_thousand = Duration::ZERO;
        let mut counted = 0usize;
        while saved < size {
            let start = Instant::now();
            store.save(filler(saved)).await?;
            if size - saved <= 1_000 {
                last_thousand += start.elapsed();
                counted += 1;
            }
            saved += 1;
        }
        let per_second = if counted == 0 {
            f64::NAN
        } else {
            counted as f64 / last_thousand.as_secs_f64()
        };
        // Not recording uses: they raise the salience of what is found, and the next sizes
        // would measure a different store. What recording costs is measured at the end.
        let options = SearchOptions {
            limit: 5,
            touch: false,
            tiered: true,
        };
        // Before the timed searches, whose uses raise the salience of what they find.
        let (recall, _) = recall_at_5(store, &eval, true).await?;
        let mut sample = Vec::with_capacity(args.searches);
        for i in 0..args.searches {
            let q = &eval.queries[i % eval.queries.len()];
            let start = Instant::now();
            store.search(&q.query, options).await?;
            sample.push(start.elapsed());
        }
        let (p50, p99) = p50_p99(&mut sample);
        let (recall_p50, recall_p99) = time_tool(&eval, args.searches, |q| {
            MemoryCap::recall(&memory, "bench", q, None, 5)
        })
        .await?;
        let (search_p50, search_p99) = time_tool(&eval, args.searches, |q| {
            MemoryCap::search(&memory, "bench", q, 5)
        })
        .await?;
        println!(
            "| {size} | {per_second:.0} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {recall:.3} | {:.1} |",
            ms(p50),
            ms(p99),
            ms(recall_p50),
            ms(recall_p99),
            ms(search_p50),
            ms(search_p99),
            db_bytes(&path) as f64 / 1e6
        );
    }
    Ok(())
}
