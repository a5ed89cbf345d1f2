//! A fact in an agent's structured memory.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::new_id;

/// One remembered fact with its salience bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryFact {
    #[serde(default = "fact_id")]
    pub id: String,
    pub key: String,
    pub value: String,
    #[serde(default = "default_category")]
    pub category: String,
    #[serde(default = "default_source")]
    pub source: String,
    #[serde(default = "one")]
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    #[serde(default)]
    pub access_count: u64,
    #[serde(
        default,
        with = "crate::time::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_accessed: Option<DateTime<Utc>>,
    #[serde(default = "Utc::now", with = "crate::time")]
    pub created_at: DateTime<Utc>,
    #[serde(default = "one")]
    pub decay_score: f64,
}

fn fact_id() -> String {
    new_id("fact", 8)
}

fn default_category() -> String {
    "general".into()
}

fn default_source() -> String {
    "agent".into()
}

fn one() -> f64 {
    1.0
}
