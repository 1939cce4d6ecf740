//! Typed errors. [`ValueError`] describes a bad annotation/policy value (it
//! never names the key: callers add that context); [`Error`] is everything the
//! binary can report, each rendered as one line: [`Error`]'s `Display`
//! escapes control characters in everything it embeds ([`Esc`]).

use std::path::PathBuf;

use crate::text::Esc;

/// A value that does not parse or is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("empty value")]
    Empty,
    #[error("invalid quantity {input:?} (expected e.g. 512Mi, 1G, 1.5Gi or max)")]
    Quantity { input: String },
    #[error("{input:?} is ambiguous: use {binary} (binary, 1024-based) or {decimal} (decimal)")]
    Ambiguous {
        input: String,
        binary: String,
        decimal: String,
    },
    #[error("{input:?} is too large")]
    Overflow { input: String },
    #[error("invalid {what} {input:?} ({hint})")]
    Syntax {
        what: &'static str,
        input: String,
        hint: &'static str,
    },
    #[error("{what} {value} out of range {min}..{max}")]
    Range {
        what: &'static str,
        value: String,
        min: String,
        max: String,
    },
    #[error("{0}")]
    Other(String),
}

/// Everything that can go wrong in the binary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", Esc(.0))]
    Usage(String),
    #[error("invalid container state on stdin: {}", Esc(.0))]
    State(String),
    #[error("{}: {}", Esc(.path.display()), Esc(.source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("policy {}: {}", Esc(.path.display()), Esc(.msg))]
    Policy { path: PathBuf, msg: String },
    #[error("{}", Esc(.0))]
    Cgroup(String),
    /// A rejected annotation or class value, already fully described.
    #[error("{}", Esc(.0))]
    Rejected(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
