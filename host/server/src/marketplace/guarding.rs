//! Guarded functions at the host: a guard list is checked against the
//! install's component before it is saved (every function exists and is one
//! a caller may call, every condition reads a real parameter), and a call a
//! guard matches is held in the approvals inbox instead of run. Installs
//! and their guards are read through the marketplace's caches, refreshed on
//! every change notice, so every host on one database holds the same calls.

use mercato_registry::guards::Guard;
use mercato_registry::inbox::{Approval, HeldCall};
use mercato_registry::{Principal, RegistryError};
use mercato_runtime::LoadedComponent;
use serde_json::Value;

use super::{Active, HOST_ONLY, MarketError, Marketplace};

/// Keys whose values are contact details, masked wherever they appear in
/// a held call's arguments before the inbox shows them.
const CONTACT_KEYS: &[&str] = &[
    "email",
    "phone",
    "address",
    "recipient",
    "line1",
    "line2",
    "postal-code",
];

/// Refuse a guard list the component cannot honour, naming the guard.
pub(super) fn check(component: &LoadedComponent, guards: &[Guard]) -> Result<(), RegistryError> {
    mercato_registry::guards::check(guards)?;
    for (i, guard) in guards.iter().enumerate() {
        let invalid = |message: String| RegistryError::Invalid {
            field: "guards",
            message: format!("guards[{i}]: {message}"),
        };
        let Some(function) = component
            .function(&guard.function)
            .filter(|_| !HOST_ONLY.contains(&guard.function.as_str()))
        else {
            let callable: Vec<&str> = component
                .functions()
                .map(|f| f.name.as_str())
                .filter(|n| !HOST_ONLY.contains(n))
                .collect();
            return Err(invalid(format!(
                "`{}` is not a function callers may call (they are: {})",
                guard.function,
                callable.join(", ")
            )));
        };
        for parameter in guard.parameters() {
            if !function.params.iter().any(|(name, _)| *name == parameter) {
                let names: Vec<&str> = function.params.iter().map(|(n, _)| n.as_str()).collect();
                return Err(invalid(format!(
                    "`{}` has no parameter `{parameter}` (it has: {})",
                    guard.function,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            }
        }
    }
    Ok(())
}

/// The arguments as label/value pairs for the inbox (`draft.quantity` →
/// `51`), contact details masked.
fn details(args: &Value) -> Vec<(String, String)> {
    fn walk(at: &str, value: &Value, masked: bool, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(fields) => {
                for (key, v) in fields {
                    let path = if at.is_empty() {
                        key.clone()
                    } else {
                        format!("{at}.{key}")
                    };
                    walk(
                        &path,
                        v,
                        masked || CONTACT_KEYS.contains(&key.as_str()),
                        out,
                    );
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{at}.{i}"), v, masked, out);
                }
            }
            Value::String(text) if masked => {
                let shown = if text.contains('@') {
                    mercato_registry::mask::email(text)
                } else if text.chars().filter(char::is_ascii_digit).count() >= 7 {
                    mercato_registry::mask::phone(text)
                } else {
                    mercato_registry::mask::address(text)
                };
                out.push((at.to_owned(), shown));
            }
            Value::String(text) => out.push((at.to_owned(), text.clone())),
            other => out.push((at.to_owned(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", args, false, &mut out);
    out
}

/// The customer a call is about, by the names the first-party kinds use:
/// `customer`, `customer-id`, or `customer` inside `draft`.
fn customer_of(args: &Value) -> Option<&str> {
    [
        &args["customer"],
        &args["customer-id"],
        &args["draft"]["customer"],
    ]
    .into_iter()
    .find_map(Value::as_str)
}

impl Marketplace {
    /// Hold the call if a guard of the install matches it: filed in the
    /// inbox, `Err(Held)` with the approval.
    pub(super) async fn guard(
        &self,
        actor: &Principal,
        active: &Active,
        function: &str,
        args: &Value,
    ) -> Result<(), MarketError> {
        let guards = &active.install.guards;
        if !guards.iter().any(|g| g.matches(function, args)) {
            return Ok(());
        }
        let call = HeldCall {
            function: function.to_owned(),
            args: args.clone(),
        };
        let approval = self
            .registry
            .hold_call(
                &active.install.tenant,
                &active.install.id,
                &call,
                actor,
                details(args),
                customer_of(args),
            )
            .await?;
        Err(MarketError::Held(Box::new(approval)))
    }

    /// Run a held call whose approval was decided for it; the outcome as
    /// the component's answer (`ok`) or refusal (`err`).
    pub(super) async fn run_held(
        &self,
        active: &std::sync::Arc<Active>,
        approval: &Approval,
    ) -> Result<Option<Result<Value, MarketError>>, MarketError> {
        let Some(call) = self
            .registry
            .held_call(&approval.tenant, &approval.id)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(
            self.call(active, &call.function, call.args)
                .await
                .map(|outcome| outcome.json()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn contact_details_in_arguments_are_masked_for_the_inbox() {
        let shown = super::details(&json!({"draft": {"customer": "ann", "quantity": 60,
            "address": {"recipient": "Ann Lee", "line1": "Main St 1", "city": "Lyon"},
            "email": "ann@example.com", "phone": "13812345678"}}));
        let get = |k: &str| {
            shown
                .iter()
                .find(|(l, _)| l == k)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(get("draft.customer"), "ann");
        assert_eq!(get("draft.quantity"), "60");
        assert_ne!(get("draft.address.line1"), "Main St 1");
        assert_ne!(get("draft.address.recipient"), "Ann Lee");
        assert_eq!(
            get("draft.email"),
            mercato_registry::mask::email("ann@example.com")
        );
        assert_eq!(
            get("draft.phone"),
            mercato_registry::mask::phone("13812345678")
        );
    }
}
