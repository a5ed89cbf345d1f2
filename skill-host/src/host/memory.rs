//! `openlegion:skill/memory`: the agent's long-term memory (facts and workspace markdown).
//!
//! This crate checks the grant and bounds what the guest hands over (each parameter named
//! when it is too long or empty); the agent's [`MemoryCap`] does the work (its facts
//! database, its daily log, its workspace index). A host that was not handed a `MemoryCap`
//! refuses every call, granted or not ([`DenyMemory`]).

use crate::bindings::openlegion::skill::memory::Host;
use crate::call_state::CallState;
use crate::capability::Capability;
use crate::host::bounded;
use crate::ports::memory::{
    DEFAULT_RESULTS, FactRequest, MAX_FACT_KEY_BYTES, MAX_FACT_LABEL_BYTES, MAX_FACT_VALUE_BYTES,
    MAX_QUERY_BYTES, MAX_RESULTS,
};

impl Host for CallState {
    async fn save(
        &mut self,
        key: String,
        value: String,
        category: Option<String>,
        source: Option<String>,
    ) -> Result<String, String> {
        self.skill.check(Capability::Memory)?;
        let fact = checked_fact(key, value, category, source)?;
        let memory = self.skill.caps.memory.clone();
        memory.save(&self.skill.name, fact).await
    }

    async fn search(&mut self, query: String, limit: u32) -> Result<String, String> {
        self.skill.check(Capability::Memory)?;
        checked_query(&query)?;
        let memory = self.skill.caps.memory.clone();
        memory
            .search(&self.skill.name, &query, results(limit)?)
            .await
    }

    async fn recall(
        &mut self,
        query: String,
        category: Option<String>,
        limit: u32,
    ) -> Result<String, String> {
        self.skill.check(Capability::Memory)?;
        checked_query(&query)?;
        if let Some(category) = &category {
            bounded("category", category, MAX_FACT_LABEL_BYTES)?;
        }
        let memory = self.skill.caps.memory.clone();
        memory
            .recall(
                &self.skill.name,
                &query,
                category.as_deref(),
                results(limit)?,
            )
            .await
    }
}

fn checked_fact(
    key: String,
    value: String,
    category: Option<String>,
    source: Option<String>,
) -> Result<FactRequest, String> {
    bounded("key", &key, MAX_FACT_KEY_BYTES)?;
    bounded("value", &value, MAX_FACT_VALUE_BYTES)?;
    if key.trim().is_empty() {
        return Err("key is empty".into());
    }
    if value.trim().is_empty() {
        return Err("value is empty".into());
    }
    for (name, label) in [("category", &category), ("source", &source)] {
        if let Some(label) = label {
            bounded(name, label, MAX_FACT_LABEL_BYTES)?;
        }
    }
    Ok(FactRequest {
        key,
        value,
        category: category.filter(|c| !c.trim().is_empty()),
        source: source.filter(|s| !s.trim().is_empty()),
    })
}

fn checked_query(query: &str) -> Result<(), String> {
    bounded("query", query, MAX_QUERY_BYTES)?;
    if query.trim().is_empty() {
        return Err("query is empty".into());
    }
    Ok(())
}

fn results(limit: u32) -> Result<usize, String> {
    match limit {
        0 => Ok(DEFAULT_RESULTS as usize),
        n if n > MAX_RESULTS => Err(format!("limit is {n}; at most {MAX_RESULTS} results")),
        n => Ok(n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_bounded_and_each_problem_named() {
        let big = "x".repeat(MAX_FACT_VALUE_BYTES + 1);
        let err = checked_fact("k".into(), big, None, None).unwrap_err();
        assert_eq!(
            err,
            format!(
                "value is {} bytes, more than the {MAX_FACT_VALUE_BYTES} allowed",
                MAX_FACT_VALUE_BYTES + 1
            )
        );
        assert_eq!(
            checked_fact(" ".into(), "v".into(), None, None).unwrap_err(),
            "key is empty"
        );
        let blank = checked_fact("k".into(), "v".into(), Some(" ".into()), None).unwrap();
        assert_eq!(blank.category, None, "a blank category is no category");
        assert!(
            checked_fact("k".into(), "v".into(), Some("c".repeat(65)), None)
                .unwrap_err()
                .starts_with("category is 65 bytes")
        );
    }

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(results(0), Ok(5));
        assert_eq!(results(7), Ok(7));
        assert_eq!(results(51).unwrap_err(), "limit is 51; at most 50 results");
        assert_eq!(checked_query("  ").unwrap_err(), "query is empty");
    }
}
