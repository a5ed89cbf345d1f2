//! Costs and budgets: every LLM call charged to its agent in the usage ledger, and a
//! per-agent daily and monthly budget checked before a call is sent.

mod budget;
mod clock;
mod prices;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use openlegion_llm::Usage;
use serde::Serialize;

pub use budget::{BudgetExceeded, Budgets, Limits, Reservation};
pub use clock::{Clock, ManualClock, SystemClock};
pub use prices::PriceTable;

use crate::store::usage::{self, UsageRow};
use crate::store::{Store, StoreError};

/// A reporting window, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Since midnight.
    Today,
    /// The last seven days, from midnight seven days ago.
    Week,
    /// Since the first of the month.
    Month,
}

impl Period {
    fn since(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Period::Today => budget::day_start(now),
            Period::Week => budget::day_start(now - Duration::days(7)),
            Period::Month => budget::month_start(now),
        }
    }
}

/// `GET /mesh/costs`.
#[derive(Debug, Serialize)]
pub struct CostReport {
    pub period: Period,
    pub since: DateTime<Utc>,
    pub total_usd: f64,
    pub agents: BTreeMap<String, AgentCosts>,
}

#[derive(Debug, Default, Serialize)]
pub struct AgentCosts {
    pub cost_usd: f64,
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub models: BTreeMap<String, ModelCosts>,
    pub budget: BudgetState,
}

#[derive(Debug, Default, Serialize)]
pub struct ModelCosts {
    pub cost_usd: f64,
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct BudgetState {
    pub daily_usd: f64,
    pub monthly_usd: f64,
    pub spent_today_usd: f64,
    pub spent_month_usd: f64,
}

#[derive(Debug, Clone)]
pub struct Costs {
    store: Store,
    prices: Arc<PriceTable>,
    budgets: Budgets,
}

impl Costs {
    pub fn new(store: Store, clock: Arc<dyn Clock>, prices: PriceTable, defaults: Limits) -> Self {
        Self {
            budgets: Budgets::new(store.clone(), clock, defaults),
            store,
            prices: Arc::new(prices),
        }
    }

    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Records a finished call: settles its reservation with the real cost and commits the
    /// ledger row before returning, so the answer the caller then sends is never ahead of
    /// its row (a SIGKILL after the agent got an answer cannot lose the charge). A row
    /// that cannot be written is logged; the call has happened, so the cost is returned.
    pub async fn charge(
        &self,
        reservation: Option<Reservation>,
        agent: &str,
        model: &str,
        kind: &'static str,
        used: Usage,
    ) -> f64 {
        let cost = self
            .prices
            .cost(model, used.input_tokens, used.output_tokens);
        match reservation {
            Some(r) => r.settle(cost),
            None => self.budgets.spend(agent, cost),
        }
        let row = UsageRow {
            agent_id: agent.to_owned(),
            model: model.to_owned(),
            kind,
            prompt_tokens: used.input_tokens,
            completion_tokens: used.output_tokens,
            cost_usd: cost,
            created_at: self.budgets.now().timestamp_micros(),
        };
        crate::counters::llm_call(
            agent,
            model,
            kind,
            used.input_tokens,
            used.output_tokens,
            cost,
        );
        if let Err(e) = self.store.write(move |c| usage::insert(c, &row)).await {
            tracing::error!(agent, model, error = %e, "cannot record an LLM call in the ledger");
        }
        cost
    }

    /// Spending in `period`, per agent and model; only `agent`'s when given.
    pub async fn report(
        &self,
        period: Period,
        agent: Option<String>,
    ) -> Result<CostReport, StoreError> {
        let since = period.since(self.budgets.now());
        let from = since.timestamp_micros();
        // Through the writer queue, so every charge made before this call is counted.
        let totals = self
            .store
            .write(move |c| usage::totals_since(c, from, agent.as_deref()))
            .await?;
        let mut agents: BTreeMap<String, AgentCosts> = BTreeMap::new();
        let mut total_usd = 0.0;
        for t in totals {
            total_usd += t.cost_usd;
            let a = agents.entry(t.agent_id.clone()).or_default();
            a.cost_usd += t.cost_usd;
            a.calls += t.calls;
            a.prompt_tokens += t.prompt_tokens;
            a.completion_tokens += t.completion_tokens;
            a.models.insert(
                t.model,
                ModelCosts {
                    cost_usd: t.cost_usd,
                    calls: t.calls,
                    prompt_tokens: t.prompt_tokens,
                    completion_tokens: t.completion_tokens,
                },
            );
        }
        for (id, a) in &mut agents {
            let limits = self.budgets.limits_of(id);
            let (today, month) = self.budgets.spent(id)?;
            a.budget = BudgetState {
                daily_usd: limits.daily,
                monthly_usd: limits.monthly,
                spent_today_usd: today,
                spent_month_usd: month,
            };
        }
        Ok(CostReport {
            period,
            since,
            total_usd,
            agents,
        })
    }
}

#[cfg(test)]
mod tests;
