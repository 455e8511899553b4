//! Signing in and out, and the language switch. Signing in takes a bearer
//! token (or a one-time link) and sets an `HttpOnly`, `SameSite=Strict`
//! session cookie that expires with the session (`Secure` over https); the
//! sign-in form itself is protected by a double-submit token.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mercato_registry::sessions::SESSION_TTL_MS;
use serde::Deserialize;

use super::i18n::Lang;
use super::page::{
    Chrome, ConsoleError, LANG_COOKIE, SESSION_COOKIE, Viewer, constant_time_eq, cookie, render,
};
use crate::marketplace::Marketplace;

/// The double-submit token of the sign-in form.
const PRESIGN_COOKIE: &str = "mercato_presign";

fn cookie_header(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Where to go after signing in: a path on this origin, never elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn random_token() -> Result<String, ConsoleError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ConsoleError::Page {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("no randomness available: {e}"),
        lang: Lang::default(),
    })?;
    Ok(hex::encode(bytes))
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    presign: String,
    next: String,
    failure: Option<String>,
}

/// `?next=` after signing in.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

fn sign_in_form(
    viewer: &Viewer,
    next: String,
    failure: Option<String>,
) -> Result<Response, ConsoleError> {
    let presign = random_token()?;
    let status = if failure.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut page = render(
        status,
        &SignInPage {
            chrome: viewer.chrome(),
            presign: presign.clone(),
            next,
            failure,
        },
    );
    if let Ok(v) = cookie_header(PRESIGN_COOKIE, &presign, 600, viewer.secure).parse() {
        page.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(page)
}

/// `GET /sign-in`.
pub async fn sign_in_page(viewer: Viewer, Query(q): Query<Next>) -> Result<Response, ConsoleError> {
    let next = safe_next(q.next.as_deref());
    if viewer.session.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    sign_in_form(&viewer, next, None)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    #[serde(default)]
    token: String,
    #[serde(default)]
    presign: String,
    #[serde(default)]
    next: Option<String>,
}

fn signed_in(cookie_value: &str, secure: bool, next: &str) -> Response {
    let mut reply = Redirect::to(next).into_response();
    let max_age = SESSION_TTL_MS / 1000;
    for set in [
        cookie_header(SESSION_COOKIE, cookie_value, max_age, secure),
        cookie_header(PRESIGN_COOKIE, "", 0, secure),
    ] {
        if let Ok(v) = set.parse() {
            reply.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    reply
}

/// `POST /sign-in`.
pub async fn sign_in(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response, ConsoleError> {
    let expected = cookie(&headers, PRESIGN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), form.presign.as_bytes()) {
        return Err(ConsoleError::Csrf(viewer.lang));
    }
    let next = safe_next(form.next.as_deref());
    match market.sign_in(&form.token).await {
        Ok((value, _)) => Ok(signed_in(&value, viewer.secure, &next)),
        Err(e) => {
            let message = ConsoleError::market(viewer.lang, e);
            let text = match message {
                ConsoleError::Page { message, .. } => message,
                _ => viewer.chrome().t("sign_in.failed").to_owned(),
            };
            sign_in_form(&viewer, next, Some(text))
        }
    }
}

/// `?code=` of a one-time sign-in link.
#[derive(Debug, Deserialize)]
pub struct LinkCode {
    code: String,
}

/// `GET /sign-in/link?code=…`: a one-time link from `mercato admin sign-in-link`.
pub async fn sign_in_link(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Query(link): Query<LinkCode>,
) -> Result<Response, ConsoleError> {
    match market.sign_in_with_link(&link.code).await {
        Ok((value, _)) => Ok(signed_in(&value, viewer.secure, "/")),
        Err(e) => Err(ConsoleError::market(viewer.lang, e)),
    }
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /sign-out`: the session ends on the server, the cookie is cleared.
pub async fn sign_out(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, ConsoleError> {
    viewer.check_csrf(&form.csrf)?;
    if let Some(value) = &viewer.cookie {
        market
            .sign_out(value)
            .await
            .map_err(|e| ConsoleError::market(viewer.lang, e))?;
    }
    let mut reply = Redirect::to("/sign-in").into_response();
    if let Ok(v) = cookie_header(SESSION_COOKIE, "", 0, viewer.secure).parse() {
        reply.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(reply)
}

/// `GET /language/{tag}`: remember the language, back to where it was asked.
pub async fn language(viewer: Viewer, headers: HeaderMap, Path(tag): Path<String>) -> Response {
    let lang = Lang::from_tag(&tag).unwrap_or_default();
    // Back to the page the switch was on, when it is one of ours.
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| {
            let host = headers.get(header::HOST)?.to_str().ok()?;
            let path = r.split_once(host)?.1;
            Some(safe_next(Some(path)))
        })
        .unwrap_or_else(|| "/".to_owned());
    let mut reply = Redirect::to(&back).into_response();
    let set = format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000{}",
        lang.tag(),
        if viewer.secure { "; Secure" } else { "" }
    );
    if let Ok(v) = set.parse() {
        reply.headers_mut().append(header::SET_COOKIE, v);
    }
    reply
}
