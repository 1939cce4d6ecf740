//! Error type of the crate.

use std::io;

/// Result alias used by every fwkit function.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while programming netfilter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A batch tool could not be started (binary missing, ...).
    #[error("cannot run {cmd}: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: io::Error,
    },
    /// A batch tool ran and failed; `stderr` is what it printed.
    #[error("{cmd} failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },
    /// A name, id or condition would inject text into a rule batch.
    #[error("invalid {what} {value:?}: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: &'static str,
    },
    /// Output of `nft -j` / `iptables-save` could not be understood.
    #[error("cannot parse {what}: {detail}")]
    Parse { what: &'static str, detail: String },
    /// A host port is already mapped by another container.
    #[error("port mapping {mapping} conflicts with container {holder} ({held})")]
    PortConflict {
        mapping: String,
        holder: String,
        held: String,
    },
    /// CHECK found something missing.
    #[error("check failed: {0}")]
    Missing(String),
    /// The requested feature does not exist on this backend.
    #[error("unsupported on {backend}: {what}")]
    Unsupported { backend: &'static str, what: String },
    /// STATUS: neither backend is usable (CNI error code 50).
    #[error("no usable firewall backend: {0}")]
    Unavailable(String),
}

impl Error {
    /// CNI error code a plugin should report for this error.
    pub fn cni_code(&self) -> u32 {
        match self {
            Error::Unavailable(_) => 50,
            Error::Invalid { .. } | Error::Unsupported { .. } => 7,
            _ => 999,
        }
    }

    /// True when a command failed because an nft object does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Error::Command { stderr, .. } if stderr.contains("No such file or directory"))
    }

    /// True when a command failed because an nft element already exists.
    pub(crate) fn is_exists(&self) -> bool {
        matches!(self, Error::Command { stderr, .. } if stderr.contains("File exists"))
    }
}
