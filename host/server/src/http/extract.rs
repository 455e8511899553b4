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
        let value = match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported-media-type",
                    "the body must be sent as `Content-Type: application/json`",
                ));
            }
            Err(e) => {
                return Err(ApiError::new(
                    e.status(),
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        "too-large"
                    } else {
                        "bad-json"
                    },
                    format!("the body must be JSON: {}", e.body_text()),
                ));
            }
        };
        if let Some(path) = mercato_registry::bounds::nul_in(&value) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                format!("`{path}` holds a NUL character, which is not accepted"),
            ));
        }
        serde_json::from_value(value).map(Body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                format!("the body does not have the expected fields: {e}"),
            )
        })
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
