//! `/proc/sys` reads and writes, in the caller's netns or inside another
//! one. `/proc/sys/net/...` resolves the namespace when the file is opened,
//! so the `_in` variants open it on a short-lived thread inside the target
//! netns ([`crate::netns::run_in`]); batch several keys into one call.
//!
//! Keys are given as `net.ipv4.ip_forward` (dots) or `net/ipv6/conf/eth0.100/accept_dad`
//! (slashes: needed when an interface name contains a dot). Use
//! [`iface_key`] to build per-interface keys safely.

use std::io::Write;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::netns::{NetnsFile, run_in};

/// `/proc/sys/...` path of `key`.
pub fn key_path(key: &str) -> Result<PathBuf> {
    if key.is_empty() || key.contains("..") || key.starts_with(['/', '.']) {
        return Err(Error::Invalid(format!("bad sysctl key {key:?}")));
    }
    let rel = if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
    };
    Ok(PathBuf::from("/proc/sys").join(rel))
}

/// Per-interface key, e.g. `iface_key(true, "eth0", "accept_dad")` →
/// `net/ipv6/conf/eth0/accept_dad` (slash form, safe for dotted names).
pub fn iface_key(ipv6: bool, ifname: &str, param: &str) -> String {
    let fam = if ipv6 { "ipv6" } else { "ipv4" };
    format!("net/{fam}/conf/{ifname}/{param}")
}

/// Reads `key` in the calling thread's netns (trailing newline removed).
pub fn read(key: &str) -> Result<String> {
    let path = key_path(key)?;
    let s =
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("read sysctl {key}"), e))?;
    Ok(s.trim_end_matches('\n').to_string())
}

/// Writes `value` to `key` in the calling thread's netns. The file is never
/// created: a missing key is an error (ENOENT).
pub fn write(key: &str, value: &str) -> Result<()> {
    let path = key_path(key)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("open sysctl {key}"), e))?;
    f.write_all(value.as_bytes())
        .map_err(|e| Error::io(format!("write sysctl {key}={value}"), e))
}

/// Reads `key` inside `ns`.
pub fn read_in(ns: &NetnsFile, key: &str) -> Result<String> {
    run_in(ns, || read(key))?
}

/// Writes `key=value` inside `ns`.
pub fn write_in(ns: &NetnsFile, key: &str, value: &str) -> Result<()> {
    run_in(ns, || write(key, value))?
}

/// Writes several keys inside `ns` on one thread, in order; stops at the
/// first failure.
pub fn write_many_in(ns: &NetnsFile, pairs: &[(&str, &str)]) -> Result<()> {
    run_in(ns, || pairs.iter().try_for_each(|(k, v)| write(k, v)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_map_to_proc_paths() {
        assert_eq!(
            key_path("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            key_path(&iface_key(true, "br0.100", "accept_dad")).unwrap(),
            PathBuf::from("/proc/sys/net/ipv6/conf/br0.100/accept_dad")
        );
    }

    #[test]
    fn escaping_keys_are_rejected() {
        for k in ["", "/etc/passwd", "net/../../etc", ".net.ipv4"] {
            assert!(key_path(k).is_err(), "{k}");
        }
    }
}
