//! `mercato run`: a component against a file of calls, in the same sandbox
//! the host runs it in (the runtime's engine, limits, WASI and host
//! imports; no second sandbox), with a local store, printing each result,
//! each expectation and each call's costs against its limits.
//!
//! A calls file is a JSON array of calls:
//!
//! ```json
//! [{"function": "schedule", "args": {"draft": {...}}, "expect": {"ok": {"capacity": 50}}},
//!  {"function": "book", "args": {...}, "expect-error": "limit-exceeded"}]
//! ```
//!
//! `args` is the object the HTTP API takes (keyed by WIT parameter name).
//! `expect` matches the result as JSON where every field it names must be
//! equal (fields it does not name are not compared; arrays must have the
//! same length). `expect-error` names the code of an invocation that must
//! fail (`limit-exceeded`, `permission-denied`, `component-fault`, …).
//! Packages may carry the same format as fixture calls.

use std::path::Path;
use std::sync::Arc;

use mercato_registry::{Package, RequestedLimits};
use mercato_runtime::{CallContext, Grants, InvokeError, Kind, Limit, Limits, Runtime, Scope};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::CliError;
use crate::manifest::kind_of;
use crate::pack::{build, crate_info};

/// One call of a calls file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Call {
    /// The WIT function's name.
    pub function: String,
    /// Its arguments, keyed by parameter name.
    #[serde(default = "empty_object")]
    pub args: Value,
    /// What the result must match.
    #[serde(default)]
    pub expect: Option<Value>,
    /// The error code the call must end with instead.
    #[serde(default)]
    pub expect_error: Option<String>,
}

fn empty_object() -> Value {
    json!({})
}

/// Parse a calls file; errors name the call and field.
pub fn parse_calls(text: &str) -> Result<Vec<Call>, CliError> {
    let raw: Vec<Value> = serde_json::from_str(text)
        .map_err(|e| CliError::Invalid(format!("the calls file is not a JSON array: {e}")))?;
    raw.into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value(v)
                .map_err(|e| CliError::Invalid(format!("call {} of the calls file: {e}", i + 1)))
        })
        .collect()
}

/// What the calls run with.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The component's kind.
    pub kind: Kind,
    /// What it may use.
    pub grants: Grants,
    /// Its budget per call.
    pub limits: Limits,
    /// The settings; `None` takes the component's `default-settings`.
    pub settings: Option<Value>,
}

/// A call's costs against its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Costs {
    /// Fuel used.
    pub fuel: u64,
    /// Largest linear memory, bytes.
    pub memory_peak: u64,
    /// Result size, bytes.
    pub output_bytes: u64,
    /// Log bytes written (stdout and stderr included).
    pub log_bytes: u64,
}

/// How one call went.
#[derive(Debug)]
pub struct CallReport {
    /// The call.
    pub call: Call,
    /// Its result as JSON, or how it failed.
    pub result: Result<Value, InvokeError>,
    /// Its costs (zero when it failed).
    pub costs: Costs,
    /// Wall time in microseconds.
    pub micros: u128,
    /// Whether its expectation held (`None`: it had none).
    pub passed: Option<bool>,
}

impl CallReport {
    /// The limit it hit, if it hit one.
    pub fn limit_hit(&self) -> Option<Limit> {
        self.result.as_ref().err().and_then(InvokeError::limit)
    }
}

/// Every call's report.
#[derive(Debug)]
pub struct Report {
    /// The budget each call had.
    pub limits: Limits,
    /// Per call, in order.
    pub calls: Vec<CallReport>,
}

impl Report {
    /// Calls whose expectation held.
    pub fn passed(&self) -> usize {
        self.calls.iter().filter(|c| c.passed == Some(true)).count()
    }

    /// Calls whose expectation failed.
    pub fn failed(&self) -> usize {
        self.calls
            .iter()
            .filter(|c| c.passed == Some(false))
            .count()
    }

    /// Calls that hit a limit they were not expected to hit.
    pub fn limit_hits(&self) -> usize {
        self.calls
            .iter()
            .filter(|c| c.limit_hit().is_some() && c.call.expect_error.is_none())
            .count()
    }

    /// Whether the run is a success: every expectation held, no limit hit.
    pub fn ok(&self) -> bool {
        self.failed() == 0 && self.limit_hits() == 0
    }

    /// The report as `mercato run` prints it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let l = &self.limits;
        for (i, c) in self.calls.iter().enumerate() {
            let verdict = match c.passed {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None if c.result.is_err() => "ERROR",
                None => "ok",
            };
            out.push_str(&format!("{:>3}. {verdict:<5} {}\n", i + 1, c.call.function));
            match &c.result {
                Ok(v) => out.push_str(&format!("       result: {v}\n")),
                Err(e) => out.push_str(&format!("       error:  [{}] {e}\n", e.code())),
            }
            if c.passed == Some(false) {
                if let Some(expected) = &c.call.expect {
                    out.push_str(&format!("       expected: {expected}\n"));
                }
                if let Some(code) = &c.call.expect_error {
                    out.push_str(&format!("       expected error: {code}\n"));
                }
            }
            let k = &c.costs;
            out.push_str(&format!(
                "       fuel {} / {} ({:.3}%) · memory {} / {} · output {} / {} B · log {} / {} B · {} µs\n",
                k.fuel,
                l.fuel,
                percent(k.fuel, l.fuel),
                bytes(k.memory_peak),
                bytes(l.memory_bytes),
                k.output_bytes,
                l.output_bytes,
                k.log_bytes,
                l.log_bytes,
                c.micros
            ));
        }
        out.push_str(&format!(
            "{} calls: {} passed, {} failed, {} limit hits\n",
            self.calls.len(),
            self.passed(),
            self.failed(),
            self.limit_hits()
        ));
        out
    }
}

fn percent(used: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        used as f64 * 100.0 / of as f64
    }
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{:.0} KiB", n as f64 / 1024.0)
    }
}

/// Whether `actual` matches `expected`: objects on the fields `expected`
/// names, arrays element by element with equal lengths, the rest equal.
pub fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|got| matches(v, got))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a))
        }
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        _ => expected == actual,
    }
}

/// What `mercato run` was pointed at, ready to run: a package (`.mrc`,
/// verified; kind, permissions and limits from its manifest), a crate
/// (a directory or its `Cargo.toml`: built, then the same from
/// `[package.metadata.mercato]`), or a built component (`.wasm`: `kind`
/// is needed; everything granted, the platform's default limits).
/// `grants` replaces the permissions when given.
pub fn resolve(
    path: &Path,
    kind: Option<Kind>,
    grants: Option<Grants>,
    settings: Option<Value>,
) -> Result<(Vec<u8>, Setup), CliError> {
    let manifest_path = if path.is_dir() {
        Some(path.join("Cargo.toml"))
    } else if path.file_name().is_some_and(|n| n == "Cargo.toml") {
        Some(path.to_owned())
    } else {
        None
    };
    let (code, found_kind, permissions, limits) = if let Some(manifest_path) = manifest_path {
        let info = crate_info(&manifest_path)?;
        let found = kind_of(&info.metadata)?;
        let mercato = &info.metadata["mercato"];
        let permissions: Grants =
            serde_json::from_value(mercato.get("permissions").cloned().unwrap_or(json!([])))
                .map_err(|e| {
                    CliError::Invalid(format!("[package.metadata.mercato] permissions: {e}"))
                })?;
        let limits: RequestedLimits = serde_json::from_value(
            mercato.get("limits").cloned().unwrap_or(json!({})),
        )
        .map_err(|e| CliError::Invalid(format!("[package.metadata.mercato] limits: {e}")))?;
        let wasm = build(&info)?;
        let code = std::fs::read(&wasm).map_err(CliError::file("reading", &wasm))?;
        (code, found, permissions, limits.resolve())
    } else {
        let bytes = std::fs::read(path).map_err(CliError::file("reading", path))?;
        if bytes.starts_with(mercato_registry::package::MAGIC) {
            let package = Package::parse(&bytes)?;
            package.verify()?;
            let m = &package.manifest;
            let found: Kind = m
                .kind
                .parse()
                .map_err(|e| CliError::Invalid(format!("the manifest's kind: {e}")))?;
            let permissions: Grants = m.permissions.iter().copied().collect();
            let limits = m.limits.resolve();
            (package.code, found, permissions, limits)
        } else {
            let found = kind.ok_or_else(|| {
                CliError::Invalid(format!(
                    "{} is a bare component: say its kind with --kind ({})",
                    path.display(),
                    Kind::names()
                ))
            })?;
            (bytes, found, Grants::all(), Limits::default())
        }
    };
    if let Some(asked) = kind
        && asked != found_kind
    {
        return Err(CliError::Invalid(format!(
            "--kind {asked} does not match the {found_kind} component at {}",
            path.display()
        )));
    }
    Ok((
        code,
        Setup {
            kind: found_kind,
            grants: grants.unwrap_or(permissions),
            limits,
            settings,
        },
    ))
}

/// Run `calls` in order against `code` on `runtime` (whose store keeps the
/// state between calls). Settings are validated by the component first, as
/// the host would before enabling it.
pub fn run(
    runtime: &Runtime,
    code: &[u8],
    setup: &Setup,
    calls: Vec<Call>,
) -> Result<Report, CliError> {
    let component = runtime
        .load(setup.kind, code)
        .map_err(|source| CliError::Load {
            kind: setup.kind,
            source,
        })?;
    let settings = match &setup.settings {
        Some(s) => s.clone(),
        None => runtime.default_settings(&component)?,
    };
    let scope = Scope::new("local", "component");
    if let Err(fields) = runtime.validate_settings(&component, scope.clone(), &settings)? {
        return Err(CliError::Invalid(format!(
            "the component refused the settings {settings}: {}",
            Value::Array(fields)
        )));
    }
    let call = Arc::new(CallContext {
        scope,
        grants: setup.grants.clone(),
        settings: settings.to_string().into(),
        track_events: true,
        version: None,
    });
    let mut reports = Vec::with_capacity(calls.len());
    for c in calls {
        let started = std::time::Instant::now();
        let outcome = runtime.invoke_json(&component, &call, &setup.limits, &c.function, &c.args);
        let micros = started.elapsed().as_micros();
        let (result, costs) = match outcome {
            Ok(o) => {
                let costs = Costs {
                    fuel: o.fuel_used,
                    memory_peak: o.memory_peak,
                    output_bytes: o.output_bytes,
                    log_bytes: o.logs.iter().map(|l| l.message.len() as u64).sum(),
                };
                (Ok(o.json()), costs)
            }
            Err(e) => (
                Err(e),
                Costs {
                    fuel: 0,
                    memory_peak: 0,
                    output_bytes: 0,
                    log_bytes: 0,
                },
            ),
        };
        let passed = match (&c.expect, &c.expect_error, &result) {
            (_, Some(code), Err(e)) => Some(e.code() == code),
            (_, Some(_), Ok(_)) => Some(false),
            (Some(expected), None, Ok(actual)) => Some(matches(expected, actual)),
            (Some(_), None, Err(_)) => Some(false),
            (None, None, _) => None,
        };
        reports.push(CallReport {
            call: c,
            result,
            costs,
            micros,
            passed,
        });
    }
    Ok(Report {
        limits: setup.limits,
        calls: reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_match_on_named_fields() {
        let actual = json!({"ok": {"id": "s-1", "capacity": 50, "tags": ["a", "b"]}});
        assert!(matches(&json!({"ok": {"capacity": 50}}), &actual));
        assert!(matches(&json!({"ok": {"capacity": 50.0}}), &actual));
        assert!(!matches(&json!({"ok": {"capacity": 51}}), &actual));
        assert!(!matches(&json!({"err": {}}), &actual));
        assert!(!matches(&json!({"ok": {"tags": ["a"]}}), &actual));
        assert!(matches(&json!({"ok": {"tags": ["a", "b"]}}), &actual));
    }

    #[test]
    fn a_calls_file_names_the_bad_call() {
        let err = parse_calls(r#"[{"function": "a"}, {"function": "b", "argz": {}}]"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("call 2") && err.contains("argz"), "{err}");
        assert!(
            parse_calls("{}")
                .unwrap_err()
                .to_string()
                .contains("JSON array")
        );
        let calls = parse_calls(r#"[{"function": "a", "expect-error": "limit-exceeded"}]"#)
            .expect("parses");
        assert_eq!(calls[0].args, json!({}));
        assert_eq!(calls[0].expect_error.as_deref(), Some("limit-exceeded"));
    }
}
