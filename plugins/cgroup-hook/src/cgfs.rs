//! Access to one cgroup directory. Real access opens the directory one
//! component at a time from the cgroup2 mount with `O_NOFOLLOW`, checks every
//! component stays on the mount's device (and, on real hosts, that the
//! filesystem is cgroup2), then reads and writes single file names relative
//! to that directory, so writes never follow symlinks nor leave it.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// The file operations the planner and writer need; faked in tests.
pub trait CgroupFiles {
    /// Reads a file of the cgroup.
    fn read(&self, name: &str) -> io::Result<String>;
    /// Writes `data` with one write(2).
    fn write(&self, name: &str, data: &str) -> io::Result<()>;
    /// Reads a file of the parent cgroup.
    fn read_parent(&self, name: &str) -> io::Result<String>;
    /// The cgroup's path, for messages.
    fn path(&self) -> &Path;
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// An opened cgroup directory and its parent.
#[derive(Debug)]
pub struct CgroupDir {
    path: PathBuf,
    dir: OwnedFd,
    parent: OwnedFd,
}

fn openat(dir: Option<&OwnedFd>, name: &Path, flags: i32) -> io::Result<OwnedFd> {
    let c = CString::new(name.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let base = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: c is a valid NUL-terminated string; the fd is owned on success.
    let fd = unsafe { libc::openat(base, c.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by openat and is not owned elsewhere.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fstat_dev(fd: &OwnedFd) -> io::Result<u64> {
    // SAFETY: zeroed stat is a valid out-parameter for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open, st is writable.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.st_dev)
}

fn is_cgroup2(fd: &OwnedFd) -> io::Result<bool> {
    // SAFETY: zeroed statfs is a valid out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open, st is writable.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_type as i64 == CGROUP2_SUPER_MAGIC)
}

impl CgroupDir {
    /// Opens `root/rel` without following symlinks. `rel` must be a non-empty
    /// relative path of plain components (the cgroup root itself is refused).
    /// `check_fs` requires cgroup2 (off for fake trees in tests).
    pub fn open(root: &Path, rel: &Path, check_fs: bool) -> io::Result<CgroupDir> {
        let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_string());
        let parts: Vec<&std::ffi::OsStr> = rel
            .components()
            .map(|c| match c {
                Component::Normal(n) => Ok(n),
                Component::CurDir | Component::RootDir => Ok(std::ffi::OsStr::new(".")),
                _ => Err(invalid("cgroup path must not contain ..")),
            })
            .filter(|c| !matches!(c, Ok(n) if *n == "."))
            .collect::<io::Result<_>>()?;
        if parts.is_empty() {
            return Err(invalid("refusing the cgroup root itself"));
        }
        let dflags = libc::O_RDONLY | libc::O_DIRECTORY;
        let mut cur = openat(None, root, dflags)?;
        if check_fs && !is_cgroup2(&cur)? {
            return Err(invalid("not a cgroup2 filesystem"));
        }
        let dev = fstat_dev(&cur)?;
        let mut parent = None;
        for p in parts {
            let next = openat(Some(&cur), Path::new(p), dflags)?;
            if fstat_dev(&next)? != dev {
                return Err(invalid("cgroup path crosses a mount"));
            }
            parent = Some(std::mem::replace(&mut cur, next));
        }
        let parent = parent.ok_or_else(|| invalid("no parent"))?;
        Ok(CgroupDir {
            path: root.join(rel),
            dir: cur,
            parent,
        })
    }

    fn file(&self, dir: &OwnedFd, name: &str, flags: i32) -> io::Result<File> {
        if name.contains('/') || name.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad cgroup file name",
            ));
        }
        Ok(File::from(openat(Some(dir), Path::new(name), flags)?))
    }
}

fn read_all(mut f: File) -> io::Result<String> {
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    Ok(s)
}

impl CgroupFiles for CgroupDir {
    fn read(&self, name: &str) -> io::Result<String> {
        read_all(self.file(&self.dir, name, libc::O_RDONLY)?)
    }

    fn write(&self, name: &str, data: &str) -> io::Result<()> {
        // O_TRUNC is ignored by cgroupfs and makes fake trees behave
        let mut f = self.file(&self.dir, name, libc::O_WRONLY | libc::O_TRUNC)?;
        let n = f.write(data.as_bytes())?;
        if n != data.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
        }
        Ok(())
    }

    fn read_parent(&self, name: &str) -> io::Result<String> {
        read_all(self.file(&self.parent, name, libc::O_RDONLY)?)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn opens_and_writes_beneath_root() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("a/b")).unwrap();
        fs::write(t.path().join("a/cgroup.subtree_control"), "memory").unwrap();
        fs::write(t.path().join("a/b/memory.max"), "max\n").unwrap();
        let d = CgroupDir::open(t.path(), Path::new("/a/b"), false).unwrap();
        assert_eq!(d.read("memory.max").unwrap(), "max\n");
        d.write("memory.max", "1024").unwrap();
        assert_eq!(
            fs::read_to_string(t.path().join("a/b/memory.max")).unwrap(),
            "1024"
        );
        assert_eq!(d.read_parent("cgroup.subtree_control").unwrap(), "memory");
        assert!(d.read("../cgroup.subtree_control").is_err());
        assert!(d.write(".hidden", "x").is_err());
    }

    #[test]
    fn refuses_symlinks_dotdot_and_root() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("real")).unwrap();
        fs::write(t.path().join("real/memory.max"), "max").unwrap();
        std::os::unix::fs::symlink(t.path().join("real"), t.path().join("link")).unwrap();
        assert!(CgroupDir::open(t.path(), Path::new("link"), false).is_err());
        assert!(CgroupDir::open(t.path(), Path::new("real/../real"), false).is_err());
        assert!(CgroupDir::open(t.path(), Path::new("/"), false).is_err());
        std::os::unix::fs::symlink("/etc/hostname", t.path().join("real/pids.max")).unwrap();
        let d = CgroupDir::open(t.path(), Path::new("real"), false).unwrap();
        assert!(d.write("pids.max", "1").is_err());
        assert!(d.read("pids.max").is_err());
    }

    #[test]
    fn requires_cgroup2_when_asked() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("x")).unwrap();
        let e = CgroupDir::open(t.path(), Path::new("x"), true).unwrap_err();
        assert!(e.to_string().contains("not a cgroup2"), "{e}");
    }
}
