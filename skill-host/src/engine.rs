//! The wasmtime engine a [`SkillHost`](crate::SkillHost) runs every skill on, and the
//! thread that drives its epochs.
//!
//! One engine per host: fuel and epoch interruption on, a pooling allocator sized for
//! a handful of concurrent calls, so that a fresh instance per call costs microseconds
//! (memory slots are reserved once and reused) instead of fresh mappings each time, and
//! Cranelift compiling through the [`FunctionCache`].

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::MAX_MEMORY_BYTES;
use crate::error::HostError;
use crate::functions::FunctionCache;

/// How often the epoch advances. A running guest yields to the async runtime at each tick
/// (so a wall-clock timeout can cancel it); a shorter tick is a finer timeout at the cost
/// of more yields.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The wasmtime release this crate is built against; the workspace pins it exactly. It
/// names `.cwasm` files for people reading the cache; the engine hash beside it is what
/// actually decides compatibility.
pub(crate) const WASMTIME_VERSION: &str = "48.0.8";

/// Pool slots per concurrent call. A Rust `wasm32-wasip2` component instantiates a few
/// core modules (the program and wit-component's shims) with one or two memories; these
/// leave room for components from other toolchains.
const CORE_INSTANCES_PER_CALL: u32 = 16;
const MEMORIES_PER_CALL: u32 = 4;
const TABLES_PER_CALL: u32 = 8;

/// An engine for up to `concurrent_calls` instances at once, reusing compiled functions
/// from `functions`.
pub(crate) fn build(
    concurrent_calls: u32,
    functions: Arc<FunctionCache>,
) -> Result<Engine, HostError> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(concurrent_calls)
        .total_stacks(concurrent_calls)
        .total_core_instances(concurrent_calls * CORE_INSTANCES_PER_CALL)
        .total_memories(concurrent_calls * MEMORIES_PER_CALL)
        .total_tables(concurrent_calls * TABLES_PER_CALL)
        .max_memory_size(MAX_MEMORY_BYTES as usize);

    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .enable_incremental_compilation(functions)
        .map_err(|source| HostError::Engine { source })?;
    Engine::new(&config).map_err(|source| HostError::Engine { source })
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] until the engine is dropped.
///
/// A thread rather than a tokio task: on a current-thread runtime a spinning guest holds
/// the only worker, so a task could never tick and the guest would never yield.
pub(crate) fn spawn_epoch_ticker(engine: &Engine) -> Result<(), HostError> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("skill-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
        .map_err(|e| HostError::Engine {
            source: wasmtime::Error::new(e).context("cannot start the epoch thread"),
        })
}

/// A short hex digest of everything that decides whether code compiled by one engine
/// runs in another: target, compiler flags, tunables, wasm features and wasmtime's
/// version (all hashed by [`Engine::precompile_compatibility_hash`]).
pub(crate) fn compatibility_key(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

/// Feeds a [`Hash`] into SHA-256, which (unlike `DefaultHasher`) is stable across Rust
/// releases, so a toolchain update does not invalidate the cache.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_engine_config() {
        let dir = tempfile::tempdir().unwrap();
        let functions = || Arc::new(FunctionCache::open(dir.path(), None));
        let ours = build(2, functions()).unwrap();
        assert_eq!(
            compatibility_key(&ours),
            compatibility_key(&build(4, functions()).unwrap())
        );
        let without_fuel = Engine::new(Config::new().epoch_interruption(true)).unwrap();
        assert_ne!(compatibility_key(&ours), compatibility_key(&without_fuel));
    }
}
