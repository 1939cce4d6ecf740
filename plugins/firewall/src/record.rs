//! Per-attachment records of the iptables backend: a small JSON file
//! written at ADD so DEL and GC can find the pod's addresses when the
//! runtime sends no prevResult (containerd's second DEL round, a runtime
//! that crashed mid-ADD). The reference layout's rules carry no container
//! id, so without it they could only be found by address.
//!
//! Layout: `<recordDir>/<network>/<containerID>:<ifname>`. Neither a
//! container id nor an interface name can contain `:` or `/`, so the name
//! is unambiguous and cannot leave the directory. Files are created `0600`
//! through a temporary name (`O_CREAT|O_EXCL`, which never follows a
//! symlink) and `rename`; a record is read only when `lstat` says it is a
//! regular file and the opened file is that same inode; directories are
//! never symlinks. The nftables backend needs no record:
//! its elements carry the attachment in their comments.

use crate::error::{FwError, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Records larger than this are corrupt (a real one is well under 1 KiB).
const MAX_RECORD: u64 = 64 << 10;
const FORMAT: u32 = 1;

/// What ADD set up for one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Record {
    pub format: u32,
    pub network: String,
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
    /// Always `iptables` today (the only backend that writes records).
    pub backend: String,
    pub ips: Vec<IpAddr>,
}

impl Record {
    pub fn new(network: &str, cid: &str, ifname: &str, ips: &[IpAddr]) -> Record {
        Record {
            format: FORMAT,
            network: network.into(),
            container_id: cid.into(),
            ifname: ifname.into(),
            backend: "iptables".into(),
            ips: ips.to_vec(),
        }
    }
}

/// The record directory of one configuration.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> FwError + 'a {
    move |source| FwError::Record {
        path: path.display().to_string(),
        op,
        source,
    }
}

fn corrupt(path: &Path, msg: impl Into<String>) -> FwError {
    FwError::RecordCorrupt {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The directory of `network` when it exists (never a symlink).
    fn net_dir(&self, network: &str) -> Result<Option<PathBuf>> {
        let dir = self.root.join(network);
        for d in [&self.root, &dir] {
            match fs::symlink_metadata(d) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_err(d, "stat")(e)),
                Ok(m) if !m.is_dir() => return Err(not_a_dir(d)),
                Ok(_) => {}
            }
        }
        Ok(Some(dir))
    }

    /// The file of one attachment.
    pub fn path(&self, network: &str, cid: &str, ifname: &str) -> PathBuf {
        self.root.join(network).join(file_name(cid, ifname))
    }

    /// Writes (or replaces) the record atomically.
    pub fn write(&self, rec: &Record) -> Result<()> {
        let dir = self.root.join(&rec.network);
        ensure_dir(&self.root)?;
        ensure_dir(&dir)?;
        let path = self.path(&rec.network, &rec.container_id, &rec.ifname);
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            file_name(&rec.container_id, &rec.ifname),
            std::process::id()
        ));
        let body = serde_json::to_vec(rec).map_err(|e| corrupt(&path, e.to_string()))?;
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp, "create"))?;
        f.write_all(&body).map_err(io_err(&tmp, "write"))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(&path, "rename")(e)
        })
    }

    /// Reads one attachment's record; `None` when there is none.
    pub fn read(&self, network: &str, cid: &str, ifname: &str) -> Result<Option<Record>> {
        if self.net_dir(network)?.is_none() {
            return Ok(None);
        }
        read_file(&self.path(network, cid, ifname))
    }

    /// Removes one attachment's record, and temporary files of it left by
    /// a writer killed before its rename; a missing record is fine.
    pub fn remove(&self, network: &str, cid: &str, ifname: &str) -> Result<()> {
        let Some(dir) = self.net_dir(network)? else {
            return Ok(());
        };
        let path = self.path(network, cid, ifname);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&path, "remove")(e)),
            _ => sweep(&dir, &format!(".{}.tmp", file_name(cid, ifname))),
        }
    }

    /// Removes every temporary file of `network` (GC). Writers hold the
    /// plugin lock until their rename, as GC does: what it sees is orphaned.
    pub fn sweep_temp(&self, network: &str) -> Result<()> {
        match self.net_dir(network)? {
            Some(dir) => sweep(&dir, "."),
            None => Ok(()),
        }
    }

    /// Every record of `network` (GC), and the entries that could not be
    /// read, so GC can go on past them.
    pub fn list(&self, network: &str) -> (Vec<Record>, Vec<FwError>) {
        let dir = match self.net_dir(network) {
            Ok(Some(d)) => d,
            Ok(None) => return (Vec::new(), Vec::new()),
            Err(e) => return (Vec::new(), vec![e]),
        };
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => return (Vec::new(), vec![io_err(&dir, "list")(e)]),
        };
        let mut recs = Vec::new();
        let mut errs = Vec::new();
        for name in rd.flatten().map(|e| e.file_name()) {
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            match read_file(&dir.join(&name)) {
                Ok(Some(r)) => recs.push(r),
                Ok(None) => {}
                Err(e) => errs.push(e),
            }
        }
        (recs, errs)
    }
}

/// Longest `<cid>:<ifname>` used as a file name as it is; a longer one (a
/// valid container id may be any length) is named by its SHA-256 instead,
/// so ADD and DEL never fail on NAME_MAX. The record holds the full id.
const MAX_PLAIN: usize = 200;

/// The record's file name: `<cid>:<ifname>`, or `h-<sha256 hex>` when long.
pub fn file_name(cid: &str, ifname: &str) -> String {
    use sha2::Digest;
    let plain = format!("{cid}:{ifname}");
    if plain.len() <= MAX_PLAIN {
        return plain;
    }
    let digest = sha2::Sha256::digest(plain.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("h-{hex}")
}

/// Removes the files of `dir` named `<prefix>…` that are temporary
/// (`.<file name>.tmp<pid>`).
fn sweep(dir: &Path, prefix: &str) -> Result<()> {
    let rd = fs::read_dir(dir).map_err(io_err(dir, "list"))?;
    for name in rd.flatten().map(|e| e.file_name()) {
        let n = name.to_string_lossy();
        if n.starts_with(prefix) && n.starts_with('.') && n.contains(".tmp") {
            let p = dir.join(&name);
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err(&p, "remove")(e));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn not_a_dir(path: &Path) -> FwError {
    corrupt(path, "is not a directory (symlinks are never followed)")
}

/// Creates `dir` (0700) if missing; an existing symlink or file is an error.
fn ensure_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => return Err(not_a_dir(dir)),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(dir, "stat")(e)),
        Err(_) => {}
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true).mode(0o700);
    b.create(dir).map_err(io_err(dir, "create directory"))?;
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(not_a_dir(dir)),
        Err(e) => Err(io_err(dir, "stat")(e)),
    }
}

fn read_file(path: &Path) -> Result<Option<Record>> {
    let before = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, "stat")(e)),
    };
    if !before.is_file() {
        return Err(corrupt(
            path,
            "is not a regular file (symlinks are never followed)",
        ));
    }
    let f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, "open")(e)),
    };
    let meta = f.metadata().map_err(io_err(path, "stat"))?;
    if !meta.is_file() || (meta.dev(), meta.ino()) != (before.dev(), before.ino()) {
        return Err(corrupt(path, "was replaced while being opened"));
    }
    let mut buf = Vec::new();
    f.take(MAX_RECORD + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(path, "read"))?;
    if buf.len() as u64 > MAX_RECORD {
        return Err(corrupt(path, format!("larger than {MAX_RECORD} bytes")));
    }
    let rec: Record = serde_json::from_slice(&buf).map_err(|e| corrupt(path, e.to_string()))?;
    if rec.format != FORMAT || rec.backend != "iptables" {
        return Err(corrupt(path, "unknown format or backend"));
    }
    Ok(Some(rec))
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
