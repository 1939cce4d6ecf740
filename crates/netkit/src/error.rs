//! The one error type of netkit. Every variant names what was being done;
//! netlink failures keep the kernel's errno (and its extended-ACK message
//! when the kernel sent one) so callers can branch on it.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// `Result` with netkit's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in netkit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The netns path does not exist (CNI: the sandbox is gone).
    #[error("network namespace {path}: does not exist")]
    NetnsNotFound { path: PathBuf },
    /// The path exists but is not a network namespace (CNI error code 8).
    #[error("{path} is not a network namespace{why}")]
    NotANetns { path: PathBuf, why: String },
    /// A system call or file operation failed.
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
    /// The kernel rejected a netlink request.
    #[error("{op}: {}{}", io::Error::from_raw_os_error(*errno), ext_msg(.ext_ack))]
    Netlink {
        op: String,
        errno: i32,
        ext_ack: Option<String>,
    },
    /// A reply could not be decoded, or the kernel answered out of protocol.
    #[error("{op}: malformed netlink reply: {msg}")]
    Protocol { op: String, msg: String },
    /// No interface with that name or index.
    #[error("link {0} not found")]
    LinkNotFound(String),
    /// The name exists but the interface is of another kind.
    #[error("{name} already exists but is not a bridge (kind {kind})")]
    NotABridge { name: String, kind: String },
    /// This kernel was built without 802.1Q / bridge VLAN filtering.
    #[error("kernel lacks VLAN support ({op}): {detail}")]
    VlanUnsupported { op: String, detail: String },
    /// IPv6 duplicate address detection found the address in use.
    #[error("IPv6 duplicate address detected for {addr} on ifindex {index}")]
    DadFailed { addr: std::net::IpAddr, index: u32 },
    /// Addresses were still tentative when the wait ended.
    #[error("timed out after {waited:?} waiting for IPv6 DAD on ifindex {index}")]
    DadTimeout { index: u32, waited: Duration },
    /// A bounded wait for a kernel state (other than DAD) ran out.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout { what: String, waited: Duration },
    /// A caller-supplied value cannot be used.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

fn ext_msg(ext: &Option<String>) -> String {
    match ext {
        Some(m) => format!(" ({m})"),
        None => String::new(),
    }
}

impl Error {
    pub(crate) fn io(op: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            op: op.into(),
            source,
        }
    }

    /// The errno behind a netlink or I/O failure, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Netlink { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True when the kernel answered EEXIST.
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// True for "it is not there": ENODEV, ENOENT, ESRCH, EADDRNOTAVAIL or
    /// [`Error::LinkNotFound`]. Deletes use this to be idempotent.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::LinkNotFound(_))
            || matches!(
                self.errno(),
                Some(libc::ENODEV | libc::ENOENT | libc::ESRCH | libc::EADDRNOTAVAIL)
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netlink_error_shows_op_errno_and_kernel_message() {
        let e = Error::Netlink {
            op: "create bridge cni0".into(),
            errno: libc::EOPNOTSUPP,
            ext_ack: Some("Unknown device type".into()),
        };
        let s = e.to_string();
        assert!(s.starts_with("create bridge cni0: "), "{s}");
        assert!(s.ends_with("(Unknown device type)"), "{s}");
        assert_eq!(e.errno(), Some(libc::EOPNOTSUPP));
        assert!(!e.is_not_found());
    }

    #[test]
    fn missing_things_count_as_not_found() {
        for errno in [libc::ENODEV, libc::ENOENT, libc::ESRCH, libc::EADDRNOTAVAIL] {
            let e = Error::Netlink {
                op: "x".into(),
                errno,
                ext_ack: None,
            };
            assert!(e.is_not_found(), "{errno}");
        }
        assert!(Error::LinkNotFound("eth0".into()).is_not_found());
        let exists = Error::Netlink {
            op: "x".into(),
            errno: libc::EEXIST,
            ext_ack: None,
        };
        assert!(exists.is_exists() && !exists.is_not_found());
    }
}
