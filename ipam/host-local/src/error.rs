//! Typed errors of host-local and their CNI codes, mapped in one place.

use std::io;
use std::path::PathBuf;

use cni::{CniError, code};

/// Everything that can go wrong in host-local.
#[derive(Debug, thiserror::Error)]
pub enum HostLocalError {
    /// An error the protocol crate already coded (decode, env).
    #[error(transparent)]
    Cni(#[from] CniError),
    /// The IPAM configuration is invalid (code 7).
    #[error("{0}")]
    Config(String),
    /// A requested address (CNI_ARGS, args, runtimeConfig) cannot be honoured (code 7).
    #[error("{0}")]
    BadRequest(String),
    /// The data directory or a file in it cannot be used (code 102).
    #[error("data dir {}: {what}: {source}", path.display())]
    Storage {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// No free address left in a range set (code 106).
    #[error("failed to allocate for range {set}: no IP addresses available in range set: {ranges}")]
    Exhausted { set: usize, ranges: String },
    /// The address is held by another attachment (code 105).
    #[error("{0}")]
    Conflict(String),
    /// STATUS: the plugin cannot serve ADD now (code 50).
    #[error("{0}")]
    Unavailable(String),
    /// CHECK found no reservation (code 107).
    #[error("host-local: Failed to find address added by container {0}")]
    NotFound(String),
}

impl HostLocalError {
    /// A storage error at `path`.
    pub fn storage(path: impl Into<PathBuf>, what: &'static str, source: io::Error) -> Self {
        HostLocalError::Storage {
            path: path.into(),
            what,
            source,
        }
    }
}

/// The single mapping from our errors to CNI error codes.
impl From<HostLocalError> for CniError {
    fn from(e: HostLocalError) -> CniError {
        let code = match &e {
            HostLocalError::Cni(c) => return c.clone(),
            HostLocalError::Config(_) | HostLocalError::BadRequest(_) => code::INVALID_CONFIG,
            HostLocalError::Storage { .. } => code::STORAGE,
            HostLocalError::Exhausted { .. } => code::EXHAUSTED,
            HostLocalError::Conflict(_) => code::CONFLICT,
            HostLocalError::NotFound(_) => code::CHECK_FAILED,
            HostLocalError::Unavailable(_) => code::NOT_AVAILABLE,
        };
        CniError::new(code, e.to_string())
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, HostLocalError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let io = || io::Error::from(io::ErrorKind::PermissionDenied);
        let cases: Vec<(HostLocalError, u32)> = vec![
            (HostLocalError::Config("x".into()), 7),
            (HostLocalError::storage("/d", "create", io()), 102),
            (
                HostLocalError::Exhausted {
                    set: 0,
                    ranges: "r".into(),
                },
                106,
            ),
            (HostLocalError::Conflict("c".into()), 105),
            (HostLocalError::NotFound("id".into()), 107),
            (HostLocalError::Unavailable("full".into()), 50),
            (HostLocalError::Cni(CniError::decode("d")), 6),
        ];
        for (e, want) in cases {
            assert_eq!(CniError::from(e).code, want);
        }
    }

    #[test]
    fn storage_message_names_the_path() {
        let e = HostLocalError::storage("/x/y", "create directory", io::Error::other("boom"));
        let c = CniError::from(e);
        assert!(
            c.msg.contains("/x/y") && c.msg.contains("boom"),
            "{}",
            c.msg
        );
    }
}
