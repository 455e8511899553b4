//! The settings a director gives experiments.

use mercato_sdk::{FieldError, Validation};
use serde::{Deserialize, Serialize};

/// Per-tenant settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// Most variants one experiment may have (control included).
    pub max_variants: u32,
    /// Most experiments running at once.
    pub max_running: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_variants: 10,
            max_running: 50,
        }
    }
}

impl Settings {
    pub fn check(&self) -> Vec<FieldError> {
        let mut check = Validation::new();
        check
            .require(
                (2..=20).contains(&self.max_variants),
                "max-variants",
                "must be between 2 and 20",
            )
            .require(
                (1..=1000).contains(&self.max_running),
                "max-running",
                "must be between 1 and 1000",
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
            "max-variants": {"type": "integer", "minimum": 2, "maximum": 20, "default": 10,
                "description": "Most variants one experiment may have, control included."},
            "max-running": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50,
                "description": "Most experiments running at once."}
        }
    })
}
