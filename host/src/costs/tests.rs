use std::sync::Arc;

use chrono::{TimeZone, Utc};
use openlegion_llm::Usage;

use super::*;

fn setup(at: DateTime<Utc>, limits: Limits) -> (tempfile::TempDir, Arc<ManualClock>, Costs) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("mesh.db")).unwrap();
    let clock = Arc::new(ManualClock::new(at));
    let costs = Costs::new(store, clock.clone(), PriceTable::default(), limits);
    (dir, clock, costs)
}

/// 1M input tokens of gpt-4o-mini cost exactly $0.15.
const MILLION_IN: Usage = Usage {
    input_tokens: 1_000_000,
    output_tokens: 0,
};

#[tokio::test]
async fn the_boundary_is_allowed_and_one_cent_more_is_not() {
    let at = Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap();
    let (_d, _c, costs) = setup(
        at,
        Limits {
            daily: 0.45,
            monthly: 100.0,
        },
    );
    for _ in 0..2 {
        let r = costs.budgets().reserve("a", 0.15).unwrap().unwrap();
        costs
            .charge(Some(r), "a", "openai/gpt-4o-mini", "chat", MILLION_IN)
            .await;
    }
    // $0.30 spent; a $0.15 call lands exactly on $0.45.
    let last = costs.budgets().reserve("a", 0.15).unwrap().unwrap();
    let refused = costs.budgets().reserve("a", 0.01).unwrap().unwrap_err();
    assert_eq!(
        refused.to_string(),
        "Budget exceeded: $0.45/$0.45 daily, $0.45/$100.00 monthly (estimated next call: $0.0100)"
    );
    drop(last);
    costs
        .budgets()
        .reserve("a", 0.01)
        .unwrap()
        .expect("a released reservation frees its room");
}

#[tokio::test]
async fn no_budget_means_the_originals_defaults() {
    let (_d, _c, costs) = setup(Utc::now(), Limits::default());
    assert_eq!(
        costs.budgets().limits_of("anyone"),
        Limits {
            daily: 50.0,
            monthly: 200.0
        }
    );
}

#[tokio::test]
async fn concurrent_reservations_cannot_overshoot() {
    let (_d, _c, costs) = setup(
        Utc::now(),
        Limits {
            daily: 1.0,
            monthly: 10.0,
        },
    );
    let granted: Vec<_> = (0..20)
        .filter_map(|_| costs.budgets().reserve("a", 0.3).unwrap().ok())
        .collect();
    assert_eq!(
        granted.len(),
        3,
        "1.00 holds three 0.30 estimates, not four"
    );
}

#[tokio::test]
async fn utc_midnight_and_month_rollover() {
    let late = Utc.with_ymd_and_hms(2026, 1, 31, 23, 59, 0).unwrap();
    let (_d, clock, costs) = setup(
        late,
        Limits {
            daily: 0.20,
            monthly: 0.40,
        },
    );
    let r = costs.budgets().reserve("a", 0.15).unwrap().unwrap();
    costs
        .charge(Some(r), "a", "openai/gpt-4o-mini", "chat", MILLION_IN)
        .await;
    assert!(
        costs.budgets().reserve("a", 0.15).unwrap().is_err(),
        "today is spent"
    );
    // One minute later it is February: a new day and a new month.
    clock.set(Utc.with_ymd_and_hms(2026, 2, 1, 0, 1, 0).unwrap());
    let r = costs
        .budgets()
        .reserve("a", 0.15)
        .unwrap()
        .expect("a new day");
    costs
        .charge(Some(r), "a", "openai/gpt-4o-mini", "chat", MILLION_IN)
        .await;
    // Next day, same month: the daily budget is fresh, the monthly one remembers.
    clock.set(Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0).unwrap());
    let r = costs.budgets().reserve("a", 0.15).unwrap().expect("day 2");
    costs
        .charge(Some(r), "a", "openai/gpt-4o-mini", "chat", MILLION_IN)
        .await;
    clock.set(Utc.with_ymd_and_hms(2026, 2, 3, 9, 0, 0).unwrap());
    let refused = costs.budgets().reserve("a", 0.15).unwrap().unwrap_err();
    assert!((refused.monthly_used - 0.30).abs() < 1e-9, "{refused}");
    let report = costs.report(Period::Month, None).await.unwrap();
    assert_eq!(report.agents["a"].calls, 2);
    assert!((report.total_usd - 0.30).abs() < 1e-9);
    let week = costs.report(Period::Week, None).await.unwrap();
    assert_eq!(
        week.agents["a"].calls, 3,
        "the week reaches back into January"
    );
}
