//! Checks on `CNI_NETNS` made before a plugin does any work: the path must be
//! a network namespace, and not the plugin's own.
//!
//! The reference checks its own-netns guard only after ADD/DEL already ran
//! (a reused `/proc/<pid>/ns/net` once downed the host's `lo`); ours runs first.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{CniError, code};

const NSFS_MAGIC: i64 = 0x6e73_6673;

/// What `CNI_NETNS` turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsState {
    /// A network namespace other than the plugin's own.
    Usable,
    /// The path does not exist (a sandbox already torn down).
    Gone,
}

/// Classifies `path`: code 8 when it exists but is not a netns, or when it is
/// the calling thread's own netns (unless `CNI_NETNS_OVERRIDE` allows it).
pub fn inspect(path: &Path, allow_own: bool) -> Result<NetnsState, CniError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(NetnsState::Gone),
        Err(e) => return Err(invalid(path, &format!("cannot stat it: {e}"))),
    };
    if !is_nsfs(path)? {
        return Err(invalid(path, "it is not a network namespace"));
    }
    if !allow_own {
        let own = std::fs::metadata("/proc/thread-self/ns/net")
            .or_else(|_| std::fs::metadata("/proc/self/ns/net"))
            .map_err(|e| CniError::internal(format!("cannot stat own netns: {e}")))?;
        if own.dev() == meta.dev() && own.ino() == meta.ino() {
            return Err(invalid(
                path,
                "it is the plugin's own network namespace (refusing to configure it)",
            ));
        }
    }
    Ok(NetnsState::Usable)
}

fn is_nsfs(path: &Path) -> Result<bool, CniError> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| invalid(path, "path contains NUL"))?;
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `buf` a valid out-pointer.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut buf) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(invalid(path, &format!("statfs failed: {e}")));
    }
    Ok(buf.f_type as i64 == NSFS_MAGIC)
}

fn invalid(path: &Path, why: &str) -> CniError {
    CniError::new(
        code::INVALID_NETNS,
        format!(
            "CNI_NETNS={:?} is invalid: {why}",
            path.display().to_string()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_not_a_netns() {
        let e = inspect(Path::new("/proc/self/status"), false).unwrap_err();
        assert_eq!(e.code, 8);
        assert!(e.msg.contains("/proc/self/status"));
    }

    #[test]
    fn a_missing_path_is_gone() {
        assert_eq!(
            inspect(Path::new("/run/netns/does-not-exist-ferrocni"), false).unwrap(),
            NetnsState::Gone
        );
    }

    #[test]
    fn own_netns_is_refused_unless_overridden() {
        let own = Path::new("/proc/self/ns/net");
        assert_eq!(inspect(own, false).unwrap_err().code, 8);
        assert_eq!(inspect(own, true).unwrap(), NetnsState::Usable);
    }
}
