//! A third-party author's path, outside this workspace: `mercato new` makes
//! a crate in a temporary directory; its native test passes with plain
//! `cargo test`; `mercato run` builds it and runs its calls file in the
//! host's sandbox with costs against limits; `mercato pack` builds and signs
//! it with nothing of ours in its workspace; `mercato verify` checks the
//! package; `mercato publish` uploads it to a running server, where it waits
//! for review. Then `mercato run`'s refusals: a failed expectation and a
//! limit hit each exit 1 and say so.

use std::path::Path;
use std::process::{Command, Output};

use mercato_e2e::{Server, mercato, ok, root, success};
use serde_json::json;

/// The crate's builds go to a directory of this workspace's target, so a
/// second run of the suite reuses them.
fn author_target() -> std::path::PathBuf {
    root().join("target/outside-crate")
}

fn in_crate(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", author_target())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run a command in the crate")
}

fn mercato_in(dir: &Path, args: &[&str]) -> Output {
    in_crate(
        dir,
        mercato_e2e::mercato_bin().to_str().expect("utf-8"),
        args,
    )
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_crate_made_outside_the_workspace_tests_runs_packs_verifies_and_publishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let krate = dir.path().join("my-booking");
    let created = ok(mercato(&[
        "new",
        "livestream-booking",
        krate.to_str().expect("utf-8"),
        "--publisher",
        "acme",
    ]));
    assert!(
        created.contains("Cargo.toml") && created.contains("tests/native.rs"),
        "{created}"
    );
    let cargo_toml = std::fs::read_to_string(krate.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        cargo_toml.contains("[package.metadata.mercato]"),
        "{cargo_toml}"
    );
    assert!(
        cargo_toml.contains("name = \"acme/my-booking\""),
        "{cargo_toml}"
    );
    assert!(
        !cargo_toml.contains("profile"),
        "no profile of ours: {cargo_toml}"
    );
    // The workspace's lock file pins the same dependency versions.
    std::fs::copy(root().join("Cargo.lock"), krate.join("Cargo.lock")).expect("lock file");

    // The native test passes with plain cargo.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tested = in_crate(&krate, &cargo, &["test"]);
    assert!(
        tested.status.success(),
        "cargo test failed:\n{}",
        text(&tested)
    );
    assert!(text(&tested).contains("2 passed"), "{}", text(&tested));

    // Its calls run in the sandbox: results, expectations, costs.
    let run = mercato_in(&krate, &["run", ".", "--calls", "calls.json"]);
    let report = text(&run);
    assert!(run.status.success(), "mercato run failed:\n{report}");
    assert!(
        report.contains("3 calls: 2 passed, 0 failed, 0 limit hits"),
        "{report}"
    );
    assert!(
        report.contains("fuel ") && report.contains("memory "),
        "{report}"
    );
    assert!(report.contains("\"title\":\"Spring launch\""), "{report}");

    // Pack, verify, publish.
    let key = krate.join("acme.key");
    ok(mercato_in(
        &krate,
        &["keygen", "--out", key.to_str().expect("utf-8")],
    ));
    let package = krate.join("acme-my-booking-0.1.0.mrc");
    let packed = mercato_in(
        &krate,
        &[
            "pack",
            "--key",
            key.to_str().expect("utf-8"),
            "--out",
            package.to_str().expect("utf-8"),
        ],
    );
    assert!(
        packed.status.success(),
        "mercato pack failed:\n{}",
        text(&packed)
    );
    assert!(
        text(&packed).contains("packed acme/my-booking@0.1.0"),
        "{}",
        text(&packed)
    );
    let verified = ok(mercato(&["verify", package.to_str().expect("utf-8")]));
    assert!(
        verified.contains("acme/my-booking@0.1.0 (livestream-booking)"),
        "{verified}"
    );
    assert!(
        verified.contains("permissions: store, events"),
        "{verified}"
    );

    let data = dir.path().join("data");
    let operator = ok(mercato(&[
        "admin",
        "create-account",
        "ops",
        "--role",
        "operator",
        "--data-dir",
        data.to_str().expect("utf-8"),
    ]));
    let server = Server::start(&data);
    let op = Some(operator.as_str());
    success(
        server.send("POST", "/v1/publishers", op, Some(&json!({"name": "acme"}))),
        201,
    );
    let dev = success(
        server.send(
            "POST",
            "/v1/accounts",
            op,
            Some(&json!({"name": "ada", "role": "developer", "publisher": "acme"})),
        ),
        201,
    );
    let dev_token = dev["token"]["token"].as_str().expect("token").to_owned();
    let public = std::fs::read_to_string(krate.join("acme.key.pub")).expect("public key");
    success(
        server.send(
            "POST",
            "/v1/publishers/acme/keys",
            Some(&dev_token),
            Some(&json!({"public_key": public.trim()})),
        ),
        201,
    );
    let published = ok(mercato(&[
        "publish",
        package.to_str().expect("utf-8"),
        "--server",
        &server.base,
        "--token",
        &dev_token,
    ]));
    let published: serde_json::Value = serde_json::from_str(&published).expect("JSON");
    assert_eq!(published["name"], "acme/my-booking");
    assert_eq!(published["state"], "submitted");

    // A failed expectation exits 1 and names the call; so does a limit hit.
    std::fs::write(
        krate.join("wrong.json"),
        r#"[{"function": "list-sessions", "args": {}, "expect": {"ok": [{"title": "nothing"}]}}]"#,
    )
    .expect("calls");
    let failed = mercato_in(
        &krate,
        &[
            "run",
            package.to_str().expect("utf-8"),
            "--calls",
            "wrong.json",
        ],
    );
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    assert!(
        text(&failed).contains("FAIL  list-sessions"),
        "{}",
        text(&failed)
    );
    assert!(
        text(&failed).contains("1 calls: 0 passed, 1 failed"),
        "{}",
        text(&failed)
    );

    std::fs::write(
        krate.join("loop.json"),
        r#"[{"function": "book", "args": {"session-id": "s", "customer": "loop"}},
            {"function": "book", "args": {"session-id": "s", "customer": "memory"},
             "expect-error": "limit-exceeded"}]"#,
    )
    .expect("calls");
    let hostile = mercato_in(
        &krate,
        &[
            "run",
            mercato_artifacts::HOSTILE,
            "--kind",
            "livestream-booking",
            "--calls",
            "loop.json",
        ],
    );
    let report = text(&hostile);
    assert_eq!(hostile.status.code(), Some(1), "{report}");
    assert!(report.contains("[limit-exceeded]"), "{report}");
    assert!(
        report.contains("2 calls: 1 passed, 0 failed, 1 limit hits"),
        "{report}"
    );
}

#[test]
fn pack_refuses_a_crate_without_mercato_metadata_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2024\"\n[workspace]\n",
    )
    .expect("Cargo.toml");
    std::fs::write(dir.path().join("src/lib.rs"), "").expect("lib.rs");
    let key = dir.path().join("k.key");
    ok(mercato(&["keygen", "--out", key.to_str().expect("utf-8")]));
    let out = mercato(&[
        "pack",
        "--manifest-path",
        dir.path().join("Cargo.toml").to_str().expect("utf-8"),
        "--key",
        key.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("[package.metadata.mercato]"),
        "{}",
        text(&out)
    );
}

#[test]
fn every_other_kind_scaffolds_a_crate_whose_test_and_calls_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The scaffold's own tests: trial-feedback's also exports and forgets
    // a customer (the only scaffold that stores one).
    for (kind, tests) in [
        ("sample-requests", 2),
        ("trial-feedback", 3),
        ("experiments", 2),
    ] {
        let krate = dir.path().join(format!("my-{kind}"));
        ok(mercato(&[
            "new",
            kind,
            krate.to_str().expect("utf-8"),
            "--publisher",
            "acme",
        ]));
        std::fs::copy(root().join("Cargo.lock"), krate.join("Cargo.lock")).expect("lock file");
        let tested = in_crate(&krate, &cargo, &["test"]);
        assert!(
            tested.status.success(),
            "{kind}: cargo test failed:\n{}",
            text(&tested)
        );
        assert!(
            text(&tested).contains(&format!("{tests} passed")),
            "{kind}: {}",
            text(&tested)
        );
        let run = mercato_in(&krate, &["run", ".", "--calls", "calls.json"]);
        assert!(
            run.status.success(),
            "{kind}: mercato run failed:\n{}",
            text(&run)
        );
        assert!(text(&run).contains("3 calls: "), "{kind}: {}", text(&run));
        assert!(
            text(&run).contains("0 failed, 0 limit hits"),
            "{kind}: {}",
            text(&run)
        );
    }
}

#[test]
fn pack_names_the_missing_wasm_target_and_how_to_install_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let krate = dir.path().join("no-target");
    ok(mercato(&[
        "new",
        "livestream-booking",
        krate.to_str().expect("utf-8"),
    ]));
    // A rustc whose wasm32-wasip2 standard library is missing, as on a
    // machine where the target was never added.
    let rustc = dir.path().join("rustc");
    std::fs::write(
        &rustc,
        "#!/bin/sh\ncase \"$*\" in *target-libdir*) echo /nonexistent/wasm32-wasip2/lib ;; \
         *) exec rustc \"$@\" ;; esac\n",
    )
    .expect("fake rustc");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rustc, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let key = dir.path().join("k.key");
    ok(mercato(&["keygen", "--out", key.to_str().expect("utf-8")]));
    let out = Command::new(mercato_e2e::mercato_bin())
        .args(["pack", "--key", key.to_str().expect("utf-8")])
        .current_dir(&krate)
        .env("RUSTC", &rustc)
        .output()
        .expect("run mercato pack");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("rustup target add wasm32-wasip2"),
        "{}",
        text(&out)
    );
}
