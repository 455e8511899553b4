//! Guarded functions: a director's line of what an install may not do
//! without a person. A guard names a function of the install and, optionally,
//! a condition on the call's arguments; a call it matches is not run but
//! held in the approvals inbox until a director decides.
//!
//! A condition is JSON:
//!
//! - `{"field": "draft.quantity", "op": ">", "value": 50}` — `field` is a
//!   dotted path into the arguments (the first segment a parameter name,
//!   digits index lists); `op` one of `==`, `!=`, `>`, `>=`, `<`, `<=`
//!   (numbers), `in` (`value` a list) or `contains` (a string or list
//!   holding `value`);
//! - `{"all": [condition, …]}`, `{"any": [condition, …]}`.
//!
//! A path the arguments lack makes a comparison false. Whether a function
//! or parameter exists is the host's question (it knows the component).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RegistryError;

/// Most guards on one install.
pub const MAX_GUARDS: usize = 50;
/// Most comparisons and groups in one condition.
pub const MAX_CONDITION_NODES: usize = 64;
/// Deepest nesting of `all`/`any`.
pub const MAX_CONDITION_DEPTH: usize = 8;

/// One function that needs a person: always, or when `when` holds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// The WIT function name (`declare-winner`).
    pub function: String,
    /// The condition on the arguments; absent: every call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub when: Option<Value>,
}

/// A comparison's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    Contains,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            "in" => Op::In,
            "contains" => Op::Contains,
            _ => return None,
        })
    }
}

/// A condition, checked.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Compare {
        path: Vec<String>,
        op: Op,
        value: Value,
    },
}

fn invalid(at: &str, message: impl Into<String>) -> RegistryError {
    RegistryError::Invalid {
        field: "guards",
        message: format!("{at}: {}", message.into()),
    }
}

impl Condition {
    fn parse(
        json: &Value,
        at: &str,
        depth: usize,
        nodes: &mut usize,
    ) -> Result<Condition, RegistryError> {
        *nodes += 1;
        if *nodes > MAX_CONDITION_NODES {
            return Err(invalid(
                at,
                format!("a condition holds at most {MAX_CONDITION_NODES} parts"),
            ));
        }
        let Some(object) = json.as_object() else {
            return Err(invalid(at, "a condition is a JSON object"));
        };
        for group in ["all", "any"] {
            if let Some(parts) = object.get(group) {
                if object.len() != 1 {
                    return Err(invalid(at, format!("`{group}` stands alone in its object")));
                }
                if depth >= MAX_CONDITION_DEPTH {
                    return Err(invalid(
                        at,
                        format!("conditions nest at most {MAX_CONDITION_DEPTH} deep"),
                    ));
                }
                let Some(parts) = parts.as_array().filter(|p| !p.is_empty()) else {
                    return Err(invalid(at, format!("`{group}` is a non-empty list")));
                };
                let parsed = parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        Condition::parse(p, &format!("{at}.{group}[{i}]"), depth + 1, nodes)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(if group == "all" {
                    Condition::All(parsed)
                } else {
                    Condition::Any(parsed)
                });
            }
        }
        if let Some(unknown) = object
            .keys()
            .find(|k| !["field", "op", "value"].contains(&k.as_str()))
        {
            return Err(invalid(
                at,
                format!("`{unknown}` is not a condition key (field, op, value; or all, any)"),
            ));
        }
        let field = object
            .get("field")
            .and_then(Value::as_str)
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| invalid(at, "`field` names an argument, e.g. `draft.quantity`"))?;
        let op_text = object
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(at, "`op` is one of ==, !=, >, >=, <, <=, in, contains"))?;
        let op = Op::parse(op_text).ok_or_else(|| {
            invalid(
                at,
                format!("`{op_text}` is not one of ==, !=, >, >=, <, <=, in, contains"),
            )
        })?;
        let value = object
            .get("value")
            .cloned()
            .ok_or_else(|| invalid(at, "`value` is what the argument is compared with"))?;
        if matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le) && !value.is_number() {
            return Err(invalid(
                at,
                format!("`{op_text}` compares numbers: `value` is {value}"),
            ));
        }
        if op == Op::In && !value.is_array() {
            return Err(invalid(at, "`in` takes a list as `value`"));
        }
        Ok(Condition::Compare {
            path: field.split('.').map(str::to_owned).collect(),
            op,
            value,
        })
    }

    fn holds(&self, args: &Value) -> bool {
        match self {
            Condition::All(parts) => parts.iter().all(|p| p.holds(args)),
            Condition::Any(parts) => parts.iter().any(|p| p.holds(args)),
            Condition::Compare { path, op, value } => {
                let Some(found) = lookup(args, path) else {
                    return false;
                };
                let numbers = found.as_f64().zip(value.as_f64());
                match op {
                    Op::Eq => numbers.map_or(found == value, |(a, b)| a == b),
                    Op::Ne => numbers.map_or(found != value, |(a, b)| a != b),
                    Op::Gt => numbers.is_some_and(|(a, b)| a > b),
                    Op::Ge => numbers.is_some_and(|(a, b)| a >= b),
                    Op::Lt => numbers.is_some_and(|(a, b)| a < b),
                    Op::Le => numbers.is_some_and(|(a, b)| a <= b),
                    Op::In => value.as_array().is_some_and(|list| list.contains(found)),
                    Op::Contains => match (found, value) {
                        (Value::String(text), Value::String(part)) => text.contains(part.as_str()),
                        (Value::Array(items), wanted) => items.contains(wanted),
                        _ => false,
                    },
                }
            }
        }
    }

    fn first_segments<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::All(parts) | Condition::Any(parts) => {
                parts.iter().for_each(|p| p.first_segments(out));
            }
            Condition::Compare { path, .. } => out.extend(path.first().map(String::as_str)),
        }
    }
}

fn lookup<'a>(args: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(args, |at, segment| match at {
        Value::Object(fields) => fields.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

impl Guard {
    fn condition(&self, at: &str) -> Result<Option<Condition>, RegistryError> {
        self.when
            .as_ref()
            .map(|w| Condition::parse(w, &format!("{at}.when"), 0, &mut 0))
            .transpose()
    }

    /// Whether a call of `function` with `args` needs a person.
    pub fn matches(&self, function: &str, args: &Value) -> bool {
        self.function == function
            && match self.condition("") {
                Ok(None) => true,
                Ok(Some(condition)) => condition.holds(args),
                // Stored guards were checked; one that no longer parses
                // holds the call rather than let it through.
                Err(_) => true,
            }
    }

    /// The parameter names its condition reads (first path segments).
    pub fn parameters(&self) -> Vec<String> {
        let Ok(Some(condition)) = self.condition("") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        condition.first_segments(&mut out);
        out.into_iter().map(str::to_owned).collect()
    }
}

/// Check a guard list: its size, each condition's shape, one guard per
/// function. Each problem names the guard (`guards[2].when.all[0]`).
pub fn check(guards: &[Guard]) -> Result<(), RegistryError> {
    if guards.len() > MAX_GUARDS {
        return Err(invalid(
            "guards",
            format!(
                "{} guards; an install has at most {MAX_GUARDS}",
                guards.len()
            ),
        ));
    }
    crate::bounds::GUARDS.json(&serde_json::to_value(guards).unwrap_or(Value::Null))?;
    for (i, guard) in guards.iter().enumerate() {
        let at = format!("guards[{i}]");
        if guards[..i].iter().any(|g| g.function == guard.function) {
            return Err(invalid(
                &at,
                format!(
                    "`{}` is guarded twice; combine the conditions with `any`",
                    guard.function
                ),
            ));
        }
        guard.condition(&at)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn guard(when: Value) -> Guard {
        Guard {
            function: "request".into(),
            when: Some(when),
        }
    }

    #[test]
    fn comparisons_read_dotted_paths_and_missing_ones_are_false() {
        let big = guard(json!({"field": "draft.quantity", "op": ">", "value": 50}));
        assert!(big.matches("request", &json!({"draft": {"quantity": 51}})));
        assert!(!big.matches("request", &json!({"draft": {"quantity": 50}})));
        assert!(!big.matches("request", &json!({"draft": {}})));
        assert!(!big.matches("ship", &json!({"draft": {"quantity": 99}})));
        let any = guard(json!({"any": [
            {"field": "draft.sku", "op": "in", "value": ["GOLD", "PLATINUM"]},
            {"all": [{"field": "draft.quantity", "op": ">=", "value": 10},
                     {"field": "draft.address.country", "op": "!=", "value": "DE"}]},
            {"field": "draft.tags.0", "op": "==", "value": "vip"},
            {"field": "draft.purpose", "op": "contains", "value": "fair"}
        ]}));
        for (args, held) in [
            (json!({"draft": {"sku": "GOLD", "quantity": 1}}), true),
            (
                json!({"draft": {"sku": "MUG", "quantity": 10, "address": {"country": "FR"}}}),
                true,
            ),
            (
                json!({"draft": {"sku": "MUG", "quantity": 10, "address": {"country": "DE"}}}),
                false,
            ),
            (json!({"draft": {"tags": ["vip"]}}), true),
            (json!({"draft": {"purpose": "trade fair"}}), true),
            (json!({"draft": {"sku": "MUG", "quantity": 2}}), false),
        ] {
            assert_eq!(any.matches("request", &args), held, "{args}");
        }
        let always = Guard {
            function: "declare-winner".into(),
            when: None,
        };
        assert!(always.matches("declare-winner", &json!({})));
        assert_eq!(any.parameters(), ["draft"; 5]);
    }

    #[test]
    fn malformed_guards_are_refused_naming_where() {
        for (guards, names) in [
            (
                vec![guard(json!({"field": "q", "op": "=~", "value": 1}))],
                "guards[0].when: `=~`",
            ),
            (
                vec![guard(json!({"field": "q", "op": ">", "value": "x"}))],
                "compares numbers",
            ),
            (
                vec![guard(json!({"all": []}))],
                "guards[0].when: `all` is a non-empty list",
            ),
            (
                vec![guard(
                    json!({"any": [{"field": "q", "op": "in", "value": 3}]}),
                )],
                "guards[0].when.any[0]",
            ),
            (
                vec![guard(
                    json!({"field": "q", "op": "==", "value": 1, "extra": 1}),
                )],
                "`extra`",
            ),
            (vec![guard(json!("q > 5"))], "a JSON object"),
            (vec![guard(json!({"field": "q", "op": "=="}))], "`value`"),
            (
                vec![
                    guard(json!({"field": "q", "op": "==", "value": 1})),
                    guard(json!({"field": "q", "op": "==", "value": 2})),
                ],
                "guarded twice",
            ),
        ] {
            let message = check(&guards).expect_err(names).to_string();
            assert!(message.contains(names), "{message}");
        }
        let mut deep = json!({"field": "q", "op": "==", "value": 1});
        for _ in 0..=MAX_CONDITION_DEPTH {
            deep = json!({"all": [deep]});
        }
        assert!(
            check(&[guard(deep)])
                .unwrap_err()
                .to_string()
                .contains("nest")
        );
        let many: Vec<Value> = (0..MAX_CONDITION_NODES)
            .map(|i| json!({"field": "q", "op": "==", "value": i}))
            .collect();
        assert!(
            check(&[guard(json!({"any": many}))])
                .unwrap_err()
                .to_string()
                .contains("at most")
        );
    }
}
