//! `mercato serve`: the HTTP API over the registry and the runtime.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use mercato_registry::{Registry, SqlCustomers, SqlState};
use mercato_runtime::Runtime;
use mercato_server::Marketplace;

use crate::Store;

pub async fn run(
    listen: SocketAddr,
    store: &Store,
    demo: bool,
    components: &Path,
    admission: mercato_server::marketplace::admission::AdmissionConfig,
) -> Result<()> {
    let db = store.open().await?;
    let state = SqlState::new(db.clone());
    let runtime = Arc::new(
        Runtime::builder()
            .state(Arc::new(state.clone()))
            .customers(Arc::new(SqlCustomers::new(db.clone())))
            .cache_dir(store.data_dir.join("cache"))
            .build()?,
    );
    let market = Arc::new(
        Marketplace::with_admission(Registry::new(db), runtime, admission).with_state(state),
    );
    if demo {
        mercato_cli::demo::seed(&market, &store.data_dir, components)
            .await
            .context("seeding the demo marketplace")?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(
        "mercato listening on http://{listen} (data: {})",
        store.data_dir.display()
    );
    axum::serve(listener, mercato_server::http::app(market))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
