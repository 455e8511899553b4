//! The error every component function returns, and a collector for
//! field-by-field input validation.

pub use crate::bindings::base::mercato::sales::types::{Error, FieldError};

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput(vec![FieldError::new(field, message)])
    }

    /// The addressed thing does not exist: `Error::not_found("session", id)`.
    pub fn not_found(what: &str, id: &str) -> Self {
        Error::NotFound(format!("{what} `{id}` does not exist"))
    }

    /// A short code for the variant, as the HTTP API reports it.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput(_) => "invalid-input",
            Error::NotFound(_) => "not-found",
            Error::Conflict(_) => "conflict",
            Error::Refused(_) => "refused",
            Error::NotConfigured(_) => "not-configured",
            Error::Internal(_) => "internal",
        }
    }
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects every problem with an input before answering, so a caller can fix
/// them all at once.
///
/// ```
/// use mercato_sdk::Validation;
/// let capacity = 0;
/// let mut check = Validation::new();
/// check.require(capacity >= 1, "capacity", "must be at least 1");
/// assert!(check.finish().is_err());
/// ```
#[derive(Debug, Default)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a problem with `field` unless `ok` holds.
    pub fn require(&mut self, ok: bool, field: &str, message: &str) -> &mut Self {
        if !ok {
            self.errors.push(FieldError::new(field, message));
        }
        self
    }

    /// Record a problem unconditionally.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) -> &mut Self {
        self.errors.push(FieldError::new(field, message));
        self
    }

    /// Record that a text field must not be blank.
    pub fn not_blank(&mut self, value: &str, field: &str) -> &mut Self {
        self.require(!value.trim().is_empty(), field, "must not be empty")
    }

    /// The problems found so far.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// `Ok` when nothing was recorded, else every problem as one
    /// [`Error::InvalidInput`].
    pub fn finish(&mut self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidInput(std::mem::take(&mut self.errors)))
        }
    }

    /// The problems as a list, for `validate_settings`.
    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }
}
