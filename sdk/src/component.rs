//! What every component has whatever its kind: a description, settings and
//! their validation, the answer to an approval it asked for, and what it
//! holds about one customer (to export it, or to forget it).

use serde::{Serialize, de::DeserializeOwned};

pub use crate::bindings::base::exports::mercato::sales::component::{
    CustomerRecord, Description, ForgetReport,
};

use crate::{Decision, Error, FieldError};

/// The part of every component that does not depend on its kind. A kind's
/// trait ([`LivestreamBooking`](crate::livestream::LivestreamBooking), …)
/// builds on it and holds only that kind's own functions.
pub trait Component {
    /// The tenant's settings; [`NoSettings`] when there are none. Its
    /// `Default` is what a new install starts from.
    type Settings: DeserializeOwned + Serialize + Default;

    /// How the component presents itself in the catalog.
    fn describe() -> Description;

    /// Checks beyond what decoding `Settings` already checked, each naming
    /// the field it is about.
    fn validate_settings(settings: &Self::Settings) -> Vec<FieldError> {
        let _ = settings;
        Vec::new()
    }

    /// A director decided an approval this component requested.
    fn approval_decided(decision: Decision) -> Result<(), Error> {
        let _ = decision;
        Ok(())
    }

    /// Everything this component holds about `customer`, one record per
    /// thing (a booking, a request with its address, an answer): the
    /// tenant's data export. Read-only; the host calls it, never a rep.
    fn export_customer(customer: &str) -> Vec<CustomerRecord>;

    /// Remove everything this component holds about `customer` (erasure),
    /// and say what was removed by kind. Counts that name no one may stay;
    /// say so in [`ForgetReport::kept`]. The host calls it, never a rep.
    fn forget_customer(customer: &str) -> Result<ForgetReport, Error>;
}

impl CustomerRecord {
    /// A record of `kind` (e.g. `booking`) with the component's own `id`,
    /// its payload serialized as JSON.
    pub fn new(kind: impl Into<String>, id: impl Into<String>, payload: &impl Serialize) -> Self {
        CustomerRecord {
            kind: kind.into(),
            id: id.into(),
            payload: serde_json::to_string(payload).unwrap_or_else(|e| {
                serde_json::json!({ "unserializable": e.to_string() }).to_string()
            }),
        }
    }
}

impl ForgetReport {
    /// Nothing removed, nothing kept.
    pub fn new() -> Self {
        ForgetReport {
            removed: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// `count` records of `kind` were removed (added to any earlier count
    /// of the same kind; a zero count is left out).
    pub fn removed(mut self, kind: &str, count: u32) -> Self {
        if count == 0 {
            return self;
        }
        match self.removed.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => *n += count,
            None => self.removed.push((kind.to_owned(), count)),
        }
        self
    }

    /// Something stays, and why (one sentence).
    pub fn kept(mut self, what: impl Into<String>) -> Self {
        self.kept.push(what.into());
        self
    }

    /// Records removed, over every kind.
    pub fn total(&self) -> u32 {
        self.removed.iter().map(|(_, n)| n).sum()
    }
}

impl Default for ForgetReport {
    fn default() -> Self {
        Self::new()
    }
}

impl Description {
    /// A description with a title and a one-paragraph summary.
    pub fn new(title: impl Into<String>, summary: impl Into<String>) -> Self {
        Description {
            title: title.into(),
            summary: summary.into(),
            settings_schema: r#"{"type":"object","additionalProperties":false}"#.to_owned(),
            default_settings: "{}".to_owned(),
        }
    }

    /// The JSON Schema of the settings object.
    pub fn settings_schema(mut self, schema: serde_json::Value) -> Self {
        self.settings_schema = schema.to_string();
        self
    }
}

/// Settings for a component that has none: only `{}` is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// The description with the default settings filled in from `S::default()`.
pub(crate) fn describe<S: Serialize + Default>(mut description: Description) -> Description {
    description.default_settings =
        serde_json::to_string(&S::default()).unwrap_or_else(|_| "{}".to_owned());
    description
}

/// Decode `text` as `S`, then apply the component's own checks.
pub(crate) fn validate_settings<S: DeserializeOwned>(
    text: &str,
    check: impl FnOnce(&S) -> Vec<FieldError>,
) -> Result<(), Vec<FieldError>> {
    match serde_json::from_str::<S>(text) {
        Ok(settings) => {
            let errors = check(&settings);
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors)
            }
        }
        Err(e) => Err(vec![FieldError::new(
            field_of(&e.to_string()),
            e.to_string(),
        )]),
    }
}

/// serde names the offending field in backticks (`unknown field `x``,
/// `missing field `y``); fall back to the whole object.
fn field_of(message: &str) -> String {
    let named = ["unknown field `", "missing field `", "duplicate field `"]
        .iter()
        .find_map(|lead| message.split_once(lead))
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(field, _)| field.to_owned());
    named.unwrap_or_else(|| "settings".to_owned())
}

/// Implements the exported `component` interface for a kind's adapter by
/// delegating to the kind trait.
macro_rules! component_adapter {
    ($adapter:ident, $kind:ident) => {
        impl<T: $kind> $crate::bindings::base::exports::mercato::sales::component::Guest
            for $adapter<T>
        {
            fn describe() -> $crate::Description {
                $crate::component::describe::<T::Settings>(<T as $crate::Component>::describe())
            }

            fn validate_settings(settings: String) -> Result<(), Vec<$crate::FieldError>> {
                $crate::component::validate_settings::<T::Settings>(
                    &settings,
                    <T as $crate::Component>::validate_settings,
                )
            }

            fn approval_decided(
                decision: $crate::approvals::Decision,
            ) -> Result<(), $crate::Error> {
                <T as $crate::Component>::approval_decided(decision)
            }

            fn export_customer(customer_id: String) -> Vec<$crate::CustomerRecord> {
                <T as $crate::Component>::export_customer(&customer_id)
            }

            fn forget_customer(customer_id: String) -> Result<$crate::ForgetReport, $crate::Error> {
                <T as $crate::Component>::forget_customer(&customer_id)
            }
        }
    };
}
pub(crate) use component_adapter;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        capacity: u32,
    }

    #[test]
    fn settings_errors_name_the_field() {
        let unknown = validate_settings::<Settings>(r#"{"capacity":1,"colour":2}"#, |_| vec![]);
        assert_eq!(unknown.unwrap_err()[0].field, "colour");
        let missing = validate_settings::<Settings>("{}", |_| vec![]);
        assert_eq!(missing.unwrap_err()[0].field, "capacity");
        let custom = validate_settings::<Settings>(r#"{"capacity":0}"#, |s| {
            if s.capacity == 0 {
                vec![FieldError::new("capacity", "must be positive")]
            } else {
                vec![]
            }
        });
        assert_eq!(custom.unwrap_err()[0].message, "must be positive");
        assert!(validate_settings::<NoSettings>("{}", |_| vec![]).is_ok());
    }
}
