//! The mesh's counters, counted as events happen, in one process-wide prometheus-client
//! registry ([`get`]): HTTP requests by route and status with latency histograms, LLM
//! calls, tokens and dollars by agent and model, LLM errors, budget refusals, lane
//! refusals, agent restarts, webhook deliveries and watcher fires. Each module that sees
//! the event calls one function here.
//!
//! A leaf: it imports nothing of the crate, so the proxy, lanes, runtimes, webhooks and
//! watchers count without depending on what serves the figures ([`crate::metrics`], which
//! reads the mesh at scrape time). It only counts; it decides nothing.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub(crate) type Labels<const N: usize> = [(&'static str, String); N];
pub(crate) type Counters<const N: usize> = Family<Labels<N>, Counter>;
type Histograms<const N: usize> = Family<Labels<N>, Histogram, fn() -> Histogram>;

/// Upper bounds of the HTTP latency buckets, in seconds (1 ms to 60 s).
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The families counted as events happen.
#[derive(Debug)]
pub struct Metrics {
    pub(crate) registry: Registry,
    http_requests: Counters<3>,
    http_duration: Histograms<3>,
    llm_calls: Counters<3>,
    llm_errors: Counters<2>,
    llm_tokens: Counters<3>,
    llm_cost: Family<Labels<2>, Counter<f64, AtomicU64>>,
    budget_refusals: Counters<1>,
    lane_refusals: Counters<1>,
    agent_restarts: Counters<1>,
    webhook_deliveries: Counters<2>,
    watcher_fires: Counters<2>,
    rate_limited: Counters<2>,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            llm_calls: Family::default(),
            llm_errors: Family::default(),
            llm_tokens: Family::default(),
            llm_cost: Family::default(),
            budget_refusals: Family::default(),
            lane_refusals: Family::default(),
            agent_restarts: Family::default(),
            webhook_deliveries: Family::default(),
            watcher_fires: Family::default(),
            rate_limited: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "openlegion_http_requests",
            "HTTP requests answered by the mesh, by method, matched route and status",
            m.http_requests.clone(),
        );
        registry.register(
            "openlegion_http_request_duration_seconds",
            "Time to the response head (streams run on after it), by method, matched route and status",
            m.http_duration.clone(),
        );
        registry.register(
            "openlegion_llm_calls",
            "LLM calls answered, by agent, model and kind (chat, embed)",
            m.llm_calls.clone(),
        );
        registry.register(
            "openlegion_llm_errors",
            "LLM calls that failed after retries and failover, by agent and requested model",
            m.llm_errors.clone(),
        );
        registry.register(
            "openlegion_llm_tokens",
            "LLM tokens, by agent, model and type (prompt, completion)",
            m.llm_tokens.clone(),
        );
        registry.register(
            "openlegion_llm_cost_usd",
            "LLM spending in US dollars, by agent and model",
            m.llm_cost.clone(),
        );
        registry.register(
            "openlegion_budget_refusals",
            "LLM calls refused because they would exceed the agent's budget",
            m.budget_refusals.clone(),
        );
        registry.register(
            "openlegion_lane_refusals",
            "Work refused because the agent's lane was full",
            m.lane_refusals.clone(),
        );
        registry.register(
            "openlegion_agent_restarts",
            "Agent restarts: a process that exited started again, or a container recreated by the health check",
            m.agent_restarts.clone(),
        );
        registry.register(
            "openlegion_webhook_deliveries",
            "Webhook deliveries, by hook name and HTTP status answered",
            m.webhook_deliveries.clone(),
        );
        registry.register(
            "openlegion_watcher_fires",
            "Turns queued by file watchers, by agent and watcher",
            m.watcher_fires.clone(),
        );
        registry.register(
            "openlegion_rate_limited",
            "Agent calls refused with 429 for being over a rate limit, by agent and limit",
            m.rate_limited.clone(),
        );
        Self { registry, ..m }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// One HTTP request answered (`route` is the matched route, `unmatched` for a 404).
pub fn http_request(method: &str, route: &str, status: u16, seconds: f64) {
    let labels = [
        ("method", s(method)),
        ("route", s(route)),
        ("status", status.to_string()),
    ];
    get().http_duration.get_or_create(&labels).observe(seconds);
    get().http_requests.get_or_create(&labels).inc();
}

/// One LLM call answered and charged.
pub fn llm_call(agent: &str, model: &str, kind: &str, prompt: u64, completion: u64, usd: f64) {
    let m = get();
    m.llm_calls
        .get_or_create(&[("agent", s(agent)), ("model", s(model)), ("kind", s(kind))])
        .inc();
    for (kind, n) in [("prompt", prompt), ("completion", completion)] {
        m.llm_tokens
            .get_or_create(&[("agent", s(agent)), ("model", s(model)), ("type", s(kind))])
            .inc_by(n);
    }
    m.llm_cost
        .get_or_create(&[("agent", s(agent)), ("model", s(model))])
        .inc_by(usd.max(0.0));
}

/// One LLM call that failed.
pub fn llm_error(agent: &str, model: &str) {
    get()
        .llm_errors
        .get_or_create(&[("agent", s(agent)), ("model", s(model))])
        .inc();
}

pub fn budget_refused(agent: &str) {
    get()
        .budget_refusals
        .get_or_create(&[("agent", s(agent))])
        .inc();
}

pub fn lane_refused(agent: &str) {
    get()
        .lane_refusals
        .get_or_create(&[("agent", s(agent))])
        .inc();
}

pub fn agent_restarted(agent: &str) {
    get()
        .agent_restarts
        .get_or_create(&[("agent", s(agent))])
        .inc();
}

/// A webhook delivery answered with `status`, by the hook's name (its id is a credential;
/// `unknown` when there is no such hook, so guessed ids do not grow the label set).
pub fn webhook_delivery(hook: &str, status: u16) {
    get()
        .webhook_deliveries
        .get_or_create(&[("hook", s(hook)), ("status", status.to_string())])
        .inc();
}

pub fn watcher_fired(agent: &str, watcher: &str) {
    get()
        .watcher_fires
        .get_or_create(&[("agent", s(agent)), ("watcher", s(watcher))])
        .inc();
}

/// An agent's call refused by the rate limit `limit`.
pub fn rate_limited(agent: &str, limit: &str) {
    get()
        .rate_limited
        .get_or_create(&[("agent", s(agent)), ("limit", s(limit))])
        .inc();
}
