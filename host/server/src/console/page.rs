//! What every page shares: who is looking and in which language
//! ([`Viewer`]), the frame around a page ([`Chrome`]), errors as pages
//! ([`ConsoleError`]), and the home page.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use mercato_registry::sessions::Session;
use mercato_registry::{Principal, Role, VersionState};

use super::i18n::{Catalog, Lang};
use crate::http::ApiError;
use crate::marketplace::{MarketError, Marketplace};

/// The session cookie.
pub const SESSION_COOKIE: &str = "mercato_session";
/// The remembered language.
pub const LANG_COOKIE: &str = "mercato_lang";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Who is looking at the console, in which language, and whether the
/// request came over TLS (so cookies are `Secure`).
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The page's language.
    pub lang: Lang,
    /// The signed-in session, if any.
    pub session: Option<Session>,
    /// The session cookie's value, to sign out.
    pub cookie: Option<String>,
    /// Whether the browser reached us over https.
    pub secure: bool,
    /// The path asked for, to come back to after signing in.
    pub path: String,
}

impl FromRequestParts<Arc<Marketplace>> for Viewer {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        market: &Arc<Marketplace>,
    ) -> Result<Self, Self::Rejection> {
        let lang = cookie(&parts.headers, LANG_COOKIE)
            .and_then(Lang::from_tag)
            .or_else(|| {
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::negotiate)
            })
            .unwrap_or_default();
        let secure = parts.uri.scheme_str() == Some("https")
            || parts
                .headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        let cookie_value = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned);
        let session = match &cookie_value {
            Some(value) => market.session(value).await.ok(),
            None => None,
        };
        Ok(Viewer {
            lang,
            session,
            cookie: cookie_value,
            secure,
            path: parts
                .uri
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

impl Viewer {
    /// The signed-in session, or a trip to the sign-in page.
    pub fn require(&self) -> Result<&Session, ConsoleError> {
        self.session
            .as_ref()
            .ok_or_else(|| ConsoleError::SignIn(self.path.clone()))
    }

    /// The signed-in principal.
    pub fn principal(&self) -> Result<&Principal, ConsoleError> {
        Ok(&self.require()?.principal)
    }

    /// Refuse a form whose CSRF token is not the session's.
    pub fn check_csrf(&self, sent: &str) -> Result<&Session, ConsoleError> {
        let session = self.require()?;
        if constant_time_eq(session.csrf.as_bytes(), sent.as_bytes()) {
            Ok(session)
        } else {
            Err(ConsoleError::Csrf(self.lang))
        }
    }

    /// The frame of a page.
    pub fn chrome(&self) -> Chrome {
        let who = self.session.as_ref().map(|s| s.principal.clone());
        let mut nav = vec![("/".to_owned(), "nav.home")];
        match who.as_ref().map(|p| (p.role, p.tenant.as_deref())) {
            Some((Role::Reviewer, _)) => {
                nav.push(("/review".to_owned(), "nav.review"));
                nav.push(("/catalog".to_owned(), "nav.catalog"));
            }
            Some((Role::Operator, _)) => {
                nav.push(("/admin".to_owned(), "nav.admin"));
                nav.push(("/admin/audit".to_owned(), "nav.audit"));
                nav.push(("/admin/metrics".to_owned(), "nav.metrics"));
                nav.push(("/catalog".to_owned(), "nav.catalog"));
            }
            Some((Role::Director, Some(t))) => {
                nav.push(("/catalog".to_owned(), "nav.catalog"));
                nav.push((format!("/tenants/{t}/installs"), "nav.installs"));
                nav.push((format!("/tenants/{t}/approvals"), "nav.approvals"));
                nav.push((format!("/tenants/{t}/experiments"), "nav.experiments"));
                nav.push((format!("/tenants/{t}/events"), "nav.events"));
                nav.push((format!("/tenants/{t}/customers"), "nav.customers"));
            }
            _ => {}
        }
        if let Some(p) = who.as_ref().filter(|p| p.role == Role::Developer)
            && let Some(publisher) = &p.publisher
        {
            nav.push((format!("/publishers/{publisher}"), "nav.publisher"));
        }
        Chrome {
            lang: self.lang,
            catalog: self.lang.catalog(),
            csrf: self
                .session
                .as_ref()
                .map(|s| s.csrf.clone())
                .unwrap_or_default(),
            who,
            nav,
        }
    }
}

/// Compare secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The frame around every page: language, words, who is signed in, the
/// CSRF token for its forms, the navigation.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    catalog: &'static Catalog,
    /// The session's CSRF token ("" when signed out).
    pub csrf: String,
    /// Who is signed in.
    pub who: Option<Principal>,
    /// (path, catalog key) of each navigation entry.
    pub nav: Vec<(String, &'static str)>,
}

impl Chrome {
    /// The words for `key` in the page's language.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.catalog.get(key)
    }

    /// The words for a key made at run time (`permission.store`).
    pub fn tr(&self, prefix: &str, name: &str) -> String {
        self.catalog.get(&format!("{prefix}.{name}")).to_owned()
    }

    /// The signed-in account's name and role, in words.
    pub fn who_label(&self) -> String {
        self.who.as_ref().map_or_else(String::new, |p| {
            format!("{} · {}", p.name, self.tr("role", p.role.as_str()))
        })
    }

    /// The page's language tag.
    pub fn lang_tag(&self) -> &'static str {
        self.lang.tag()
    }
}

/// Render a template as a page with the console's security headers.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, secured(), Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// Headers every console page carries: no scripts or frames from anywhere,
/// forms only to this origin, no sniffing, no caching of private pages.
fn secured() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
            ),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// A failure shown as a page.
#[derive(Debug)]
pub enum ConsoleError {
    /// Not signed in: go to the sign-in page, then back to this path.
    SignIn(String),
    /// A form without this session's CSRF token.
    Csrf(Lang),
    /// Anything else, with its status and message.
    Page {
        /// The status.
        status: StatusCode,
        /// What went wrong, for people.
        message: String,
        /// The page's language.
        lang: Lang,
    },
}

impl ConsoleError {
    /// A failure of the marketplace, worded as the API words it.
    pub fn market(lang: Lang, e: MarketError) -> Self {
        let api = ApiError::from(e);
        let message = match api.code() {
            "forbidden" => lang.catalog().get("error.forbidden").to_owned(),
            _ => api.message().to_owned(),
        };
        ConsoleError::Page {
            status: api.status(),
            message,
            lang,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    message: String,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message, lang) = match self {
            ConsoleError::SignIn(next) => {
                let to = format!("/sign-in?next={}", urlencode(&next));
                return Redirect::to(&to).into_response();
            }
            ConsoleError::Csrf(lang) => (
                StatusCode::FORBIDDEN,
                lang.catalog().get("error.csrf").to_owned(),
                lang,
            ),
            ConsoleError::Page {
                status,
                message,
                lang,
            } => (status, message, lang),
        };
        let chrome = Viewer {
            lang,
            session: None,
            cookie: None,
            secure: false,
            path: "/".into(),
        }
        .chrome();
        render(status, &ErrorPage { chrome, message })
    }
}

/// `YYYY-MM-DD HH:MM` UTC of a timestamp in milliseconds.
pub fn when(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let (h, m) = (secs.rem_euclid(86_400) / 3600, secs.rem_euclid(3600) / 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

/// A form with a file: its CSRF token and the bytes of field `file_field`.
pub async fn read_upload(
    viewer: &Viewer,
    mut form: axum::extract::Multipart,
    file_field: &str,
) -> Result<(String, Vec<u8>), ConsoleError> {
    let bad = |message: String| ConsoleError::Page {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message,
        lang: viewer.lang,
    };
    let (mut csrf, mut file) = (String::new(), Vec::new());
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("the upload is malformed or too large: {e}")))?
    {
        if field.name() == Some("csrf") {
            csrf = field.text().await.unwrap_or_default();
        } else if field.name() == Some(file_field) {
            file = field
                .bytes()
                .await
                .map_err(|e| bad(format!("the file could not be read: {e}")))?
                .to_vec();
        }
    }
    Ok((csrf, file))
}

/// A page that shows the error of an action answers 422, else 200.
pub fn status_for(error: &Option<String>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// An unknown `action` field.
pub fn unknown_action(viewer: &Viewer, action: &str) -> ConsoleError {
    ConsoleError::Page {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("unknown action `{action}`"),
        lang: viewer.lang,
    }
}

/// What went wrong with an action, to show on its own page; a refusal of
/// the page itself (signed out, forbidden) stays a failure.
pub fn action_message(viewer: &Viewer, e: MarketError) -> Result<String, ConsoleError> {
    match ConsoleError::market(viewer.lang, e) {
        ConsoleError::Page {
            status, message, ..
        } if status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED => Ok(message),
        other => Err(other),
    }
}

/// The confirmation a destructive action asks for: the question, and the
/// form that posts the action again with `confirm=yes`.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct Confirm {
    /// The frame.
    pub chrome: Chrome,
    /// Where the confirmed form posts.
    pub path: String,
    /// What is asked.
    pub question: String,
    /// The action's own fields, posted again.
    pub fields: Vec<(String, String)>,
}

/// Percent-encode a path for a query parameter.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
    pending_reviews: Option<usize>,
    /// A rep's callable components: (id, package, version).
    callable: Option<Vec<(String, String, String)>>,
}

/// `GET /`: who is signed in, and what waits for them.
pub async fn home(
    State(market): State<Arc<Marketplace>>,
    viewer: Viewer,
) -> Result<Response, ConsoleError> {
    let me = viewer.principal()?;
    let pending_reviews = if me.role == Role::Reviewer {
        Some(
            market
                .registry()
                .versions(me, Some(VersionState::Submitted), None)
                .await
                .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?
                .len(),
        )
    } else {
        None
    };
    let callable = match (&me.role, &me.tenant) {
        (Role::Rep, Some(tenant)) => Some(
            market
                .registry()
                .components(me, tenant)
                .await
                .map_err(|e| ConsoleError::market(viewer.lang, e.into()))?
                .into_iter()
                .map(|i| (i.id, i.package, i.version.to_string()))
                .collect(),
        ),
        _ => None,
    };
    Ok(render(
        StatusCode::OK,
        &Home {
            chrome: viewer.chrome(),
            pending_reviews,
            callable,
        },
    ))
}
