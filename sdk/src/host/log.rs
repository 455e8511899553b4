//! Structured log lines, attributed to the component by the host.

pub use crate::bindings::base::mercato::sales::log::Level;

#[cfg(target_arch = "wasm32")]
use crate::bindings::base::mercato::sales::log as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::log as imp;

/// Write a line with structured fields.
pub fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    imp::write(level, message, &fields);
}

/// Write a debug line.
pub fn debug(message: &str) {
    write(Level::Debug, message, &[]);
}

/// Write an info line.
pub fn info(message: &str) {
    write(Level::Info, message, &[]);
}

/// Write a warning.
pub fn warn(message: &str) {
    write(Level::Warn, message, &[]);
}

/// Write an error line.
pub fn error(message: &str) {
    write(Level::Error, message, &[]);
}
