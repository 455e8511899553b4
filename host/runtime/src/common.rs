//! The host's own calls to the interface every kind exports (`describe`,
//! `validate-settings`): with no grants, the default limits and nothing
//! tracked, so asking a component about itself can never touch a tenant's
//! data. The server, `mercato pack` and `mercato run` all ask through here.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{CallContext, Grants, InvokeError, Limits, LoadedComponent, Runtime, Scope};

/// A call context that may do nothing but read `settings`.
fn host_call(scope: Scope, settings: &Value) -> Arc<CallContext> {
    Arc::new(CallContext {
        scope,
        grants: Grants::none(),
        settings: settings.to_string().into(),
        track_events: false,
        version: None,
    })
}

impl Runtime {
    /// What the component says about itself (`describe`), as JSON.
    pub fn describe(&self, component: &LoadedComponent) -> Result<Value, InvokeError> {
        let call = host_call(Scope::new("", ""), &json!({}));
        Ok(self
            .invoke_json(component, &call, &Limits::default(), "describe", &json!({}))?
            .json())
    }

    /// The settings a new install starts from: the component's
    /// `default-settings` when it declares an object, else `{}`.
    pub fn default_settings(&self, component: &LoadedComponent) -> Result<Value, InvokeError> {
        let described = self.describe(component)?;
        Ok(described["default-settings"]
            .as_str()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({})))
    }

    /// Have the component check `settings` for the install at `scope`;
    /// `Err` holds its field errors (`{"field", "message"}` objects).
    pub fn validate_settings(
        &self,
        component: &LoadedComponent,
        scope: Scope,
        settings: &Value,
    ) -> Result<Result<(), Vec<Value>>, InvokeError> {
        let call = host_call(scope, settings);
        let args = json!({ "settings": settings.to_string() });
        let outcome = self
            .invoke_json(
                component,
                &call,
                &Limits::default(),
                "validate-settings",
                &args,
            )?
            .json();
        Ok(match outcome.get("err") {
            Some(Value::Array(fields)) => Err(fields.clone()),
            Some(other) => Err(vec![
                json!({"field": "settings", "message": other.to_string()}),
            ]),
            None => Ok(()),
        })
    }
}
