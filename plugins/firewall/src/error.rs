//! The plugin's error type and its mapping to CNI error codes — the one
//! place where codes are decided.

use cni::{CniError, code};

/// Everything the firewall plugin can fail with.
#[derive(Debug, thiserror::Error)]
pub enum FwError {
    /// A configuration value is malformed or out of range (code 7).
    #[error("{0}")]
    Config(String),
    /// A configuration value names a feature we do not implement (code 2).
    #[error("{0}")]
    Unsupported(String),
    /// A batch or backend helper failed.
    #[error("{0}")]
    Kit(#[from] fwkit::Error),
    /// A read-only netfilter command failed.
    #[error("{cmd} failed: {msg}")]
    Exec { cmd: String, msg: String },
    /// Output of `nft -j` / `iptables-save` could not be understood.
    #[error("cannot parse {0}")]
    Parse(String),
    /// CHECK found a rule or element missing (code 107).
    #[error("check failed: {0}")]
    Missing(String),
    /// A per-attachment record could not be read or written (code 102).
    #[error("attachment record {path}: {op}: {source}")]
    Record {
        path: String,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A per-attachment record exists but cannot be understood (code 102).
    #[error("attachment record {path}: {msg}")]
    RecordCorrupt { path: String, msg: String },
    /// The lock serialising firewall updates could not be taken.
    #[error("firewall lock {path}: {source}")]
    Lock {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand result type.
pub type Result<T> = std::result::Result<T, FwError>;

impl From<FwError> for CniError {
    fn from(e: FwError) -> CniError {
        let c = match &e {
            FwError::Config(_) => code::INVALID_CONFIG,
            FwError::Unsupported(_) => code::UNSUPPORTED_FIELD,
            FwError::Kit(k) => match k.cni_code() {
                50 => code::NOT_AVAILABLE,
                7 => code::INVALID_CONFIG,
                _ => code::FIREWALL,
            },
            FwError::Exec { .. } | FwError::Parse(_) => code::FIREWALL,
            FwError::Missing(_) => code::CHECK_FAILED,
            FwError::Lock { .. } => code::INTERNAL,
            FwError::Record { .. } | FwError::RecordCorrupt { .. } => code::STORAGE,
        };
        CniError::new(c, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let c = |e: FwError| CniError::from(e).code;
        assert_eq!(c(FwError::Config("x".into())), 7);
        assert_eq!(c(FwError::Unsupported("x".into())), 2);
        assert_eq!(c(FwError::Missing("x".into())), 107);
        assert_eq!(c(FwError::Kit(fwkit::Error::Unavailable("n".into()))), 50);
        assert_eq!(c(FwError::Parse("x".into())), 104);
        let corrupt = FwError::RecordCorrupt {
            path: "p".into(),
            msg: "m".into(),
        };
        assert_eq!(c(corrupt), 102);
    }
}
