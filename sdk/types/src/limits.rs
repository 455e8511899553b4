//! The limits every invocation runs under, and the platform's caps on them.
//!
//! The budget fields are declared once, in the `budget!` list below; the
//! budget a manifest asks for ([`RequestedLimits`]), the budget a call runs
//! with ([`Limits`]), their names in manifests and messages and every
//! comparison between them come from that list. A manifest asks for limits;
//! the platform caps bound what it may ask; a tenant may lower them further.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which limit an invocation ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// Ran out of fuel (roughly, executed wasm instructions).
    Fuel,
    /// Ran past its wall-clock deadline.
    Deadline,
    /// Tried to grow linear memory past its cap.
    Memory,
    /// Recursed past the wasm stack bound.
    Stack,
    /// Returned a result larger than the output cap.
    Output,
    /// Staged too many store writes, or too many bytes of them.
    Writes,
    /// Emitted too many events, or too many bytes of them.
    Events,
    /// Filed too many approval requests, or too many bytes of them.
    Approvals,
    /// Would grow its store (the tenant's scope) past its quota.
    Store,
}

impl Limit {
    /// Every limit an invocation can hit.
    pub const ALL: [Limit; 9] = [
        Limit::Fuel,
        Limit::Deadline,
        Limit::Memory,
        Limit::Stack,
        Limit::Output,
        Limit::Writes,
        Limit::Events,
        Limit::Approvals,
        Limit::Store,
    ];

    /// The limit's name as errors and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Fuel => "fuel",
            Limit::Deadline => "deadline",
            Limit::Memory => "memory",
            Limit::Stack => "stack",
            Limit::Output => "output",
            Limit::Writes => "writes",
            Limit::Events => "events",
            Limit::Approvals => "approvals",
            Limit::Store => "store",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares the budget's fields once: `field, "manifest-name", doc`.
macro_rules! budget {
    ($($field:ident, $name:literal, $doc:literal;)+) => {
        /// The budget of one invocation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct Limits {
            $(#[doc = $doc] pub $field: u64,)+
        }

        /// Limits a manifest asks for; absent ones take the platform defaults.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct RequestedLimits {
            $(#[doc = $doc] #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<u64>,)+
        }

        impl Limits {
            /// Each budget field as (manifest name, value), in a stable order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$(($name, self.$field),)+]
            }

            /// Combine two budgets field by field.
            fn zip(self, other: Limits, f: impl Fn(u64, u64) -> u64) -> Limits {
                Limits { $($field: f(self.$field, other.$field),)+ }
            }
        }

        impl RequestedLimits {
            /// Each budget field as (manifest name, asked), in a stable order.
            pub fn fields(&self) -> Vec<(&'static str, Option<u64>)> {
                vec![$(($name, self.$field),)+]
            }

            /// The budget a call runs with: what was asked, the platform
            /// defaults for the rest, capped by the platform.
            pub fn resolve(&self) -> Limits {
                self.or(Limits::default()).within(Limits::PLATFORM_CAPS)
            }

            /// The budget asked for, `defaults` where nothing was asked.
            pub fn or(&self, defaults: Limits) -> Limits {
                Limits { $($field: self.$field.unwrap_or(defaults.$field),)+ }
            }
        }
    };
}

budget! {
    fuel, "fuel", "Fuel units; wasmtime charges about one per wasm instruction.";
    deadline_ms, "deadline-ms", "Wall-clock time from instantiation to return, in milliseconds.";
    memory_bytes, "memory-bytes", "Linear memory, in bytes.";
    output_bytes, "output-bytes", "Size of the returned value, in bytes (strings and lists counted by length).";
    log_bytes, "log-bytes", "Log lines and captured stdout/stderr, in bytes (each line counts 64 bytes more than its text, so the count of lines is bounded too); past it lines are dropped.";
    writes, "writes", "Store keys one invocation sets or deletes.";
    write_bytes, "write-bytes", "Bytes of keys and values one invocation writes to its store.";
    events, "events", "Events one invocation emits.";
    event_bytes, "event-bytes", "Bytes of events (names, customers, properties) one invocation emits.";
    approvals, "approvals", "Approval requests one invocation files.";
    approval_bytes, "approval-bytes", "Bytes of approval requests (subject, summary, details) one invocation files.";
    store_keys, "store-keys", "Keys the component may hold in one tenant's store.";
    store_bytes, "store-bytes", "Bytes of keys and values the component may hold in one tenant's store.";
}

impl Default for Limits {
    /// What a component gets when its manifest asks for nothing in particular:
    /// ample for a sales workflow call (a `book` call uses ~0.1% of this fuel),
    /// small enough that a runaway call is stopped in well under a second.
    fn default() -> Self {
        Limits {
            fuel: 200_000_000,
            deadline_ms: 1_000,
            memory_bytes: 64 << 20,
            output_bytes: 1 << 20,
            log_bytes: 64 << 10,
            writes: 1_000,
            write_bytes: 4 << 20,
            events: 100,
            event_bytes: 256 << 10,
            approvals: 10,
            approval_bytes: 64 << 10,
            store_keys: 100_000,
            store_bytes: 64 << 20,
        }
    }
}

impl Limits {
    /// The most any manifest may ask for on this platform.
    pub const PLATFORM_CAPS: Limits = Limits {
        // ~1-3 s of CPU on this hardware: longer calls belong in a job queue.
        fuel: 5_000_000_000,
        deadline_ms: 10_000,
        // Must not exceed the engine's pooling `max_memory_size`.
        memory_bytes: 256 << 20,
        output_bytes: 8 << 20,
        log_bytes: 1 << 20,
        // Every per-invocation buffer is held in host memory until the
        // commit, and its commit holds the scope's writer: together they stay
        // well under the smallest sensible memory limit of a busy call.
        writes: 10_000,
        write_bytes: 16 << 20,
        events: 1_000,
        event_bytes: 4 << 20,
        approvals: 100,
        approval_bytes: 1 << 20,
        // A sales component's data for one company: a million keys or 1 GiB
        // is far beyond any first-party component's need.
        store_keys: 1_000_000,
        store_bytes: 1 << 30,
    };

    /// The lowest value a manifest or tenant may set for each budget field:
    /// under them even `describe` cannot run (or a store is unusable).
    pub const FLOORS: Limits = Limits {
        fuel: 1_000_000,
        deadline_ms: 10,
        memory_bytes: 2 << 20,
        output_bytes: 4 << 10,
        log_bytes: 0,
        writes: 0,
        write_bytes: 0,
        events: 0,
        event_bytes: 0,
        approvals: 0,
        approval_bytes: 0,
        store_keys: 0,
        store_bytes: 0,
    };

    /// Each limit lowered to at most the corresponding one in `caps`.
    pub fn within(self, caps: Limits) -> Limits {
        self.zip(caps, u64::min)
    }

    /// The limits that exceed `caps`, each as (name, asked, cap).
    pub fn excess_over(&self, caps: &Limits) -> Vec<(&'static str, u64, u64)> {
        self.fields()
            .into_iter()
            .zip(caps.fields())
            .filter(|((_, asked), (_, cap))| asked > cap)
            .map(|((name, asked), (_, cap))| (name, asked, cap))
            .collect()
    }

    /// Each limit raised to at least the corresponding one in `floors`.
    pub fn at_least(self, floors: Limits) -> Limits {
        self.zip(floors, u64::max)
    }

    /// The limits below `floors`, each as (name, asked, floor).
    pub fn short_of(&self, floors: &Limits) -> Vec<(&'static str, u64, u64)> {
        self.fields()
            .into_iter()
            .zip(floors.fields())
            .filter(|((_, asked), (_, floor))| asked < floor)
            .map(|((name, asked), (_, floor))| (name, asked, floor))
            .collect()
    }

    /// The deadline as a duration.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_lowers_only_what_exceeds() {
        let asked = Limits {
            fuel: u64::MAX,
            deadline_ms: 5,
            ..Limits::default()
        };
        let capped = asked.within(Limits::PLATFORM_CAPS);
        assert_eq!(capped.fuel, Limits::PLATFORM_CAPS.fuel);
        assert_eq!(capped.deadline_ms, 5);
        assert_eq!(
            asked.excess_over(&Limits::PLATFORM_CAPS),
            vec![("fuel", u64::MAX, Limits::PLATFORM_CAPS.fuel)]
        );
        assert!(
            Limits::default()
                .excess_over(&Limits::PLATFORM_CAPS)
                .is_empty()
        );
    }

    #[test]
    fn requested_limits_fill_from_defaults_and_name_fields_as_manifests_do() {
        let asked: RequestedLimits = serde_json::from_str(r#"{"memory-bytes": 1048576}"#).unwrap();
        let limits = asked.or(Limits::default());
        assert_eq!(limits.memory_bytes, 1 << 20);
        assert_eq!(limits.fuel, Limits::default().fuel);
        assert_eq!(
            asked.fields().into_iter().find(|(_, v)| v.is_some()),
            Some(("memory-bytes", Some(1 << 20)))
        );
        assert!(serde_json::from_str::<RequestedLimits>(r#"{"cpu": 1}"#).is_err());
        assert_eq!(
            serde_json::to_string(&asked).unwrap(),
            r#"{"memory-bytes":1048576}"#
        );
    }
}
