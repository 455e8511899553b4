//! What the end-to-end tests share: the real `mercato` binary, a server
//! started on a free port, and assertions on the API's envelope. The tests
//! themselves live in `tests/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A panic is a test's failure report.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace's `mercato` binary, built by the same `cargo test` /
/// `cargo nextest` run (both build every binary of the workspace).
pub fn mercato_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> → target/<profile>/mercato
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile dir")
        .join(format!("mercato{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "mercato-cli", "--bin", "mercato"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the mercato binary failed");
    }
    bin
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn mercato(args: &[&str]) -> Output {
    Command::new(mercato_bin())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run mercato")
}

pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "mercato failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The HTTP client.
    pub agent: ureq::Agent,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start(data_dir: &Path) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(mercato_bin())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mercato serve");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server
            .agent
            .get(format!("{}/healthz", server.base))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "mercato serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let request = request
            .header("Content-Type", "application/json")
            .body(body.map(|b| b.to_string()).unwrap_or_default())
            .expect("request");
        let mut response = self.agent.run(request).expect("HTTP exchange");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, String) {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", content_type)
            .body(body.to_owned())
            .expect("request");
        let mut response = self.agent.run(request).expect("HTTP exchange");
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    pub fn upload(&self, token: &str, bytes: &[u8]) -> (u16, Value) {
        let mut response = self
            .agent
            .post(format!("{}/v1/packages", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .expect("upload");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// Assert a refusal's status and error code.
#[track_caller]
pub fn refused((status, body): (u16, Value), expected_status: u16, code: &str) {
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (expected_status, Some(code)),
        "{body}"
    );
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "a refusal names its reason: {body}"
    );
}

#[track_caller]
pub fn success((status, body): (u16, Value), expected_status: u16) -> Value {
    assert_eq!(status, expected_status, "{body}");
    body
}
