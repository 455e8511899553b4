//! Property tests of everything that parses what a stranger sends: the
//! package file, its manifest, JSON arguments against a function's WIT
//! types, and customer imports as CSV and NDJSON. Each property holds for
//! every input: no panic, every refusal typed and named, and what is
//! accepted means what was sent.
//!
//! `cargo test` runs a short seeded pass (the same inputs every run, so CI
//! is repeatable); `scripts/fuzz MINUTES` runs them with fresh
//! seeds for that long (`MERCATO_FUZZ_SECONDS` per property).

// A panic is how a test reports.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use mercato_registry::customers::{from_csv, from_ndjson};
use mercato_registry::package::MAGIC;
use mercato_registry::{CustomerProfile, Kind, Manifest, Package, RegistryError};
use mercato_runtime::Runtime;
use mercato_runtime::value::{params_from_json, to_json};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Map, Value};
use wasmtime::component::Type;

/// Inputs per property in the seeded pass.
const CASES: u32 = 256;

/// Run `property` over `strategy`: seeded by `name` for a repeatable pass,
/// or with fresh seeds until `1/share` of `MERCATO_FUZZ_SECONDS` has passed
/// (a test checking one property per function shares its time among them).
fn check<S>(
    name: &str,
    share: usize,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let budget = std::env::var("MERCATO_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| Duration::from_secs(s) / u32::try_from(share.max(1)).unwrap_or(u32::MAX));
    let config = Config {
        cases: if budget.is_some() { 2_000 } else { CASES },
        failure_persistence: None,
        ..Config::default()
    };
    let started = Instant::now();
    let mut runs = 0u64;
    loop {
        let mut runner = match budget {
            Some(_) => TestRunner::new(config.clone()),
            None => {
                let seed = mercato_registry::sha256_hex(name.as_bytes());
                TestRunner::new_with_rng(
                    config.clone(),
                    TestRng::from_seed(RngAlgorithm::ChaCha, &hex::decode(&seed).unwrap()),
                )
            }
        };
        if let Err(e) = runner.run(&strategy, &property) {
            panic!("{name}: {e}");
        }
        runs += 1;
        match budget {
            Some(b) if started.elapsed() < b => continue,
            _ => break,
        }
    }
    if budget.is_some() {
        eprintln!(
            "{name}: {} inputs in {:.0?}",
            runs * u64::from(config.cases),
            started.elapsed()
        );
    }
}

/// Any JSON value, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_-]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn signed_package() -> (Manifest, Vec<u8>) {
    let manifest = mercato_testapp::manifest(
        "acme/booking",
        "1.2.3",
        Kind::LivestreamBooking,
        &["store", "events"],
    );
    let bytes = Package::build(&manifest, b"\0asm component bytes", &key()).unwrap();
    (manifest, bytes)
}

/// The code a refusal of a package file answers with.
fn package_code(e: mercato_registry::PackageError) -> Result<&'static str, TestCaseError> {
    let message = e.to_string();
    prop_assert!(!message.is_empty());
    Ok(RegistryError::from(e).code())
}

#[test]
fn any_bytes_are_a_package_or_a_typed_refusal() {
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(any::<u8>(), 0..512)
            .prop_map(|tail| [MAGIC.as_slice(), &tail].concat()),
    ];
    check("package-bytes", 1, bytes, |bytes| {
        if let Err(e) = Package::parse(&bytes) {
            let code = package_code(e)?;
            prop_assert!(
                ["not-a-package", "invalid-manifest", "bad-signature"].contains(&code),
                "{code}"
            );
        }
        Ok(())
    });
}

/// One change to a signed package file.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Truncate(usize),
    Append(Vec<u8>),
    Insert { at: usize, bytes: Vec<u8> },
}

#[test]
fn no_change_to_a_signed_package_still_verifies() {
    let (manifest, original) = signed_package();
    let n = original.len();
    let mutation = prop_oneof![
        (0..n, 1..=255u8).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        (0..n).prop_map(Mutation::Truncate),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
        (0..n, prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ];
    check(
        "package-mutations",
        1,
        prop::collection::vec(mutation, 1..4),
        |mutations| {
            let mut bytes = original.clone();
            for m in &mutations {
                match m {
                    Mutation::Flip { at, bits } => {
                        if let Some(b) = bytes.get_mut(*at) {
                            *b ^= bits;
                        }
                    }
                    Mutation::Truncate(len) => bytes.truncate(*len),
                    Mutation::Append(tail) => bytes.extend_from_slice(tail),
                    Mutation::Insert { at, bytes: more } => {
                        let at = (*at).min(bytes.len());
                        bytes.splice(at..at, more.iter().copied());
                    }
                }
            }
            match Package::parse(&bytes).and_then(|p| p.verify().map(|()| p)) {
                // Flips can cancel out; anything else that verifies is the original.
                Ok(p) => {
                    prop_assert_eq!(&bytes, &original);
                    prop_assert_eq!(&p.manifest, &manifest);
                }
                Err(e) => {
                    package_code(e)?;
                }
            }
            Ok(())
        },
    );
}

/// Where a manifest field can be set to anything.
const MANIFEST_FIELDS: &[&[&str]] = &[
    &["name"],
    &["version"],
    &["kind"],
    &["wit"],
    &["permissions"],
    &["description"],
    &["settings-schema"],
    &["limits"],
    &["limits", "fuel"],
    &["limits", "memory-bytes"],
    &["limits", "deadline-ms"],
    &["limits", "output-bytes"],
    &["unknown-field"],
];

#[test]
fn any_manifest_is_valid_or_refused_naming_what() {
    let (manifest, _) = signed_package();
    let base = serde_json::to_value(&manifest).unwrap();
    let edits = prop::collection::vec((0..MANIFEST_FIELDS.len(), json()), 1..4);
    check("manifest", 1, edits, |edits| {
        let mut doc = base.clone();
        for (field, value) in edits {
            let path = MANIFEST_FIELDS[field];
            let mut at = &mut doc;
            for step in &path[..path.len() - 1] {
                if !at.get(*step).is_some_and(Value::is_object) {
                    at[*step] = Value::Object(Map::new());
                }
                at = &mut at[*step];
            }
            at[path[path.len() - 1]] = value;
        }
        let Ok(parsed) = serde_json::from_value::<Manifest>(doc.clone()) else {
            return Ok(()); // the package parser's `invalid-manifest`, tested above
        };
        match parsed.validate() {
            Ok(()) => {
                // What is accepted survives signing and parsing unchanged.
                let bytes = Package::build(&parsed, b"code", &key()).unwrap();
                let back = Package::parse(&bytes).unwrap();
                prop_assert_eq!(back.manifest, parsed);
            }
            Err(e) => {
                prop_assert!(
                    matches!(
                        e,
                        mercato_registry::PackageError::ManifestField { .. }
                            | mercato_registry::PackageError::Manifest(_)
                    ),
                    "{e:?}"
                );
                prop_assert_eq!(package_code(e)?, "invalid-manifest");
            }
        }
        Ok(())
    });
}

/// JSON that a value of `ty` maps to, as the table in `value.rs` says.
fn json_of(ty: &Type) -> BoxedStrategy<Value> {
    match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::S8 => any::<i8>().prop_map(Value::from).boxed(),
        Type::U8 => any::<u8>().prop_map(Value::from).boxed(),
        Type::S16 => any::<i16>().prop_map(Value::from).boxed(),
        Type::U16 => any::<u16>().prop_map(Value::from).boxed(),
        Type::S32 => any::<i32>().prop_map(Value::from).boxed(),
        Type::U32 => any::<u32>().prop_map(Value::from).boxed(),
        Type::S64 => any::<i64>().prop_map(Value::from).boxed(),
        Type::U64 => any::<u64>().prop_map(Value::from).boxed(),
        Type::Float32 => any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::from(f64::from(f)))
            .boxed(),
        Type::Float64 => any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from)
            .boxed(),
        Type::Char => any::<char>().prop_map(|c| Value::String(c.into())).boxed(),
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::List(list) => prop::collection::vec(json_of(&list.ty()), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        Type::Tuple(tuple) => tuple
            .types()
            .map(|t| json_of(&t))
            .collect::<Vec<_>>()
            .prop_map(Value::Array)
            .boxed(),
        Type::Record(record) => {
            let (names, values): (Vec<String>, Vec<_>) = record
                .fields()
                .map(|f| (f.name.to_owned(), json_of(&f.ty)))
                .unzip();
            values
                .prop_map(move |vs| Value::Object(names.iter().cloned().zip(vs).collect()))
                .boxed()
        }
        Type::Enum(e) => {
            let names: Vec<Value> = e.names().map(Value::from).collect();
            prop::sample::select(names).boxed()
        }
        Type::Variant(v) => {
            let cases: Vec<BoxedStrategy<Value>> = v
                .cases()
                .map(|c| {
                    let name = c.name.to_owned();
                    match c.ty {
                        None => Just(Value::String(name)).boxed(),
                        Some(t) => json_of(&t)
                            .prop_map(move |p| Value::Object(Map::from_iter([(name.clone(), p)])))
                            .boxed(),
                    }
                })
                .collect();
            prop::strategy::Union::new(cases).boxed()
        }
        // `null` is `none`: an option whose value can itself be `null` only
        // round-trips as `none`.
        Type::Option(o) if matches!(o.ty(), Type::Option(_)) => Just(Value::Null).boxed(),
        Type::Option(o) => prop_oneof![Just(Value::Null), json_of(&o.ty())].boxed(),
        Type::Result(r) => {
            let side = |t: Option<Type>, key: &'static str| match t {
                None => Just(Value::Object(Map::from_iter([(key.into(), Value::Null)]))).boxed(),
                Some(t) => json_of(&t)
                    .prop_map(move |v| Value::Object(Map::from_iter([(key.into(), v)])))
                    .boxed(),
            };
            prop_oneof![side(r.ok(), "ok"), side(r.err(), "err")].boxed()
        }
        Type::Flags(f) => {
            let names: Vec<String> = f.names().map(str::to_owned).collect();
            let n = names.len();
            prop::sample::subsequence(names, 0..=n)
                .prop_map(|s| Value::Array(s.into_iter().map(Value::String).collect()))
                .boxed()
        }
        other => panic!("a WIT type the JSON mapping does not cover: {other:?}"),
    }
}

/// Every exported function of the four first-party components, with its
/// parameters.
fn functions() -> Vec<(String, Vec<(String, Type)>)> {
    let runtime = Runtime::builder().build().unwrap();
    let mut out = Vec::new();
    for (kind, path) in [
        (
            Kind::LivestreamBooking,
            mercato_artifacts::LIVESTREAM_BOOKING,
        ),
        (Kind::SampleRequests, mercato_artifacts::SAMPLE_REQUESTS),
        (Kind::TrialFeedback, mercato_artifacts::TRIAL_FEEDBACK),
        (Kind::Experiments, mercato_artifacts::EXPERIMENTS),
    ] {
        let component = runtime.load(kind, &mercato_artifacts::read(path)).unwrap();
        for f in component.functions() {
            out.push((format!("{kind}.{}", f.name), f.params.clone()));
        }
    }
    out
}

#[test]
fn arguments_of_every_type_map_to_wit_and_back_unchanged() {
    let functions = functions();
    let share = functions.len();
    for (name, params) in functions {
        let values: Vec<BoxedStrategy<Value>> = params.iter().map(|(_, t)| json_of(t)).collect();
        check(&format!("wit-roundtrip {name}"), share, values, |values| {
            let args = Value::Object(
                params
                    .iter()
                    .map(|(n, _)| n.clone())
                    .zip(values.iter().cloned())
                    .collect(),
            );
            let vals = params_from_json(&params, &args).map_err(TestCaseError::fail)?;
            let back: Vec<Value> = vals.iter().map(to_json).collect();
            prop_assert_eq!(back, values);
            Ok(())
        });
    }
}

#[test]
fn any_json_arguments_are_accepted_or_refused_naming_where() {
    let functions = functions();
    let share = functions.len();
    for (name, params) in functions {
        let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
        let key = if names.is_empty() {
            "[a-z_-]{1,8}".boxed()
        } else {
            prop_oneof![prop::sample::select(names), "[a-z_-]{1,8}"].boxed()
        };
        let args = prop_oneof![
            prop::collection::btree_map(key, json(), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            json(),
        ];
        check(&format!("wit-any {name}"), share, args, |args| {
            if let Err(message) = params_from_json(&params, &args) {
                // Every refusal names the argument or the path inside it.
                prop_assert!(
                    message.starts_with("arguments must be") || message.contains('`'),
                    "{message}"
                );
            }
            Ok(())
        });
    }
}

/// Text without surrounding blanks (the importer trims cells), never blank.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{1,8}",
        "[a-z]{1,4}[ ,;\"\n'é中]{0,3}[a-z]{1,4}",
        any::<String>(),
    ]
    .prop_map(|s| s.trim().to_owned())
    .prop_filter("not blank, no NUL", |s| !s.is_empty() && !s.contains('\0'))
}

fn profile() -> impl Strategy<Value = CustomerProfile> {
    (
        cell(),
        cell(),
        prop::option::of(cell()),
        prop::option::of("[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}"),
        prop::option::of("\\+?[0-9]{3,12}"),
        prop::option::of(cell()),
        prop::collection::vec(cell().prop_filter("no `;`", |t| !t.contains(';')), 0..3),
    )
        .prop_map(
            |(id, name, company, email, phone, address, tags)| CustomerProfile {
                id,
                name,
                company,
                email,
                phone,
                address,
                tags: tags
                    .into_iter()
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect(),
            },
        )
}

fn csv_of(profiles: &[CustomerProfile]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "name", "company", "email", "phone", "address", "tags"])
        .unwrap();
    for p in profiles {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        w.write_record([
            p.id.clone(),
            p.name.clone(),
            opt(&p.company),
            opt(&p.email),
            opt(&p.phone),
            opt(&p.address),
            p.tags.join(";"),
        ])
        .unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// A refusal of an import: `invalid-input` naming a field, with a message.
fn import_refusal(e: &RegistryError) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.code(), "invalid-input", "{}", e);
    prop_assert!(matches!(e, RegistryError::Invalid { .. }), "{e:?}");
    Ok(())
}

#[test]
fn customer_imports_read_back_what_was_written() {
    check(
        "import-roundtrip",
        1,
        prop::collection::vec(profile(), 0..5),
        |profiles| {
            // Profiles the validator refuses are refused the same way by both.
            let valid = profiles
                .iter()
                .enumerate()
                .try_for_each(|(i, p)| mercato_registry::customers::validate(p, i + 1));
            let ndjson: String = profiles
                .iter()
                .map(|p| serde_json::to_string(p).unwrap() + "\n")
                .collect();
            for (format, read) in [
                ("csv", from_csv(&csv_of(&profiles))),
                ("ndjson", from_ndjson(&ndjson)),
            ] {
                match (&valid, read) {
                    (Ok(()), Ok(read)) => prop_assert_eq!(&read, &profiles, "{}", format),
                    (Err(_), Err(e)) => import_refusal(&e)?,
                    (valid, read) => {
                        return Err(TestCaseError::fail(format!(
                            "{format}: validator said {valid:?}, the import {read:?}"
                        )));
                    }
                }
            }
            Ok(())
        },
    );
}

#[test]
fn any_import_text_is_profiles_or_a_typed_refusal() {
    let text = prop_oneof![
        any::<String>(),
        "(id,name|name,id|id,name,tags|id,email,bogus)\n([a-z0-9 ,;\"@+\n\r\\x00]{0,40}\n){0,4}",
        prop::collection::vec(json(), 0..4).prop_map(|lines| {
            lines
                .iter()
                .map(|l| l.to_string() + "\n")
                .collect::<String>()
        }),
    ];
    check("import-any", 1, text, |text| {
        for read in [from_csv(&text), from_ndjson(&text)] {
            match read {
                Err(e) => import_refusal(&e)?,
                // What is accepted, every engine can store.
                Ok(profiles) => {
                    for p in &profiles {
                        let text = serde_json::to_string(p).unwrap();
                        prop_assert!(!text.contains("\\u0000"), "{text}");
                    }
                }
            }
        }
        Ok(())
    });
}
