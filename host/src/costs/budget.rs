//! Per-agent spending limits, enforced before a call is sent.
//!
//! A call first *reserves* its estimated cost; the reservation counts against the budget
//! until the call settles with its real cost (or fails, releasing it). Check and reserve
//! happen under one lock, so concurrent calls against a nearly spent budget cannot all
//! pass the check: at most as many get through as there is room for their estimates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use super::clock::Clock;
use crate::store::{Store, StoreError, usage};

/// Daily and monthly limits in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub daily: f64,
    pub monthly: f64,
}

impl Default for Limits {
    /// The original's defaults.
    fn default() -> Self {
        Self {
            daily: 50.0,
            monthly: 200.0,
        }
    }
}

/// A refused call, with the figures the message shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "Budget exceeded: ${daily_used:.2}/${daily_limit:.2} daily, ${monthly_used:.2}/${monthly_limit:.2} monthly (estimated next call: ${estimate:.4})"
)]
pub struct BudgetExceeded {
    pub daily_used: f64,
    pub daily_limit: f64,
    pub monthly_used: f64,
    pub monthly_limit: f64,
    pub estimate: f64,
}

/// One agent's running totals for the current UTC day and month.
#[derive(Debug)]
struct Ledger {
    day: NaiveDate,
    spent_day: f64,
    spent_month: f64,
    /// Estimates of calls in flight.
    reserved: f64,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    defaults: RwLock<Limits>,
    limits: RwLock<HashMap<String, Limits>>,
    /// Limits of agents that are not in agents.yaml (sub-agents); a reload keeps them.
    extra: RwLock<HashMap<String, Limits>>,
    ledgers: Mutex<HashMap<String, Ledger>>,
}

#[derive(Debug, Clone)]
pub struct Budgets {
    inner: Arc<Inner>,
}

/// The current UTC day's and month's first instants.
pub(super) fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(
        &now.date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists"),
    )
}

pub(super) fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let first = now.date_naive().with_day(1).expect("the 1st exists");
    Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

impl Budgets {
    pub fn new(store: Store, clock: Arc<dyn Clock>, defaults: Limits) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                defaults: RwLock::new(defaults),
                limits: RwLock::new(HashMap::new()),
                extra: RwLock::new(HashMap::new()),
                ledgers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Replaces the per-agent limits and the default (on start and reload).
    pub fn set_limits(&self, defaults: Limits, limits: HashMap<String, Limits>) {
        *self.inner.defaults.write().expect("budget lock") = defaults;
        *self.inner.limits.write().expect("budget lock") = limits;
    }

    /// Gives `agent`, which agents.yaml does not know, its own limits (a sub-agent's carve).
    pub fn set_extra_limits(&self, agent: &str, limits: Limits) {
        self.inner
            .extra
            .write()
            .expect("budget lock")
            .insert(agent.to_owned(), limits);
    }

    pub fn remove_extra_limits(&self, agent: &str) {
        self.inner.extra.write().expect("budget lock").remove(agent);
    }

    pub fn limits_of(&self, agent: &str) -> Limits {
        if let Some(limits) = self.inner.extra.read().expect("budget lock").get(agent) {
            return *limits;
        }
        let defaults = *self.inner.defaults.read().expect("budget lock");
        self.inner
            .limits
            .read()
            .expect("budget lock")
            .get(agent)
            .copied()
            .unwrap_or(defaults)
    }

    /// Spent today and this month (committed calls only).
    pub fn spent(&self, agent: &str) -> Result<(f64, f64), StoreError> {
        let mut ledgers = self.inner.ledgers.lock().expect("budget lock");
        let ledger = self.ledger(&mut ledgers, agent)?;
        Ok((ledger.spent_day, ledger.spent_month))
    }

    /// The agent's ledger, read from the store the first time the agent spends after a
    /// start. From then on the ledger in memory is the truth (every charge goes through it
    /// before its row is written), so a new UTC day or month just starts its total at zero.
    fn ledger<'a>(
        &self,
        ledgers: &'a mut HashMap<String, Ledger>,
        agent: &str,
    ) -> Result<&'a mut Ledger, StoreError> {
        let now = self.inner.clock.now();
        let today = now.date_naive();
        if !ledgers.contains_key(agent) {
            let day = day_start(now).timestamp_micros();
            let month = month_start(now).timestamp_micros();
            let (spent_day, spent_month) = self.inner.store.read_now(|c| {
                Ok::<_, StoreError>((
                    usage::spent_since(c, agent, day)?,
                    usage::spent_since(c, agent, month)?,
                ))
            })?;
            ledgers.insert(
                agent.to_owned(),
                Ledger {
                    day: today,
                    spent_day,
                    spent_month,
                    reserved: 0.0,
                },
            );
        }
        let ledger = ledgers.get_mut(agent).expect("just inserted");
        if ledger.day != today {
            if (ledger.day.year(), ledger.day.month()) != (today.year(), today.month()) {
                ledger.spent_month = 0.0;
            }
            ledger.spent_day = 0.0;
            ledger.day = today;
        }
        Ok(ledger)
    }

    /// Reserves `estimate` USD for a call by `agent`, or refuses it. The boundary is
    /// allowed: a call that would bring spending exactly to the limit goes through.
    pub fn reserve(
        &self,
        agent: &str,
        estimate: f64,
    ) -> Result<Result<Reservation, BudgetExceeded>, StoreError> {
        let limits = self.limits_of(agent);
        let mut ledgers = self.inner.ledgers.lock().expect("budget lock");
        let ledger = self.ledger(&mut ledgers, agent)?;
        let daily_used = ledger.spent_day + ledger.reserved;
        let monthly_used = ledger.spent_month + ledger.reserved;
        // A hair of slack so that money adding up exactly to the limit is not refused for
        // floating-point noise.
        const EPSILON: f64 = 1e-9;
        if daily_used + estimate > limits.daily + EPSILON
            || monthly_used + estimate > limits.monthly + EPSILON
        {
            return Ok(Err(BudgetExceeded {
                daily_used,
                daily_limit: limits.daily,
                monthly_used,
                monthly_limit: limits.monthly,
                estimate,
            }));
        }
        ledger.reserved += estimate;
        Ok(Ok(Reservation {
            budgets: self.clone(),
            agent: agent.to_owned(),
            amount: estimate,
            settled: false,
        }))
    }

    fn release(&self, agent: &str, amount: f64, spent: f64) {
        let mut ledgers = self.inner.ledgers.lock().expect("budget lock");
        match self.ledger(&mut ledgers, agent) {
            Ok(ledger) => {
                ledger.reserved = (ledger.reserved - amount).max(0.0);
                ledger.spent_day += spent;
                ledger.spent_month += spent;
            }
            Err(e) => tracing::error!(agent, error = %e, "cannot load a budget ledger"),
        }
    }

    /// Counts a charge that had no reservation (embeddings, operator calls).
    pub fn spend(&self, agent: &str, cost: f64) {
        self.release(agent, 0.0, cost);
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }
}

/// Money set aside for one call in flight. Dropping it unsettled releases it (the call
/// failed or was abandoned).
#[derive(Debug)]
pub struct Reservation {
    budgets: Budgets,
    agent: String,
    amount: f64,
    settled: bool,
}

impl Reservation {
    pub fn amount(&self) -> f64 {
        self.amount
    }

    /// Replaces the estimate by what the call really cost.
    pub fn settle(mut self, cost: f64) {
        self.settled = true;
        self.budgets.release(&self.agent, self.amount, cost);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.budgets.release(&self.agent, self.amount, 0.0);
        }
    }
}
