//! WIT values as JSON, both ways, faithful to the types:
//!
//! | WIT | JSON |
//! |---|---|
//! | bool, integers, floats | boolean, number (range-checked) |
//! | char, string | string |
//! | list, tuple | array (`list<u8>` too) |
//! | record | object keyed by the WIT field names (`session-id`; `session_id` is accepted) |
//! | enum | string |
//! | variant | `"case"` without a payload, `{"case": payload}` with one |
//! | option | `null` or the value |
//! | result | `{"ok": value}` or `{"err": value}` (`null` for no payload) |
//! | flags | array of flag names |
//!
//! Errors name the path of the offending value (`draft.capacity`).

use serde_json::{Map, Number, Value};
use wasmtime::component::{Type, Val};

/// Convert JSON to a value of type `ty`; `path` names it in errors.
pub fn from_json(ty: &Type, json: &Value, path: &str) -> Result<Val, String> {
    let mismatch = |expected: &str| {
        Err(format!(
            "`{path}` must be {expected}, found {}",
            describe(json)
        ))
    };
    macro_rules! int {
        ($variant:ident, $t:ty) => {
            match json
                .as_i64()
                .and_then(|n| <$t>::try_from(n).ok())
                .or_else(|| json.as_u64().and_then(|n| <$t>::try_from(n).ok()))
            {
                Some(n) => Ok(Val::$variant(n)),
                None => mismatch(concat!("an integer that fits ", stringify!($t))),
            }
        };
    }
    match ty {
        Type::Bool => json
            .as_bool()
            .map(Val::Bool)
            .map_or_else(|| mismatch("true or false"), Ok),
        Type::S8 => int!(S8, i8),
        Type::U8 => int!(U8, u8),
        Type::S16 => int!(S16, i16),
        Type::U16 => int!(U16, u16),
        Type::S32 => int!(S32, i32),
        Type::U32 => int!(U32, u32),
        Type::S64 => int!(S64, i64),
        Type::U64 => int!(U64, u64),
        Type::Float32 => json
            .as_f64()
            .map(|f| Val::Float32(f as f32))
            .map_or_else(|| mismatch("a number"), Ok),
        Type::Float64 => json
            .as_f64()
            .map(Val::Float64)
            .map_or_else(|| mismatch("a number"), Ok),
        Type::Char => {
            let mut chars = json.as_str().map(|s| s.chars());
            match chars.as_mut().map(|c| (c.next(), c.next())) {
                Some((Some(c), None)) => Ok(Val::Char(c)),
                _ => mismatch("a one-character string"),
            }
        }
        Type::String => json
            .as_str()
            .map(|s| Val::String(s.to_owned()))
            .map_or_else(|| mismatch("a string"), Ok),
        Type::List(list) => {
            let Some(items) = json.as_array() else {
                return mismatch("an array");
            };
            let item = list.ty();
            items
                .iter()
                .enumerate()
                .map(|(i, v)| from_json(&item, v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()
                .map(Val::List)
        }
        Type::Tuple(tuple) => {
            let Some(items) = json.as_array() else {
                return mismatch("an array");
            };
            if items.len() != tuple.types().len() {
                return mismatch(&format!("an array of {} items", tuple.types().len()));
            }
            tuple
                .types()
                .zip(items)
                .enumerate()
                .map(|(i, (t, v))| from_json(&t, v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()
                .map(Val::Tuple)
        }
        Type::Record(record) => {
            let Some(object) = json.as_object() else {
                return mismatch("an object");
            };
            let names: Vec<&str> = record.fields().map(|f| f.name).collect();
            let fields = record
                .fields()
                .map(|f| {
                    let value = lookup(object, f.name);
                    let field_path = format!("{path}.{}", f.name);
                    let value = match (value, &f.ty) {
                        (Some(v), t) => from_json(t, v, &field_path)?,
                        (None, Type::Option(_)) => Val::Option(None),
                        (None, _) => return Err(format!("`{field_path}` is missing")),
                    };
                    Ok((f.name.to_owned(), value))
                })
                .collect::<Result<Vec<_>, String>>()?;
            refuse_unknown(object, &names, path)?;
            Ok(Val::Record(fields))
        }
        Type::Enum(e) => match json.as_str() {
            Some(s) if e.names().any(|n| n == s) => Ok(Val::Enum(s.to_owned())),
            _ => mismatch(&format!(
                "one of {}",
                e.names()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
        Type::Variant(variant) => {
            let cases: Vec<_> = variant.cases().map(|c| (c.name.to_owned(), c.ty)).collect();
            let expected = || {
                format!(
                    "one of {}",
                    cases
                        .iter()
                        .map(|(n, t)| match t {
                            None => format!("\"{n}\""),
                            Some(_) => format!("{{\"{n}\": ...}}"),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let (name, payload) = match json {
                Value::String(s) => (s.as_str(), None),
                Value::Object(o) if o.len() == 1 => {
                    let (k, v) = o.iter().next().expect("one entry");
                    (k.as_str(), Some(v))
                }
                _ => return mismatch(&expected()),
            };
            let Some((name, ty)) = cases.iter().find(|(n, _)| n == name) else {
                return mismatch(&expected());
            };
            let payload = match (ty, payload) {
                (None, None) | (None, Some(Value::Null)) => None,
                (Some(t), Some(v)) => Some(Box::new(from_json(t, v, &format!("{path}.{name}"))?)),
                (Some(_), None) => return Err(format!("`{path}` case `{name}` needs a payload")),
                (None, Some(_)) => return Err(format!("`{path}` case `{name}` takes no payload")),
            };
            Ok(Val::Variant(name.clone(), payload))
        }
        Type::Option(option) => match json {
            Value::Null => Ok(Val::Option(None)),
            v => Ok(Val::Option(Some(Box::new(from_json(
                &option.ty(),
                v,
                path,
            )?)))),
        },
        Type::Result(result) => {
            let Some(object) = json.as_object().filter(|o| o.len() == 1) else {
                return mismatch("{\"ok\": ...} or {\"err\": ...}");
            };
            let (key, value) = object.iter().next().expect("one entry");
            let side = |t: Option<Type>, name: &str| -> Result<Option<Box<Val>>, String> {
                match t {
                    None => Ok(None),
                    Some(t) => Ok(Some(Box::new(from_json(
                        &t,
                        value,
                        &format!("{path}.{name}"),
                    )?))),
                }
            };
            match key.as_str() {
                "ok" => Ok(Val::Result(Ok(side(result.ok(), "ok")?))),
                "err" => Ok(Val::Result(Err(side(result.err(), "err")?))),
                _ => mismatch("{\"ok\": ...} or {\"err\": ...}"),
            }
        }
        Type::Flags(flags) => {
            let Some(items) = json.as_array() else {
                return mismatch("an array of flag names");
            };
            let known: Vec<&str> = flags.names().collect();
            items
                .iter()
                .map(|v| match v.as_str() {
                    Some(s) if known.contains(&s) => Ok(s.to_owned()),
                    _ => Err(format!("`{path}` holds an unknown flag {v}")),
                })
                .collect::<Result<_, _>>()
                .map(Val::Flags)
        }
        _ => Err(format!("`{path}` has a type that cannot be passed as JSON")),
    }
}

/// A field by its WIT name, or by that name in snake_case.
fn lookup<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .get(name)
        .or_else(|| object.get(&name.replace('-', "_")))
}

fn refuse_unknown(object: &Map<String, Value>, names: &[&str], path: &str) -> Result<(), String> {
    match object.keys().find(|k| {
        !names
            .iter()
            .any(|n| *n == k.as_str() || n.replace('-', "_") == **k)
    }) {
        Some(k) => Err(format!(
            "`{path}` has an unknown field `{k}` (expected: {})",
            names.join(", ")
        )),
        None => Ok(()),
    }
}

fn describe(json: &Value) -> String {
    match json {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Convert the parameters of a function, given as one JSON object keyed by
/// parameter name.
pub fn params_from_json(params: &[(String, Type)], json: &Value) -> Result<Vec<Val>, String> {
    let empty = Map::new();
    let object = match json {
        Value::Object(o) => o,
        Value::Null => &empty,
        other => {
            return Err(format!(
                "arguments must be a JSON object keyed by parameter name, found {}",
                describe(other)
            ));
        }
    };
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    refuse_unknown(object, &names, "arguments")?;
    params
        .iter()
        .map(|(name, ty)| match (lookup(object, name), ty) {
            (Some(v), t) => from_json(t, v, name),
            (None, Type::Option(_)) => Ok(Val::Option(None)),
            (None, _) => Err(format!("`{name}` is missing")),
        })
        .collect()
}

/// A value as JSON.
pub fn to_json(val: &Val) -> Value {
    match val {
        Val::Bool(b) => Value::Bool(*b),
        Val::S8(n) => Value::from(*n),
        Val::U8(n) => Value::from(*n),
        Val::S16(n) => Value::from(*n),
        Val::U16(n) => Value::from(*n),
        Val::S32(n) => Value::from(*n),
        Val::U32(n) => Value::from(*n),
        Val::S64(n) => Value::from(*n),
        Val::U64(n) => Value::from(*n),
        Val::Float32(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        Val::Float64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Val::Char(c) => Value::String(c.to_string()),
        Val::String(s) => Value::String(s.clone()),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        Val::Map(pairs) => Value::Array(
            pairs
                .iter()
                .map(|(k, v)| Value::Array(vec![to_json(k), to_json(v)]))
                .collect(),
        ),
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, v)| (name.clone(), to_json(v)))
                .collect(),
        ),
        Val::Enum(name) => Value::String(name.clone()),
        Val::Variant(name, None) => Value::String(name.clone()),
        Val::Variant(name, Some(payload)) => {
            Value::Object(Map::from_iter([(name.clone(), to_json(payload))]))
        }
        Val::Option(None) => Value::Null,
        Val::Option(Some(v)) => to_json(v),
        Val::Result(r) => {
            let (key, v) = match r {
                Ok(v) => ("ok", v),
                Err(v) => ("err", v),
            };
            Value::Object(Map::from_iter([(
                key.to_owned(),
                v.as_deref().map_or(Value::Null, to_json),
            )]))
        }
        Val::Flags(names) => Value::Array(names.iter().cloned().map(Value::String).collect()),
        Val::Resource(_) | Val::Future(_) | Val::Stream(_) | Val::ErrorContext(_) => Value::Null,
    }
}

/// Approximate bytes of a value: string and list lengths plus 8 per scalar.
/// Used for the output cap, so it errs on the large side.
pub fn size_of(val: &Val) -> usize {
    match val {
        Val::String(s) => s.len() + 8,
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            8 + items.iter().map(size_of).sum::<usize>()
        }
        Val::Map(pairs) => {
            8 + pairs
                .iter()
                .map(|(k, v)| size_of(k) + size_of(v))
                .sum::<usize>()
        }
        Val::Record(fields) => fields.iter().map(|(n, v)| n.len() + size_of(v)).sum(),
        Val::Variant(n, v) => n.len() + v.as_deref().map_or(0, size_of),
        Val::Enum(n) => n.len(),
        Val::Option(v) => 8 + v.as_deref().map_or(0, size_of),
        Val::Result(Ok(v) | Err(v)) => 8 + v.as_deref().map_or(0, size_of),
        Val::Flags(names) => names.iter().map(String::len).sum(),
        _ => 8,
    }
}
