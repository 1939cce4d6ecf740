//! Our index inside the network directory: `.ferrocni-index/` holds one
//! marker file per attachment (`a.<fnv128 of id and ifname>`) listing its
//! addresses and the boot it was made in, plus a `stamp` that records the
//! network directory's mtime after our last change.
//!
//! The IP files stay the source of truth. The reference changes the network
//! directory only by creating or removing entries, which sets its mtime to
//! "now"; after each of our changes we set that mtime two seconds into the
//! past and record the value, so any foreign change is seen as a mismatch and
//! the index is rebuilt from the IP files. Nothing here is IP-shaped or has a
//! content equal to `id` or `id\r\nifname`, so the reference's recursive
//! DEL walk never matches our files.

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::boot;
use crate::error::{HostLocalError, Result};
use crate::store::{Key, NetDir, Owner, write_file};

/// The index directory's name inside `<dataDir>/<name>/`.
pub const INDEX_DIR: &str = ".ferrocni-index";
const STAMP: &str = "stamp";
const STAMP_HEADER: &str = "ferrocni host-local index v1";
const MARKER_HEADER: &str = "ferrocni host-local attachment v1";
/// Boot label of reservations found on disk that predate the current boot.
pub const BEFORE_BOOT: &str = "before-boot";

/// What the index knows about one attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub key: Key,
    pub boot: String,
    pub ips: Vec<IpAddr>,
}

/// The index of a locked network directory.
#[derive(Debug)]
pub struct Index<'a> {
    nd: &'a NetDir,
    dir: PathBuf,
    pub boot: String,
    /// The last writer recorded another boot (or nothing): first call since boot.
    pub boot_changed: bool,
    map: Option<HashMap<Key, Marker>>,
    /// Reservation files whose owner cannot be read (known after a rebuild).
    pub corrupt: Vec<IpAddr>,
    dirty: bool,
}

/// FNV-1a, 128 bits: stable across builds (unlike std's hasher).
fn fnv128(data: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    data.iter()
        .fold(OFFSET, |h, b| (h ^ u128::from(*b)).wrapping_mul(PRIME))
}

/// The marker file name of `key`.
pub fn marker_name(key: &Key) -> String {
    let data = format!("{}\0{}", key.id, key.ifname);
    format!("a.{:032x}", fnv128(data.as_bytes()))
}

fn marker_text(m: &Marker) -> String {
    let mut s = format!(
        "{MARKER_HEADER}\nid={}\nifname={}\nboot={}\n",
        m.key.id, m.key.ifname, m.boot
    );
    for ip in &m.ips {
        s.push_str(&format!("ip={ip}\n"));
    }
    s
}

/// Parses a marker; `None` when it is not one of ours or is damaged.
pub fn parse_marker(text: &str) -> Option<Marker> {
    let mut lines = text.lines();
    if lines.next()? != MARKER_HEADER {
        return None;
    }
    let (mut id, mut ifname, mut boot, mut ips) = (None, None, None, Vec::new());
    for l in lines {
        match l.split_once('=')? {
            ("id", v) => id = Some(v.to_string()),
            ("ifname", v) => ifname = Some(v.to_string()),
            ("boot", v) => boot = Some(v.to_string()),
            ("ip", v) => ips.push(v.parse().ok()?),
            _ => return None,
        }
    }
    let key = Key::new(&id?, &ifname?);
    (!key.id.is_empty()).then_some(Marker {
        key,
        boot: boot?,
        ips,
    })
}

struct Stamp {
    mtime: Option<(i64, i64)>,
    boot: String,
}

fn parse_stamp(text: &str) -> Option<Stamp> {
    let mut lines = text.lines();
    if lines.next()? != STAMP_HEADER {
        return None;
    }
    let mtime = lines.next()?.strip_prefix("mtime ")?;
    let mtime = match mtime.split_once(' ') {
        Some((s, ns)) => Some((s.parse().ok()?, ns.parse().ok()?)),
        None if mtime == "none" => None,
        None => return None,
    };
    let boot = lines.next()?.strip_prefix("boot ")?.to_string();
    Some(Stamp { mtime, boot })
}

impl<'a> Index<'a> {
    /// Opens the index, rebuilding it when it is missing, stale, damaged or
    /// written in another boot.
    pub fn open(nd: &'a NetDir, boot: String) -> Result<Index<'a>> {
        let dir = nd.dir.join(INDEX_DIR);
        match fs::create_dir(&dir) {
            Err(e) if e.kind() != ErrorKind::AlreadyExists => {
                return Err(HostLocalError::storage(&dir, "create index directory", e));
            }
            _ => {}
        }
        let stamp = fs::read_to_string(dir.join(STAMP))
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
            map: None,
            corrupt: Vec::new(),
            dirty: false,
        };
        if !fresh {
            idx.rebuild()?;
        }
        Ok(idx)
    }

    fn marker_path(&self, key: &Key) -> PathBuf {
        self.dir.join(marker_name(key))
    }

    /// Reads every reservation file and brings the markers in line with them.
    pub fn rebuild(&mut self) -> Result<()> {
        let mut owners: HashMap<Key, Vec<IpAddr>> = HashMap::new();
        self.corrupt.clear();
        for (ip, owner) in self.nd.scan()? {
            match owner {
                Owner::Key(k) => owners.entry(k).or_default().push(ip),
                Owner::Corrupt => self.corrupt.push(ip),
            }
        }
        let old = self.read_markers()?;
        let btime = boot::boot_time();
        let mut map = HashMap::new();
        for (key, mut ips) in owners {
            ips.sort();
            let boot = match old.get(&key) {
                Some(m) => m.boot.clone(),
                None => self.discovered_boot(&ips, btime),
            };
            let m = Marker { key, boot, ips };
            if old.get(&m.key) != Some(&m) {
                self.write_marker(&m)?;
            }
            map.insert(m.key.clone(), m);
        }
        for key in old.keys().filter(|k| !map.contains_key(*k)) {
            self.remove_file(&self.marker_path(key))?;
        }
        self.map = Some(map);
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
            .all(|ip| fs::metadata(self.nd.ip_path(*ip)).is_ok_and(|m| m.ctime() < bt));
        if before {
            BEFORE_BOOT.into()
        } else {
            self.boot.clone()
        }
    }

    /// Valid markers by key; anything else in the index directory is removed.
    fn read_markers(&self) -> Result<HashMap<Key, Marker>> {
        let mut out = HashMap::new();
        let rd = fs::read_dir(&self.dir)
            .map_err(|e| HostLocalError::storage(&self.dir, "read index directory", e))?;
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == STAMP {
                continue;
            }
            let parsed = fs::read_to_string(entry.path())
                .ok()
                .and_then(|t| parse_marker(&t))
                .filter(|m| marker_name(&m.key) == name);
            match parsed {
                Some(m) => {
                    out.insert(m.key.clone(), m);
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

    /// Written in place: a torn marker fails to parse or to verify, and a
    /// crash before the stamp is renewed leaves the index stale anyway.
    fn write_marker(&self, m: &Marker) -> Result<()> {
        write_file(&self.marker_path(&m.key), &marker_text(m))
    }

    /// The addresses `key` holds, each verified against its IP file.
    pub fn lookup(&mut self, key: &Key) -> Result<Option<Marker>> {
        if let Some(map) = &self.map {
            return Ok(map.get(key).cloned());
        }
        let text = match fs::read_to_string(self.marker_path(key)) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(_) => String::new(),
        };
        let want = Some(Owner::Key(key.clone()));
        if let Some(m) = parse_marker(&text).filter(|m| &m.key == key) {
            let mut ok = true;
            for ip in &m.ips {
                ok &= self.nd.owner(*ip)? == want;
            }
            if ok {
                return Ok(Some(m));
            }
        }
        self.rebuild()?;
        Ok(self.map.as_ref().and_then(|m| m.get(key).cloned()))
    }

    /// Records `m` (an empty address list removes the marker).
    pub fn put(&mut self, m: Marker) -> Result<()> {
        if m.ips.is_empty() {
            return self.remove(&m.key);
        }
        self.write_marker(&m)?;
        if let Some(map) = &mut self.map {
            map.insert(m.key.clone(), m);
        }
        self.dirty = true;
        Ok(())
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &Key) -> Result<()> {
        self.remove_file(&self.marker_path(key))?;
        if let Some(map) = &mut self.map {
            map.remove(key);
        }
        self.dirty = true;
        Ok(())
    }

    /// Every attachment (forces a rebuild: GC and reboot reclaim only).
    pub fn all(&mut self) -> Result<Vec<Marker>> {
        if self.map.is_none() {
            self.rebuild()?;
        }
        Ok(self.map.iter().flat_map(|m| m.values().cloned()).collect())
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
        let mtime = crate::mtime::set_marker(&self.nd.dir);
        let line = match mtime {
            Some((s, ns)) => format!("mtime {s} {ns}"),
            None => "mtime none".to_string(),
        };
        // A torn stamp does not parse: the next call rebuilds.
        let text = format!("{STAMP_HEADER}\n{line}\nboot {}\n", self.boot);
        write_file(&self.dir.join(STAMP), &text)?;
        self.dirty = false;
        Ok(())
    }
}
