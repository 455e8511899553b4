//! The rules that flag customers at risk, per tenant.

use mercato_sdk::{FieldError, Validation};
use serde::{Deserialize, Serialize};

/// Per-tenant settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// A latest NPS answer below this flags `low-score`.
    pub nps_floor: u8,
    /// A feature rating below this in the latest feedback flags `low-score`.
    pub rating_floor: u8,
    /// How many of a customer's latest answers the trend looks at.
    pub trend_window: u32,
    /// `falling-trend` when NPS fell by at least this across the window
    /// without ever rising.
    pub falling_drop: u8,
    /// `silent` after this many days without feedback.
    pub silent_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nps_floor: 6,
            rating_floor: 2,
            trend_window: 3,
            falling_drop: 3,
            silent_days: 14,
        }
    }
}

impl Settings {
    pub fn check(&self) -> Vec<FieldError> {
        let mut check = Validation::new();
        check
            .require(
                self.nps_floor <= 10,
                "nps-floor",
                "must be between 0 and 10",
            )
            .require(
                (1..=5).contains(&self.rating_floor),
                "rating-floor",
                "must be between 1 and 5",
            )
            .require(
                (2..=20).contains(&self.trend_window),
                "trend-window",
                "must be between 2 and 20",
            )
            .require(
                (1..=10).contains(&self.falling_drop),
                "falling-drop",
                "must be between 1 and 10",
            )
            .require(
                (1..=365).contains(&self.silent_days),
                "silent-days",
                "must be between 1 and 365",
            );
        check.into_errors()
    }
}

pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "nps-floor": {"type": "integer", "minimum": 0, "maximum": 10, "default": 6,
                "description": "A latest NPS answer below this flags the customer (low-score)."},
            "rating-floor": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2,
                "description": "A feature rating below this in the latest feedback flags the customer."},
            "trend-window": {"type": "integer", "minimum": 2, "maximum": 20, "default": 3,
                "description": "How many of a customer's latest answers the trend rule looks at."},
            "falling-drop": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3,
                "description": "Flag when NPS fell by at least this across the window without rising."},
            "silent-days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 14,
                "description": "Flag customers with no feedback for this many days."}
        }
    })
}
