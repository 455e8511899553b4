//! The settings a director can give livestream booking.

use mercato_sdk::{FieldError, Validation};
use serde::{Deserialize, Serialize};

/// Per-tenant settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// The largest capacity a session may be scheduled with.
    pub max_capacity: u32,
    /// Whether customers may join a waitlist when a session is full.
    pub waitlist: bool,
    /// The longest a waitlist may grow; no limit when absent.
    pub max_waitlist: Option<u32>,
    /// How far ahead a session must be scheduled, in minutes.
    pub min_notice_minutes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_capacity: 10_000,
            waitlist: true,
            max_waitlist: None,
            min_notice_minutes: 0,
        }
    }
}

impl Settings {
    pub fn check(&self) -> Vec<FieldError> {
        let mut check = Validation::new();
        check.require(
            (1..=1_000_000).contains(&self.max_capacity),
            "max-capacity",
            "must be between 1 and 1000000",
        );
        check.require(
            self.min_notice_minutes <= 60 * 24 * 365,
            "min-notice-minutes",
            "must be at most one year (525600)",
        );
        check.into_errors()
    }

    pub fn waitlist_has_room(&self, waiting: usize) -> bool {
        self.waitlist && self.max_waitlist.is_none_or(|max| waiting < max as usize)
    }
}

pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "max-capacity": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 10000,
                             "description": "The largest capacity a session may be scheduled with."},
            "waitlist": {"type": "boolean", "default": true,
                         "description": "Whether customers may join a waitlist when a session is full."},
            "max-waitlist": {"type": ["integer", "null"], "minimum": 0,
                             "description": "The longest a waitlist may grow; no limit when absent."},
            "min-notice-minutes": {"type": "integer", "minimum": 0, "maximum": 525600, "default": 0,
                                   "description": "How far ahead a session must be scheduled."}
        }
    })
}
