//! Change notices between hosts sharing PostgreSQL. Every registry change
//! moves the audit head, and a trigger on it sends a notice on the
//! `mercato_registry` channel when the change commits; a host listens on
//! its own connection and counts what it heard, so its caches can be
//! dropped on the next call instead of at its next look at the head.
//!
//! A notice can be missed while the listening connection is down, so every
//! (re)connection counts as a change too; the periodic look at the head
//! stays as the backstop. SQLite has one host, which makes every change
//! itself: there is nothing to listen to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::PgListener;

/// The channel the trigger of migration 0008 notifies.
const CHANNEL: &str = "mercato_registry";

/// How often a listener whose owner is gone notices and stops.
const OWNER_CHECK: Duration = Duration::from_secs(5);

/// Changes heard so far; a different count means "drop your caches".
#[derive(Debug, Default)]
pub struct Notices {
    heard: AtomicU64,
}

impl Notices {
    /// Notices (and reconnections) counted so far.
    pub fn heard(&self) -> u64 {
        self.heard.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.heard.fetch_add(1, Ordering::AcqRel);
    }
}

/// Listen on `url` in a task of the current Tokio runtime until the
/// returned counter is dropped.
pub(crate) fn listen(url: String) -> Arc<Notices> {
    let notices = Arc::new(Notices::default());
    let weak = Arc::downgrade(&notices);
    tokio::spawn(async move {
        while weak.strong_count() > 0 {
            match PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(CHANNEL).await {
                        tracing_warn(&e);
                    } else {
                        hear(&mut listener, &weak).await;
                    }
                }
                Err(e) => tracing_warn(&e),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    notices
}

/// Count notices until the owner is gone or the listener fails for good.
async fn hear(listener: &mut PgListener, weak: &Weak<Notices>) {
    // Connected: whatever happened while not listening counts as a change.
    if let Some(n) = weak.upgrade() {
        n.bump();
    }
    loop {
        let heard = tokio::time::timeout(OWNER_CHECK, listener.try_recv()).await;
        let Some(notices) = weak.upgrade() else {
            return;
        };
        match heard {
            // A notice, or the connection dropped (the next receive
            // reconnects and listens again; something may have been missed).
            Ok(Ok(_)) => notices.bump(),
            Ok(Err(e)) => {
                tracing_warn(&e);
                notices.bump();
                return;
            }
            Err(_) => {}
        }
    }
}

fn tracing_warn(e: &sqlx::Error) {
    tracing::warn!(error = %e, "listening for registry changes failed; retrying");
}
