//! Which WIT packages the platform speaks.

/// The WIT packages the host runs components for, newest first.
pub const SUPPORTED_WIT: &[&str] = &["mercato:sales@0.1.0"];

/// The WIT package new components are built against.
pub const WIT_PACKAGE: &str = SUPPORTED_WIT[0];
