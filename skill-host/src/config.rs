//! How a [`SkillHost`](crate::SkillHost) is set up, and the per-call limits of a skill.
//!
//! The limits bound what one call may cost the agent: fuel bounds CPU work
//! deterministically, memory bounds the guest's linear memory, and the timeout bounds
//! wall-clock time (a guest blocked in a host call burns no fuel). A manifest may override
//! each one ([`LimitsOverride`]); whatever it asks, memory stays under [`MAX_MEMORY_BYTES`].

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

const MIB: u64 = 1024 * 1024;

/// The largest linear memory any skill may have: the size of a slot in the engine's
/// pooling allocator. Larger slots cost address space (reserved up front for every slot)
/// and let one skill hold more of the agent's memory than a tool should.
pub const MAX_MEMORY_BYTES: u64 = 256 * MIB;

/// The longest wall-clock limit a manifest may ask for. Tools longer than this belong in
/// a task, not a tool call.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// How a [`SkillHost`](crate::SkillHost) is set up.
#[derive(Debug, Clone)]
pub struct SkillHostSettings {
    /// Where compiled components (`.cwasm`) are cached across restarts.
    pub cache_dir: PathBuf,
    /// A read-only cache made ahead of time by the same binary (`openlegion-agent
    /// precompile`, baked into the agent image), looked in before `cache_dir`: fifty agents
    /// starting at once then map their built-in skills instead of each compiling them.
    pub seed_cache_dir: Option<PathBuf>,
    /// Limits of a skill whose manifest does not set them.
    pub default_limits: Limits,
    /// How often [`SkillHost::watch`](crate::SkillHost::watch) looks for changed skills.
    pub reload_interval: Duration,
    /// How many calls may run at once; more wait for a free slot. Each running call holds
    /// one instance of the engine's pool.
    pub max_concurrent_calls: u32,
}

impl SkillHostSettings {
    /// A configuration with default limits, a 1 s reload interval and 16 concurrent calls.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        SkillHostSettings {
            cache_dir: cache_dir.into(),
            seed_cache_dir: None,
            default_limits: Limits::default(),
            reload_interval: Duration::from_secs(1),
            max_concurrent_calls: 16,
        }
    }
}

/// What one call of a skill's tool may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Fuel units (roughly wasm instructions). `describe` plus one small call is ~1,300.
    pub fuel: u64,
    /// Linear memory, in bytes; at most [`MAX_MEMORY_BYTES`].
    pub memory_bytes: u64,
    /// Wall-clock time for instantiation plus the call.
    pub timeout: Duration,
}

impl Default for Limits {
    /// 1e9 fuel (about a second of compute), 64 MiB, 30 s.
    fn default() -> Self {
        Limits {
            fuel: 1_000_000_000,
            memory_bytes: 64 * MIB,
            timeout: Duration::from_secs(30),
        }
    }
}

/// The limits a manifest sets (`limits:` in `skill.yaml`); unset fields keep the host's
/// defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsOverride {
    pub fuel: Option<u64>,
    pub memory_mib: Option<u64>,
    pub timeout_ms: Option<u64>,
}

impl LimitsOverride {
    /// `defaults` with this override applied.
    pub fn apply(&self, defaults: Limits) -> Limits {
        Limits {
            fuel: self.fuel.unwrap_or(defaults.fuel),
            memory_bytes: self
                .memory_mib
                .map_or(defaults.memory_bytes, |mib| mib.saturating_mul(MIB)),
            timeout: self
                .timeout_ms
                .map_or(defaults.timeout, Duration::from_millis),
        }
    }
}

impl Limits {
    /// Why these limits cannot be used, if they cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.fuel == 0 {
            return Some("fuel must be at least 1".into());
        }
        if self.memory_bytes == 0 || self.memory_bytes > MAX_MEMORY_BYTES {
            return Some(format!(
                "memory must be between 1 byte and {} MiB, not {}",
                MAX_MEMORY_BYTES / MIB,
                human_bytes(self.memory_bytes)
            ));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Some(format!(
                "timeout must be between 1 ms and {} s, not {} ms",
                MAX_TIMEOUT.as_secs(),
                self.timeout.as_millis()
            ));
        }
        None
    }
}

/// `16 MiB` for whole mebibytes, `1000 bytes` otherwise.
pub(crate) fn human_bytes(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_replaces_only_what_it_sets() {
        let limits = LimitsOverride {
            memory_mib: Some(16),
            ..LimitsOverride::default()
        }
        .apply(Limits::default());
        assert_eq!(limits.memory_bytes, 16 * MIB);
        assert_eq!(limits.fuel, 1_000_000_000);
        assert_eq!(limits.timeout, Duration::from_secs(30));
    }

    #[test]
    fn limits_outside_the_pool_are_refused() {
        let too_big = Limits {
            memory_bytes: 512 * MIB,
            ..Limits::default()
        };
        assert_eq!(
            too_big.problem().as_deref(),
            Some("memory must be between 1 byte and 256 MiB, not 512 MiB")
        );
        assert_eq!(Limits::default().problem(), None);
    }
}
