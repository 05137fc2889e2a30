//! Diagnostics: what is wrong (or suspicious) in a directive file, and where.

use std::fmt;

use crate::model::Location;

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The element it points at (usually a whole directive) was not loaded.
    Error,
    /// Loaded, but something is ignored, adjusted or missing.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding about a directive file.
///
/// Displayed as `file:line:column: error: attribute `time_out`: message`; a location with
/// line 0 (a whole-file problem such as an unreadable file) is displayed as `file: error: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where: the attribute when there is one, else the element (or the file).
    pub location: Location,
    /// The attribute concerned, if any.
    pub attribute: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl Diagnostic {
    /// An error at `location`.
    pub fn error(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            location,
            attribute: None,
            message: message.into(),
        }
    }

    /// A warning at `location`.
    pub fn warning(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            location,
            attribute: None,
            message: message.into(),
        }
    }

    /// The same diagnostic, about attribute `name`.
    pub fn with_attribute(mut self, name: impl Into<String>) -> Self {
        self.attribute = Some(name.into());
        self
    }

    /// Whether this is an [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.line == 0 {
            write!(f, "{}: {}: ", self.location.file.display(), self.severity)?;
        } else {
            write!(f, "{}: {}: ", self.location, self.severity)?;
        }
        if let Some(attribute) = &self.attribute {
            write!(f, "attribute `{attribute}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}
