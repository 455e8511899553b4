//! The HTTP layer through the router, without a socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mercato_server::http::app;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{HOUR, NOW};

/// A marketplace in a temporary SQLite file with livestream-booking
/// published, approved and enabled for tenant `acme`; the rep's token.
/// The seeded marketplace comes along: it owns the temporary directory.
async fn router() -> (axum::Router, String, crate::market::Seeded) {
    let (dir, db) = crate::market::sqlite().await;
    let mut seeded = crate::market::seeded(db).await;
    seeded.dir = Some(dir);
    (app(seeded.market.clone()), seeded.rep.1.clone(), seeded)
}

async fn send(
    (router, token): &(axum::Router, String),
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

const BASE: &str = "/v1/tenants/acme/components/livestream-booking";

#[tokio::test(flavor = "multi_thread")]
async fn book_over_http_and_errors_name_their_cause() {
    let (router, token, _dir) = router().await;
    let r = (router, token);
    let draft = json!({"draft": {"title": "Launch", "host": "Mia", "starts-at": NOW + HOUR,
                                 "duration-minutes": 30, "capacity": 1}});
    let (status, session) = send(&r, "POST", &format!("{BASE}/schedule"), &draft.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let id = session["id"].as_str().unwrap();

    let (status, booking) = send(
        &r,
        "POST",
        &format!("{BASE}/book"),
        &json!({"session-id": id, "customer": "ann"}).to_string(),
    )
    .await;
    assert_eq!(
        (status, booking["status"].as_str()),
        (StatusCode::OK, Some("confirmed"))
    );

    let (status, body) = send(
        &r,
        "POST",
        &format!("{BASE}/book"),
        &json!({"session-id": "s-404", "customer": "ann"}).to_string(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not-found"))
    );

    let (status, body) = send(&r, "POST", &format!("{BASE}/schedule"),
        &json!({"draft": {"title": "", "host": "Mia", "starts-at": NOW + HOUR, "duration-minutes": 30, "capacity": 0}}).to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["fields"][1]["field"], "capacity");

    let (status, body) = send(
        &r,
        "POST",
        &format!("{BASE}/book"),
        &json!({"session-id": id}).to_string(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad-arguments"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`customer` is missing")
    );

    let (status, body) = send(&r, "POST", &format!("{BASE}/book"), "{not json").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad-json"))
    );

    let (status, body) = send(&r, "POST", &format!("{BASE}/teleport"), "{}").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown-function"))
    );

    let (status, body) = send(
        &r,
        "POST",
        "/v1/tenants/globex/components/livestream-booking/book",
        "{}",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    let (status, body) = send(&r, "GET", "/v1/tenants/acme/components", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["components"][0]["package"],
        "mercato/livestream-booking"
    );

    let (status, body) = send(&r, "GET", BASE, "").await;
    assert_eq!(status, StatusCode::OK);
    let book = body["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "book")
        .unwrap();
    assert_eq!(
        book["params"][0],
        json!({"name": "session-id", "type": "string"})
    );
}
