//! `mercato`: run the host, publish components, administer the platform.

mod admin;
mod author;
mod serve;

use std::process::ExitCode;

use mercato_cli::{keys, local, pack, verify};

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use mercato_registry::{Database, Registry, Role};
use mercato_runtime::{Grants, Kind, Permission};

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

/// How calls are admitted: what one tenant may use of this host.
#[derive(Args, Clone, Copy, Debug)]
struct Admission {
    /// Calls of one tenant that run at once.
    #[arg(long, default_value_t = 8)]
    tenant_concurrency: u32,
    /// Calls of one install that run at once.
    #[arg(long, default_value_t = 4)]
    install_concurrency: u32,
    /// Calls of one tenant that may wait for a slot (more: 429).
    #[arg(long, default_value_t = 64)]
    tenant_queue: u32,
    /// Milliseconds a call may wait for a slot (then: 503).
    #[arg(long, default_value_t = 2_000)]
    queue_wait_ms: u64,
    /// MiB of memory limits of all calls running at once on this host.
    #[arg(long, default_value_t = 4_096)]
    memory_budget_mib: u64,
    /// MiB of memory limits of one tenant's calls running at once.
    #[arg(long, default_value_t = 1_024)]
    tenant_memory_mib: u64,
    /// Seconds a component may take to compile.
    #[arg(long, default_value_t = 60)]
    compile_timeout_s: u64,
}

impl Admission {
    fn config(self) -> mercato_server::marketplace::admission::AdmissionConfig {
        mercato_server::marketplace::admission::AdmissionConfig {
            tenant_concurrency: self.tenant_concurrency.max(1),
            install_concurrency: self.install_concurrency.max(1),
            tenant_queue: self.tenant_queue,
            queue_wait: std::time::Duration::from_millis(self.queue_wait_ms),
            host_memory: self.memory_budget_mib << 20,
            tenant_memory: self.tenant_memory_mib << 20,
            compile_timeout: std::time::Duration::from_secs(self.compile_timeout_s.max(1)),
            slow_lane: true,
            inline: true,
        }
    }
}

/// Where the database is: the data directory's SQLite file unless a URL is given.
#[derive(Args, Clone, Debug)]
struct Store {
    /// Where the SQLite database and the compile cache live.
    #[arg(long, default_value = "data", global = true)]
    data_dir: PathBuf,
    /// Use this database instead (`postgres://...` to share one between hosts).
    #[arg(long, env = "MERCATO_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

impl Store {
    fn url(&self) -> Result<String> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating the data directory {}", self.data_dir.display()))?;
        Ok(self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("mercato.db").display()
            )
        }))
    }

    async fn open(&self) -> Result<Database> {
        let url = self.url()?;
        Database::connect(&url)
            .await
            .with_context(|| format!("opening the database {url}"))
    }

    async fn registry(&self) -> Result<Registry> {
        Ok(Registry::new(self.open().await?))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the host: the HTTP API and the components tenants installed.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        store: Store,
        /// Seed a ready-to-try marketplace: the first-party components
        /// published and approved, tenant `demo` with them enabled, an
        /// account per role, tokens in `<data-dir>/demo-tokens.json`.
        #[arg(long)]
        demo: bool,
        /// Directory holding the built first-party components and their
        /// index (for `--demo`).
        #[arg(long, default_value = "target/components/wasm32-wasip2/release")]
        components: PathBuf,
        #[command(flatten)]
        admission: Admission,
    },
    /// Start a component crate of a kind: builds for wasm32-wasip2, has a
    /// passing native test and a calls file, and packs.
    New {
        /// livestream-booking, sample-requests, trial-feedback or experiments.
        kind: Kind,
        /// The directory to create; its name is the crate's and the component's.
        dir: PathBuf,
        /// The publisher the component is published under.
        #[arg(long, default_value = "my-publisher")]
        publisher: String,
        /// Where the crate gets mercato-sdk: a path, a git URL or a version
        /// (default: this checkout's sdk/ when there is one).
        #[arg(long)]
        sdk: Option<String>,
    },
    /// Make an ed25519 signing key pair for publishing.
    Keygen {
        /// The secret key file; the public key goes to `<FILE>.pub`.
        #[arg(long, default_value = "mercato-signing.key")]
        out: PathBuf,
    },
    /// Build a component crate for wasm32-wasip2 and write a signed package.
    Pack {
        /// The component crate's Cargo.toml.
        #[arg(long, default_value = "Cargo.toml")]
        manifest_path: PathBuf,
        /// The secret key from `mercato keygen`.
        #[arg(long, default_value = "mercato-signing.key")]
        key: PathBuf,
        /// Package this built component instead of building the crate.
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// Where to write the package (default `<publisher>-<name>-<version>.mrc`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a package file: structure, manifest, signature, and that the
    /// component implements its kind's world.
    Verify {
        /// The package file.
        package: PathBuf,
    },
    /// Upload a package to a Mercato server for review.
    Publish {
        /// The package file.
        package: PathBuf,
        /// The server, e.g. `http://127.0.0.1:8080`.
        #[arg(long, env = "MERCATO_SERVER")]
        server: String,
        /// A developer token of the package's publisher.
        #[arg(long, env = "MERCATO_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Run a component against a file of calls in the host's sandbox: each
    /// result, each expectation, and each call's costs against its limits.
    /// Exits 1 when an expectation fails or a call hits a limit.
    Run {
        /// A crate (directory or Cargo.toml; built first), a package (.mrc)
        /// or a built component (.wasm, with --kind).
        target: PathBuf,
        /// The calls: a JSON array of {function, args, expect?, expect-error?}.
        #[arg(long, default_value = "calls.json")]
        calls: PathBuf,
        /// The kind of a bare .wasm component.
        #[arg(long)]
        kind: Option<Kind>,
        /// Permissions to grant (repeat); default: what the manifest asks
        /// for (everything for a bare component).
        #[arg(long = "grant")]
        grants: Vec<Permission>,
        /// The tenant's settings, a JSON object (default: the component's
        /// own default settings).
        #[arg(long)]
        settings: Option<String>,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Platform administration on the database directly (bootstrap, recovery).
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
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

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; exit 1 if any entry was edited, removed or reordered.
    Verify {
        #[command(flatten)]
        store: Store,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: mercato_registry::RegistryError| e.to_string())
}

fn json_arg(flag: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).with_context(|| format!("{flag} must be JSON"))
}

fn grants_of(grants: Vec<Permission>) -> Option<Grants> {
    (!grants.is_empty()).then(|| grants.into_iter().collect())
}

/// Run an async command to completion. Only the commands that need it get
/// a tokio runtime: the others run components on this thread, where
/// wasmtime-wasi may start its own.
fn block_on<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Runtime::new()
        .context("starting the async runtime")?
        .block_on(work)
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<ExitCode> {
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
            store,
            demo,
            components,
            admission,
        } => block_on(serve::run(
            listen,
            &store,
            demo,
            &components,
            admission.config(),
        ))?,
        Command::New {
            kind,
            dir,
            publisher,
            sdk,
        } => author::new(kind, dir, publisher, sdk.as_deref())?,
        Command::Keygen { out } => author::keygen(&out)?,
        Command::Pack {
            manifest_path,
            key,
            wasm,
            out,
        } => {
            let key = keys::read_key(&key)?;
            let packed = pack::pack(&manifest_path, &key, wasm.as_deref(), out.as_deref())?;
            println!("{}", packed.path.display());
        }
        Command::Verify { package } => println!("{}", verify::verify(&package)?.report()),
        Command::Publish {
            package,
            server,
            token,
        } => author::publish(&package, &server, &token)?,
        Command::Run {
            target,
            calls,
            kind,
            grants,
            settings,
        } => {
            let settings = settings.map(|s| json_arg("--settings", &s)).transpose()?;
            return author::run(&target, &calls, kind, grants_of(grants), settings);
        }
        Command::Audit {
            command: AuditCommand::Verify { store },
        } => block_on(admin::audit_verify(&store))?,
        Command::Admin { command } => block_on(admin::run(command))?,
        Command::Invoke {
            component,
            function,
            args,
            kind,
            grants,
            settings,
            state,
        } => {
            let outcome = block_on(async {
                Ok(local::invoke(
                    &component,
                    &function,
                    json_arg("ARGS", &args)?,
                    kind,
                    grants_of(grants),
                    json_arg("--settings", &settings)?,
                    &state,
                )
                .await?)
            })?;
            for line in &outcome.logs {
                eprintln!("[{:?}] {}", line.level, line.message);
            }
            eprintln!(
                "fuel used: {}, time: {:?}",
                outcome.fuel_used, outcome.elapsed
            );
            println!("{}", serde_json::to_string_pretty(&outcome.json())?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
