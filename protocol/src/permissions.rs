//! The per-agent permission record, as stored in `config/permissions.json`.
//!
//! This is data only; how the lists are matched (shell globs for blackboard keys, exact or
//! `*` for messaging and topics) is the mesh's business.

use serde::{Deserialize, Serialize};

/// What one agent may do. Every list defaults to empty and every flag to `false`, so a
/// missing field never grants anything. Unknown fields are refused so a typo
/// (`blackboard_raed`) is reported instead of silently granting nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentPermissions {
    /// Filled in by the mesh when it resolves an agent's permissions; ignored in the file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub agent_id: String,
    pub can_message: Vec<String>,
    pub can_publish: Vec<String>,
    pub can_subscribe: Vec<String>,
    pub blackboard_read: Vec<String>,
    pub blackboard_write: Vec<String>,
    pub allowed_apis: Vec<String>,
    pub allowed_credentials: Vec<String>,
    pub allowed_skills: Vec<String>,
    pub can_use_browser: bool,
    pub browser_actions: Option<Vec<String>>,
    pub can_use_internet: bool,
    pub can_spawn: bool,
    /// Agents whose conversation and task results this agent may read
    /// (`read_agent_history`): exact ids or `*`; none by default.
    pub can_read_history: Vec<String>,
    pub can_manage_cron: bool,
    pub can_manage_fleet: bool,
    pub can_manage_teams: bool,
    pub can_edit_agent_config: bool,
    pub can_view_fleet_metrics: bool,
    pub can_route_tasks: bool,
    pub can_request_user_credentials: bool,
    pub can_use_wallet: bool,
    pub wallet_allowed_chains: Vec<String>,
    pub wallet_spend_limit_per_tx_usd: f64,
    pub wallet_spend_limit_daily_usd: f64,
    pub wallet_rate_limit_per_hour: u64,
    pub wallet_allowed_contracts: Vec<String>,
}
