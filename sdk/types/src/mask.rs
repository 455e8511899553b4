//! How contact details look to a component without `customers.contact`:
//! enough to recognise a record, not enough to reach the person. The host
//! and the SDK's test host both mask through these functions.

/// `13812345678` → `138****5678`: keep the first 3 and last 4 digits of a
/// long number, the last 2 of a short one.
pub fn phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let (head, tail) = if chars.len() >= 11 {
        (3, 4)
    } else {
        (0, 2.min(chars.len()))
    };
    let hidden = chars.len().saturating_sub(head + tail).clamp(1, 4);
    let mut out: String = chars[..head.min(chars.len())].iter().collect();
    out.push_str(&"*".repeat(hidden));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// `alice@example.com` → `a***@example.com`.
pub fn email(email: &str) -> String {
    match email.split_once('@') {
        Some((user, domain)) => {
            let first: String = user.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// Addresses are hidden whole: any part of one narrows a person down.
pub fn address(_address: &str) -> String {
    "***".to_owned()
}

/// Object keys whose string values are contact details, by what they hold.
fn contact_key(key: &str) -> Option<fn(&str) -> String> {
    let key: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| key.contains(w));
    if has(&["email", "mail"]) {
        Some(email)
    } else if has(&["phone", "mobile", "tel", "fax", "wechat", "whatsapp"]) {
        Some(phone)
    } else if has(&["address", "street", "postal", "zip"]) {
        Some(address)
    } else {
        None
    }
}

/// A JSON value with every contact detail masked, for anything the host
/// keeps of a call (recordings): strings under contact-like keys
/// (`email`, `phone`, `address`, …) by their kind, and e-mail addresses and
/// phone numbers (7 digits or more) found inside any other string.
pub fn json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(in_text(text)),
        Value::Array(items) => Value::Array(items.iter().map(json).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let masked = match (contact_key(k), v) {
                        (Some(mask), Value::String(text)) => Value::String(mask(text)),
                        (Some(mask), Value::Number(n)) => Value::String(mask(&n.to_string())),
                        _ => json(v),
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `text` with the e-mail addresses and phone numbers in it masked.
pub fn in_text(text: &str) -> String {
    if !text.contains('@') && text.chars().filter(char::is_ascii_digit).count() < 7 {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some((len, masked)) = email_at(rest).or_else(|| phone_at(rest)) {
            out.push_str(&masked);
            rest = &rest[len..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
            // A match starts only at a word's start, so `abc123…` is one word.
            if c.is_alphanumeric() {
                let word = rest
                    .find(|c: char| !(c.is_alphanumeric() || "._%+-".contains(c)))
                    .unwrap_or(rest.len());
                if !rest[..word].contains('@') {
                    out.push_str(&rest[..word]);
                    rest = &rest[word..];
                }
            }
        }
    }
    out
}

/// An e-mail address at the start of `text`: its length and masked form.
fn email_at(text: &str) -> Option<(usize, String)> {
    let local = text
        .find(|c: char| !(c.is_alphanumeric() || "._%+-".contains(c)))
        .unwrap_or(text.len());
    if local == 0 || !text[local..].starts_with('@') {
        return None;
    }
    let after = &text[local + 1..];
    let domain = after
        .find(|c: char| !(c.is_alphanumeric() || ".-".contains(c)))
        .unwrap_or(after.len());
    let host = after[..domain].trim_end_matches('.');
    if !host.contains('.') {
        return None;
    }
    let len = local + 1 + host.len();
    Some((len, email(&text[..len])))
}

/// A phone number at the start of `text` (an optional `+`, then digits with
/// spaces, dashes, dots or parentheses between, 7 digits or more).
fn phone_at(text: &str) -> Option<(usize, String)> {
    let mut digits = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if c.is_ascii_digit() {
            digits += 1;
            end = i + 1;
        } else if (i == 0 && "+(".contains(c)) || (digits > 0 && " -.()".contains(c)) {
            continue;
        } else {
            break;
        }
    }
    let found = &text[..end];
    let b = found.as_bytes();
    // A date (`2026-12-05`) is not a phone number.
    let date = b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[..4]
            .iter()
            .chain(&b[5..7])
            .chain(&b[8..10])
            .all(u8::is_ascii_digit);
    if digits < 7 || date {
        return None;
    }
    Some((end, phone(found)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn contact_details_are_masked() {
        assert_eq!(crate::mask::phone("13812345678"), "138****5678");
        assert_eq!(crate::mask::phone("+8613812345678"), "+86****5678");
        assert_eq!(crate::mask::phone("5551234"), "****34");
        assert_eq!(crate::mask::phone(""), "*");
        assert_eq!(crate::mask::email("alice@example.com"), "a***@example.com");
        assert_eq!(crate::mask::email("nonsense"), "***");
        assert_eq!(crate::mask::address("1 Main St, Springfield"), "***");
    }

    #[test]
    fn contact_details_inside_json_are_masked() {
        let call = serde_json::json!({
            "customer": "c-17",
            "contact": {"email": "li.wei@example.cn", "mobile": "13812345678", "home-address": "1 Road"},
            "note": "call 138-1234-5678 or write to li.wei@example.cn, room 12",
            "list": ["+86 138 1234 5678", 42, "plain"],
        });
        let masked = crate::mask::json(&call);
        let text = masked.to_string();
        for secret in ["li.wei@", "12345678", "1234-5678", "1234 5678", "1 Road"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(masked["customer"], "c-17");
        assert_eq!(masked["contact"]["email"], "l***@example.cn");
        assert_eq!(masked["contact"]["mobile"], "138****5678");
        assert!(text.contains("room 12"), "{text}");
        assert_eq!(masked["list"][1], 42);
        assert_eq!(
            crate::mask::in_text("order 2024 of sku-991"),
            "order 2024 of sku-991"
        );
        assert_eq!(crate::mask::in_text("s-1"), "s-1");
        assert_eq!(crate::mask::in_text("on 2026-12-05"), "on 2026-12-05");
        assert_eq!(
            crate::mask::json(&serde_json::json!({"phone": 13812345678_u64}))["phone"],
            "138****5678"
        );
    }
}
