//! `customers`: profiles, with contact details masked unless the component
//! holds `customers.contact`.

use mercato_types::CustomerProfile;

use crate::Permission;
use crate::bindings::v0_2::mercato::sales::customers::{Host, Profile};
use crate::fault::Fault;
use crate::sandbox::Sandbox;

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
    let p = if contact { p } else { p.masked() };
    Profile {
        id: p.id,
        name: p.name,
        company: p.company,
        email: p.email,
        phone: p.phone,
        address: p.address,
        contact_masked: !contact,
        tags: p.tags,
    }
}
