//! Bounds on every string and document the registry stores: one table of
//! maxima, and one check every entry point (HTTP API, console, CLI) reaches
//! through the registry. A value over its bound, or holding a NUL character
//! (PostgreSQL's text and jsonb cannot hold one; SQLite could, but a value
//! must mean the same on both engines), is refused with `invalid-input`
//! naming the field and the bound, before anything is written.
//!
//! Lengths of text are counted in characters (a title in Chinese has the
//! same bound as one in English); documents in bytes of their JSON.

use serde_json::Value;

use crate::RegistryError;

/// One bounded field: what it is called in errors and its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The field as callers name it.
    pub field: &'static str,
    /// Most characters (text) or bytes (JSON documents).
    pub max: usize,
}

macro_rules! bounds {
    ($($(#[$doc:meta])* $name:ident = ($field:literal, $max:expr);)*) => {
        $($(#[$doc])* pub const $name: Bound = Bound { field: $field, max: $max };)*
        /// Every bound, for the README's table and its test.
        pub const ALL: &[Bound] = &[$($name),*];
    };
}

bounds! {
    /// A tenant's display name.
    TENANT_TITLE = ("title", 200);
    /// An account's name.
    ACCOUNT_NAME = ("name", 200);
    /// A token's label.
    TOKEN_LABEL = ("label", 200);
    /// A reviewer's, director's or yanker's reason.
    REASON = ("reason", 2_000);
    /// A package's description (shown in every listing).
    DESCRIPTION = ("description", 4_000);
    /// A package's settings schema, as JSON.
    SETTINGS_SCHEMA = ("settings-schema", 64 * 1024);
    /// A whole manifest, as signed.
    MANIFEST = ("manifest", 128 * 1024);
    /// An install's settings, as JSON.
    SETTINGS = ("settings", 64 * 1024);
    /// A customer's id.
    CUSTOMER_ID = ("id", 200);
    /// A customer's name, company, email or phone.
    CUSTOMER_FIELD = ("customer field", 500);
    /// A customer's address.
    CUSTOMER_ADDRESS = ("address", 1_000);
    /// One customer tag.
    CUSTOMER_TAG = ("tags", 100);
    /// How many tags one customer has.
    CUSTOMER_TAGS = ("tags", 50);
    /// A version requirement (`^1.2`).
    REQUIREMENT = ("requirement", 200);
    /// An install's guarded functions, as JSON.
    GUARDS = ("guards", 64 * 1024);
}

impl Bound {
    /// The same bound under the name a caller used (`email` for
    /// [`CUSTOMER_FIELD`]).
    pub const fn named(self, field: &'static str) -> Bound {
        Bound { field, ..self }
    }

    /// Check `text` against this bound: at most `max` characters, no NUL.
    pub fn text(self, text: &str) -> Result<(), RegistryError> {
        no_nul(self.field, text)?;
        let chars = text.chars().count();
        if chars > self.max {
            return Err(RegistryError::invalid(
                self.field,
                format!(
                    "is {chars} characters long; at most {} are accepted",
                    self.max
                ),
            ));
        }
        Ok(())
    }

    /// An optional free text, trimmed (blank is absent), then checked.
    pub fn optional(self, text: Option<String>) -> Result<Option<String>, RegistryError> {
        let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if let Some(t) = &text {
            self.text(t)?;
        }
        Ok(text)
    }

    /// Check a JSON document: at most `max` bytes as JSON, no NUL in any
    /// key or string.
    pub fn json(self, value: &Value) -> Result<(), RegistryError> {
        if let Some(path) = nul_in(value) {
            return Err(RegistryError::invalid(
                self.field,
                format!("{path} holds a NUL character, which cannot be stored"),
            ));
        }
        let bytes = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
        if bytes > self.max {
            return Err(RegistryError::invalid(
                self.field,
                format!(
                    "is {bytes} bytes of JSON; at most {} are accepted",
                    self.max
                ),
            ));
        }
        Ok(())
    }

    /// Check a count (of tags, say) against this bound.
    pub fn count(self, n: usize) -> Result<(), RegistryError> {
        if n > self.max {
            return Err(RegistryError::invalid(
                self.field,
                format!("has {n} entries; at most {} are accepted", self.max),
            ));
        }
        Ok(())
    }
}

/// Refuse text holding a NUL character.
pub fn no_nul(field: &'static str, text: &str) -> Result<(), RegistryError> {
    match text.find('\0') {
        Some(at) => Err(RegistryError::invalid(
            field,
            format!("holds a NUL character (at byte {at}), which cannot be stored"),
        )),
        None => Ok(()),
    }
}

/// Where in `value` a NUL character is, as a JSON path (`$.a[2].b`).
pub fn nul_in(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &mut String) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(v, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(k, v)| {
                let len = path.len();
                path.push('.');
                path.push_str(&k.replace('\0', "\\u0000"));
                let found = k.contains('\0') || walk(v, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = "$".to_owned();
    walk(value, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_bounded_in_characters_and_refuses_nul() {
        TENANT_TITLE.text(&"界".repeat(200)).unwrap();
        let err = TENANT_TITLE.text(&"界".repeat(201)).unwrap_err();
        assert!(
            matches!(&err, RegistryError::Invalid { field: "title", message } if message.contains("201 characters") && message.contains("200")),
            "{err}"
        );
        let err = REASON.text("a\0b").unwrap_err();
        assert!(err.to_string().contains("NUL"), "{err}");
    }

    #[test]
    fn documents_are_bounded_in_bytes_and_nul_is_found_anywhere() {
        let doc = json!({"a": [1, {"b": "x\u{0}y"}]});
        assert_eq!(nul_in(&doc).as_deref(), Some("$.a[1].b"));
        assert_eq!(nul_in(&json!({"k\u{0}": 1})).as_deref(), Some("$.k\\u0000"));
        assert_eq!(nul_in(&json!({"a": ["fine"]})), None);
        let err = SETTINGS.json(&doc).unwrap_err();
        assert!(err.to_string().contains("$.a[1].b"), "{err}");
        let big = json!({"s": "x".repeat(SETTINGS.max)});
        let err = SETTINGS.json(&big).unwrap_err();
        assert!(err.to_string().contains("bytes of JSON"), "{err}");
    }

    #[test]
    fn the_readme_lists_every_bound() {
        let readme = include_str!("../../README.md");
        for b in ALL {
            let row = format!("| `{}`", b.field);
            let unit = if b.field.contains("schema")
                || ["settings", "manifest", "guards"].contains(&b.field)
            {
                "bytes"
            } else if *b == CUSTOMER_TAGS {
                "entries"
            } else {
                "characters"
            };
            let figure = format!("| {} {unit}", b.max);
            assert!(
                readme
                    .lines()
                    .any(|l| l.starts_with(&row) && l.contains(&figure)),
                "README has no row `{row} … {figure}`"
            );
        }
    }
}
