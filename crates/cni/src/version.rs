//! CNI specification versions: parsing, ordering and what we support.
//!
//! SPEC: ferrocni implements 0.3.0, 0.3.1, 0.4.0, 1.0.0 and 1.1.0. Configs at
//! 0.1.0 / 0.2.0, or without `cniVersion` (the reference library reads that as
//! 0.1.0), are refused with code 1 naming the version.

use crate::error::{CniError, code};

/// A supported spec version, ordered oldest to newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V0_3_0,
    V0_3_1,
    V0_4_0,
    V1_0_0,
    V1_1_0,
}

/// Every version we accept, oldest first (the VERSION reply lists these).
pub const SUPPORTED: [Version; 5] = [
    Version::V0_3_0,
    Version::V0_3_1,
    Version::V0_4_0,
    Version::V1_0_0,
    Version::V1_1_0,
];

impl Version {
    pub const LATEST: Version = Version::V1_1_0;

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_3_0 => "0.3.0",
            Version::V0_3_1 => "0.3.1",
            Version::V0_4_0 => "0.4.0",
            Version::V1_0_0 => "1.0.0",
            Version::V1_1_0 => "1.1.0",
        }
    }

    /// Parses a version string; unknown or legacy versions are code 1.
    pub fn parse(s: &str) -> Result<Version, CniError> {
        SUPPORTED
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| unsupported(s))
    }

    /// `ips[].version` is part of the result layout up to 0.4.0 only.
    pub fn has_ip_version_field(self) -> bool {
        self < Version::V1_0_0
    }

    /// CHECK exists from 0.4.0.
    pub fn supports_check(self) -> bool {
        self >= Version::V0_4_0
    }

    /// STATUS and GC exist from 1.1.0.
    pub fn supports_status_gc(self) -> bool {
        self >= Version::V1_1_0
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn unsupported(s: &str) -> CniError {
    let list: Vec<&str> = SUPPORTED.iter().map(|v| v.as_str()).collect();
    CniError::new(
        code::INCOMPATIBLE_VERSION,
        format!(
            "incompatible CNI versions: config is {s:?}, plugin supports [{}]",
            list.join(", ")
        ),
    )
}

/// The error for a config without `cniVersion`.
pub fn missing_version() -> CniError {
    let mut e = unsupported("0.1.0");
    e.msg
        .push_str(" (cniVersion is missing; read as \"0.1.0\")");
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_version_and_orders_them() {
        for v in SUPPORTED {
            assert_eq!(Version::parse(v.as_str()).unwrap(), v);
        }
        assert!(Version::V0_3_1 < Version::V1_0_0);
    }

    #[test]
    fn legacy_and_future_versions_are_code_1_naming_the_version() {
        for bad in ["0.1.0", "0.2.0", "1.2.0", "", "banana"] {
            let e = Version::parse(bad).unwrap_err();
            assert_eq!(e.code, 1);
            assert!(e.msg.contains(&format!("{bad:?}")), "{}", e.msg);
        }
    }

    #[test]
    fn verb_gates_follow_the_spec() {
        assert!(!Version::V0_3_1.supports_check());
        assert!(Version::V0_4_0.supports_check());
        assert!(!Version::V1_0_0.supports_status_gc());
        assert!(Version::V1_1_0.supports_status_gc());
        assert!(Version::V0_4_0.has_ip_version_field());
        assert!(!Version::V1_0_0.has_ip_version_field());
    }
}
