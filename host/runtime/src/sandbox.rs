//! What one invocation's store holds: its WASI context, its grants and
//! settings, the transaction its host calls build up, its log, and the memory
//! guard. Dropped with the store; only [`Transaction`] outlives it, by being
//! committed.

use std::collections::BTreeMap;
use std::sync::Arc;

use mercato_types::{
    ApprovalRecord, Commit, CustomerDirectory, Entries, EventRecord, Grants, Limit, Limits,
    Permission, Quota, Scope, StateStore, Version,
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
    /// The version of the component serving the call, which the events it
    /// emits carry (so a canary's two versions can be told apart).
    pub version: Option<Arc<str>>,
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

/// What each kept log line costs beyond its text, so that a flood of empty
/// lines is bounded too.
pub(crate) const LOG_LINE_OVERHEAD: usize = 64;

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
        let size = LOG_LINE_OVERHEAD
            + line.message.len()
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

/// The invocation's reads' base version and its buffered effects, each
/// buffer bounded in count and bytes by the invocation's [`Limits`].
#[derive(Debug)]
pub(crate) struct Transaction {
    pub base: Option<Version>,
    /// The scope's entries at `base`, when the store handed them out: reads
    /// come from there, one consistent view.
    pub entries: Option<Entries>,
    pub writes: BTreeMap<String, Option<Vec<u8>>>,
    pub events: Vec<EventRecord>,
    pub approvals: Vec<ApprovalRecord>,
    pub withdrawals: Vec<String>,
    limits: Limits,
    written_bytes: u64,
    event_count: u64,
    event_bytes: u64,
    approval_bytes: u64,
}

impl Transaction {
    pub fn new(limits: Limits) -> Self {
        Transaction {
            base: None,
            entries: None,
            writes: BTreeMap::new(),
            events: Vec::new(),
            approvals: Vec::new(),
            withdrawals: Vec::new(),
            limits,
            written_bytes: 0,
            event_count: 0,
            event_bytes: 0,
            approval_bytes: 0,
        }
    }

    /// Everything buffered, in bytes: no buffer, nor all of them together,
    /// may hold more than the invocation's own memory limit.
    fn buffered(&self) -> u64 {
        self.written_bytes + self.event_bytes + self.approval_bytes
    }

    /// The one check every buffer goes through: `count` items and `bytes`
    /// after adding, against the buffer's two limits and the memory limit.
    fn admit(
        &self,
        limit: Limit,
        (count, max_count): (u64, u64),
        (bytes, max_bytes): (u64, u64),
        added: u64,
    ) -> Result<(), Fault> {
        let what = match limit {
            Limit::Writes => "store writes",
            Limit::Events => "events",
            _ => "approval requests",
        };
        if count > max_count {
            return Err(Fault::Limit {
                limit,
                detail: format!("one invocation may make at most {max_count} {what}"),
            });
        }
        if bytes > max_bytes {
            return Err(Fault::Limit {
                limit,
                detail: format!(
                    "{what} of this invocation would hold {bytes} bytes; the limit is {max_bytes} bytes"
                ),
            });
        }
        let total = self.buffered() + added;
        if total > self.limits.memory_bytes {
            return Err(Fault::Limit {
                limit,
                detail: format!(
                    "this invocation's buffered effects would hold {total} bytes, more than its {}-byte memory limit",
                    self.limits.memory_bytes
                ),
            });
        }
        Ok(())
    }

    /// Stage a write (or a delete, `None`), replacing an earlier one of the key.
    pub fn write(&mut self, key: String, value: Option<Vec<u8>>) -> Result<(), Fault> {
        let size = (key.len() + value.as_ref().map_or(0, Vec::len)) as u64;
        let replaced = self
            .writes
            .get(&key)
            .map(|old| (key.len() + old.as_ref().map_or(0, Vec::len)) as u64);
        let count = self.writes.len() as u64 + u64::from(replaced.is_none());
        let bytes = self.written_bytes - replaced.unwrap_or(0) + size;
        self.admit(
            Limit::Writes,
            (count, self.limits.writes),
            (bytes, self.limits.write_bytes),
            size.saturating_sub(replaced.unwrap_or(0)),
        )?;
        self.written_bytes = bytes;
        self.writes.insert(key, value);
        Ok(())
    }

    /// Count an event of `size` bytes; keep it when `record` is given
    /// (tracking on). Dropped events count too, so the bound does not
    /// depend on the director's switch.
    pub fn event(&mut self, size: u64, record: Option<EventRecord>) -> Result<(), Fault> {
        self.admit(
            Limit::Events,
            (self.event_count + 1, self.limits.events),
            (self.event_bytes + size, self.limits.event_bytes),
            size,
        )?;
        self.event_count += 1;
        self.event_bytes += size;
        self.events.extend(record);
        Ok(())
    }

    /// File an approval request of `size` bytes.
    pub fn approval(&mut self, size: u64, record: ApprovalRecord) -> Result<(), Fault> {
        self.admit_approval(size)?;
        self.approvals.push(record);
        Ok(())
    }

    /// Requests and withdrawals count against one limit.
    fn admit_approval(&mut self, size: u64) -> Result<(), Fault> {
        self.admit(
            Limit::Approvals,
            (
                (self.approvals.len() + self.withdrawals.len()) as u64 + 1,
                self.limits.approvals,
            ),
            (self.approval_bytes + size, self.limits.approval_bytes),
            size,
        )?;
        self.approval_bytes += size;
        Ok(())
    }

    /// Close the pending approval request `id` when the invocation commits.
    /// Counts against the approvals limit like a request does.
    pub fn withdraw(&mut self, id: String) -> Result<(), Fault> {
        self.admit_approval(id.len() as u64)?;
        self.withdrawals.push(id);
        Ok(())
    }

    /// What to hand the store, committing by `deadline` within `quota`.
    pub fn into_commit(self, deadline: std::time::Instant) -> Commit {
        Commit {
            base: self.base,
            quota: Quota {
                keys: self.limits.store_keys,
                bytes: self.limits.store_bytes,
            },
            deadline: Some(deadline),
            writes: self.writes,
            events: self.events,
            approvals: self.approvals,
            withdrawals: self.withdrawals,
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
        limits: Limits,
    ) -> Self {
        let log_cap = usize::try_from(limits.log_bytes).unwrap_or(usize::MAX);
        let memory_limit = usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX);
        let stdout = CapturedOutput::new(log_cap);
        let stderr = CapturedOutput::new(log_cap);
        Sandbox {
            wasi: crate::wasi::context(now_ms, stdout.clone(), stderr.clone()),
            table: ResourceTable::new(),
            call,
            now_ms,
            state,
            customers,
            tx: Transaction::new(limits),
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

    /// The scope's version this invocation reads from, noted at the first
    /// read with the entries at that version when the store has them.
    pub(crate) fn base(&mut self) -> Result<Version, Fault> {
        match self.tx.base {
            Some(v) => Ok(v),
            None => {
                let snapshot = self.state.snapshot(&self.call.scope)?;
                self.tx.base = Some(snapshot.version);
                self.tx.entries = snapshot.entries;
                Ok(snapshot.version)
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
