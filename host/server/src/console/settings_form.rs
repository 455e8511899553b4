//! A settings form generated from a component version's JSON Schema: one
//! field per top-level property (numbers, switches, text, choices, and JSON
//! for anything nested), read back into the settings object with the
//! schema's types, and the component's own field errors placed beside the
//! field they name.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One field of the form.
#[derive(Debug, Clone)]
pub struct Field {
    /// The settings property.
    pub name: String,
    /// `number`, `checkbox`, `text`, `select` or `json`.
    pub input: &'static str,
    /// The value shown.
    pub value: String,
    /// Whether a checkbox is ticked.
    pub checked: bool,
    /// The choices of a `select`.
    pub choices: Vec<String>,
    /// The schema's description.
    pub description: String,
    /// Whether the property may be left empty.
    pub optional: bool,
    /// What the component (or the form) said is wrong with it.
    pub error: Option<String>,
}

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The fields for `schema`'s properties, showing `settings`.
pub fn fields(schema: Option<&Value>, settings: &Value) -> Vec<Field> {
    let Some(properties) = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    properties
        .iter()
        .map(|(name, prop)| {
            let ts = types(prop);
            let current = settings.get(name).cloned().unwrap_or(Value::Null);
            let choices: Vec<String> = prop["enum"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let input = if !choices.is_empty() {
                "select"
            } else if ts.contains(&"boolean") {
                "checkbox"
            } else if ts.contains(&"integer") || ts.contains(&"number") {
                "number"
            } else if ts.contains(&"string") {
                "text"
            } else {
                "json"
            };
            let value = match (&current, input) {
                (Value::Null, _) => String::new(),
                (Value::String(s), _) => s.clone(),
                (v, "json") => serde_json::to_string_pretty(v).unwrap_or_default(),
                (v, _) => v.to_string(),
            };
            Field {
                name: name.clone(),
                input,
                checked: current.as_bool().unwrap_or(false),
                value,
                choices,
                description: prop["description"].as_str().unwrap_or_default().to_owned(),
                optional: !required.contains(&name.as_str()),
                error: None,
            }
        })
        .collect()
}

/// The settings object the posted form (`s.<property>` fields) describes,
/// typed by `schema`; or the fields that could not be read, with why.
pub fn read(
    schema: Option<&Value>,
    posted: &BTreeMap<String, String>,
) -> Result<Value, BTreeMap<String, String>> {
    let mut out = Map::new();
    let mut errors = BTreeMap::new();
    let properties = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, prop) in &properties {
        let ts = types(prop);
        let raw = posted
            .get(&format!("s.{name}"))
            .map(|v| v.trim().to_owned());
        let value = if ts.contains(&"boolean") && prop["enum"].is_null() {
            Some(Value::Bool(raw.as_deref() == Some("on")))
        } else {
            match raw.as_deref() {
                None | Some("") => None,
                Some(text) if ts.contains(&"integer") => match text.parse::<i64>() {
                    Ok(n) => Some(Value::from(n)),
                    Err(_) => {
                        errors.insert(name.clone(), format!("`{text}` is not a whole number"));
                        None
                    }
                },
                Some(text) if ts.contains(&"number") => match text.parse::<f64>() {
                    Ok(n) => Some(Value::from(n)),
                    Err(_) => {
                        errors.insert(name.clone(), format!("`{text}` is not a number"));
                        None
                    }
                },
                Some(text) if ts.contains(&"string") || !prop["enum"].is_null() => {
                    Some(Value::String(text.to_owned()))
                }
                Some(text) => match serde_json::from_str(text) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        errors.insert(name.clone(), format!("not JSON: {e}"));
                        None
                    }
                },
            }
        };
        if let Some(v) = value {
            out.insert(name.clone(), v);
        }
    }
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "max-capacity": {"type": "integer", "description": "Largest session"},
            "waitlist": {"type": "boolean"},
            "max-waitlist": {"type": ["integer", "null"]},
            "tier": {"type": "string", "enum": ["gold", "silver"]},
            "stock": {"type": "object"}
        }})
    }

    #[test]
    fn fields_follow_the_schema_and_read_back_typed() {
        let settings =
            json!({"max-capacity": 50, "waitlist": true, "tier": "gold", "stock": {"tea": 3}});
        let f = fields(Some(&schema()), &settings);
        let by = |n: &str| f.iter().find(|x| x.name == n).unwrap().clone();
        assert_eq!(
            (by("max-capacity").input, by("max-capacity").value.as_str()),
            ("number", "50")
        );
        assert!(by("waitlist").checked);
        assert_eq!(by("tier").choices, vec!["gold", "silver"]);
        assert_eq!(by("stock").input, "json");
        assert_eq!(by("max-waitlist").value, "");

        let posted: BTreeMap<String, String> = [
            ("s.max-capacity", "80"),
            ("s.tier", "silver"),
            ("s.stock", r#"{"tea": 4}"#),
            ("s.max-waitlist", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            read(Some(&schema()), &posted).unwrap(),
            json!({"max-capacity": 80, "waitlist": false, "tier": "silver", "stock": {"tea": 4}})
        );
    }

    #[test]
    fn unreadable_fields_are_named() {
        let posted: BTreeMap<String, String> = [("s.max-capacity", "lots"), ("s.stock", "{")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let errors = read(Some(&schema()), &posted).unwrap_err();
        assert!(errors["max-capacity"].contains("`lots`"));
        assert!(errors["stock"].contains("not JSON"));
    }
}
