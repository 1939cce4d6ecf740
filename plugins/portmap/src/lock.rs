//! Node-wide serialisation of the iptables backend. Its ADD is a read
//! (`iptables-save`), a conflict check and a write (`iptables-restore
//! --noflush`); two of them interleaved would both pass the check, and a
//! restore re-declaring a shared chain another one just created would flush
//! it. nftables needs no lock: the kernel arbitrates its batches.

use std::fs::{self, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::error::PortmapError;

/// Where the lock lives (tmpfs: gone at reboot, like the rules).
pub const LOCK_PATH: &str = "/run/ferrocni/portmap-iptables.lock";

/// Held while alive (the kernel drops the `flock` when the file closes).
pub struct NodeLock {
    _file: fs::File,
}

fn lock_err(op: &'static str) -> impl FnOnce(std::io::Error) -> PortmapError {
    move |source| PortmapError::Lock {
        path: LOCK_PATH.into(),
        op,
        source,
    }
}

/// Takes the iptables lock, waiting for the current holder.
pub fn iptables() -> Result<NodeLock, PortmapError> {
    let path = Path::new(LOCK_PATH);
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(lock_err("create directory"))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(lock_err("open"))?;
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(NodeLock { _file: file });
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(lock_err("flock")(e));
        }
    }
}
