//! The console through the router: sign-in and its cookie, sessions that
//! end on sign-out and on token revocation, one-time links, CSRF on every
//! form, the language switch, and the reviewer's queue and review page
//! deciding a version — with the same role checks as the API.

use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use mercato_registry::{Principal, VersionState};
use mercato_runtime::Kind;
use mercato_testapp::{TestApp, manifest};
use tower::ServiceExt;

use crate::NOW;

pub struct Page {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

async fn page(response: Response<axum::body::Body>) -> Page {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of cookie `name` set by this reply.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }

    /// The value of hidden input `name`.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body));
        let rest = &self.body[start + marker.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

pub struct Browser {
    app: axum::Router,
    cookies: Vec<(String, String)>,
    headers: Vec<(&'static str, String)>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Browser {
            app: app.router(),
            cookies: Vec::new(),
            headers: Vec::new(),
        }
    }

    async fn send(&mut self, method: &str, uri: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut request = Request::builder().method(method).uri(uri);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", jar.join("; "));
        }
        for (k, v) in &self.headers {
            request = request.header(*k, v);
        }
        let body = match form {
            Some(fields) => {
                request = request.header("content-type", "application/x-www-form-urlencoded");
                Body::from(
                    fields
                        .iter()
                        .map(|(k, v)| format!("{k}={}", form_encode(v)))
                        .collect::<Vec<_>>()
                        .join("&"),
                )
            }
            None => Body::empty(),
        };
        let reply = page(
            self.app
                .clone()
                .oneshot(request.body(body).unwrap())
                .await
                .unwrap(),
        )
        .await;
        for set in reply.set_cookies() {
            let pair = set.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        reply
    }

    pub async fn get(&mut self, uri: &str) -> Page {
        self.send("GET", uri, None).await
    }

    pub async fn post(&mut self, uri: &str, form: &[(&str, &str)]) -> Page {
        self.send("POST", uri, Some(form)).await
    }

    pub async fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/sign-in").await;
        let presign = form.hidden("presign");
        self.post(
            "/sign-in",
            &[("token", token), ("presign", &presign), ("next", "/")],
        )
        .await
    }

    /// The CSRF token of the page's forms.
    pub async fn csrf(&mut self) -> String {
        self.get("/").await.hidden("csrf")
    }
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const PACKAGE: &str = "acme/booking";

/// Tenant `south` and its director `sam`; sam's token.
async fn director_of_south(app: &TestApp) -> String {
    app.market
        .create_tenant(
            &Principal::console(),
            mercato_registry::NewTenant {
                name: "south".into(),
                title: None,
            },
        )
        .await
        .unwrap();
    let (_, sam) = app
        .market
        .create_account(
            &Principal::console(),
            mercato_registry::NewAccount {
                name: "sam".into(),
                role: mercato_registry::Role::Director,
                tenant: Some("south".into()),
                publisher: None,
            },
        )
        .await
        .unwrap();
    sam.token
}

/// Publisher acme with 1.0.0 approved and 1.1.0 (asking `customers` too)
/// submitted; a reviewer, a director, a developer.
async fn app() -> TestApp {
    let app = TestApp::builder()
        .clock(NOW)
        .tenant("north")
        .publisher("acme")
        .developer("dev", "acme")
        .reviewer("legal")
        .director("dora", "north")
        .rep("ray", "north")
        .operator("ops")
        .build()
        .await;
    let code = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    app.publish_approved(
        "dev",
        "legal",
        &manifest(
            PACKAGE,
            "1.0.0",
            Kind::LivestreamBooking,
            &["store", "events"],
        ),
        &code,
    )
    .await;
    app.market
        .publish(
            app.who("dev"),
            app.package(
                &manifest(
                    PACKAGE,
                    "1.1.0",
                    Kind::LivestreamBooking,
                    &["store", "customers"],
                ),
                &code,
            ),
        )
        .await
        .unwrap();
    app
}

async fn state_of(app: &TestApp, version: &str) -> VersionState {
    app.registry()
        .version(&Principal::console(), PACKAGE, &version.parse().unwrap())
        .await
        .unwrap()
        .0
        .state
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_sets_a_strict_http_only_session_that_signing_out_ends() {
    let app = app().await;
    let mut b = Browser::new(&app);

    // Signed out, a page sends you to sign in and back.
    let home = b.get("/review").await;
    assert_eq!(
        (home.status, home.location()),
        (303, "/sign-in?next=/review")
    );
    let form = b.get("/sign-in").await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("<html lang=\"zh-CN\">") && form.body.contains("访问令牌"),
        "{}",
        form.body
    );
    assert!(
        form.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    // A wrong token: the form again, saying why, and no session.
    let presign = form.hidden("presign");
    let wrong = b
        .post("/sign-in", &[("token", "mrc_nope"), ("presign", &presign)])
        .await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("id=\"sign-in-error\""),
        "{}",
        wrong.body
    );
    assert!(wrong.cookie("mercato_session").is_none());
    // A sign-in posted without the form's own token is refused.
    let forged = b
        .post(
            "/sign-in",
            &[("token", app.token("legal")), ("presign", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.cookie("mercato_session").is_none());

    let signed = b.sign_in(app.token("legal")).await;
    assert_eq!((signed.status, signed.location()), (303, "/"));
    let set = signed
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("mercato_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(flag), "{set} lacks {flag}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("legal · 法务审核"), "{}", home.body);
    assert!(
        home.body.contains("<span id=\"pending-reviews\">1</span>"),
        "{}",
        home.body
    );

    // Sign-out needs the form's CSRF token, then ends the session on the server.
    let cookie = b
        .cookies
        .iter()
        .find(|(k, _)| k == "mercato_session")
        .unwrap()
        .1
        .clone();
    let refused = b.post("/sign-out", &[("csrf", "wrong")]).await;
    assert_eq!(refused.status, 403);
    let csrf = b.csrf().await;
    let out = b.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (303, "/sign-in"));
    assert!(
        app.market.session(&cookie).await.is_err(),
        "the session ended on the server"
    );
    b.cookies.push(("mercato_session".into(), cookie));
    assert_eq!(b.get("/").await.status, 303, "the old cookie opens nothing");

    // Over https the cookie is Secure too.
    let mut tls = Browser::new(&app);
    tls.headers.push(("x-forwarded-proto", "https".into()));
    let signed = tls.sign_in(app.token("legal")).await;
    assert!(
        signed
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("mercato_session=") && c.contains("; Secure"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_ends_its_sessions_and_a_link_signs_in_once() {
    let app = app().await;
    let (_, issued) = app
        .market
        .create_account(
            &Principal::console(),
            mercato_registry::NewAccount {
                name: "temp".into(),
                role: mercato_registry::Role::Reviewer,
                tenant: None,
                publisher: None,
            },
        )
        .await
        .unwrap();
    let mut b = Browser::new(&app);
    b.sign_in(&issued.token).await;
    assert_eq!(b.get("/").await.status, 200);
    app.market
        .revoke_token(&Principal::console(), &issued.id)
        .await
        .unwrap();
    assert_eq!(
        b.get("/").await.status,
        303,
        "revoking the token ends the session"
    );

    let code = app
        .registry()
        .issue_sign_in_link(&Principal::console(), "dora")
        .await
        .unwrap();
    let mut b = Browser::new(&app);
    let first = b.get(&format!("/sign-in/link?code={code}")).await;
    assert_eq!((first.status, first.location()), (303, "/"));
    assert!(b.get("/").await.body.contains("dora · 销售总监"));
    let mut other = Browser::new(&app);
    let again = other.get(&format!("/sign-in/link?code={code}")).await;
    assert_eq!(again.status, 401, "a link signs in once");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reviewer_sees_the_changes_and_decides_and_others_are_refused() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_in(app.token("legal")).await;

    let queue = b.get("/review").await;
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.contains("href=\"/review/acme/booking/1.1.0\""),
        "{}",
        queue.body
    );
    assert!(
        !queue.body.contains("/review/acme/booking/1.0.0"),
        "approved versions are not queued"
    );

    let review = b.get("/review/acme/booking/1.1.0").await;
    assert_eq!(review.status, 200, "{}", review.body);
    // The added permission, in plain words, highlighted as added.
    assert!(
        review
            .body
            .contains("<li class=\"change-added\" data-permission=\"customers\">读取客户资料"),
        "{}",
        review.body
    );
    assert!(review.body.contains("data-permission=\"store\""));
    assert!(
        review.body.contains("与上一个已批准版本比较: 1.0.0"),
        "{}",
        review.body
    );
    assert!(
        review
            .body
            .contains("<code>book: func(session-id: string, customer: string) -&#62; result&#60;"),
        "{}",
        review.body
    );
    assert!(review.body.contains("有效（加载时已重新校验）"));

    // A form without the session's CSRF token changes nothing.
    let forged = b
        .post("/review/acme/booking/1.1.0", &[("action", "approve")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(state_of(&app, "1.1.0").await, VersionState::Submitted);

    // Rejecting asks for confirmation first, and a reason.
    let csrf = review.hidden("csrf");
    let confirm = b
        .post(
            "/review/acme/booking/1.1.0",
            &[("csrf", &csrf), ("action", "reject"), ("reason", "")],
        )
        .await;
    assert!(confirm.body.contains("id=\"question\""), "{}", confirm.body);
    assert_eq!(state_of(&app, "1.1.0").await, VersionState::Submitted);
    let no_reason = b
        .post(
            "/review/acme/booking/1.1.0",
            &[
                ("csrf", &csrf),
                ("action", "reject"),
                ("reason", ""),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(no_reason.status, 422);
    assert!(
        no_reason.body.contains("id=\"error\""),
        "{}",
        no_reason.body
    );
    assert_eq!(state_of(&app, "1.1.0").await, VersionState::Submitted);

    // English, remembered.
    b.headers
        .push(("referer", "http://localhost/review".into()));
    b.headers.push(("host", "localhost".into()));
    let switched = b.get("/language/en").await;
    assert_eq!((switched.status, switched.location()), (303, "/review"));
    assert!(b.get("/review").await.body.contains("<html lang=\"en\">"));

    let approved = b
        .post(
            "/review/acme/booking/1.1.0",
            &[("csrf", &csrf), ("action", "approve")],
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert!(
        approved.body.contains("id=\"done\">Approved."),
        "{}",
        approved.body
    );
    assert_eq!(state_of(&app, "1.1.0").await, VersionState::Approved);

    // The API's rules, on pages: a director may not review.
    let mut director = Browser::new(&app);
    director.sign_in(app.token("dora")).await;
    let refused = director.get("/review").await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("您的账号无权访问此页面"),
        "{}",
        refused.body
    );
    let csrf = director.csrf().await;
    let refused = director
        .post(
            "/review/acme/booking/1.0.0",
            &[("csrf", &csrf), ("action", "yank"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(state_of(&app, "1.0.0").await, VersionState::Approved);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_director_enables_configures_accepts_and_disables_within_its_own_tenant() {
    let app = app().await;
    let sam = director_of_south(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in(app.token("dora")).await;

    // The catalog, permissions in words; enabling leads to the settings.
    let catalog = b.get("/catalog").await;
    assert_eq!(catalog.status, 200);
    assert!(
        catalog.body.contains("data-package=\"acme/booking\""),
        "{}",
        catalog.body
    );
    assert!(catalog.body.contains("保存自己的数据"), "{}", catalog.body);
    let csrf = catalog.hidden("csrf");
    let enabled = b
        .post(
            "/tenants/north/installs",
            &[("csrf", &csrf), ("package", PACKAGE)],
        )
        .await;
    assert_eq!(
        (enabled.status, enabled.location()),
        (303, "/tenants/north/installs/booking/settings")
    );

    // The settings form follows the schema and starts from the defaults.
    let form = b.get("/tenants/north/installs/booking/settings").await;
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("name=\"s.max-capacity\" value=\"10000\""),
        "{}",
        form.body
    );
    // The component's own error appears beside the field; nothing is stored.
    let refused = b
        .post(
            "/tenants/north/installs/booking/settings",
            &[
                ("csrf", &csrf),
                ("s.max-capacity", "0"),
                ("s.waitlist", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    let field = &refused.body[refused.body.find("id=\"field-max-capacity\"").unwrap()..];
    assert!(
        field[..field.find("</div>").unwrap()].contains("must be between 1 and 1000000"),
        "{}",
        refused.body
    );
    let typo = b
        .post(
            "/tenants/north/installs/booking/settings",
            &[("csrf", &csrf), ("s.max-capacity", "lots")],
        )
        .await;
    assert_eq!(typo.status, 422);
    assert!(
        typo.body.contains("`lots` is not a whole number"),
        "{}",
        typo.body
    );
    let stored = app.registry().installed("north", "booking").await.unwrap();
    assert_eq!(stored.settings["max-capacity"], 10_000);
    let saved = b
        .post(
            "/tenants/north/installs/booking/settings",
            &[
                ("csrf", &csrf),
                ("s.max-capacity", "80"),
                ("s.waitlist", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    let stored = app.registry().installed("north", "booking").await.unwrap();
    assert_eq!(stored.settings["max-capacity"], 80);
    assert_eq!(stored.settings["waitlist"], true);

    // 1.1.0 asks for more: approved, it waits for the director, who sees why.
    app.market
        .review(
            app.who("legal"),
            PACKAGE,
            &"1.1.0".parse().unwrap(),
            mercato_registry::Decision::Approve,
            None,
        )
        .await
        .unwrap();
    let installs = b.get("/tenants/north/installs").await;
    assert!(
        installs
            .body
            .contains("1.1.0 asks for new permissions: customers"),
        "{}",
        installs.body
    );
    let versions = b.get("/tenants/north/installs/booking/versions").await;
    assert!(
        versions.body.contains("+ 读取客户资料"),
        "{}",
        versions.body
    );
    let accepted = b
        .post(
            "/tenants/north/installs/booking",
            &[("csrf", &csrf), ("action", "accept"), ("version", "1.1.0")],
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(
        app.registry()
            .installed("north", "booking")
            .await
            .unwrap()
            .version
            .to_string(),
        "1.1.0"
    );

    // Disabling asks first.
    let ask = b
        .post(
            "/tenants/north/installs/booking",
            &[("csrf", &csrf), ("action", "disable")],
        )
        .await;
    assert!(ask.body.contains("id=\"question\""), "{}", ask.body);
    assert!(
        app.registry()
            .installed("north", "booking")
            .await
            .unwrap()
            .enabled
    );
    b.post(
        "/tenants/north/installs/booking",
        &[("csrf", &csrf), ("action", "disable"), ("confirm", "yes")],
    )
    .await;
    assert!(
        !app.registry()
            .installed("north", "booking")
            .await
            .unwrap()
            .enabled
    );

    // Another tenant's director sees nothing of north, and changes nothing.
    let mut other = Browser::new(&app);
    other.sign_in(&sam).await;
    assert_eq!(other.get("/tenants/north/installs").await.status, 403);
    assert_eq!(
        other
            .get("/tenants/north/installs/booking/settings")
            .await
            .status,
        403
    );
    let csrf = other.csrf().await;
    let refused = other
        .post(
            "/tenants/north/installs/booking",
            &[("csrf", &csrf), ("action", "enable")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        !app.registry()
            .installed("north", "booking")
            .await
            .unwrap()
            .enabled
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_director_browses_events_and_imports_masks_and_erases_customers() {
    let app = app().await;
    let dora = app.who("dora").clone();
    app.market
        .install(
            &dora,
            "north",
            mercato_registry::NewInstall {
                package: PACKAGE.into(),
                ..mercato_registry::NewInstall::default()
            },
        )
        .await
        .unwrap();
    app.market
        .invoke(
            &dora,
            "north",
            "booking",
            "schedule",
            serde_json::json!({"draft": {"title": "Launch", "host": "Mia", "starts-at": NOW + 3_600_000,
                                          "duration-minutes": 30, "capacity": 5}}),
        )
        .await
        .unwrap();
    let mut b = Browser::new(&app);
    b.sign_in(app.token("dora")).await;

    let events = b.get("/tenants/north/events").await;
    assert_eq!(events.status, 200);
    assert!(
        events.body.contains("<td>session.scheduled</td>"),
        "{}",
        events.body
    );
    let none = b.get("/tenants/north/events?name=nothing.like.this").await;
    assert!(none.body.contains("id=\"no-events\""), "{}", none.body);
    let bad = b.get("/tenants/north/events?from=yesterday").await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("`yesterday` is not a date"),
        "{}",
        bad.body
    );
    let csv = b
        .get("/tenants/north/events.csv?name=session.scheduled")
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let mut lines = csv.body.lines();
    assert_eq!(
        lines.next(),
        Some("id,occurred_at,component,name,customer,properties")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .contains(",booking,session.scheduled,"),
        "{}",
        csv.body
    );

    // Import: all or nothing, the bad record and field named.
    let csrf = b.csrf().await;
    let upload = |csv: &str| {
        let boundary = "XmercatoX";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
        );
        (format!("multipart/form-data; boundary={boundary}"), body)
    };
    let send = |b: &mut Browser, (content_type, body): (String, String)| {
        let mut request = Request::builder()
            .method("POST")
            .uri("/tenants/north/customers/import")
            .header("content-type", content_type);
        let jar: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        request = request.header("cookie", jar.join("; "));
        let app = b.app.clone();
        async move {
            page(
                app.oneshot(request.body(Body::from(body)).unwrap())
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let refused = send(
        &mut b,
        upload("id,name,email\nann,Ann Lee,not-an-address\n"),
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("record 1") && refused.body.contains("email"),
        "{}",
        refused.body
    );
    let imported = send(
        &mut b,
        upload("id,name,email,phone,tags\nann,Ann Lee,ann@example.com,13812345678,vip\nbob,Bob Roe,,,\n"),
    )
    .await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert!(
        imported.body.contains("已导入客户： 2"),
        "{}",
        imported.body
    );
    assert!(imported.body.contains("138****5678") && !imported.body.contains("13812345678"));
    assert!(imported.body.contains("a***@example.com"));

    // Erasure asks first, then removes the profile.
    let ask = b
        .post("/tenants/north/customers/ann/erase", &[("csrf", &csrf)])
        .await;
    assert!(ask.body.contains("id=\"question\""), "{}", ask.body);
    assert!(app.registry().customer(&dora, "north", "ann").await.is_ok());
    let erased = b
        .post(
            "/tenants/north/customers/ann/erase",
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert!(
        app.registry()
            .customer(&dora, "north", "ann")
            .await
            .is_err()
    );

    // The reviewer may not read the tenant's customers or events.
    let mut legal = Browser::new(&app);
    legal.sign_in(app.token("legal")).await;
    assert_eq!(legal.get("/tenants/north/customers").await.status, 403);
    assert_eq!(legal.get("/tenants/north/events.csv").await.status, 403);
}

/// A multipart form with `csrf` and one file field, as a browser sends it.
fn multipart(csrf: &str, field: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "XmercatoX";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"f\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(b: &Browser, uri: &str, (content_type, body): (String, Vec<u8>)) -> Page {
    let jar: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let request = Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", content_type)
        .header("cookie", jar.join("; "))
        .body(Body::from(body))
        .unwrap();
    page(b.app.clone().oneshot(request).await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_and_developers_have_their_pages_and_only_theirs() {
    let app = app().await;
    let mut ops = Browser::new(&app);
    ops.sign_in(app.token("ops")).await;
    let admin = ops.get("/admin").await;
    assert_eq!(admin.status, 200);
    assert!(admin.body.contains("<td>north</td>"), "{}", admin.body);
    let csrf = admin.hidden("csrf");
    let created = ops
        .post(
            "/admin",
            &[
                ("csrf", &csrf),
                ("action", "create-tenant"),
                ("name", "east"),
            ],
        )
        .await;
    assert!(created.body.contains("<td>east</td>"), "{}", created.body);
    let account = ops
        .post(
            "/admin",
            &[
                ("csrf", &csrf),
                ("action", "create-account"),
                ("name", "erin"),
                ("role", "director"),
                ("tenant", "east"),
            ],
        )
        .await;
    let marker = "id=\"token-value\">";
    let shown = &account.body[account.body.find(marker).unwrap() + marker.len()..];
    let token = &shown[..shown.find('<').unwrap()];
    assert!(token.starts_with("mrc_"), "{}", account.body);
    let mut erin = Browser::new(&app);
    assert_eq!(
        erin.sign_in(token).await.status,
        303,
        "the token shown once signs in"
    );
    assert!(erin.get("/").await.body.contains("erin · 销售总监"));
    assert_eq!(
        ops.get("/admin")
            .await
            .body
            .matches("id=\"token-value\"")
            .count(),
        0,
        "shown once"
    );

    // The audit banner: green, then red naming the entry edited.
    let audit = ops.get("/admin/audit").await;
    assert!(audit.body.contains("banner-ok"), "{}", audit.body);
    mercato_registry::db::execute_raw(
        &app.db,
        "UPDATE audit_log SET actor = 'someone' WHERE seq = 3",
    )
    .await
    .unwrap();
    let audit = ops.get("/admin/audit").await;
    assert!(
        audit.body.contains("banner-bad") && audit.body.contains("entry 3"),
        "{}",
        audit.body
    );

    // What /metrics counts, per tenant and component.
    let dora = app.who("dora").clone();
    app.market
        .install(
            &dora,
            "north",
            mercato_registry::NewInstall {
                package: PACKAGE.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.market
        .invoke(
            &dora,
            "north",
            "booking",
            "list-sessions",
            serde_json::json!({}),
        )
        .await
        .unwrap();
    let metrics = ops.get("/admin/metrics").await;
    assert!(
        metrics
            .body
            .contains("<td>north</td><td>booking</td><td>1</td><td>0</td>"),
        "{}",
        metrics.body
    );

    // A rep sees the components it may call, and no administration.
    let mut ray = Browser::new(&app);
    ray.sign_in(app.token("ray")).await;
    assert!(ray.get("/").await.body.contains("<code>booking</code>"));
    assert_eq!(ray.get("/admin").await.status, 403);

    // The developer: keys, versions with their state, an upload.
    let mut dev = Browser::new(&app);
    dev.sign_in(app.token("dev")).await;
    let publisher = dev.get("/publishers/acme").await;
    assert_eq!(publisher.status, 200);
    assert!(
        publisher.body.contains("<td>1.1.0</td><td>待审核</td>"),
        "{}",
        publisher.body
    );
    let csrf = publisher.hidden("csrf");
    let fresh = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    let public = hex::encode(fresh.verifying_key().as_bytes());
    let registered = dev
        .post(
            "/publishers/acme/keys",
            &[
                ("csrf", &csrf),
                ("action", "register"),
                ("public_key", &public),
            ],
        )
        .await;
    assert!(registered.body.contains("已注册"), "{}", registered.body);
    let key_id = mercato_registry::key_id(fresh.verifying_key().as_bytes());
    let ask = dev
        .post(
            "/publishers/acme/keys",
            &[("csrf", &csrf), ("action", "revoke"), ("key_id", &key_id)],
        )
        .await;
    assert!(ask.body.contains("id=\"question\""), "{}", ask.body);
    let revoked = dev
        .post(
            "/publishers/acme/keys",
            &[
                ("csrf", &csrf),
                ("action", "revoke"),
                ("key_id", &key_id),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert!(revoked.body.contains("已吊销"), "{}", revoked.body);
    let code = mercato_artifacts::read(mercato_artifacts::LIVESTREAM_BOOKING);
    let package = app.package(
        &manifest(
            PACKAGE,
            "1.2.0",
            Kind::LivestreamBooking,
            &["store", "events"],
        ),
        &code,
    );
    let uploaded = post_multipart(
        &dev,
        "/publishers/acme/upload",
        multipart(&csrf, "package", &package),
    )
    .await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.body);
    assert!(
        uploaded.body.contains("acme/booking@1.2.0"),
        "{}",
        uploaded.body
    );
    assert_eq!(state_of(&app, "1.2.0").await, VersionState::Submitted);
    let garbage = post_multipart(
        &dev,
        "/publishers/acme/upload",
        multipart(&csrf, "package", b"not a package"),
    )
    .await;
    assert_eq!(garbage.status, 422);
    assert!(garbage.body.contains("id=\"error\""), "{}", garbage.body);
    assert_eq!(dev.get("/publishers/rival").await.status, 403);
    assert_eq!(dev.get("/admin").await.status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_each_arm_and_draws_curves_over_days() {
    let clock = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(NOW));
    let app = TestApp::builder()
        .clock_source(clock.clone())
        .tenant("north")
        .publisher("mercato")
        .developer("dev", "mercato")
        .reviewer("legal")
        .director("dora", "north")
        .component(
            manifest(
                "mercato/experiments",
                "1.0.0",
                Kind::Experiments,
                &["store", "events"],
            ),
            mercato_artifacts::read(mercato_artifacts::EXPERIMENTS),
            &["north"],
        )
        .build()
        .await;
    // The treatment converts twice as often: 1 in 5 against 1 in 10.
    let arms = app
        .run_experiment(
            &clock,
            "dora",
            "north",
            "experiments",
            "script",
            300,
            5,
            |u, v| {
                if v == "treatment" {
                    u % 5 == 0
                } else {
                    u % 10 == 0
                }
            },
        )
        .await;
    let mut b = Browser::new(&app);
    b.sign_in(app.token("dora")).await;
    let list = b.get("/tenants/north/experiments").await;
    assert!(
        list.body
            .contains("href=\"/tenants/north/experiments/experiments/script\""),
        "{}",
        list.body
    );

    let page = b.get("/tenants/north/experiments/experiments/script").await;
    assert_eq!(page.status, 200, "{}", page.body);
    // Kept for looking at (and for the README's picture): the page with its
    // stylesheet beside it.
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(
        shots.join("dashboard-5-days.html"),
        page.body.replace("/assets/console.css", "console.css"),
    )
    .unwrap();
    std::fs::write(
        shots.join("console.css"),
        b.get("/assets/console.css").await.body,
    )
    .unwrap();
    // The arms, with the units the component counted.
    for (variant, units) in &arms {
        assert!(
            page.body
                .contains(&format!("<tr data-variant=\"{variant}\"")),
            "{}",
            page.body
        );
        let row = &page.body[page
            .body
            .find(&format!("data-variant=\"{variant}\""))
            .unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("<td>{units}</td>")),
            "{variant}: {row}"
        );
    }
    assert!(page.body.contains("id=\"srm\""));
    assert!(
        page.body.contains("banner-ok"),
        "equal weights, no mismatch: {}",
        page.body
    );
    assert!(page.body.contains("id=\"progress-value\""), "{}", page.body);
    // Two charts: a line per arm for the rates over the 5 days, the lift
    // with its band.
    let rate = &page.body[page.body.find("<svg id=\"rate-chart\"").unwrap()..];
    let rate = &rate[..rate.find("</svg>").unwrap()];
    assert_eq!(rate.matches("<polyline").count(), 2, "{rate}");
    let points = rate
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(points.split(' ').count(), 5, "one point a day: {points}");
    let lift = &page.body[page.body.find("<svg id=\"lift-chart\"").unwrap()..];
    let lift = &lift[..lift.find("</svg>").unwrap()];
    assert!(lift.contains("<polygon class=\"band\""), "{lift}");
    assert!(
        lift.contains("data-series=\"treatment − control\""),
        "{lift}"
    );

    // Another tenant's director sees nothing of it.
    let sam = director_of_south(&app).await;
    let mut other = Browser::new(&app);
    other.sign_in(&sam).await;
    assert_eq!(
        other
            .get("/tenants/north/experiments/experiments/script")
            .await
            .status,
        403
    );
}

/// The director sets which calls need a person on the settings page, in
/// plain fields: a condition is shown in words, a bad one is refused with
/// the reason, and a guard is removed with one button.
#[tokio::test(flavor = "multi_thread")]
async fn the_director_guards_functions_on_the_settings_page() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.sign_in(app.token("dora")).await;
    let catalog = b.get("/catalog").await;
    let csrf = catalog.hidden("csrf");
    b.post(
        "/tenants/north/installs",
        &[("csrf", &csrf), ("package", PACKAGE), ("version", "1.0.0")],
    )
    .await;
    let page = b.get("/tenants/north/installs/booking/settings").await;
    assert!(page.body.contains("需要人工审批"), "{}", page.body);
    assert!(
        page.body.contains("所有函数都无需人工即可执行"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<option>book</option>"), "{}", page.body);
    assert!(
        !page.body.contains("<option>forget-customer</option>"),
        "host-only functions are not offered"
    );

    let guards = "/tenants/north/installs/booking/guards";
    let added = b
        .post(
            guards,
            &[
                ("csrf", &csrf),
                ("action", "add"),
                ("function", "schedule"),
                ("field", "draft.capacity"),
                ("op", ">"),
                ("value", "100"),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(
        added.body.contains("data-guard=\"schedule\""),
        "{}",
        added.body
    );
    assert!(
        added.body.contains("draft.capacity &#62; 100"),
        "{}",
        added.body
    );
    let added = b
        .post(
            guards,
            &[
                ("csrf", &csrf),
                ("action", "add"),
                ("function", "cancel-session"),
            ],
        )
        .await;
    assert!(
        added.body.contains("data-guard=\"cancel-session\""),
        "{}",
        added.body
    );
    let stored = app
        .registry()
        .installed("north", "booking")
        .await
        .unwrap()
        .guards;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].when, None, "no field: every call");

    // A parameter the function does not have is refused, naming it.
    let refused = b
        .post(
            guards,
            &[
                ("csrf", &csrf),
                ("action", "add"),
                ("function", "book"),
                ("field", "quantity"),
                ("op", ">"),
                ("value", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("no parameter `quantity`"),
        "{}",
        refused.body
    );

    let removed = b
        .post(
            guards,
            &[
                ("csrf", &csrf),
                ("action", "remove"),
                ("function", "schedule"),
            ],
        )
        .await;
    assert!(
        !removed.body.contains("data-guard=\"schedule\""),
        "{}",
        removed.body
    );
    assert_eq!(
        app.registry()
            .installed("north", "booking")
            .await
            .unwrap()
            .guards
            .len(),
        1
    );
    // Without the session's CSRF token nothing changes.
    let forged = b
        .post(
            guards,
            &[
                ("csrf", "forged"),
                ("action", "remove"),
                ("function", "cancel-session"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        app.registry()
            .installed("north", "booking")
            .await
            .unwrap()
            .guards
            .len(),
        1
    );
}
