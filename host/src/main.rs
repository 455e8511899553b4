//! `mercato`: run the host, or run one component call locally.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use mercato_host::http::{AppState, Installed};
use mercato_host::{CallContext, Grants, Kind, Limits, Permission, Runtime};
use mercato_registry::{Database, Scope, SqlState, StateStore};

#[derive(Parser)]
#[command(
    name = "mercato",
    version,
    about = "Mercato: a marketplace and sandboxed runtime for sales components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host: the first-party components served over HTTP.
    Serve {
        /// Address to listen on. Loopback by default: accounts and tokens
        /// arrive with the marketplace, so do not expose this yet.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where the SQLite database and the compile cache live.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Use this database instead of SQLite in the data directory
        /// (`postgres://...` to share state between hosts).
        #[arg(long)]
        database_url: Option<String>,
        /// Directory holding the built first-party components.
        #[arg(long, default_value = "target/components/wasm32-wasip2/component")]
        components: PathBuf,
        /// Tenants to serve (repeat the option for several).
        #[arg(long = "tenant", default_value = "demo")]
        tenants: Vec<String>,
    },
    /// Call one function of a component once, locally, and print the result.
    Invoke {
        /// The component (`.wasm`).
        component: PathBuf,
        /// The function, as named in WIT (`book`, `list-sessions`).
        function: String,
        /// Its arguments: a JSON object keyed by parameter name.
        #[arg(default_value = "{}")]
        args: String,
        /// The component's kind.
        #[arg(long)]
        kind: Kind,
        /// Permissions to grant (repeat); all of them when omitted.
        #[arg(long = "grant")]
        grants: Vec<Permission>,
        /// The tenant's settings, a JSON object.
        #[arg(long, default_value = "{}")]
        settings: String,
        /// Keep state in this SQLite file so calls build on each other.
        #[arg(long, default_value = "mercato-local.db")]
        state: PathBuf,
    },
}

/// First-party components: file stem, name, kind, permissions.
const FIRST_PARTY: &[(&str, &str, Kind, &[Permission])] = &[(
    "livestream_booking",
    "mercato/livestream-booking",
    Kind::LivestreamBooking,
    &[Permission::Store, Permission::Events],
)];

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve {
            listen,
            data_dir,
            database_url,
            components,
            tenants,
        } => serve(listen, &data_dir, database_url, &components, tenants).await,
        Command::Invoke {
            component,
            function,
            args,
            kind,
            grants,
            settings,
            state,
        } => invoke(&component, &function, &args, kind, grants, settings, &state).await,
    }
}

async fn open_state(url: &str) -> Result<Arc<dyn StateStore>> {
    let db = Database::connect(url)
        .await
        .with_context(|| format!("opening the database {url}"))?;
    Ok(Arc::new(SqlState::new(db)))
}

async fn serve(
    listen: SocketAddr,
    data_dir: &Path,
    database_url: Option<String>,
    components: &Path,
    tenants: Vec<String>,
) -> Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let url = database_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("mercato.db").display()
        )
    });
    let runtime = Arc::new(
        Runtime::builder()
            .state(open_state(&url).await?)
            .cache_dir(data_dir.join("cache"))
            .build()?,
    );

    let mut installed = BTreeMap::new();
    for (stem, name, kind, permissions) in FIRST_PARTY {
        let path = components.join(format!("{stem}.wasm"));
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (build the components with scripts/run)",
                path.display()
            )
        })?;
        let component = runtime
            .load(*kind, &bytes)
            .with_context(|| format!("loading {}", path.display()))?;
        let id = name.rsplit('/').next().unwrap_or(name).to_owned();
        tracing::info!(component = %name, digest = component.digest(), cached = component.from_cache(), "loaded");
        installed.insert(
            id,
            Installed {
                name: (*name).to_owned(),
                component: Arc::new(component),
                grants: permissions.iter().copied().collect(),
                settings: "{}".into(),
                limits: Limits::default(),
            },
        );
    }
    let state = Arc::new(AppState {
        runtime,
        tenants: tenants
            .into_iter()
            .map(|t| (t, installed.clone()))
            .collect(),
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!("mercato listening on http://{listen} (state: {url})");
    axum::serve(listener, mercato_host::http::app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn invoke(
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
    let state = open_state(&format!("sqlite://{}?mode=rwc", state.display())).await?;
    let runtime = Arc::new(Runtime::builder().state(state).build()?);
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
