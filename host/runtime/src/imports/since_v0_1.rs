//! Components built against `mercato:sales@0.1.0`: each 0.1 host interface
//! delegates to the one implementation (on 0.2's types), converting the
//! records on the way. 0.1 lacks `approvals.withdraw`; nothing else changed.

use crate::bindings::v0_1::mercato::sales as old;
use crate::bindings::v0_2::mercato::sales as new;
use crate::sandbox::Sandbox;

impl old::types::Host for Sandbox {}

impl old::store::Host for Sandbox {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        new::store::Host::get(self, key)
    }
    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<()> {
        new::store::Host::set(self, key, value)
    }
    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        new::store::Host::delete(self, key)
    }
    fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Vec<String>> {
        new::store::Host::list_keys(self, prefix)
    }
}

impl old::events::Host for Sandbox {
    fn emit(&mut self, event: old::events::Event) -> wasmtime::Result<()> {
        use new::events::{Property, PropertyValue};
        let properties = event
            .properties
            .into_iter()
            .map(|p| Property {
                key: p.key,
                value: match p.value {
                    old::events::PropertyValue::Text(t) => PropertyValue::Text(t),
                    old::events::PropertyValue::Number(n) => PropertyValue::Number(n),
                    old::events::PropertyValue::Integer(i) => PropertyValue::Integer(i),
                    old::events::PropertyValue::Flag(f) => PropertyValue::Flag(f),
                },
            })
            .collect();
        new::events::Host::emit(
            self,
            new::events::Event {
                name: event.name,
                customer: event.customer,
                properties,
            },
        )
    }
}

impl old::approvals::Host for Sandbox {
    fn request(&mut self, request: old::approvals::ApprovalRequest) -> wasmtime::Result<String> {
        new::approvals::Host::request(
            self,
            new::approvals::ApprovalRequest {
                subject: request.subject,
                summary: request.summary,
                details: request.details,
                customer: None,
            },
        )
    }
}

impl old::customers::Host for Sandbox {
    fn get(&mut self, id: String) -> wasmtime::Result<Option<old::customers::Profile>> {
        Ok(
            new::customers::Host::get(self, id)?.map(|p| old::customers::Profile {
                id: p.id,
                name: p.name,
                company: p.company,
                email: p.email,
                phone: p.phone,
                address: p.address,
                contact_masked: p.contact_masked,
                tags: p.tags,
            }),
        )
    }
}

impl old::log::Host for Sandbox {
    fn write(
        &mut self,
        level: old::log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        use new::log::Level;
        let level = match level {
            old::log::Level::Trace => Level::Trace,
            old::log::Level::Debug => Level::Debug,
            old::log::Level::Info => Level::Info,
            old::log::Level::Warn => Level::Warn,
            old::log::Level::Error => Level::Error,
        };
        new::log::Host::write(self, level, message, fields)
    }
}

impl old::clock::Host for Sandbox {
    fn now(&mut self) -> wasmtime::Result<u64> {
        new::clock::Host::now(self)
    }
}

impl old::settings::Host for Sandbox {
    fn get(&mut self) -> wasmtime::Result<String> {
        new::settings::Host::get(self)
    }
}
