//! WASI, linked only so that ordinary Rust components instantiate, with no
//! ambient authority: no preopened directories, no sockets or name lookup, no
//! environment or arguments, stdin closed, clocks frozen at the invocation's
//! start, and stdout/stderr captured into the component's log under a size
//! cap. Calls that could block the host thread (sleeping, polling) trap: a
//! blocked host call is the one place an epoch deadline cannot reach.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::component::Linker;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiView};

use crate::fault::Fault;

/// The WASI release wasmtime-wasi implements; older 0.2.x imports resolve to it.
const WASI_VERSION: &str = "0.2.12";

/// A WASI context for one invocation started at `now_ms`.
pub(crate) fn context(now_ms: u64, stdout: CapturedOutput, stderr: CapturedOutput) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(stdout)
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .wall_clock(FrozenClock(now_ms))
        .monotonic_clock(FrozenClock(now_ms));
    builder.build()
}

/// Add WASI to `linker`, then replace the calls that block with ones that trap.
pub(crate) fn add_to_linker<T: WasiView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let blocking = [
        (format!("wasi:io/poll@{WASI_VERSION}"), "poll"),
        (
            format!("wasi:io/poll@{WASI_VERSION}"),
            "[method]pollable.block",
        ),
        (
            format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"),
            "subscribe-duration",
        ),
        (
            format!("wasi:clocks/monotonic-clock@{WASI_VERSION}"),
            "subscribe-instant",
        ),
    ];
    for (interface, function) in blocking {
        let call = format!("{interface}#{function}");
        linker
            .instance(&interface)?
            .func_new(function, move |_, _, _, _| {
                Err(wasmtime::Error::new(Fault::Blocking(call.clone())))
            })?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// Wall and monotonic time frozen at the invocation's start.
struct FrozenClock(u64);

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        Duration::from_millis(self.0)
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        self.0.saturating_mul(1_000_000)
    }
}

/// stdout or stderr of one invocation: keeps the first `cap` bytes and
/// silently drops the rest, so a chatty component is never failed for it.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    cap: usize,
    dropped: usize,
}

impl CapturedOutput {
    pub(crate) fn new(cap: usize) -> Self {
        CapturedOutput {
            inner: Arc::new(Mutex::new(Captured {
                cap,
                ..Captured::default()
            })),
        }
    }

    fn push(&self, data: &[u8]) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let room = c.cap.saturating_sub(c.bytes.len());
        let take = room.min(data.len());
        c.bytes.extend_from_slice(&data[..take]);
        c.dropped += data.len() - take;
    }

    /// What was written, lossily decoded, and how many bytes were dropped.
    pub(crate) fn take(&self) -> (String, usize) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&c.bytes).into_owned();
        c.bytes.clear();
        (text, std::mem::take(&mut c.dropped))
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always accept: what exceeds the cap is dropped, not refused.
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
