//! Network namespace handles and running code inside one.
//!
//! [`NetnsFile`] is an open nsfs file (`/run/netns/<name>`, `/proc/<pid>/ns/net`),
//! checked at open to really be a *network* namespace. [`run_in`] runs a
//! closure on a short-lived thread that `setns`'es into the namespace and then
//! exits, so no thread of the caller ever changes namespace (needed for
//! `/proc/sys/net/...`, which resolves the netns at `open`).
//! [`with_thread_in`] is the temporary same-thread switch used to open
//! netlink sockets: it restores the original namespace before returning.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::{CloneFlags, setns};

use crate::error::{Error, Result};

/// `NSFS_MAGIC` from `<linux/magic.h>`.
const NSFS_MAGIC: i64 = 0x6e73_6673;
/// `NS_GET_NSTYPE` = `_IO(0xb7, 0x3)` from `<linux/nsfs.h>`.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// An open handle on a network namespace. Keeping it open keeps the
/// namespace alive.
#[derive(Debug)]
pub struct NetnsFile {
    file: File,
    path: PathBuf,
}

impl NetnsFile {
    /// Opens `path` and verifies that it is a network namespace.
    ///
    /// Errors: [`Error::NetnsNotFound`] when the path does not exist,
    /// [`Error::NotANetns`] when it exists but is something else (a plain
    /// file, an unmounted bind target, another namespace type).
    pub fn open(path: impl AsRef<Path>) -> Result<NetnsFile> {
        let path = path.as_ref().to_path_buf();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NetnsNotFound { path });
            }
            Err(e) => return Err(Error::io(format!("open {}", path.display()), e)),
        };
        verify_netns(&file, &path)?;
        Ok(NetnsFile { file, path })
    }

    /// The calling thread's current network namespace.
    pub fn current() -> Result<NetnsFile> {
        NetnsFile::open("/proc/thread-self/ns/net")
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `(st_dev, st_ino)` of the namespace: equal ids mean the same namespace.
    pub fn id(&self) -> Result<(u64, u64)> {
        let md = self
            .file
            .metadata()
            .map_err(|e| Error::io(format!("stat {}", self.path.display()), e))?;
        Ok((md.dev(), md.ino()))
    }

    /// True when both handles name the same namespace.
    pub fn same_as(&self, other: &NetnsFile) -> Result<bool> {
        Ok(self.id()? == other.id()?)
    }

    /// A second handle on the same namespace.
    pub fn try_clone(&self) -> Result<NetnsFile> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| Error::io("dup netns fd", e))?;
        Ok(NetnsFile {
            file,
            path: self.path.clone(),
        })
    }
}

impl AsFd for NetnsFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for NetnsFile {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}

fn verify_netns(file: &File, path: &Path) -> Result<()> {
    let not = |why: &str| Error::NotANetns {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    // SAFETY: statfs is plain old data; fstatfs fills it for a valid fd.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is valid for the lifetime of `file`; `st` is writable.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::io(format!("statfs {}", path.display()), e));
    }
    if st.f_type as i64 != NSFS_MAGIC {
        return Err(not(" (not an nsfs file)"));
    }
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd.
    let ty = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE as _) };
    if ty >= 0 && ty != libc::CLONE_NEWNET {
        return Err(not(" (a namespace of another type)"));
    }
    Ok(())
}

fn enter(ns: &NetnsFile) -> Result<()> {
    setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
        Error::io(
            format!("setns {}", ns.path.display()),
            std::io::Error::from_raw_os_error(e as i32),
        )
    })
}

/// Runs `f` on a new thread that first joins `ns`; the thread exits
/// afterwards, so the caller's threads never change namespace. A panic in
/// `f` is propagated to the caller.
pub fn run_in<T, F>(ns: &NetnsFile, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    std::thread::scope(|s| {
        let handle = s.spawn(|| -> Result<T> {
            enter(ns)?;
            Ok(f())
        });
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Runs `f` on the *calling* thread while it is inside `ns`, then switches
/// back to the thread's original namespace (saved from
/// `/proc/thread-self/ns/net`). Meant for short, non-blocking work such as
/// creating a socket. Panics if switching back fails, because continuing in
/// the wrong namespace would be worse.
pub fn with_thread_in<T>(ns: &NetnsFile, f: impl FnOnce() -> T) -> Result<T> {
    let saved = NetnsFile::current()?;
    if saved.same_as(ns)? {
        return Ok(f());
    }
    enter(ns)?;
    struct Restore(NetnsFile);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Err(e) = enter(&self.0) {
                panic!("netkit: cannot return to the original netns: {e}");
            }
        }
    }
    let _restore = Restore(saved);
    Ok(f())
}
