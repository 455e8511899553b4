//! Recording an install's calls as a host serves them: each call of an
//! install whose director switched recording on (and whose tracking is on)
//! is masked here — arguments and outcome through [`mask::json`], before
//! anything leaves this module — and buffered; the buffer goes to the
//! registry's ring in one transaction at most every [`FLUSH_EVERY`], and
//! whenever a director reads the ring or replays it. What a host held
//! unflushed when it died (at most a second of calls) is not recorded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mercato_registry::mask;
use mercato_registry::recordings::{NewRecordedCall, RecordedCall, Recording};
use mercato_registry::{Principal, Registry};
use mercato_runtime::Outcome;
use serde_json::{Value, json};

use super::{Active, MarketError, Marketplace};

/// How often a host stores what it recorded.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Most calls a host holds unflushed; past it new ones are dropped (and
/// counted), so a stalled database never grows a host's memory.
pub const MAX_BUFFERED: usize = 20_000;

/// A host's calls waiting to be stored.
#[derive(Debug)]
pub(super) struct Recorder {
    buffer: Arc<Mutex<Vec<NewRecordedCall>>>,
    flushing: Arc<AtomicBool>,
    flushed_ms: AtomicU64,
    dropped: AtomicU64,
    started: Instant,
}

impl Recorder {
    pub(super) fn new() -> Self {
        Recorder {
            buffer: Arc::default(),
            flushing: Arc::default(),
            flushed_ms: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

/// A call's outcome as a recording keeps it: `{"ok": result}` or
/// `{"error": {"code", "limit"?, "message"}}`.
pub fn outcome_json(result: Result<&Outcome, &MarketError>) -> Option<Value> {
    match result {
        Ok(outcome) => Some(json!({ "ok": outcome.json() })),
        Err(MarketError::Invoke(e)) => Some(json!({ "error": {
            "code": e.code(),
            "limit": e.limit().map(|l| l.to_string()),
            "message": e.to_string(),
        }})),
        // Refused, held, disabled: the component never ran.
        Err(_) => None,
    }
}

/// Whether calls of this install are recorded now.
pub(super) fn records(active: &Active) -> bool {
    active.install.recording.is_some() && active.install.tracking
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Marketplace {
    /// Keep a served call in the ring (masked), when its install records.
    pub(super) fn record(
        &self,
        active: &Active,
        version: &semver::Version,
        function: &str,
        args: &Value,
        result: Result<&Outcome, &MarketError>,
    ) {
        let Some(outcome) = outcome_json(result) else {
            return;
        };
        let call = NewRecordedCall {
            tenant: active.install.tenant.clone(),
            install: active.install.id.clone(),
            at: now_ms(),
            version: version.to_string(),
            function: function.to_owned(),
            args: mask::json(args),
            outcome: mask::json(&outcome),
        };
        let recorder = &self.recorder;
        {
            let mut buffer = recorder.buffer.lock().unwrap_or_else(|p| p.into_inner());
            if buffer.len() >= MAX_BUFFERED {
                recorder.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            buffer.push(call);
        }
        let now = recorder.started.elapsed().as_millis() as u64 + 1;
        let last = recorder.flushed_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < FLUSH_EVERY.as_millis() as u64
            || recorder.flushing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        recorder.flushed_ms.store(now, Ordering::Relaxed);
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            recorder.flushing.store(false, Ordering::Release);
            return;
        };
        let registry = self.registry.clone();
        let buffer = recorder.buffer.clone();
        let flushing = recorder.flushing.clone();
        handle.spawn(async move {
            if let Err(e) = flush(&registry, &buffer).await {
                tracing::warn!("cannot store recorded calls: {e}");
            }
            flushing.store(false, Ordering::Release);
        });
    }

    /// Store what this host recorded so far.
    pub(super) async fn flush_recordings(&self) -> Result<(), MarketError> {
        flush(&self.registry, &self.recorder.buffer).await
    }

    /// Switch recording of an install on (with its ring's size and
    /// retention) or off (which deletes the ring).
    pub async fn set_recording(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
        recording: Option<Recording>,
    ) -> Result<Option<Recording>, MarketError> {
        self.flush_recordings().await?;
        let set = self
            .registry
            .set_recording(actor, tenant, install, recording)
            .await?;
        self.forget();
        Ok(set)
    }

    /// An install's recorded calls, oldest first (this host's buffer
    /// stored first).
    pub async fn recorded_calls(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
        limit: u32,
    ) -> Result<Vec<RecordedCall>, MarketError> {
        actor.may(
            mercato_registry::access::Action::ReadRecordings,
            mercato_registry::access::On::Tenant(tenant),
        )?;
        self.flush_recordings().await?;
        Ok(self
            .registry
            .recorded_calls(actor, tenant, install, limit)
            .await?)
    }

    /// Calls a full buffer dropped since the host started.
    pub fn recordings_dropped(&self) -> u64 {
        self.recorder.dropped.load(Ordering::Relaxed)
    }
}

async fn flush(
    registry: &Registry,
    buffer: &Mutex<Vec<NewRecordedCall>>,
) -> Result<(), MarketError> {
    let calls = std::mem::take(&mut *buffer.lock().unwrap_or_else(|p| p.into_inner()));
    if calls.is_empty() {
        return Ok(());
    }
    registry.append_recorded(&calls).await?;
    Ok(())
}
