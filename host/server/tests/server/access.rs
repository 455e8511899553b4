//! The access test, generated: every route of the OpenAPI document, called
//! by every role on its own tenant, publisher and account and on another's,
//! must be refused exactly where the registry's access table says. A route
//! the table does not know fails here before anything else.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use mercato_registry::access::{On, Scope};
use mercato_registry::{Principal, Role};
use mercato_server::http::access::{ROUTES, action};
use mercato_server::http::openapi;
use mercato_testapp::TestApp;
use serde_json::Value;
use tower::ServiceExt;

/// The routes of the OpenAPI document, as (method, path).
fn documented() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(openapi()).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn every_documented_route_has_a_rule_and_every_rule_a_route() {
    let documented = documented();
    for (method, path) in &documented {
        assert!(
            action(&method.parse().unwrap(), path).is_some(),
            "{method} {path} has no rule: add it to ROUTES in host/server/src/http/access.rs"
        );
    }
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        listed, documented,
        "ROUTES lists a route that is not served"
    );
}

/// Whose thing a request names: the caller's own, or another's.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Whose {
    Own,
    Other,
}

/// The path with every parameter filled: the bound one (tenant, publisher,
/// account) as `whose` says, the rest with ids that name nothing.
fn fill(path: &str, me: &Principal, whose: Whose) -> String {
    let own = whose == Whose::Own;
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 1..end];
        let value = match name {
            "tenant" if own => me.tenant.clone().unwrap_or_else(|| "acme".into()),
            "tenant" => "globex".into(),
            "publisher" if own => me.publisher.clone().unwrap_or_else(|| "mercato".into()),
            "publisher" => "other".into(),
            "name" if path.starts_with("/v1/accounts") && own => me.name.clone(),
            "name" if path.starts_with("/v1/accounts") => "someone-else".into(),
            "version" => "9.9.9".into(),
            _ => "no-such".into(),
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What the table expects for this caller on the filled path.
fn allowed(me: &Principal, method: &str, path: &str, whose: Whose) -> bool {
    let action = action(&method.parse::<Method>().unwrap(), path).unwrap();
    let filled = fill(path, me, whose);
    let on = match action.rule().scope {
        Scope::Tenant if path.contains("{tenant}") => On::Tenant(filled.split('/').nth(3).unwrap()),
        Scope::Publisher if path.contains("{publisher}") => {
            On::Publisher(filled.split('/').nth(3).unwrap())
        }
        Scope::Account if path.contains("{name}") => On::Account(filled.split('/').nth(3).unwrap()),
        _ => On::Platform,
    };
    me.may(action, on).is_ok()
}

async fn send(
    app: &axum::Router,
    token: Option<&str>,
    method: &str,
    uri: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = if method == "GET" || method == "DELETE" {
        Body::empty()
    } else {
        request = request.header("content-type", "application/json");
        Body::from("{}")
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn every_route_refuses_exactly_whom_the_table_refuses(app: TestApp) {
    let router = app.router();
    let accounts = ["ops", "dev", "legal", "dora", "ray"];
    let mut checked = 0;
    for (method, path) in documented() {
        let public = action(&method.parse().unwrap(), &path)
            .unwrap()
            .rule()
            .scope
            == Scope::Public;
        // No token: refused as unauthenticated unless the route is public.
        let (status, body) = send(
            &router,
            None,
            &method,
            &fill(&path, app.who("ops"), Whose::Own),
        )
        .await;
        if public {
            assert_eq!(status, StatusCode::OK, "{method} {path} is public");
        } else {
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
                "{method} {path} without a token"
            );
        }
        for name in accounts {
            let me = app.who(name);
            for whose in [Whose::Own, Whose::Other] {
                let uri = fill(&path, me, whose);
                let (status, body) = send(&router, Some(app.token(name)), &method, &uri).await;
                let expected = allowed(me, &method, &path, whose);
                if expected {
                    assert!(
                        status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                        "{} ({}) was refused {method} {uri}: {status} {body}",
                        me.name,
                        me.role
                    );
                } else {
                    assert_eq!(
                        (status, body["error"]["code"].as_str()),
                        (StatusCode::FORBIDDEN, Some("forbidden")),
                        "{} ({}) was let through {method} {uri}: {body}",
                        me.name,
                        me.role
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 400, "{checked} checks");
}

fn builder() -> mercato_testapp::Builder {
    TestApp::builder()
        .clock(crate::NOW)
        .tenant("acme")
        .tenant("globex")
        .publisher("mercato")
        .publisher("other")
        .operator("ops")
        .developer("dev", "mercato")
        .reviewer("legal")
        .director("dora", "acme")
        .rep("ray", "acme")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_table_holds_on_every_route_on_sqlite() {
    every_route_refuses_exactly_whom_the_table_refuses(builder().build().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_table_holds_on_every_route_on_postgres() {
    every_route_refuses_exactly_whom_the_table_refuses(builder().postgres().build().await).await;
}

/// The decisions the issue asked for, stated on their own so a change to
/// the table that reverses one is a visible test change too.
#[test]
fn keys_publishing_and_reps_follow_the_decided_rules() {
    let who = |role, tenant: Option<&str>, publisher: Option<&str>| Principal {
        account: "a".into(),
        name: "pat".into(),
        role,
        tenant: tenant.map(Into::into),
        publisher: publisher.map(Into::into),
    };
    let keys = |p: &Principal, method: &str| {
        allowed(p, method, "/v1/publishers/{publisher}/keys", Whose::Other)
    };
    let director = who(Role::Director, Some("acme"), None);
    let rep = who(Role::Rep, Some("acme"), None);
    let operator = who(Role::Operator, None, None);
    let developer = who(Role::Developer, None, Some("mercato"));
    assert!(!keys(&director, "GET") && !keys(&rep, "GET"));
    assert!(!keys(&developer, "GET"), "another publisher's keys");
    assert!(allowed(
        &developer,
        "GET",
        "/v1/publishers/{publisher}/keys",
        Whose::Own
    ));
    assert!(
        !keys(&operator, "POST"),
        "the platform never registers a key"
    );
    assert!(!allowed(&operator, "POST", "/v1/packages", Whose::Own));
    assert!(!allowed(
        &rep,
        "GET",
        "/v1/tenants/{tenant}/installs",
        Whose::Own
    ));
    assert!(!allowed(
        &rep,
        "GET",
        "/v1/tenants/{tenant}/installs/{id}",
        Whose::Own
    ));
    assert!(allowed(
        &rep,
        "POST",
        "/v1/tenants/{tenant}/components/{component}/{function}",
        Whose::Own
    ));
}
