//! The one HTTP error type: a status, a stable code and a message for the
//! client. Internal failures are logged and reported without their details.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::InvokeError;

/// An error reply.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
    details: Option<Value>,
}

impl ApiError {
    /// A reply with this status, code and message.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
        }
    }

    /// 404.
    pub fn not_found(code: &str, message: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// The reply's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// A component's own `error` result (`{"not-found": "..."}` and so on).
    pub fn from_component(err: &Value) -> Self {
        let (code, payload) = match err {
            Value::Object(o) if o.len() == 1 => {
                let (k, v) = o.iter().next().expect("one entry");
                (k.clone(), v.clone())
            }
            Value::String(s) => (s.clone(), Value::Null),
            other => ("internal".to_owned(), other.clone()),
        };
        let status = match code.as_str() {
            "invalid-input" => StatusCode::UNPROCESSABLE_ENTITY,
            "not-found" => StatusCode::NOT_FOUND,
            "conflict" | "not-configured" => StatusCode::CONFLICT,
            "refused" => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
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
                (message, Some(json!({ "fields": fields })))
            }
            other => (other.to_string(), None),
        };
        ApiError {
            status,
            code,
            message,
            details,
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
        if let Some(limit) = e.limit() {
            reply.details = Some(json!({ "limit": limit }));
        }
        reply
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let (Some(details), Some(obj)) = (self.details, error.as_object_mut()) {
            obj.insert("details".to_owned(), details);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}
