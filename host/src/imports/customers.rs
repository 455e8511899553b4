//! `customers`: profiles, with contact details masked unless the component
//! holds `customers.contact`.

use mercato_registry::CustomerProfile;

use crate::Permission;
use crate::bindings::mercato::sales::customers::{Host, Profile};
use crate::sandbox::{Fault, Sandbox};

impl Host for Sandbox {
    fn get(&mut self, id: String) -> wasmtime::Result<Option<Profile>> {
        self.require(Permission::Customers, "customers.get")?;
        let profile = self
            .customers
            .profile(&self.call.scope.tenant, &id)
            .map_err(Fault::from)?;
        let contact = self.call.grants.allows(Permission::CustomersContact);
        Ok(profile.map(|p| present(p, contact)))
    }
}

fn present(p: CustomerProfile, contact: bool) -> Profile {
    let (email, phone, address) = if contact {
        (p.email, p.phone, p.address)
    } else {
        (
            p.email.as_deref().map(mask::email),
            p.phone.as_deref().map(mask::phone),
            p.address.as_deref().map(mask::address),
        )
    };
    Profile {
        id: p.id,
        name: p.name,
        company: p.company,
        email,
        phone,
        address,
        contact_masked: !contact,
        tags: p.tags,
    }
}

/// How contact details look to a component without `customers.contact`:
/// enough to recognise a record, not enough to reach the person.
pub mod mask {
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
            assert_eq!(super::phone("13812345678"), "138****5678");
            assert_eq!(super::phone("+8613812345678"), "+86****5678");
            assert_eq!(super::phone("5551234"), "****34");
            assert_eq!(super::phone(""), "*");
            assert_eq!(super::email("alice@example.com"), "a***@example.com");
            assert_eq!(super::email("nonsense"), "***");
            assert_eq!(super::address("1 Main St, Springfield"), "***");
        }
    }
}
