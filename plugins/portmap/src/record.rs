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
        match self.legacy_path(network, cid, ifname) {
            Some(old) => remove_file(&old),
            None => Ok(()),
        }
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

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256 (FIPS 180-4), self-contained: record names must stay stable.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        compress(&mut h, block);
    }
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_mut(4).zip(h) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

fn compress(h: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    for (i, c) in block.chunks(4).enumerate() {
        w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let mut v = *h;
    for (k, wi) in K.iter().zip(w) {
        let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
        let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
        let t1 = v[7]
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(*k)
            .wrapping_add(wi);
        let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
        let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
        let t2 = s0.wrapping_add(maj);
        v = [
            t1.wrapping_add(t2),
            v[0],
            v[1],
            v[2],
            v[3].wrapping_add(t1),
            v[4],
            v[5],
            v[6],
        ];
    }
    for (a, b) in h.iter_mut().zip(v) {
        *a = a.wrapping_add(b);
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
