//! Who is calling: the bearer token, resolved to a principal.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use mercato_registry::Principal;

use super::ApiError;
use crate::marketplace::Marketplace;

/// The authenticated caller of a route.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<Marketplace>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        market: &Arc<Marketplace>,
    ) -> Result<Self, Self::Rejection> {
        // Resolved already by the access check in front of every route.
        if let Some(principal) = parts.extensions.remove::<Principal>() {
            return Ok(Caller(principal));
        }
        let unauthenticated = |message: &str| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                message.to_owned(),
            )
        };
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                unauthenticated("no bearer token: send `Authorization: Bearer mrc_…`")
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        Ok(Caller(market.authenticate(token).await?))
    }
}
