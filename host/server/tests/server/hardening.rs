//! Every refusal speaks the envelope with a fitting status and the real
//! figure, every stored string has a bound, and text no store can hold (a
//! NUL) is refused at the boundary: on SQLite and on PostgreSQL alike.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use mercato_registry::Database;
use mercato_server::http::app;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{HOUR, NOW};

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    /// The envelope's code, asserting the body is the envelope.
    fn code(&self) -> &str {
        let error = &self.body["error"];
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "not the envelope: {} {}",
            self.status,
            self.body
        );
        error["code"].as_str().unwrap_or("")
    }

    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

async fn raw(
    router: &axum::Router,
    token: &str,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let length = body.len();
    let request = request
        .header("content-length", length)
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn json(router: &axum::Router, token: &str, method: &str, uri: &str, body: Value) -> Reply {
    raw(
        router,
        token,
        method,
        uri,
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await
}

async fn get(router: &axum::Router, token: &str, uri: &str) -> Reply {
    raw(router, token, "GET", uri, None, vec![]).await
}

const BOOK: &str = "/v1/tenants/acme/components/livestream-booking";

async fn refusals_on(db: Database) {
    let seeded = crate::market::seeded(db).await;
    let router = app(seeded.market.clone());
    let director = seeded.director.1.clone();
    let rep = seeded.rep.1.clone();

    // A wrong method: 405 in the envelope, with the methods that are allowed.
    let r = raw(&router, &director, "DELETE", "/v1/packages", None, vec![]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.code(), "method-not-allowed");
    let allow = r.headers.get("allow").unwrap().to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert!(r.message().contains("DELETE"), "{}", r.message());

    // A bad number in a query and a path segment that is not UTF-8.
    let r = get(&router, &director, "/v1/tenants/acme/approvals?limit=x").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "bad-query"));
    assert!(r.message().contains("limit"), "{}", r.message());
    let r = get(&router, &director, "/v1/tenants/%FF/customers/x").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "bad-path"));

    // A body over the limit: the real figure, not the limit plus one.
    let size = mercato_registry::versions::MAX_PACKAGE_BYTES + 12_345;
    let r = raw(
        &router,
        &director,
        "POST",
        "/v1/tenants/acme/customers",
        Some("text/csv"),
        vec![b'a'; size],
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too-large")
    );
    assert!(r.message().contains(&size.to_string()), "{}", r.message());
    let r = raw(
        &router,
        &seeded.developer.1,
        "POST",
        "/v1/packages",
        Some("application/octet-stream"),
        vec![0; size],
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too-large")
    );
    assert!(r.message().contains(&size.to_string()), "{}", r.message());

    // A package is octet-stream, as the API declares; JSON is not a package.
    let r = raw(
        &router,
        &seeded.developer.1,
        "POST",
        "/v1/packages",
        Some("application/json"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type")
    );
    // A JSON route given something else.
    let r = raw(
        &router,
        &director,
        "POST",
        "/v1/tenants/acme/approvals/x/decide",
        Some("text/plain"),
        b"approve".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.code(), "unsupported-media-type");

    // NUL, wherever it comes in: a JSON field, a path segment, a query.
    let session = json(
        &router,
        &rep,
        "POST",
        &format!("{BOOK}/schedule"),
        json!({"draft": {"title": "Launch", "host": "Mia", "starts-at": NOW + HOUR,
                         "duration-minutes": 30, "capacity": 5}}),
    )
    .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.body);
    let r = json(
        &router,
        &rep,
        "POST",
        &format!("{BOOK}/book"),
        json!({"session-id": session.body["id"], "customer": "a\u{0}b"}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input")
    );
    assert!(r.message().contains("$.customer"), "{}", r.message());
    for uri in [
        "/v1/tenants/acme/customers/a%00b",
        "/v1/tenants/acme/approvals?status=%00",
    ] {
        let r = get(&router, &director, uri).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert!(r.message().contains("NUL"), "{uri}: {}", r.message());
    }
    let r = raw(
        &router,
        &director,
        "POST",
        "/v1/tenants/acme/customers",
        Some("application/x-ndjson"),
        b"{\"id\": \"c-1\", \"name\": \"Ann\\u0000\"}\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // Bounds: a settings document and a customer field over theirs, each
    // refused naming the field, nothing stored.
    let big = "x".repeat(mercato_registry::bounds::SETTINGS.max);
    let r = json(
        &router,
        &director,
        "PATCH",
        "/v1/tenants/acme/installs/livestream-booking",
        json!({"settings": {"notice": big}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.message().contains("settings"), "{}", r.message());
    let long_name = "名".repeat(mercato_registry::bounds::CUSTOMER_FIELD.max + 1);
    let r = json(
        &router,
        &director,
        "POST",
        "/v1/tenants/acme/customers",
        json!([{"id": "c-1", "name": "Ann"}, {"id": "c-2", "name": long_name}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.message().contains("record 2"), "{}", r.message());
    let r = get(&router, &director, "/v1/tenants/acme/customers/c-1").await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "all or nothing: {}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_speak_the_envelope_on_sqlite() {
    let (_dir, db) = crate::market::sqlite().await;
    refusals_on(db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_speak_the_envelope_on_postgres() {
    let db = crate::market::postgres().await;
    refusals_on(db).await;
}

/// Send `body` over a real socket in full, then read the whole answer: the
/// status and the envelope. A server that answered and closed while the body
/// was still arriving makes `write_all` fail with a broken pipe or a reset.
fn send_over_socket(
    address: std::net::SocketAddr,
    token: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Value)> {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(address)?;
    write!(
        socket,
        "POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )?;
    socket.write_all(body)?;
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let envelope = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Ok((status, envelope))
}

/// Refusals decided before the body is read (wrong role, over the size
/// limit, a NUL in the path) reach a client that is still uploading: the
/// answer is read in full, never a broken pipe.
#[tokio::test(flavor = "multi_thread")]
async fn early_refusals_reach_a_client_still_uploading() {
    let (_dir, db) = crate::market::sqlite().await;
    let seeded = crate::market::seeded(db).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = app(seeded.market.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    // Far more than the kernel buffers between two sockets hold, so the
    // server must read it for `write_all` to finish.
    let large = vec![7u8; 12 * 1024 * 1024];
    let over = vec![7u8; mercato_registry::versions::MAX_PACKAGE_BYTES + 1];
    let rep = seeded.rep.1.clone();
    let developer = seeded.developer.1.clone();
    let cases = [
        (rep.clone(), "/v1/packages", large.clone(), 403, "forbidden"),
        (
            "nobody".to_owned(),
            "/v1/packages",
            large.clone(),
            401,
            "unauthenticated",
        ),
        (developer.clone(), "/v1/packages", over, 413, "too-large"),
        (developer, "/v1/packages%00", large, 422, "invalid-input"),
    ];
    for (token, path, body, status, code) in cases {
        let answer =
            tokio::task::spawn_blocking(move || send_over_socket(address, &token, path, &body))
                .await
                .unwrap();
        let (got, envelope) = answer.unwrap_or_else(|e| panic!("{path} as {code}: {e}"));
        assert_eq!(
            (got, envelope["error"]["code"].as_str()),
            (status, Some(code)),
            "{envelope}"
        );
    }
}
