//! Per-attachment records: a small JSON file written at ADD so DEL and GC
//! know what exists even when the runtime sends no `portMappings`
//! (cnitool without `CAP_ARGS`, containerd's second DEL round).
//!
//! Layout: `<recordDir>/<network>/<containerID>:<ifname>`. Neither a
//! container id nor an interface name can contain `:` (nor `/`), so the
//! name is unambiguous and cannot leave the directory. When that name would
//! be longer than [`MAX_PLAIN`] bytes (the spec puts no limit on ids) the
//! file is `h-<sha256 hex of "<containerID>:<ifname>">` instead; the record
//! holds the full id and ifname either way, so GC matches it by content.
//! A plain name too long for the new scheme but within NAME_MAX (written by
//! older builds) is still read and removed. Files are created
//! `0600` through a temporary name and `rename`, opened with `O_NOFOLLOW`;
//! directories are never symlinks (checked after creation).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::config::Opts;
use crate::error::PortmapError;
use crate::mapping::Mapping;

/// Records larger than this are corrupt (a real one is well under 4 KiB).
const MAX_RECORD: u64 = 256 << 10;
/// Longest `<containerID>:<ifname>` used as a file name; longer ones are
/// hashed (leaves room for the temporary name's prefix and suffix).
pub const MAX_PLAIN: usize = 200;
/// Linux NAME_MAX: longer plain names were never created by any build.
const NAME_MAX: usize = 255;
const FORMAT: u32 = 1;

/// What ADD set up for one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub format: u32,
    pub network: String,
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
    /// fwkit backend name: `nftables`, `iptables-nft` or `iptables-legacy`.
    pub backend: String,
    pub ips: Vec<IpNet>,
    pub mappings: Vec<Mapping>,
    /// The options ADD used (`None` in records of older builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opts: Option<Opts>,
}

impl Record {
    pub fn new(
        network: &str,
        cid: &str,
        ifname: &str,
        backend: &str,
        ips: &[IpNet],
        mappings: &[Mapping],
        opts: &Opts,
    ) -> Record {
        Record {
            format: FORMAT,
            network: network.into(),
            container_id: cid.into(),
            ifname: ifname.into(),
            backend: backend.into(),
            ips: ips.to_vec(),
            mappings: mappings.to_vec(),
            opts: Some(opts.clone()),
        }
    }

    /// The pod's addresses without prefixes (for conntrack).
    pub fn addrs(&self) -> Vec<IpAddr> {
        self.ips.iter().map(IpNet::addr).collect()
    }
}

/// The record directory of one configuration.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

fn rec_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> PortmapError + 'a {
    move |source| PortmapError::Record {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    fn net_dir(&self, network: &str) -> PathBuf {
        self.root.join(network)
    }

    /// The file of one attachment.
    pub fn path(&self, network: &str, cid: &str, ifname: &str) -> PathBuf {
        self.net_dir(network).join(file_name(cid, ifname))
    }

    /// Where an older build may have put the record: the plain name when
    /// it is hashed now but fits NAME_MAX.
    fn legacy_path(&self, network: &str, cid: &str, ifname: &str) -> Option<PathBuf> {
        let plain = format!("{cid}:{ifname}");
        (plain.len() > MAX_PLAIN && plain.len() <= NAME_MAX)
            .then(|| self.net_dir(network).join(plain))
    }

    /// Writes (or replaces) the record atomically.
    pub fn write(&self, rec: &Record) -> Result<(), PortmapError> {
        let dir = self.net_dir(&rec.network);
        ensure_dir(&self.root)?;
        ensure_dir(&dir)?;
        let name = file_name(&rec.container_id, &rec.ifname);
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        let body = serde_json::to_vec(rec).map_err(|e| PortmapError::RecordCorrupt {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(rec_err(&tmp, "create"))?;
        f.write_all(&body).map_err(rec_err(&tmp, "write"))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            rec_err(&path, "rename")(e)
        })?;
        if let Some(old) = self.legacy_path(&rec.network, &rec.container_id, &rec.ifname) {
            remove_file(&old)?;
        }
        Ok(())
    }

    /// Reads one attachment's record; `None` when there is none.
    pub fn read(
        &self,
        network: &str,
        cid: &str,
        ifname: &str,
    ) -> Result<Option<Record>, PortmapError> {
        let legacy = self.legacy_path(network, cid, ifname);
        for path in std::iter::once(self.path(network, cid, ifname)).chain(legacy) {
            if let Some(rec) = read_file(&path)? {
                if rec.container_id != cid || rec.ifname != ifname || rec.network != network {
                    return Err(PortmapError::RecordCorrupt {
                        path,
                        msg: format!("holds {}:{}", rec.container_id, rec.ifname),
                    });
                }
                return Ok(Some(rec));
            }
        }
        Ok(None)
    }

    /// Removes one attachment's record (under either name); a missing
    /// record, or a name too long to exist, is fine.
    pub fn remove(&self, network: &str, cid: &str, ifname: &str) -> Result<(), PortmapError> {
        remove_file(&self.path(network, cid, ifname))?;
        if let Some(old) = self.legacy_path(network, cid, ifname) {
            remove_file(&old)?;
        }
        let prefix = format!(".{}.tmp", file_name(cid, ifname));
        self.sweep_temp(network, &prefix)
    }

    /// Removes temporary files named `<prefix>…` that a writer killed
    /// between create and rename left behind (`"."` for all of them: GC,
    /// which runs when the runtime guarantees no ADD of the network).
    pub fn sweep_temp(&self, network: &str, prefix: &str) -> Result<(), PortmapError> {
        let dir = self.net_dir(network);
        // Best effort: an unlistable directory is reported by list/read.
        for name in dir_entries(&dir).unwrap_or_default() {
            if name.starts_with(prefix) && name.starts_with('.') && name.contains(".tmp") {
                remove_file(&dir.join(&name))?;
            }
        }
        Ok(())
    }

    /// Every record of `network` (GC). Unreadable entries are returned as
    /// errors next to the good ones so GC can go on.
    pub fn list(&self, network: &str) -> (Vec<Record>, Vec<PortmapError>) {
        let dir = self.net_dir(network);
        let entries = match dir_entries(&dir) {
            Ok(v) => v,
            Err(e) => return (Vec::new(), vec![e]),
        };
        let mut recs = Vec::new();
        let mut errs = Vec::new();
        for name in entries.into_iter().filter(|n| !n.starts_with('.')) {
            match read_file(&dir.join(&name)) {
                Ok(Some(r)) => recs.push(r),
                Ok(None) => {}
                Err(e) => errs.push(e),
            }
        }
        (recs, errs)
    }
}

/// The file name of one attachment's record (see the module comment).
pub fn file_name(cid: &str, ifname: &str) -> String {
    let plain = format!("{cid}:{ifname}");
    if plain.len() <= MAX_PLAIN {
        return plain;
    }
    let hex: String = sha256(plain.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("h-{hex}")
}

fn remove_file(path: &Path) -> Result<(), PortmapError> {
    match fs::remove_file(path) {
        Err(e) if !gone(&e) => Err(rec_err(path, "remove")(e)),
        _ => Ok(()),
    }
}

/// Missing, or a name too long to exist (a long network name).
fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENAMETOOLONG)
}

fn dir_entries(dir: &Path) -> Result<Vec<String>, PortmapError> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(rec_err(dir, "stat")(e)),
        Ok(m) if !m.is_dir() => return Err(not_a_dir(dir)),
        Ok(_) => {}
    }
    let rd = fs::read_dir(dir).map_err(rec_err(dir, "list"))?;
    Ok(rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

fn not_a_dir(path: &Path) -> PortmapError {
    PortmapError::RecordCorrupt {
        path: path.to_path_buf(),
        msg: "is not a directory (symlinks are never followed)".into(),
    }
}

/// Creates `dir` (0700) if missing; an existing symlink or file is an error.
fn ensure_dir(dir: &Path) -> Result<(), PortmapError> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => return Err(not_a_dir(dir)),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(rec_err(dir, "stat")(e)),
        Err(_) => {}
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true).mode(0o700);
    b.create(dir).map_err(rec_err(dir, "create directory"))?;
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(not_a_dir(dir)),
        Err(e) => Err(rec_err(dir, "stat")(e)),
    }
}

fn read_file(path: &Path) -> Result<Option<Record>, PortmapError> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path);
    let f = match f {
        Ok(f) => f,
        Err(e) if gone(&e) => return Ok(None),
        Err(e) => return Err(rec_err(path, "open")(e)),
    };
    let meta = f.metadata().map_err(rec_err(path, "stat"))?;
    if !meta.is_file() {
        return Err(PortmapError::RecordCorrupt {
            path: path.to_path_buf(),
            msg: "is not a regular file".into(),
        });
    }
    let mut buf = Vec::new();
    f.take(MAX_RECORD + 1)
        .read_to_end(&mut buf)
        .map_err(rec_err(path, "read"))?;
    let corrupt = |msg: String| PortmapError::RecordCorrupt {
        path: path.to_path_buf(),
        msg,
    };
    if buf.len() as u64 > MAX_RECORD {
        return Err(corrupt(format!("larger than {MAX_RECORD} bytes")));
    }
    let rec: Record = serde_json::from_slice(&buf).map_err(|e| corrupt(e.to_string()))?;
    if rec.format != FORMAT {
        return Err(corrupt(format!("unknown format {}", rec.format)));
    }
    Ok(Some(rec))
}

/// SHA-256 of `data` (the `sha2` crate): record names must stay stable.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
