//! The console in a real, headless Chromium driven over WebDriver, against
//! a real `mercato serve --demo`: a reviewer signs in and approves a
//! submitted version, seeing the permission it adds; the session cookie's
//! flags as the browser holds them; a form whose CSRF token was removed is
//! refused; a director is refused the reviewer's pages. Screenshots of the
//! pages land in `target/screenshots/`. `scripts/test` installs Debian's
//! `chromium` and `chromium-driver` when missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use fantoccini::{Client, ClientBuilder, Locator};
use mercato_e2e::{mercato_bin, root};
use mercato_registry::{Manifest, Package};
use serde_json::{Value, json};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(url: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(60);
    while agent.get(url).call().is_err() {
        assert!(Instant::now() < deadline, "{url} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn screenshots() -> PathBuf {
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

async fn browser(driver_port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1600", "--lang=zh-CN"],
            // A browser set to Chinese: the console answers in Chinese.
            "prefs": {"intl.accept_languages": "zh-CN,zh"},
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("connect to chromedriver")
}

/// The element `css`, waiting for the page that shows it to load.
async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    match client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => panic!(
            "`{css}` did not appear ({e}); the page was:\n{}",
            client.source().await.unwrap_or_default()
        ),
    }
}

async fn sign_in(client: &Client, base: &str, token: &str) {
    client
        .goto(&format!("{base}/sign-in"))
        .await
        .expect("sign-in page");
    element(client, "#token")
        .await
        .send_keys(token)
        .await
        .expect("type the token");
    element(client, "#sign-in button")
        .await
        .click()
        .await
        .expect("sign in");
    element(client, "#who").await;
}

/// One API call with a bearer token; the reply's JSON.
fn api(base: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(body.map(|b| b.to_string()).unwrap_or_default())
        .expect("request");
    let mut reply = agent.run(request).expect("HTTP exchange");
    let status = reply.status().as_u16();
    let text = reply.body_mut().read_to_string().unwrap_or_default();
    assert!(status < 300, "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A submitted version 0.1.1 of the demo's livestream-booking asking for
/// `customers` too, uploaded by the demo developer with a key it registers.
fn submit_a_new_version(base: &str, developer: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let key = SigningKey::from_bytes(&[42; 32]);
    let status = agent
        .post(format!("{base}/v1/publishers/mercato/keys"))
        .header("Authorization", &format!("Bearer {developer}"))
        .header("Content-Type", "application/json")
        .send(json!({"public_key": hex::encode(key.verifying_key().as_bytes())}).to_string())
        .expect("register a key")
        .status();
    assert_eq!(status, 201);
    let manifest: Manifest = serde_json::from_value(json!({
        "name": "mercato/livestream-booking", "version": "0.1.1", "kind": "livestream-booking",
        "wit": mercato_registry::package::WIT_PACKAGE, "permissions": ["store", "events", "customers"],
        "description": "Livestream sessions, now greeting customers by name."
    }))
    .expect("manifest");
    let code = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    let file = Package::build(&manifest, &code, &key).expect("package");
    let status = agent
        .post(format!("{base}/v1/packages"))
        .header("Authorization", &format!("Bearer {developer}"))
        .header("Content-Type", "application/octet-stream")
        .send(&file[..])
        .expect("upload")
        .status();
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_approves_in_a_real_browser() {
    let data = tempfile::tempdir().expect("tempdir");
    let driver_port = free_port();
    let _driver = Running(
        Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (scripts/test installs chromium-driver)"),
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let components = root().join("target/components/wasm32-wasip2/release");
    let _server = Running(
        Command::new(mercato_bin())
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data.path())
            .arg("--components")
            .arg(&components)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mercato serve --demo"),
    );
    wait_for(&format!("{base}/healthz"));
    wait_for(&format!("http://127.0.0.1:{driver_port}/status"));
    let tokens_path = data.path().join("demo-tokens.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !tokens_path.exists() {
        assert!(Instant::now() < deadline, "the demo was not seeded");
        std::thread::sleep(Duration::from_millis(100));
    }
    let tokens: Value =
        serde_json::from_str(&std::fs::read_to_string(&tokens_path).expect("tokens"))
            .expect("JSON");
    let token = |role: &str| tokens[role].as_str().expect("a token").to_owned();
    submit_a_new_version(&base, &token("developer"));

    let client = browser(driver_port).await;
    sign_in(&client, &base, &token("reviewer")).await;
    let who = element(&client, "#who").await.text().await.expect("text");
    assert_eq!(who, "demo-reviewer · 法务审核");

    // The session cookie as the browser holds it.
    let cookies = client.get_all_cookies().await.expect("cookies");
    let session = cookies
        .iter()
        .find(|c| c.name() == "mercato_session")
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.same_site(), Some(cookie::SameSite::Strict));
    let visible: Value = client
        .execute("return document.cookie;", vec![])
        .await
        .expect("script");
    assert!(
        !visible
            .as_str()
            .unwrap_or_default()
            .contains("mercato_session"),
        "{visible}"
    );

    client.goto(&format!("{base}/review")).await.expect("queue");
    save_screenshot(&client, "review-queue").await;
    element(
        &client,
        "#queue a[href='/review/mercato/livestream-booking/0.1.1']",
    )
    .await
    .click()
    .await
    .expect("open it");
    let added = element(&client, "li.change-added[data-permission='customers']")
        .await
        .text()
        .await
        .expect("text");
    assert!(added.contains("读取客户资料"), "{added}");
    save_screenshot(&client, "review").await;

    // With its CSRF token taken out, the approve form is refused.
    client
        .execute(
            "document.querySelector('#approve input[name=csrf]').remove();",
            vec![],
        )
        .await
        .expect("script");
    element(&client, "#approve button")
        .await
        .click()
        .await
        .expect("post");
    let refused = element(&client, "p.error")
        .await
        .text()
        .await
        .expect("text");
    assert!(refused.contains("表单已过期"), "{refused}");

    client
        .goto(&format!("{base}/review/mercato/livestream-booking/0.1.1"))
        .await
        .expect("review page");
    element(&client, "#approve button")
        .await
        .click()
        .await
        .expect("approve");
    let done = element(&client, "#done").await.text().await.expect("text");
    assert_eq!(done, "已批准。");
    let state = element(&client, "#state").await.text().await.expect("text");
    assert_eq!(state, "已批准");
    client.close().await.expect("close the reviewer's browser");

    // The director: enable a component from the catalog, get its settings
    // wrong and see the component's own error beside the field, fix them;
    // then decide a large sample request in the approvals inbox.
    let director = token("director");
    api(
        &base,
        &director,
        "DELETE",
        "/v1/tenants/demo/installs/trial-feedback",
        None,
    );
    let client = browser(driver_port).await;
    sign_in(&client, &base, &director).await;
    client
        .goto(&format!("{base}/catalog"))
        .await
        .expect("catalog");
    save_screenshot(&client, "catalog").await;
    element(
        &client,
        "section[data-package='mercato/trial-feedback'] form.enable button",
    )
    .await
    .click()
    .await
    .expect("enable");
    let field = element(&client, "#s-nps-floor").await;
    field.clear().await.expect("clear");
    field.send_keys("11").await.expect("type");
    element(&client, "#settings button")
        .await
        .click()
        .await
        .expect("save");
    let error = element(&client, "#field-nps-floor .field-error")
        .await
        .text()
        .await
        .expect("text");
    assert!(error.contains("must be between 0 and 10"), "{error}");
    save_screenshot(&client, "settings-error").await;
    let field = element(&client, "#s-nps-floor").await;
    field.clear().await.expect("clear");
    field.send_keys("6").await.expect("type");
    element(&client, "#settings button")
        .await
        .click()
        .await
        .expect("save");
    element(&client, "#done").await;

    let rep = token("rep");
    let samples = "/v1/tenants/demo/components/sample-requests";
    api(
        &base,
        &rep,
        "POST",
        &format!("{samples}/set-stock"),
        Some(json!({"level": {"sku": "MUG", "available": 40, "unit-price-minor": 900}})),
    );
    let requested = api(
        &base,
        &rep,
        "POST",
        &format!("{samples}/request"),
        Some(json!({"draft": {
        "customer": "ann", "sku": "MUG", "quantity": 20, "purpose": "Trade fair",
        "address": {"recipient": "Ann", "line1": "Main St 1", "line2": null, "city": "Lyon",
                    "postal-code": "69001", "country": "FR"}}})),
    );
    assert_eq!(requested["state"], "awaiting-approval", "{requested}");
    client
        .goto(&format!("{base}/tenants/demo/approvals"))
        .await
        .expect("inbox");
    save_screenshot(&client, "approvals").await;
    element(&client, "form.approve button")
        .await
        .click()
        .await
        .expect("approve");
    let done = element(&client, "#done").await.text().await.expect("text");
    assert!(done.contains("组件已接收该决定"), "{done}");
    let request = api(
        &base,
        &rep,
        "POST",
        &format!("{samples}/get"),
        Some(json!({"id": requested["id"]})),
    );
    assert_eq!(request["state"], "approved", "{request}");

    // The dashboard of an experiment the rep's calls fed.
    let lab = "/v1/tenants/demo/components/experiments";
    api(
        &base,
        &rep,
        "POST",
        &format!("{lab}/define"),
        Some(json!({"draft": {"key": "script",
        "description": "New call script", "unit-type": "customer",
        "variants": [{"key": "control", "weight": 1}, {"key": "new-script", "weight": 1}],
        "seed": "s1", "primary-metric": {"name": "booked", "kind": "conversion"}, "coverage-bp": 10000}})),
    );
    api(
        &base,
        &rep,
        "POST",
        &format!("{lab}/start"),
        Some(json!({"key": "script"})),
    );
    for u in 0..120 {
        let unit = format!("c{u}");
        let a = api(
            &base,
            &rep,
            "POST",
            &format!("{lab}/record-exposure"),
            Some(json!({"key": "script", "unit-id": unit})),
        );
        if u % (if a["variant"] == "new-script" { 4 } else { 8 }) == 0 {
            api(
                &base,
                &rep,
                "POST",
                &format!("{lab}/record-conversion"),
                Some(json!({"key": "script", "unit-id": unit, "value": 1.0})),
            );
        }
    }
    client
        .goto(&format!("{base}/tenants/demo/experiments"))
        .await
        .expect("experiments");
    element(
        &client,
        "a[href='/tenants/demo/experiments/experiments/script']",
    )
    .await
    .click()
    .await
    .expect("open the experiment");
    element(&client, "#rate-chart").await;
    element(&client, "#lift-chart").await;
    let arms = element(&client, "#arms").await.text().await.expect("text");
    assert!(
        arms.contains("control") && arms.contains("new-script"),
        "{arms}"
    );
    element(&client, "#srm").await;
    save_screenshot(&client, "dashboard").await;

    // A director may not open the reviewer's pages, nor another tenant's.
    client.goto(&format!("{base}/review")).await.expect("queue");
    let refused = element(&client, "p.error")
        .await
        .text()
        .await
        .expect("text");
    assert!(refused.contains("您的账号无权访问此页面"), "{refused}");
    client
        .goto(&format!("{base}/tenants/elsewhere/installs"))
        .await
        .expect("installs");
    let refused = element(&client, "p.error")
        .await
        .text()
        .await
        .expect("text");
    assert!(refused.contains("您的账号无权访问此页面"), "{refused}");
    save_screenshot(&client, "refused").await;
    client.close().await.expect("close the director's browser");
}
