//! The settings a director gives sample requests.

use std::collections::BTreeMap;

use mercato_sdk::{FieldError, Validation};
use serde::{Deserialize, Serialize};

/// Starting stock of a SKU, before any `set-stock` call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InitialStock {
    /// Units available.
    pub available: u32,
    /// Price of one unit in minor currency units.
    pub unit_price_minor: u64,
}

/// Per-tenant settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// Requests for more units than this need a director's approval.
    pub approval_quantity: u32,
    /// Requests worth more than this (minor units) need approval.
    pub approval_value_minor: u64,
    /// How many requests one customer may file per period.
    pub per_customer_limit: u32,
    /// The period, in days.
    pub period_days: u32,
    /// Stock per SKU until a `set-stock` call sets it.
    pub stock: BTreeMap<String, InitialStock>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            approval_quantity: 10,
            approval_value_minor: 100_000,
            per_customer_limit: 3,
            period_days: 30,
            stock: BTreeMap::new(),
        }
    }
}

impl Settings {
    pub fn check(&self) -> Vec<FieldError> {
        let mut check = Validation::new();
        check.require(
            self.per_customer_limit >= 1,
            "per-customer-limit",
            "must be at least 1",
        );
        check.require(
            (1..=366).contains(&self.period_days),
            "period-days",
            "must be between 1 and 366",
        );
        for sku in self.stock.keys() {
            check.require(
                !sku.trim().is_empty() && sku.len() <= 64,
                "stock",
                "SKUs must be 1-64 characters",
            );
        }
        check.into_errors()
    }
}

pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "approval-quantity": {"type": "integer", "minimum": 0, "default": 10,
                "description": "Requests for more units than this need a director's approval."},
            "approval-value-minor": {"type": "integer", "minimum": 0, "default": 100000,
                "description": "Requests worth more than this (minor currency units) need approval."},
            "per-customer-limit": {"type": "integer", "minimum": 1, "default": 3,
                "description": "Requests one customer may file per period."},
            "period-days": {"type": "integer", "minimum": 1, "maximum": 366, "default": 30},
            "stock": {"type": "object", "description": "Starting stock per SKU.",
                "additionalProperties": {"type": "object", "additionalProperties": false,
                    "required": ["available", "unit-price-minor"],
                    "properties": {"available": {"type": "integer", "minimum": 0},
                                   "unit-price-minor": {"type": "integer", "minimum": 0}}}}
        }
    })
}
