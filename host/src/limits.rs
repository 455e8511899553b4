//! The limits every invocation runs under, and the platform's caps on them.
//!
//! A manifest asks for limits; the platform caps bound what it may ask; a
//! tenant may lower them further. [`Limits::within`] joins the three.

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
}

impl Limit {
    /// The limit's name as errors and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Fuel => "fuel",
            Limit::Deadline => "deadline",
            Limit::Memory => "memory",
            Limit::Stack => "stack",
            Limit::Output => "output",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The budget of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Fuel units; wasmtime charges about one per wasm instruction.
    pub fuel: u64,
    /// Wall-clock time from instantiation to return, in milliseconds.
    pub deadline_ms: u64,
    /// Linear memory, in bytes.
    pub memory_bytes: u64,
    /// Size of the returned value, in bytes (strings and lists counted by length).
    pub output_bytes: u64,
    /// Log lines and captured stdout/stderr, in bytes; past it lines are dropped.
    pub log_bytes: u64,
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
    };

    /// Each limit lowered to at most the corresponding one in `caps`.
    pub fn within(self, caps: Limits) -> Limits {
        Limits {
            fuel: self.fuel.min(caps.fuel),
            deadline_ms: self.deadline_ms.min(caps.deadline_ms),
            memory_bytes: self.memory_bytes.min(caps.memory_bytes),
            output_bytes: self.output_bytes.min(caps.output_bytes),
            log_bytes: self.log_bytes.min(caps.log_bytes),
        }
    }

    /// The limits that exceed `caps`, each as (name, asked, cap).
    pub fn excess_over(&self, caps: &Limits) -> Vec<(&'static str, u64, u64)> {
        [
            ("fuel", self.fuel, caps.fuel),
            ("deadline-ms", self.deadline_ms, caps.deadline_ms),
            ("memory-bytes", self.memory_bytes, caps.memory_bytes),
            ("output-bytes", self.output_bytes, caps.output_bytes),
            ("log-bytes", self.log_bytes, caps.log_bytes),
        ]
        .into_iter()
        .filter(|(_, asked, cap)| asked > cap)
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
}
