//! What one invocation's store holds: its WASI context, its grants and
//! settings, the transaction its host calls build up, its log, and the memory
//! guard. Dropped with the store; only [`Transaction`] outlives it, by being
//! committed.

use std::collections::BTreeMap;
use std::sync::Arc;

use mercato_types::{
    ApprovalRecord, Commit, CustomerDirectory, EventRecord, Grants, Permission, Scope, StateStore,
    Version,
};
use serde::Serialize;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::fault::Fault;
use crate::wasi::CapturedOutput;

/// Who is calling and with what: fixed for the invocation.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Whose data.
    pub scope: Scope,
    /// What the component may use.
    pub grants: Grants,
    /// The tenant's settings (a JSON object).
    pub settings: Arc<str>,
    /// Whether events are stored (the director's tracking switch).
    pub track_events: bool,
}

/// The severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogSource {
    /// The `log` interface.
    Log,
    /// Captured stdout.
    Stdout,
    /// Captured stderr.
    Stderr,
}

/// A line the component logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// Severity.
    pub level: LogLevel,
    /// Where it came from.
    pub source: LogSource,
    /// Text.
    pub message: String,
    /// Structured fields.
    pub fields: Vec<(String, String)>,
}

/// Log lines under a byte budget; lines past it are counted, not kept.
#[derive(Debug, Default)]
pub(crate) struct LogBuffer {
    pub lines: Vec<LogLine>,
    bytes: usize,
    cap: usize,
    pub dropped: usize,
}

impl LogBuffer {
    pub fn new(cap: usize) -> Self {
        LogBuffer {
            cap,
            ..LogBuffer::default()
        }
    }

    pub fn push(&mut self, line: LogLine) {
        let size = line.message.len()
            + line
                .fields
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        if self.bytes + size > self.cap {
            self.dropped += 1;
        } else {
            self.bytes += size;
            self.lines.push(line);
        }
    }
}

/// Largest key a component may store.
pub(crate) const MAX_KEY_BYTES: usize = 1024;
/// Largest value a component may store under one key.
pub(crate) const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most bytes one invocation may write in total.
pub(crate) const MAX_WRITE_BYTES: usize = 16 << 20;
/// Most events one invocation may emit.
pub(crate) const MAX_EVENTS: usize = 1_000;
/// Most approvals one invocation may request.
pub(crate) const MAX_APPROVALS: usize = 100;

/// The invocation's reads' base version and its buffered effects.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    pub base: Option<Version>,
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
    pub written_bytes: usize,
    pub events: Vec<EventRecord>,
    pub approvals: Vec<ApprovalRecord>,
}

impl Transaction {
    pub fn into_commit(self) -> Commit {
        Commit {
            base: self.base.unwrap_or(0),
            writes: self.writes,
            events: self.events,
            approvals: self.approvals,
        }
    }
}

/// The data of one invocation's wasmtime store.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) call: Arc<CallContext>,
    pub(crate) now_ms: u64,
    pub(crate) state: Arc<dyn StateStore>,
    pub(crate) customers: Arc<dyn CustomerDirectory>,
    pub(crate) tx: Transaction,
    pub(crate) log: LogBuffer,
    pub(crate) stdout: CapturedOutput,
    pub(crate) stderr: CapturedOutput,
    memory_limit: usize,
    /// The size a refused `memory.grow` asked for.
    pub(crate) memory_refused: Option<usize>,
    /// The largest linear memory granted, in bytes.
    pub(crate) memory_peak: usize,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("scope", &self.call.scope)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    pub(crate) fn new(
        call: Arc<CallContext>,
        now_ms: u64,
        state: Arc<dyn StateStore>,
        customers: Arc<dyn CustomerDirectory>,
        memory_limit: usize,
        log_cap: usize,
    ) -> Self {
        let stdout = CapturedOutput::new(log_cap);
        let stderr = CapturedOutput::new(log_cap);
        Sandbox {
            wasi: crate::wasi::context(now_ms, stdout.clone(), stderr.clone()),
            table: ResourceTable::new(),
            call,
            now_ms,
            state,
            customers,
            tx: Transaction::default(),
            log: LogBuffer::new(log_cap),
            stdout,
            stderr,
            memory_limit,
            memory_refused: None,
            memory_peak: 0,
        }
    }

    /// Fail unless the invocation was granted `permission`.
    pub(crate) fn require(&self, permission: Permission, call: &'static str) -> Result<(), Fault> {
        if self.call.grants.allows(permission) {
            Ok(())
        } else {
            Err(Fault::PermissionDenied { permission, call })
        }
    }

    /// The scope's version this invocation reads from, noted at the first read.
    pub(crate) fn base(&mut self) -> Result<Version, Fault> {
        match self.tx.base {
            Some(v) => Ok(v),
            None => {
                let v = self.state.version(&self.call.scope)?;
                self.tx.base = Some(v);
                Ok(v)
            }
        }
    }

    /// Move captured stdout/stderr into the log (and return stderr's text).
    pub(crate) fn drain_output(&mut self) -> String {
        let (out, _) = self.stdout.take();
        let (err, _) = self.stderr.take();
        for (text, source, level) in [
            (&out, LogSource::Stdout, LogLevel::Info),
            (&err, LogSource::Stderr, LogLevel::Warn),
        ] {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                self.log.push(LogLine {
                    level,
                    source,
                    message: line.to_owned(),
                    fields: Vec::new(),
                });
            }
        }
        err
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for Sandbox {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            // Refuse the growth (memory.grow returns -1) rather than trap, so a
            // component that handles allocation failure may carry on; if it
            // traps instead, the note turns the trap into a `memory` limit.
            self.memory_refused = Some(desired);
            return Ok(false);
        }
        self.memory_peak = self.memory_peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; no sales component needs a million.
        Ok(desired <= 1_000_000)
    }
}
