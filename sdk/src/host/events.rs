//! Analytics events. Needs the `events` permission.
//!
//! Events are stored when the invocation commits. A director may switch
//! tracking off for a component; `emit` then still succeeds and stores nothing.

pub use crate::bindings::base::mercato::sales::events::{Event, Property, PropertyValue};

#[cfg(target_arch = "wasm32")]
use crate::bindings::base::mercato::sales::events as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::events as imp;

impl Event {
    /// An event with this dotted name (`booking.confirmed`) and no properties.
    pub fn new(name: impl Into<String>) -> Self {
        Event {
            name: name.into(),
            customer: None,
            properties: Vec::new(),
        }
    }

    /// The customer the event is about.
    pub fn customer(mut self, customer: impl Into<String>) -> Self {
        self.customer = Some(customer.into());
        self
    }

    /// Add a property.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<PropertyValue>) -> Self {
        self.properties.push(Property {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// The value of property `key`, if set.
    pub fn property(&self, key: &str) -> Option<&PropertyValue> {
        self.properties
            .iter()
            .find(|p| p.key == key)
            .map(|p| &p.value)
    }

    /// Record this event.
    pub fn emit(self) {
        emit(&self);
    }
}

impl From<&str> for PropertyValue {
    fn from(value: &str) -> Self {
        PropertyValue::Text(value.to_owned())
    }
}

impl From<String> for PropertyValue {
    fn from(value: String) -> Self {
        PropertyValue::Text(value)
    }
}

impl From<f64> for PropertyValue {
    fn from(value: f64) -> Self {
        PropertyValue::Number(value)
    }
}

impl From<i64> for PropertyValue {
    fn from(value: i64) -> Self {
        PropertyValue::Integer(value)
    }
}

impl From<u32> for PropertyValue {
    fn from(value: u32) -> Self {
        PropertyValue::Integer(i64::from(value))
    }
}

impl From<u64> for PropertyValue {
    fn from(value: u64) -> Self {
        PropertyValue::Integer(i64::try_from(value).unwrap_or(i64::MAX))
    }
}

impl From<bool> for PropertyValue {
    fn from(value: bool) -> Self {
        PropertyValue::Flag(value)
    }
}

/// Record an event.
pub fn emit(event: &Event) {
    imp::emit(event);
}
