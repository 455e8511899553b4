//! The one HTTP error type: a status, a stable code and a message for the
//! client. Internal failures are logged and reported without their details.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use mercato_registry::{PackageError, RegistryError};

use crate::marketplace::MarketError;
use crate::marketplace::admission::Refusal;
use mercato_runtime::{InvokeError, LoadError};

/// An error reply.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
    details: Option<Value>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// A reply with this status, code and message.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// Tell the client to retry after `seconds` (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 404.
    pub fn not_found(code: &str, message: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// The reply's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A component's own `error` result (`{"not-found": "..."}` and so on).
    /// Its `internal` case is the component's failure, not the host's: a
    /// `502 component-internal`. Every one carries `details.source =
    /// "component"`, so a client can tell it from the host's refusals.
    pub fn from_component(err: &Value) -> Self {
        let (code, payload) = match err {
            Value::Object(o) if o.len() == 1 => {
                let (k, v) = o.iter().next().expect("one entry");
                (k.clone(), v.clone())
            }
            Value::String(s) => (s.clone(), Value::Null),
            other => ("internal".to_owned(), other.clone()),
        };
        let (status, code) = match code.as_str() {
            "invalid-input" | "refused" => (StatusCode::UNPROCESSABLE_ENTITY, code),
            "not-found" => (StatusCode::NOT_FOUND, code),
            "conflict" | "not-configured" => (StatusCode::CONFLICT, code),
            _ => (StatusCode::BAD_GATEWAY, "component-internal".to_owned()),
        };
        let (message, details) = match payload {
            Value::String(s) => (s, None),
            Value::Array(fields) => {
                let message = fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f["field"].as_str().unwrap_or("?"),
                            f["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                (
                    message,
                    Some(json!({ "fields": fields, "source": "component" })),
                )
            }
            other => (other.to_string(), None),
        };
        let message = if code == "component-internal" {
            format!("the component reported an internal error: {message}")
        } else {
            message
        };
        ApiError {
            status,
            code,
            message,
            details: details.or_else(|| Some(json!({ "source": "component" }))),
            retry_after: None,
        }
    }
}

impl From<InvokeError> for ApiError {
    fn from(e: InvokeError) -> Self {
        let status = match &e {
            InvokeError::UnknownFunction { .. } => StatusCode::NOT_FOUND,
            InvokeError::BadArguments { .. } => StatusCode::BAD_REQUEST,
            // The component, not the caller, failed.
            InvokeError::LimitExceeded { .. }
            | InvokeError::PermissionDenied { .. }
            | InvokeError::ComponentFault { .. } => StatusCode::BAD_GATEWAY,
            InvokeError::Busy | InvokeError::Contention { .. } => StatusCode::SERVICE_UNAVAILABLE,
            InvokeError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "invocation failed");
            return ApiError::new(status, e.code(), "internal error; see the host's log");
        }
        let mut reply = ApiError::new(status, e.code(), e.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            reply.retry_after = Some(1);
        }
        if let Some(limit) = e.limit() {
            reply.details = Some(json!({ "limit": limit }));
        }
        reply
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let status = match &e {
            RegistryError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            RegistryError::Forbidden(_) | RegistryError::Untrusted { .. } => StatusCode::FORBIDDEN,
            RegistryError::NotFound { .. } => StatusCode::NOT_FOUND,
            RegistryError::Busy => {
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string())
                    .retry_after(1);
            }
            RegistryError::Conflict { .. } => StatusCode::CONFLICT,
            RegistryError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RegistryError::Package(PackageError::NotAPackage | PackageError::Truncated(_)) => {
                StatusCode::BAD_REQUEST
            }
            RegistryError::Invalid { .. } | RegistryError::Package(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            RegistryError::Storage(_) | RegistryError::Corrupt(_) => {
                tracing::error!(error = %e, "registry failed");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the host's log",
                );
            }
        };
        let mut reply = ApiError::new(status, e.code(), e.to_string());
        if let RegistryError::Invalid { field, .. } = &e {
            reply.details =
                Some(json!({ "fields": [{ "field": field, "message": e.to_string() }] }));
        }
        reply
    }
}

impl From<LoadError> for ApiError {
    fn from(e: LoadError) -> Self {
        let (status, code) = match &e {
            LoadError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            LoadError::NotWasm => (StatusCode::UNPROCESSABLE_ENTITY, "not-a-component"),
            LoadError::CoreModule => (StatusCode::UNPROCESSABLE_ENTITY, "core-module"),
            LoadError::UnsupportedWit { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unsupported-wit")
            }
            LoadError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-component"),
            LoadError::UnknownImport(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown-import"),
            LoadError::WrongWorld { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "wrong-world"),
            LoadError::TooComplex(_) => (StatusCode::UNPROCESSABLE_ENTITY, "too-complex"),
            LoadError::CompileTimeout { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "compile-timeout")
            }
            LoadError::CompilerBusy => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "compiler-busy",
                    e.to_string(),
                )
                .retry_after(5);
            }
            LoadError::Cache(_) => {
                tracing::error!(error = %e, "compile cache failed");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the host's log",
                );
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<MarketError> for ApiError {
    fn from(e: MarketError) -> Self {
        match e {
            MarketError::Registry(e) => e.into(),
            MarketError::Load(e) => e.into(),
            MarketError::Invoke(e) => e.into(),
            MarketError::Settings(fields) => {
                let message = MarketError::Settings(fields.clone()).to_string();
                let mut reply = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-settings",
                    message,
                );
                reply.details = Some(json!({ "fields": fields }));
                reply
            }
            e @ MarketError::LimitsAboveCaps(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "limits-above-caps",
                e.to_string(),
            ),
            e @ MarketError::LimitsBelowFloors(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "limits-below-floors",
                e.to_string(),
            ),
            // The invoke route answers 202 itself; anywhere else a held
            // call is a conflict to report, not a success.
            e @ MarketError::Held(_) => {
                ApiError::new(StatusCode::CONFLICT, "held-for-approval", e.to_string())
            }
            e @ MarketError::WitMismatch { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wit-mismatch",
                e.to_string(),
            ),
            e @ MarketError::Disabled { .. } => {
                ApiError::new(StatusCode::CONFLICT, "component-disabled", e.to_string())
            }
            MarketError::Refused(refusal) => {
                let (status, code) = match &refusal {
                    Refusal::TenantBusy { .. } => (StatusCode::TOO_MANY_REQUESTS, "tenant-busy"),
                    Refusal::HostBusy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "host-busy"),
                    Refusal::TooLarge { .. } => {
                        (StatusCode::UNPROCESSABLE_ENTITY, "memory-above-budget")
                    }
                };
                let mut reply = ApiError::new(status, code, refusal.to_string());
                reply.retry_after = refusal.retry_after();
                reply
            }
            e @ MarketError::HostOnly(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "host-only", e.to_string())
            }
            MarketError::Internal(message) => {
                tracing::error!(%message, "internal failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the host's log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let (Some(details), Some(obj)) = (self.details, error.as_object_mut()) {
            obj.insert("details".to_owned(), details);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

impl ApiError {
    /// A body over `max` bytes: `length` is what the request declared
    /// (`Content-Length`), when it did.
    pub fn too_large(length: Option<u64>, max: usize) -> Self {
        let message = match length {
            Some(length) => format!("the body is {length} bytes; at most {max} are accepted"),
            None => format!("the body is more than {max} bytes; at most {max} are accepted"),
        };
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", message)
    }
}

/// The declared length of a request's body.
pub fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Middleware under every API route: a refusal that some layer below the
/// handlers made in plain text or with no body (a 405 for a wrong method, a
/// body-limit rejection, an extractor this crate does not wrap) is
/// rewritten into the envelope, so no error leaves the API outside it.
pub async fn envelope(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // Kept for the message, cheaply: a standard method and a `Uri` clone
    // allocate nothing, which matters on every call's path.
    let method = request.method().clone();
    let uri = request.uri().clone();
    let length = content_length(request.headers());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("refused").to_owned());
    let mut reply = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(axum::http::header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            ApiError::new(
                status,
                "method-not-allowed",
                format!(
                    "`{method}` is not allowed on `{}`; allowed: {allowed}",
                    uri.path()
                ),
            )
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::too_large(length, mercato_registry::versions::MAX_PACKAGE_BYTES)
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(status, "unsupported-media-type", text),
        StatusCode::NOT_FOUND => ApiError::not_found("not-found", text),
        s if s.is_server_error() => {
            tracing::error!(%method, path = uri.path(), %status, body = %text, "an error outside the envelope");
            ApiError::new(status, "internal", "internal error; see the host's log")
        }
        _ => ApiError::new(status, "bad-request", text),
    }
    .into_response();
    // Keep what the layer below said about retrying or allowed methods.
    for name in [axum::http::header::ALLOW, axum::http::header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            reply.headers_mut().insert(name, value.clone());
        }
    }
    reply
}
