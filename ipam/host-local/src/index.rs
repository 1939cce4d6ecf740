//! Our index inside the network directory: `.ferrocni-index/` holds 256
//! bucket files (`b.00` … `b.ff`) mapping each attachment (container id,
//! ifname) to its addresses and the boot it was made in, plus a `stamp` that
//! records the network directory's mtime after our last change.
//!
//! The IP files stay the source of truth. The reference changes the network
//! directory only by creating or removing entries, which sets its mtime to
//! "now"; after each of our changes we set that mtime into the past and
//! record the value (see [`crate::mtime`]), so any foreign change shows as a
//! mismatch and the index is rebuilt from the IP files. A lookup reads one
//! small bucket and verifies the addresses it names against their IP files;
//! any disagreement also triggers a rebuild. Nothing here is IP-shaped or
//! has a content equal to `id` or `id\r\nifname`, so the reference's
//! recursive DEL walk never matches our files.

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::boot;
use crate::error::{HostLocalError, Result};
pub use crate::index_format::Marker;
use crate::index_format::{
    BUCKETS, Stamp, bucket_name, bucket_of, bucket_text, parse_bucket, parse_stamp, stamp_text,
};
use crate::safefs;
use crate::store::{Key, NetDir, Owner, write_file};

/// The index directory's name inside `<dataDir>/<name>/`.
pub const INDEX_DIR: &str = ".ferrocni-index";
const STAMP: &str = "stamp";
/// Boot label of reservations found on disk that predate the current boot.
pub const BEFORE_BOOT: &str = "before-boot";

/// Largest index file we read; a larger one is damaged and rebuilt.
const MAX_INDEX_FILE: u64 = 64 << 20;

/// Reads one of our index files: never through a symlink, bounded.
fn read_text(p: &Path) -> std::io::Result<String> {
    let b = safefs::read_bounded(p, MAX_INDEX_FILE, false)?;
    String::from_utf8(b).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
}

/// The index directory of the network directory `net`, created if missing.
/// Never follows a symlink: a symlink or other non-directory planted there
/// is unlinked (the entry itself; a symlink's target is never touched) and
/// the directory is created in its place. Callers hold the network lock.
pub fn ensure_dir(net: &Path) -> Result<PathBuf> {
    let dir = net.join(INDEX_DIR);
    let d = &dir;
    let err = |what| move |e| HostLocalError::storage(d, what, e);
    match fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => return Ok(dir),
        Ok(_) => fs::remove_file(&dir).map_err(err("remove non-directory index"))?,
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(err("stat index directory")(e)),
    }
    fs::create_dir(&dir).map_err(err("create index directory"))?;
    Ok(dir)
}

/// The index of a locked network directory.
#[derive(Debug)]
pub struct Index<'a> {
    nd: &'a NetDir,
    dir: PathBuf,
    pub boot: String,
    /// The last writer recorded another boot (or nothing): first call since boot.
    pub boot_changed: bool,
    /// Buckets read (or rebuilt) during this call.
    buckets: HashMap<usize, Vec<Marker>>,
    /// Every bucket is in `buckets` and was rebuilt from the IP files.
    complete: bool,
    /// Reservation files whose owner cannot be read (known after a rebuild).
    pub corrupt: Vec<IpAddr>,
    dirty: bool,
}

impl<'a> Index<'a> {
    /// Opens the index, rebuilding it when it is missing, stale, damaged or
    /// written in another boot.
    pub fn open(nd: &'a NetDir, boot: String) -> Result<Index<'a>> {
        let dir = ensure_dir(&nd.dir)?;
        let stamp = read_text(&dir.join(STAMP))
            .ok()
            .and_then(|t| parse_stamp(&t));
        let md = fs::metadata(&nd.dir).map_err(|e| HostLocalError::storage(&nd.dir, "stat", e))?;
        let now = (md.mtime(), md.mtime_nsec());
        let boot_changed = stamp.as_ref().is_none_or(|s| s.boot != boot);
        let fresh = !boot_changed && stamp.is_some_and(|s| s.mtime == Some(now));
        let mut idx = Index {
            nd,
            dir,
            boot,
            boot_changed,
            buckets: HashMap::new(),
            complete: false,
            corrupt: Vec::new(),
            dirty: false,
        };
        if !fresh {
            idx.rebuild()?;
        }
        Ok(idx)
    }

    /// Reads every reservation file and brings the buckets in line with them.
    pub fn rebuild(&mut self) -> Result<()> {
        let mut owners: HashMap<Key, Vec<IpAddr>> = HashMap::new();
        self.corrupt.clear();
        for (ip, owner) in self.nd.scan()? {
            match owner {
                Owner::Key(k) => owners.entry(k).or_default().push(ip),
                Owner::Corrupt => self.corrupt.push(ip),
            }
        }
        let old = self.read_all_buckets()?;
        let old_boot: HashMap<&Key, &str> = old
            .values()
            .flatten()
            .map(|m| (&m.key, m.boot.as_str()))
            .collect();
        let btime = boot::boot_time();
        let mut fresh: HashMap<usize, Vec<Marker>> = HashMap::new();
        for (key, mut ips) in owners {
            ips.sort();
            let boot = match old_boot.get(&key) {
                Some(b) => b.to_string(),
                None => self.discovered_boot(&ips, btime),
            };
            fresh
                .entry(bucket_of(&key))
                .or_default()
                .push(Marker { key, boot, ips });
        }
        for b in 0..BUCKETS {
            let mut new = fresh.remove(&b).unwrap_or_default();
            new.sort_by(|x, y| x.key.cmp(&y.key));
            if old.get(&b) != Some(&new) {
                self.write_bucket(b, &new)?;
            }
            self.buckets.insert(b, new);
        }
        self.complete = true;
        self.dirty = true;
        Ok(())
    }

    /// Boot label for reservations we did not record: made in this boot
    /// unless every file's ctime predates the boot.
    fn discovered_boot(&self, ips: &[IpAddr], btime: Option<i64>) -> String {
        let Some(bt) = btime else {
            return self.boot.clone();
        };
        let before = ips
            .iter()
            .all(|ip| fs::symlink_metadata(self.nd.ip_path(*ip)).is_ok_and(|m| m.ctime() < bt));
        if before {
            BEFORE_BOOT.into()
        } else {
            self.boot.clone()
        }
    }

    /// Valid buckets by number; anything else in the index directory is removed.
    fn read_all_buckets(&self) -> Result<HashMap<usize, Vec<Marker>>> {
        let mut out = HashMap::new();
        let rd = fs::read_dir(&self.dir)
            .map_err(|e| HostLocalError::storage(&self.dir, "read index directory", e))?;
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == STAMP || entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let b = (0..BUCKETS).find(|b| bucket_name(*b) == name);
            let parsed = b.and_then(|b| {
                let text = read_text(&entry.path()).ok()?;
                Some((b, parse_bucket(&text, b)?))
            });
            match parsed {
                Some((b, v)) => {
                    out.insert(b, v);
                }
                None => self.remove_file(&entry.path())?,
            }
        }
        Ok(out)
    }

    fn remove_file(&self, p: &std::path::Path) -> Result<()> {
        match fs::remove_file(p) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(HostLocalError::storage(p, "remove index file", e))
            }
            _ => Ok(()),
        }
    }

    /// Written in place: a torn bucket fails to parse, and a crash before
    /// the stamp is renewed leaves the index stale anyway.
    fn write_bucket(&self, b: usize, entries: &[Marker]) -> Result<()> {
        let p = self.dir.join(bucket_name(b));
        if entries.is_empty() {
            return self.remove_file(&p);
        }
        write_file(&p, &bucket_text(entries))
    }

    /// Bucket `b`, read on first use; `None` when the file is damaged.
    fn load(&mut self, b: usize) -> Result<Option<&mut Vec<Marker>>> {
        if !self.buckets.contains_key(&b) {
            let v = match read_text(&self.dir.join(bucket_name(b))) {
                Ok(t) => parse_bucket(&t, b),
                Err(e) if e.kind() == ErrorKind::NotFound => Some(Vec::new()),
                Err(_) => None,
            };
            let Some(v) = v else {
                return Ok(None);
            };
            self.buckets.insert(b, v);
        }
        Ok(self.buckets.get_mut(&b))
    }

    /// Bucket `b`, rebuilding the whole index first when it is damaged.
    fn bucket(&mut self, b: usize) -> Result<&mut Vec<Marker>> {
        if self.load(b)?.is_none() {
            self.rebuild()?;
        }
        Ok(self.buckets.entry(b).or_default())
    }

    /// The addresses `key` holds, each verified against its IP file.
    pub fn lookup(&mut self, key: &Key) -> Result<Option<Marker>> {
        let found = self
            .bucket(bucket_of(key))?
            .iter()
            .find(|m| &m.key == key)
            .cloned();
        if self.complete {
            return Ok(found);
        }
        let Some(m) = found else {
            return Ok(None);
        };
        let want = Some(Owner::Key(key.clone()));
        for ip in &m.ips {
            if self.nd.owner(*ip)? != want {
                self.rebuild()?;
                return self.lookup(key);
            }
        }
        Ok(Some(m))
    }

    /// Records `m` (an empty address list forgets the attachment).
    pub fn put(&mut self, m: Marker) -> Result<()> {
        let b = bucket_of(&m.key);
        let bucket = self.bucket(b)?;
        let old = bucket.iter().position(|x| x.key == m.key);
        if old.map(|i| &bucket[i]) == Some(&m) || (old.is_none() && m.ips.is_empty()) {
            // Unchanged (a retried ADD): no write that a crash could tear.
            return Ok(());
        }
        bucket.retain(|x| x.key != m.key);
        if !m.ips.is_empty() {
            bucket.push(m);
            bucket.sort_by(|x, y| x.key.cmp(&y.key));
        }
        let entries = bucket.clone();
        self.write_bucket(b, &entries)?;
        self.dirty = true;
        Ok(())
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &Key) -> Result<()> {
        self.put(Marker {
            key: key.clone(),
            boot: String::new(),
            ips: Vec::new(),
        })
    }

    /// Every attachment (forces a rebuild: GC and reboot reclaim only).
    pub fn all(&mut self) -> Result<Vec<Marker>> {
        if !self.complete {
            self.rebuild()?;
        }
        Ok(self.buckets.values().flatten().cloned().collect())
    }

    /// The caller changed reservation files: the stamp must be renewed.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Sets the directory's mtime to a marker value and records it in the stamp.
    pub fn commit(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let stamp = Stamp {
            mtime: crate::mtime::set_marker(&self.nd.dir),
            boot: self.boot.clone(),
        };
        // A torn stamp does not parse: the next call rebuilds.
        write_file(&self.dir.join(STAMP), &stamp_text(&stamp))?;
        self.dirty = false;
        Ok(())
    }
}
