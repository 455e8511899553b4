//! `events`: analytics events, stored at commit unless the director switched
//! tracking off for this component (then they are dropped without telling it).

use serde_json::{Map, Value};

use mercato_types::EventRecord;

use crate::Permission;
use crate::bindings::mercato::sales::events::{Event, Host, PropertyValue};
use crate::fault::Fault;
use crate::sandbox::{MAX_EVENTS, Sandbox};

impl Host for Sandbox {
    fn emit(&mut self, event: Event) -> wasmtime::Result<()> {
        self.require(Permission::Events, "events.emit")?;
        if self.tx.events.len() >= MAX_EVENTS {
            return Err(Fault::Quota(format!(
                "one invocation may emit at most {MAX_EVENTS} events"
            ))
            .into());
        }
        if !self.call.track_events {
            return Ok(());
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
        self.tx.events.push(EventRecord {
            name: event.name,
            customer: event.customer,
            properties: Value::Object(properties),
            occurred_at: self.now_ms,
        });
        Ok(())
    }
}
