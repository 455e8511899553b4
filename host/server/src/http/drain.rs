//! Reading what a client is still sending after an early answer.
//!
//! A refusal decided before the body is read (a token of the wrong role, a
//! missing one, a path with a NUL, a body over the limit) would otherwise
//! close the connection with the upload still arriving; the client's kernel
//! then sees a reset and the client reports a broken pipe instead of our
//! `403`/`413`. hyper drains at most one chunk itself, so this layer reads
//! the rest — bounded in bytes and time, so a client cannot hold a
//! connection open by declaring a huge body — before the answer goes out.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};

/// The most a refused request's leftover body is read for: past it the
/// connection is closed as before (twice the largest body we accept).
const DRAIN_BYTES: usize = 2 * mercato_registry::versions::MAX_PACKAGE_BYTES;
/// How long a leftover body may take to arrive.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The layer: hand the handler a body that remembers what it left unread,
/// and read that before answering.
pub async fn unread_bodies(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        // Nothing to track (every GET): the hot path pays nothing.
        return next.run(Request::from_parts(parts, body)).await;
    }
    let left = Arc::new(Mutex::new(None));
    let tracked = Body::new(Tracked {
        inner: Some(body),
        left: left.clone(),
    });
    let response = next.run(Request::from_parts(parts, tracked)).await;
    let unread = left.lock().ok().and_then(|mut slot| slot.take());
    if let Some(body) = unread {
        drain(body).await;
    }
    response
}

/// Read and drop up to [`DRAIN_BYTES`] within [`DRAIN_TIME`].
async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    let mut read = 0usize;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len();
            if read > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

/// A request body that, dropped before its end, puts itself where the
/// layer finds it.
struct Tracked {
    inner: Option<Body>,
    left: Arc<Mutex<Option<Body>>>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.get_mut().inner.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take().filter(|b| !b.is_end_stream())
            && let Ok(mut slot) = self.left.lock()
        {
            *slot = Some(body);
        }
    }
}
