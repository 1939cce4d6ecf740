//! The reference's on-disk store, byte for byte: `<dataDir>/<name>/` holds one
//! file per reserved address named by the address, containing
//! `containerID\r\nifname` (very old versions: the id alone), the
//! `last_reserved_ip.<set>` round-robin cursors, and the `lock` file that every
//! writer (ours and the reference's) holds with flock.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{HostLocalError, Result};
use crate::safefs;

/// SPEC (reference disk backend): line break between id and ifname.
pub const LINE_BREAK: &str = "\r\n";
const LAST_IP_PREFIX: &str = "last_reserved_ip.";
/// Largest reservation file we read (`id\r\nifname` is far smaller).
const MAX_RESERVATION: u64 = 64 * 1024;

/// Who holds a reservation. `ifname` is empty for id-only (legacy) files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub id: String,
    pub ifname: String,
}

impl Key {
    pub fn new(id: &str, ifname: &str) -> Key {
        Key {
            id: id.trim().to_string(),
            ifname: ifname.to_string(),
        }
    }

    /// The file content the reference writes (and matches after trimming).
    pub fn content(&self) -> String {
        format!("{}{LINE_BREAK}{}", self.id, self.ifname)
    }

    /// The id-only key of old reservations for the same container.
    pub fn legacy(&self) -> Key {
        Key::new(&self.id, "")
    }
}

/// The owner recorded in a reservation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Key(Key),
    /// Empty or unparseable content: held, but by nobody we can name.
    Corrupt,
}

/// Parses a reservation file's content the way the reference matches it.
pub fn parse_owner(content: &str) -> Owner {
    let t = content.trim();
    let ok = |s: &str| !s.is_empty() && !s.chars().any(char::is_whitespace);
    match t.split_once(LINE_BREAK) {
        Some((id, ifname)) if ok(id) && ok(ifname) => Owner::Key(Key::new(id, ifname)),
        None if ok(t) => Owner::Key(Key::new(t, "")),
        _ => Owner::Corrupt,
    }
}

/// The locked network directory. The flock is released on drop.
#[derive(Debug)]
pub struct NetDir {
    pub dir: PathBuf,
    _lock: File,
}

impl NetDir {
    /// Creates `dir` (0755) if needed and takes the exclusive lock on `dir/lock`.
    pub fn open(dir: &Path) -> Result<NetDir> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| HostLocalError::storage(dir, "create directory", e))?;
        let lock_path = dir.join("lock");
        let lock = open_lock(dir, &lock_path)?;
        lock.lock()
            .map_err(|e| HostLocalError::storage(&lock_path, "flock", e))?;
        Ok(NetDir {
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The reservation file of `ip` (the reference's `ip.String()` spelling).
    pub fn ip_path(&self, ip: IpAddr) -> PathBuf {
        self.dir.join(ip.to_string())
    }

    /// SPEC (reference disk backend): creates the reservation file of `ip`
    /// exclusively (`O_EXCL`) with `content`; `false` when the address is taken.
    pub fn reserve(&self, ip: IpAddr, content: &str) -> Result<bool> {
        let p = self.ip_path(ip);
        let mut f = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&p)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(HostLocalError::storage(p, "create reservation", e)),
        };
        if let Err(e) = f.write_all(content.as_bytes()) {
            let _ = fs::remove_file(&p);
            return Err(HostLocalError::storage(p, "write reservation", e));
        }
        Ok(true)
    }

    /// The owner of `ip`, `None` when the address is free.
    pub fn owner(&self, ip: IpAddr) -> Result<Option<Owner>> {
        let p = self.ip_path(ip);
        match safefs::read_bounded(&p, MAX_RESERVATION, false) {
            Ok(b) => Ok(Some(parse_owner(&String::from_utf8_lossy(&b)))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            // A planted symlink or special file: held, by nobody we can name.
            Err(e) if safefs::is_hostile(&e) => Ok(Some(Owner::Corrupt)),
            Err(e) => Err(HostLocalError::storage(p, "read reservation", e)),
        }
    }

    /// Removes the reservation of `ip` (absent is fine).
    pub fn remove(&self, ip: IpAddr) -> Result<()> {
        let p = self.ip_path(ip);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(HostLocalError::storage(p, "remove reservation", e))
            }
            _ => Ok(()),
        }
    }

    /// The round-robin cursor of range set `set` (unreadable means none).
    pub fn last_reserved(&self, set: usize) -> Option<IpAddr> {
        let p = self.dir.join(format!("{LAST_IP_PREFIX}{set}"));
        let b = safefs::read_bounded(&p, 256, false).ok()?;
        String::from_utf8(b).ok()?.trim().parse().ok()
    }

    /// SPEC (reference): `last_reserved_ip.<set>` holds the address text.
    pub fn set_last_reserved(&self, set: usize, ip: IpAddr) -> Result<()> {
        write_file(
            &self.dir.join(format!("{LAST_IP_PREFIX}{set}")),
            &ip.to_string(),
        )
    }

    /// Every reservation (names that parse as addresses), content unread.
    pub fn list_ips(&self) -> Result<Vec<IpAddr>> {
        let rd = fs::read_dir(&self.dir)
            .map_err(|e| HostLocalError::storage(&self.dir, "read directory", e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry =
                entry.map_err(|e| HostLocalError::storage(&self.dir, "read directory", e))?;
            if let Some(ip) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.push(ip);
            }
        }
        Ok(out)
    }

    /// Every reservation with its owner: the full scan (rebuild, GC only).
    pub fn scan(&self) -> Result<Vec<(IpAddr, Owner)>> {
        let mut out = Vec::new();
        for ip in self.list_ips()? {
            if let Some(o) = self.owner(ip)? {
                out.push((ip, o));
            }
        }
        Ok(out)
    }
}

/// Writes `content` over `path` in place (created if missing) and trims the
/// file to its length. Never truncates to zero first: ext4 flushes files that
/// are truncated to zero and rewritten (`auto_da_alloc`), which costs
/// milliseconds on a busy disk. Readers of our files detect torn writes.
/// Never writes through a symlink: a planted one is replaced (the link is
/// unlinked, its target untouched).
pub fn write_file(path: &Path, content: &str) -> Result<()> {
    safefs::write_in_place(path, content.as_bytes())
        .map_err(|e| HostLocalError::storage(path, "write", e))
}

fn open_lock_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Opens `dir/lock` without following a symlink. A planted symlink is
/// replaced by a regular file (the link itself unlinked, its target never
/// created or touched) while holding a flock on `dir` itself, so concurrent
/// repairs by our processes cannot unlink each other's new lock file.
fn open_lock(dir: &Path, path: &Path) -> Result<File> {
    let err = |what| move |e| HostLocalError::storage(path, what, e);
    let lock = match open_lock_nofollow(path) {
        Err(e) if safefs::is_symlink_err(&e) => {
            let d = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(dir)
                .map_err(|e| HostLocalError::storage(dir, "open directory", e))?;
            d.lock()
                .map_err(|e| HostLocalError::storage(dir, "flock", e))?;
            match open_lock_nofollow(path) {
                Err(e) if safefs::is_symlink_err(&e) => {
                    fs::remove_file(path).map_err(err("remove lock symlink"))?;
                    open_lock_nofollow(path)
                }
                r => r,
            }
        }
        r => r,
    }
    .map_err(err("open lock file"))?;
    let md = lock.metadata().map_err(err("stat lock file"))?;
    if !md.is_file() {
        return Err(err("open lock file")(safefs::not_regular()));
    }
    Ok(lock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_owners_like_the_reference_matches_them() {
        let k = |i: &str, f: &str| Owner::Key(Key::new(i, f));
        assert_eq!(parse_owner("abc\r\neth0"), k("abc", "eth0"));
        assert_eq!(parse_owner("abc\r\neth0\n"), k("abc", "eth0"));
        assert_eq!(parse_owner("  abc  "), k("abc", ""));
        assert_eq!(parse_owner(""), Owner::Corrupt);
        assert_eq!(parse_owner("a b"), Owner::Corrupt);
        assert_eq!(parse_owner("a\r\n"), k("a", ""));
        assert_eq!(parse_owner("a\r\nb\r\nc"), Owner::Corrupt);
    }

    #[test]
    fn planted_symlinks_are_replaced_never_followed() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let net = d.path().join("net");
        fs::create_dir(&net).unwrap();
        let ghost = d.path().join("ghost");
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        symlink(&ghost, net.join("lock")).unwrap();
        symlink(&victim, net.join("last_reserved_ip.0")).unwrap();
        symlink(&victim, net.join("10.0.0.2")).unwrap();
        let nd = NetDir::open(&net).unwrap();
        assert!(!ghost.exists());
        assert!(fs::symlink_metadata(net.join("lock")).unwrap().is_file());
        assert_eq!(nd.last_reserved(0), None);
        nd.set_last_reserved(0, "10.0.0.3".parse().unwrap())
            .unwrap();
        assert_eq!(nd.last_reserved(0), "10.0.0.3".parse().ok());
        assert_eq!(
            nd.owner("10.0.0.2".parse().unwrap()).unwrap(),
            Some(Owner::Corrupt)
        );
        let idx = crate::index::ensure_dir(&net).unwrap();
        fs::remove_dir(&idx).unwrap();
        symlink(d.path(), &idx).unwrap();
        crate::index::ensure_dir(&net).unwrap();
        assert!(fs::symlink_metadata(&idx).unwrap().is_dir());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    }

    #[test]
    fn content_round_trips() {
        let key = Key::new("c1", "eth0");
        assert_eq!(key.content(), "c1\r\neth0");
        assert_eq!(parse_owner(&key.content()), Owner::Key(key));
    }
}
