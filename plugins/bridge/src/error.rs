//! The bridge plugin's error type and the one place where every failure is
//! mapped to a CNI error code.

use cni::{CniError, code};

/// Everything the bridge plugin can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A configuration key has a value we cannot use (code 7).
    #[error("invalid configuration: {key} = {value}: {why}")]
    InvalidKey {
        key: &'static str,
        value: String,
        why: String,
    },
    /// Keys that contradict each other (code 7).
    #[error("invalid configuration: {0}")]
    Conflict(String),
    /// The configured bridge name belongs to a link of another kind (code 7).
    #[error("{name:?} already exists but is not a bridge (it is a {kind} link)")]
    NotABridge { name: String, kind: String },
    /// The interface name is taken in the container (code 105).
    #[error("interface {ifname:?} already exists in {netns}")]
    IfnameTaken { ifname: String, netns: String },
    /// The bridge carries an address that conflicts with the gateway (code 105).
    #[error(
        "{bridge:?} already has an IP address different from {wanted} ({have}); set forceAddress to replace it"
    )]
    AddressConflict {
        bridge: String,
        wanted: String,
        have: String,
    },
    /// The kernel refused the configured MTU (code 7).
    #[error("mtu {mtu} rejected by the kernel for {what}: {source}")]
    MtuRejected {
        mtu: u32,
        what: String,
        #[source]
        source: netkit::Error,
    },
    /// VLAN requested on a kernel without 802.1Q / bridge VLAN filtering (code 7).
    #[error(
        "vlan/vlanTrunk requested but this kernel cannot do it ({0}); remove vlan/vlanTrunk or use a kernel with CONFIG_BRIDGE_VLAN_FILTERING and CONFIG_VLAN_8021Q"
    )]
    VlanUnsupported(String),
    /// IPAM returned something the bridge cannot apply (code 7).
    #[error("IPAM result unusable: {0}")]
    Ipam(String),
    /// A netlink or namespace operation failed (code 103).
    #[error("{what}: {source}")]
    Kernel {
        what: String,
        #[source]
        source: netkit::Error,
    },
    /// A sysctl write failed (code 103).
    #[error("sysctl {path}: {source}")]
    Sysctl {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A netfilter batch (masquerade, spoof check) failed (code 104).
    #[error("{what}: {source}")]
    Firewall {
        what: String,
        #[source]
        source: fwkit::Error,
    },
    /// CHECK found state that differs from the ADD result (code 107).
    #[error("CHECK failed: {0}")]
    Check(String),
    /// A delegated plugin (IPAM) failed: its code passes through unchanged.
    #[error("{}", .0.msg)]
    Delegate(CniError),
    /// A bug (a helper thread panicked).
    #[error("internal error: {0}")]
    Internal(String),
    /// Several failures during a best-effort operation (DEL, GC).
    #[error("{}", .0.iter().map(|e| e.msg.clone()).collect::<Vec<_>>().join("; "))]
    Many(Vec<CniError>),
}

impl BridgeError {
    /// Wraps a netkit failure with what we were doing.
    pub fn kernel(what: impl Into<String>, source: netkit::Error) -> BridgeError {
        BridgeError::Kernel {
            what: what.into(),
            source,
        }
    }

    /// Wraps an fwkit failure with what we were doing.
    pub fn firewall(what: impl Into<String>, source: fwkit::Error) -> BridgeError {
        BridgeError::Firewall {
            what: what.into(),
            source,
        }
    }

    /// The CNI code of this error.
    pub fn code(&self) -> u32 {
        match self {
            BridgeError::InvalidKey { .. }
            | BridgeError::Conflict(_)
            | BridgeError::NotABridge { .. }
            | BridgeError::MtuRejected { .. }
            | BridgeError::VlanUnsupported(_)
            | BridgeError::Ipam(_) => code::INVALID_CONFIG,
            BridgeError::IfnameTaken { .. } | BridgeError::AddressConflict { .. } => code::CONFLICT,
            BridgeError::Kernel { source, .. } => match source {
                netkit::Error::NetnsNotFound { .. } | netkit::Error::NotANetns { .. } => {
                    code::INVALID_NETNS
                }
                _ => code::KERNEL,
            },
            BridgeError::Sysctl { .. } => code::KERNEL,
            BridgeError::Firewall { source, .. } => match source.cni_code() {
                50 => code::NOT_AVAILABLE,
                7 => code::INVALID_CONFIG,
                _ => code::FIREWALL,
            },
            BridgeError::Check(_) => code::CHECK_FAILED,
            BridgeError::Delegate(e) => e.code,
            BridgeError::Internal(_) => code::INTERNAL,
            BridgeError::Many(list) => list.first().map_or(code::INTERNAL, |e| e.code),
        }
    }
}

impl From<BridgeError> for CniError {
    fn from(e: BridgeError) -> CniError {
        match e {
            BridgeError::Delegate(inner) => inner,
            other => CniError::new(other.code(), other.to_string()),
        }
    }
}

/// `Result` with the plugin's error.
pub type Result<T> = std::result::Result<T, BridgeError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_mapped_in_one_place() {
        let e = BridgeError::InvalidKey {
            key: "vlan",
            value: "5000".into(),
            why: "must be between 0 and 4094".into(),
        };
        let c = CniError::from(e);
        assert_eq!(c.code, code::INVALID_CONFIG);
        assert!(
            c.msg.contains("vlan") && c.msg.contains("5000"),
            "{}",
            c.msg
        );
        let taken = BridgeError::IfnameTaken {
            ifname: "eth0".into(),
            netns: "/run/netns/x".into(),
        };
        assert_eq!(taken.code(), code::CONFLICT);
        assert_eq!(BridgeError::Check("x".into()).code(), code::CHECK_FAILED);
        let gone = BridgeError::kernel(
            "open netns",
            netkit::Error::NetnsNotFound { path: "/x".into() },
        );
        assert_eq!(gone.code(), code::INVALID_NETNS);
    }
}
