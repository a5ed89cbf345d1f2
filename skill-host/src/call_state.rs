//! What one call's store holds: an empty WASI context, the skill's grant, a memory limiter
//! that remembers refusals, and the guest's captured stderr.
//!
//! A store lives for one call. Nothing in it outlives the call, so nothing a guest does
//! (files it opened through WASI, memory it grew) leaks into the next one.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capability::{Capability, Grant, not_granted};
use crate::config::Limits;
use crate::ports::Capabilities;

/// How much of a guest's stderr is kept (enough for a panic message and its location);
/// the rest is dropped, and the guest is never told its output was full.
const STDERR_KEEP_BYTES: usize = 4096;

/// The parts of a loaded skill its host functions need, shared by all its calls.
#[derive(Debug)]
pub(crate) struct SkillContext {
    pub(crate) name: String,
    pub(crate) grant: Grant,
    pub(crate) caps: Arc<Capabilities>,
}

impl SkillContext {
    /// `Ok` if the skill holds `capability`, else the contract's refusal text.
    pub(crate) fn check(&self, capability: Capability) -> Result<(), String> {
        if self.grant.granted.contains(&capability) {
            Ok(())
        } else {
            Err(not_granted(capability, &self.name))
        }
    }
}

/// The data of one call's `Store`.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryGuard,
    pub(crate) limits: Limits,
    pub(crate) skill: Arc<SkillContext>,
    pub(crate) stderr: CapturedOutput,
}

impl CallState {
    pub(crate) fn new(skill: Arc<SkillContext>, limits: Limits) -> Self {
        let stderr = CapturedOutput::default();
        // No preopens, environment, arguments or network; stdin is closed and stdout is
        // dropped. Only clocks and randomness work, which Rust's std needs.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryGuard::new(limits.memory_bytes),
            limits,
            skill,
            stderr,
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// [`StoreLimits`] for memory, plus a note of whether it refused to grow a memory.
///
/// A refused `memory.grow` is not a trap: the guest sees -1, and a Rust guest then aborts
/// with `unreachable`. Remembering the refusal is what lets the host report "exceeded its
/// memory limit" instead of a bare crash.
pub(crate) struct MemoryGuard {
    limits: StoreLimits,
    pub(crate) refused: bool,
}

impl MemoryGuard {
    fn new(memory_bytes: u64) -> Self {
        MemoryGuard {
            limits: StoreLimitsBuilder::new()
                .memory_size(usize::try_from(memory_bytes).unwrap_or(usize::MAX))
                .build(),
            refused: false,
        }
    }
}

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// A guest output stream that keeps the first [`STDERR_KEEP_BYTES`] and drops the rest.
/// It always accepts writes: a full buffer must not make a chatty guest fail.
#[derive(Debug, Clone, Default)]
pub(crate) struct CapturedOutput(Arc<Mutex<Vec<u8>>>);

impl CapturedOutput {
    fn keep(&self, bytes: &[u8]) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let room = STDERR_KEEP_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What was kept, as text.
    pub(crate) fn text(&self) -> String {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&kept).into_owned()
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
