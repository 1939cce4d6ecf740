//! Everything that can fail in the plugin, and the one place where each
//! failure gets its CNI error code.

use std::io;
use std::path::PathBuf;

use cni::{CniError, code};

/// The plugin's error type.
#[derive(Debug, thiserror::Error)]
pub enum PortmapError {
    /// The shared decoder rejected a key (already a CNI error, code 6).
    #[error("{}", .0.msg)]
    Decode(CniError),
    /// A key has the wrong JSON type.
    #[error("{key}: {msg}")]
    Shape { key: String, msg: String },
    /// A key has a value the plugin cannot use.
    #[error("{key}: {msg}")]
    Config { key: String, msg: String },
    /// ADD and CHECK need the previous plugin's result.
    #[error("portmap must be called as a chained plugin: prevResult is required")]
    NoPrevResult,
    /// The rule backend failed (conflicts, unusable backend, batch errors).
    #[error("{0}")]
    Firewall(#[from] fwkit::Error),
    /// A host socket is held in the reference iptables layout.
    #[error("port mapping {mapping} conflicts with container {holder} (reference iptables rules)")]
    Conflict { mapping: String, holder: String },
    /// A per-attachment record could not be read or written.
    #[error("attachment record {}: {op}: {source}", path.display())]
    Record {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// A per-attachment record exists but cannot be understood.
    #[error("attachment record {}: {msg}", path.display())]
    RecordCorrupt { path: PathBuf, msg: String },
    /// The node-wide iptables lock could not be taken.
    #[error("lock {}: {op}: {source}", path.display())]
    Lock {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// A netlink or sysctl request failed.
    #[error("{0}")]
    Kernel(#[from] netkit::Error),
    /// CHECK found state that differs from what ADD created.
    #[error("check failed: {0}")]
    CheckFailed(String),
    /// STATUS: the backend cannot be used here.
    #[error("firewall backend unavailable: {0}")]
    Unavailable(String),
    /// Several GC steps failed; the first error decides the code.
    #[error("{} GC step(s) failed: {}", .0.len(), join(.0))]
    Many(Vec<PortmapError>),
}

fn join(errs: &[PortmapError]) -> String {
    errs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl PortmapError {
    /// The CNI error code of this failure.
    pub fn code(&self) -> u32 {
        match self {
            PortmapError::Decode(e) => e.code,
            PortmapError::Shape { .. } => code::DECODE,
            PortmapError::Config { .. } | PortmapError::NoPrevResult => code::INVALID_CONFIG,
            PortmapError::Firewall(e) => firewall_code(e),
            PortmapError::Record { .. }
            | PortmapError::RecordCorrupt { .. }
            | PortmapError::Lock { .. } => code::STORAGE,
            PortmapError::Kernel(_) => code::KERNEL,
            PortmapError::CheckFailed(_) => code::CHECK_FAILED,
            PortmapError::Conflict { .. } => code::CONFLICT,
            PortmapError::Unavailable(_) => code::NOT_AVAILABLE,
            PortmapError::Many(v) => v.first().map_or(code::INTERNAL, PortmapError::code),
        }
    }
}

fn firewall_code(e: &fwkit::Error) -> u32 {
    match e {
        fwkit::Error::Unavailable(_) => code::NOT_AVAILABLE,
        fwkit::Error::Invalid { .. } | fwkit::Error::Unsupported { .. } => code::INVALID_CONFIG,
        fwkit::Error::PortConflict { .. } => code::CONFLICT,
        fwkit::Error::Missing(_) => code::CHECK_FAILED,
        _ => code::FIREWALL,
    }
}

impl From<PortmapError> for CniError {
    fn from(e: PortmapError) -> CniError {
        CniError::new(e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let conflict = fwkit::Error::PortConflict {
            mapping: "tcp/*:80".into(),
            holder: "abc".into(),
            held: "tcp/*:80".into(),
        };
        assert_eq!(PortmapError::from(conflict).code(), 105);
        assert_eq!(PortmapError::NoPrevResult.code(), 7);
        let un = fwkit::Error::Unavailable("x".into());
        assert_eq!(PortmapError::from(un).code(), 50);
        let many = PortmapError::Many(vec![PortmapError::CheckFailed("a".into())]);
        assert_eq!(CniError::from(many).code, 107);
    }
}
