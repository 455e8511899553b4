//! `mercato invoke`: one call, locally, with state in a SQLite file so
//! calls build on each other across invocations of the command.

use std::path::Path;
use std::sync::Arc;

use mercato_registry::{Database, SqlState};
use mercato_runtime::{CallContext, Grants, Kind, Limits, Outcome, Runtime, Scope};
use serde_json::Value;

use crate::CliError;

/// Call `function` of the component at `path` with `args`, its state in the
/// SQLite file `state`.
pub async fn invoke(
    path: &Path,
    function: &str,
    args: Value,
    kind: Kind,
    grants: Option<Grants>,
    settings: Value,
    state: &Path,
) -> Result<Outcome, CliError> {
    if !settings.is_object() {
        return Err(CliError::Invalid(
            "--settings must be a JSON object".to_owned(),
        ));
    }
    let bytes = std::fs::read(path).map_err(CliError::file("reading", path))?;
    let db = Database::connect(&format!("sqlite://{}?mode=rwc", state.display()))
        .await
        .map_err(|e| CliError::Invalid(format!("opening {}: {e}", state.display())))?;
    let runtime = Arc::new(
        Runtime::builder()
            .state(Arc::new(SqlState::new(db)))
            .build()?,
    );
    let component = runtime
        .load(kind, &bytes)
        .map_err(|source| CliError::Load { kind, source })?;
    let call = Arc::new(CallContext {
        scope: Scope::new(
            "local",
            path.file_stem()
                .map_or("component".into(), |s| s.to_string_lossy().into_owned()),
        ),
        grants: grants.unwrap_or_else(Grants::all),
        settings: settings.to_string().into(),
        track_events: true,
        version: None,
    });
    let function = function.to_owned();
    tokio::task::spawn_blocking(move || {
        runtime.invoke_json(&component, &call, &Limits::default(), &function, &args)
    })
    .await
    .map_err(|e| CliError::Invalid(format!("the invocation's thread failed: {e}")))?
    .map_err(CliError::from)
}
