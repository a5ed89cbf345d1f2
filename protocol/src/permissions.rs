//! The per-agent permission record, as stored in `config/permissions.json`.
//!
//! This is data only; how the lists are matched (shell globs for blackboard keys, exact or
//! `*` for messaging and topics) is the mesh's business.

use serde::{Deserialize, Serialize};

use crate::unsupported;

/// What one agent may do. Every list defaults to empty and every flag to `false`, so a
/// missing field never grants anything. Unknown fields are refused so a typo
/// (`blackboard_raed`) is reported instead of silently granting nothing.
///
/// The original's grants that nothing in this mesh enforces (wallets, fleet management,
/// agent-readable credentials, …) are accepted only at their "nothing granted" value
/// (`false`, `[]`, `0`), which is what they mean here; any other value is refused when the
/// file is read, naming the field and saying it is not supported, instead of granting in
/// appearance what the mesh never does.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentPermissions {
    /// Filled in by the mesh when it resolves an agent's permissions; refused in the file
    /// (the entry's name says which agent it is for).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "unsupported::no_agent_id"
    )]
    pub agent_id: String,
    pub can_message: Vec<String>,
    pub can_publish: Vec<String>,
    pub can_subscribe: Vec<String>,
    pub blackboard_read: Vec<String>,
    pub blackboard_write: Vec<String>,
    pub allowed_apis: Vec<String>,
    #[serde(deserialize_with = "unsupported::list")]
    pub allowed_credentials: Vec<String>,
    #[serde(deserialize_with = "unsupported::list")]
    pub allowed_skills: Vec<String>,
    pub can_use_browser: bool,
    pub browser_actions: Option<Vec<String>>,
    pub can_use_internet: bool,
    pub can_spawn: bool,
    /// Agents whose conversation and task results this agent may read
    /// (`read_agent_history`): exact ids or `*`; none by default.
    pub can_read_history: Vec<String>,
    pub can_manage_cron: bool,
    #[serde(deserialize_with = "unsupported::flag")]
    pub can_manage_fleet: bool,
    #[serde(deserialize_with = "unsupported::flag")]
    pub can_manage_teams: bool,
    #[serde(deserialize_with = "unsupported::flag")]
    pub can_edit_agent_config: bool,
    #[serde(deserialize_with = "unsupported::flag")]
    pub can_view_fleet_metrics: bool,
    #[serde(deserialize_with = "unsupported::flag")]
    pub can_route_tasks: bool,
    #[serde(deserialize_with = "unsupported::flag")]
    pub can_request_user_credentials: bool,
    #[serde(deserialize_with = "unsupported::flag")]
    pub can_use_wallet: bool,
    #[serde(deserialize_with = "unsupported::list")]
    pub wallet_allowed_chains: Vec<String>,
    #[serde(deserialize_with = "unsupported::amount")]
    pub wallet_spend_limit_per_tx_usd: f64,
    #[serde(deserialize_with = "unsupported::amount")]
    pub wallet_spend_limit_daily_usd: f64,
    #[serde(deserialize_with = "unsupported::count")]
    pub wallet_rate_limit_per_hour: u64,
    #[serde(deserialize_with = "unsupported::list")]
    pub wallet_allowed_contracts: Vec<String>,
}
