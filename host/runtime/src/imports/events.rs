//! `events`: analytics events, stored at commit unless the director switched
//! tracking off for this component (then they are dropped without telling it).

use serde_json::{Map, Value};

use mercato_types::EventRecord;

use crate::Permission;
use crate::bindings::v0_2::mercato::sales::events::{Event, Host, PropertyValue};
use crate::sandbox::Sandbox;

impl Host for Sandbox {
    fn emit(&mut self, event: Event) -> wasmtime::Result<()> {
        self.require(Permission::Events, "events.emit")?;
        crate::fault::storable(
            "an event's name or customer",
            [event.name.as_str()]
                .into_iter()
                .chain(event.customer.as_deref()),
        )?;
        let size = event.name.len()
            + event.customer.as_ref().map_or(0, String::len)
            + event
                .properties
                .iter()
                .map(|p| {
                    p.key.len()
                        + match &p.value {
                            PropertyValue::Text(s) => s.len(),
                            _ => 8,
                        }
                })
                .sum::<usize>();
        if !self.call.track_events {
            return Ok(self.tx.event(size as u64, None)?);
        }
        let properties: Map<String, Value> = event
            .properties
            .into_iter()
            .map(|p| {
                let value = match p.value {
                    PropertyValue::Text(s) => Value::from(s),
                    PropertyValue::Number(n) => Value::from(n),
                    PropertyValue::Integer(i) => Value::from(i),
                    PropertyValue::Flag(b) => Value::from(b),
                };
                (p.key, value)
            })
            .collect();
        let record = EventRecord {
            name: event.name,
            customer: event.customer,
            properties: Value::Object(properties),
            occurred_at: self.now_ms,
            version: self.call.version.as_deref().map(str::to_owned),
        };
        Ok(self.tx.event(size as u64, Some(record))?)
    }
}
