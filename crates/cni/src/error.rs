//! The CNI error value and every error code ferrocni emits, in one place.
//!
//! SPEC: errors are `{cniVersion, code, msg, details}` printed on stdout with a
//! non-zero exit status (libcni parses stdout first). Codes 1–11 and 50/51 are
//! the spec's; 8 is the reference's "invalid netns"; 100 and up are ours.

use serde::Serialize;

/// Error codes. The numbers are part of the public contract (see README).
pub mod code {
    /// SPEC 1: incompatible CNI version.
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    /// SPEC 2: unsupported field in the network configuration.
    pub const UNSUPPORTED_FIELD: u32 = 2;
    /// SPEC 3: container unknown or does not exist.
    pub const UNKNOWN_CONTAINER: u32 = 3;
    /// SPEC 4: invalid necessary environment variables.
    pub const INVALID_ENV: u32 = 4;
    /// SPEC 5: I/O failure (reading stdin).
    pub const IO_FAILURE: u32 = 5;
    /// SPEC 6: failed to decode content.
    pub const DECODE: u32 = 6;
    /// SPEC 7: invalid network config.
    pub const INVALID_CONFIG: u32 = 7;
    /// Reference plugins' `ErrInvalidNetNS`: the netns is not usable.
    pub const INVALID_NETNS: u32 = 8;
    /// SPEC 11: try again later.
    pub const TRY_AGAIN: u32 = 11;
    /// SPEC 50: plugin not available (STATUS).
    pub const NOT_AVAILABLE: u32 = 50;
    /// SPEC 51: not available, existing containers may be degraded (STATUS).
    pub const DEGRADED: u32 = 51;
    /// Ours: an internal failure (a bug; includes panics).
    pub const INTERNAL: u32 = 100;
    /// Ours: a delegated plugin could not be found or run.
    pub const DELEGATE: u32 = 101;
    /// Ours: on-disk state (IPAM data dir, caches) unusable.
    pub const STORAGE: u32 = 102;
    /// Ours: a kernel request (netlink, sysctl) failed.
    pub const KERNEL: u32 = 103;
    /// Ours: a firewall batch (nft / iptables-restore) failed.
    pub const FIREWALL: u32 = 104;
    /// Ours: a resource is already in use (interface name, address, host port).
    pub const CONFLICT: u32 = 105;
    /// Ours: an address range has no free address left.
    pub const EXHAUSTED: u32 = 106;
    /// Ours: CHECK found state that differs from what ADD created.
    pub const CHECK_FAILED: u32 = 107;
}

/// A CNI error: what a plugin prints on failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> CniError {
        self.details = details.into();
        self
    }

    /// The JSON printed on stdout, carrying `cni_version`.
    pub fn to_json(&self, cni_version: &str) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "cniVersion")]
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            details: &'a str,
        }
        serde_json::to_string(&Wire {
            cni_version,
            code: self.code,
            msg: &self.msg,
            details: &self.details,
        })
        .unwrap_or_else(|_| format!("{{\"code\":{},\"msg\":\"unprintable error\"}}", self.code))
    }

    pub fn internal(msg: impl Into<String>) -> CniError {
        CniError::new(code::INTERNAL, msg)
    }
    pub fn invalid_env(msg: impl Into<String>) -> CniError {
        CniError::new(code::INVALID_ENV, msg)
    }
    pub fn invalid_config(msg: impl Into<String>) -> CniError {
        CniError::new(code::INVALID_CONFIG, msg)
    }
    pub fn decode(msg: impl Into<String>) -> CniError {
        CniError::new(code::DECODE, msg)
    }
}

impl std::fmt::Display for CniError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.msg, self.code)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for CniError {}
