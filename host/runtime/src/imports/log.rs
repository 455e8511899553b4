//! `log`: structured lines attributed to the component.

use crate::bindings::v0_2::mercato::sales::log::{Host, Level};
use crate::sandbox::{LogLevel, LogLine, LogSource, Sandbox};

impl Host for Sandbox {
    fn write(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.log.push(LogLine {
            level,
            source: LogSource::Log,
            message,
            fields,
        });
        Ok(())
    }
}
