//! `mercato invoke`: one call, locally, with state in a SQLite file.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use mercato_host::{CallContext, Grants, Kind, Limits, Permission, Runtime};
use mercato_registry::{Database, Scope, SqlState};

pub async fn invoke(
    path: &Path,
    function: &str,
    args: &str,
    kind: Kind,
    grants: Vec<Permission>,
    settings: String,
    state: &Path,
) -> Result<()> {
    let args: serde_json::Value =
        serde_json::from_str(args).context("ARGS must be a JSON object")?;
    if serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&settings).is_err() {
        bail!("--settings must be a JSON object");
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let db = Database::connect(&format!("sqlite://{}?mode=rwc", state.display()))
        .await
        .with_context(|| format!("opening {}", state.display()))?;
    let runtime = Arc::new(
        Runtime::builder()
            .state(Arc::new(SqlState::new(db)))
            .build()?,
    );
    let component = runtime.load(kind, &bytes)?;
    let call = Arc::new(CallContext {
        scope: Scope::new(
            "local",
            path.file_stem()
                .map_or("component".into(), |s| s.to_string_lossy().into_owned()),
        ),
        grants: if grants.is_empty() {
            Grants::all()
        } else {
            grants.into_iter().collect()
        },
        settings: settings.into(),
        track_events: true,
    });
    let function = function.to_owned();
    let outcome = tokio::task::spawn_blocking(move || {
        runtime.invoke_json(&component, &call, &Limits::default(), &function, &args)
    })
    .await??;
    for line in &outcome.logs {
        eprintln!("[{:?}] {}", line.level, line.message);
    }
    eprintln!(
        "fuel used: {}, time: {:?}",
        outcome.fuel_used, outcome.elapsed
    );
    println!("{}", serde_json::to_string_pretty(&outcome.json())?);
    Ok(())
}
