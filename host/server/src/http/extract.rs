//! The API's extractors: JSON bodies, path segments and query strings whose
//! every rejection speaks the error envelope and names what was wrong, and
//! which refuse text the database cannot hold (a NUL character) at the
//! boundary, wherever in the request it is.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiError;

/// A JSON body of type `T`: malformed JSON is a 400, a body that is not
/// `application/json` a 415, and a wrong shape (an unknown or missing
/// field) or a NUL character anywhere in it a 422 naming it.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_json(declared) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!(
                    "the body must be sent as `Content-Type: application/json`, not `{declared}`"
                ),
            ));
        }
        let length = super::error::content_length(req.headers());
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::too_large(length, mercato_registry::versions::MAX_PACKAGE_BYTES)
                }
                status => ApiError::new(status, "bad-body", e.body_text()),
            })?;
        // JSON can carry a NUL only as the escape `\u0000`: scanning for it
        // keeps the common case to one parse; the rare body that has one is
        // parsed again to name where.
        if has_nul_escape(&bytes)
            && let Ok(value) = serde_json::from_slice::<Value>(&bytes)
            && let Some(path) = mercato_registry::bounds::nul_in(&value)
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                format!("`{path}` holds a NUL character, which is not accepted"),
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                format!(
                    "the body does not have the expected fields: {}",
                    e.body_text()
                ),
            )),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad-json",
                format!("the body must be JSON: {}", e.body_text()),
            )),
        }
    }
}

/// `application/json`, or a `+json` type of it, parameters aside.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether JSON text holds the escape `\u0000` (after an odd number of
/// backslashes, so an escaped backslash followed by `u0000` is not one).
fn has_nul_escape(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, w)| {
        w.eq_ignore_ascii_case(b"\\u0000")
            && json[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_escape_is_told_from_an_escaped_backslash() {
        assert!(has_nul_escape(br#"{"a": "x\u0000"}"#));
        assert!(has_nul_escape(br#"{"a": "\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "u0000"}"#));
    }

    #[test]
    fn json_types_are_recognised_by_their_essence() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }
}

/// Path segments of type `T`: a segment that is not UTF-8 or not of its
/// type is a 400 naming it.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(t)| Path(t))
            .map_err(|e: PathRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad-path",
                    format!("the path is not valid: {}", e.body_text()),
                )
            })
    }
}

/// A query string of type `T`: an unknown value or a bad number is a 400
/// naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(t)| Query(t))
            .map_err(|e: QueryRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad-query",
                    format!("the query string is not valid: {}", e.body_text()),
                )
            })
    }
}

/// Middleware over every route (API and console): a path or query string
/// that decodes to a NUL character is refused before any handler sees it,
/// since no store can keep or even look one up.
pub async fn refuse_nul(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = request.uri();
    let what = if uri.path().contains("%00") {
        Some("the path")
    } else if uri.query().is_some_and(|q| q.contains("%00")) {
        Some("the query string")
    } else {
        None
    };
    match what {
        Some(what) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            format!("{what} holds a NUL character (`%00`), which is not accepted"),
        )
        .into_response(),
        None => next.run(request).await,
    }
}
