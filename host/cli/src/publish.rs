//! `mercato publish`: upload a package to a server for review.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::CliError;

/// Upload the package at `path` to `server` with a developer `token`;
/// returns the server's record of the submitted version.
pub fn publish(path: &Path, server: &str, token: &str) -> Result<Value, CliError> {
    let bytes = std::fs::read(path).map_err(CliError::file("reading", path))?;
    let url = format!("{}/v1/packages", server.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/octet-stream")
        .send(&bytes[..])
        .map_err(|e| CliError::Unreachable {
            url: url.clone(),
            detail: e.to_string(),
        })?;
    let status = response.status();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| {
        json!({"error": {"code": "unexpected-reply", "message": "the server's reply was not JSON"}})
    });
    if !status.is_success() {
        return Err(CliError::Refused {
            status: status.as_u16(),
            code: body["error"]["code"].as_str().unwrap_or("?").to_owned(),
            message: body["error"]["message"].as_str().unwrap_or("?").to_owned(),
        });
    }
    Ok(body)
}
