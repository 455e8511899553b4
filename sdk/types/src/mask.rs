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
}
