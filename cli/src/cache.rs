//! The result cache, byte-compatible with libcni's `cniCacheV1` files so
//! ferrocni, cnitool, CRI-O and podman can read each other's entries.
//!
//! File: `<cacheDir>/results/<network>-<containerID>-<ifname>` (dir 0700,
//! file 0600). JSON keys as libcni's `cachedInfo`: `kind` ("cniCacheV1"),
//! `containerId`, `config` (the list bytes, base64 like Go's `[]byte`),
//! `ifName`, `networkName`, `netns`, `cniArgs` (`[[k, v], ...]`),
//! `capabilityArgs`, `result`; the last four omitted when empty.
//!
//! A name longer than NAME_MAX (ids have no length limit) is replaced by
//! `ferrocni-sha256-<hex of the libcni name>`; entries are matched by
//! content when listed, so GC still finds them. Entries are never read or
//! written through a symlink: the temporary file has a random name, is
//! created `O_EXCL|O_NOFOLLOW` and renamed into place.

use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::CliError;

/// libcni's cache kind tag.
pub const KIND: &str = "cniCacheV1";
/// libcni's default cache directory.
pub const DEFAULT_DIR: &str = "/var/lib/cni";
/// Linux NAME_MAX.
const NAME_MAX: usize = 255;
/// Entries larger than this are not ours (a real one is a few KiB).
const MAX_ENTRY: u64 = 16 << 20;

/// One cached attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: String,
    #[serde(rename = "containerId")]
    pub container_id: String,
    #[serde(with = "b64")]
    pub config: Vec<u8>,
    #[serde(rename = "ifName")]
    pub if_name: String,
    #[serde(rename = "networkName")]
    pub network_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub netns: String,
    #[serde(rename = "cniArgs", default, skip_serializing_if = "Vec::is_empty")]
    pub cni_args: Vec<[String; 2]>,
    #[serde(
        rename = "capabilityArgs",
        default,
        skip_serializing_if = "Map::is_empty"
    )]
    pub capability_args: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// The cache file of one attachment.
pub fn path(dir: &Path, net: &str, container_id: &str, ifname: &str) -> PathBuf {
    let name = format!("{net}-{container_id}-{ifname}");
    if name.len() <= NAME_MAX {
        return dir.join("results").join(name);
    }
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    dir.join("results").join(format!("ferrocni-sha256-{hex}"))
}

/// Creates a fresh temporary file next to `file`: a random name, created
/// `O_EXCL|O_NOFOLLOW` (never through a planted file or symlink), retried
/// when the name is taken.
fn create_tmp(results: &Path, file: &Path) -> Result<(PathBuf, std::fs::File), CliError> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut last = None;
    for _ in 0..16 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let tmp = results.join(format!(".{}.{:016x}.tmp", &name[..cut], h.finish()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some((tmp, e)),
            Err(e) => return Err(cache_err(&tmp, e)),
        }
    }
    let (tmp, e) = last.expect("at least one attempt");
    Err(cache_err(&tmp, e))
}

fn cache_err(path: &Path, msg: impl std::fmt::Display) -> CliError {
    CliError::Cache {
        path: path.to_path_buf(),
        msg: msg.to_string(),
    }
}

/// Writes `entry` (atomically: a dot-file renamed into place).
pub fn write(dir: &Path, entry: &Entry) -> Result<PathBuf, CliError> {
    let file = path(
        dir,
        &entry.network_name,
        &entry.container_id,
        &entry.if_name,
    );
    let results = dir.join("results");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&results)
        .map_err(|e| cache_err(&results, e))?;
    let bytes = serde_json::to_vec(entry).map_err(|e| cache_err(&file, e))?;
    let (tmp, mut f) = create_tmp(&results, &file)?;
    if let Err(e) = f.write_all(&bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(cache_err(&tmp, e));
    }
    drop(f);
    std::fs::rename(&tmp, &file).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cache_err(&file, e)
    })?;
    Ok(file)
}

/// Reads an entry: `Ok(None)` when there is none (like libcni, a missing
/// file is not an error); an unreadable or foreign file is an error.
pub fn read(file: &Path) -> Result<Option<Entry>, CliError> {
    let Some(bytes) = read_bytes(file)? else {
        return Ok(None);
    };
    match serde_json::from_slice::<Entry>(&bytes) {
        Ok(entry) if entry.kind == KIND => Ok(Some(entry)),
        Ok(entry) => Err(cache_err(file, format!("wrong kind {:?}", entry.kind))),
        Err(e) => legacy(&bytes).map(Some).ok_or_else(|| cache_err(file, e)),
    }
}

/// The file's bytes, never through a symlink nor from anything but a
/// regular file (a FIFO does not block).
fn read_bytes(file: &Path) -> Result<Option<Vec<u8>>, CliError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(file);
    let f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cache_err(file, e)),
    };
    let meta = f.metadata().map_err(|e| cache_err(file, e))?;
    if !meta.is_file() {
        return Err(cache_err(file, "not a regular file"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_ENTRY + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cache_err(file, e))?;
    if bytes.len() as u64 > MAX_ENTRY {
        return Err(cache_err(file, format!("larger than {MAX_ENTRY} bytes")));
    }
    Ok(Some(bytes))
}

/// libcni's pre-`cniCacheV1` format: the file is the bare result. Returned
/// as an entry with an empty `kind` and only `result` set.
fn legacy(bytes: &[u8]) -> Option<Entry> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let obj = v.as_object()?;
    if obj.contains_key("kind") || !obj.contains_key("cniVersion") {
        return None;
    }
    Some(Entry {
        kind: String::new(),
        container_id: String::new(),
        config: Vec::new(),
        if_name: String::new(),
        network_name: String::new(),
        netns: String::new(),
        cni_args: Vec::new(),
        capability_args: Map::new(),
        result: Some(v),
    })
}

/// Removes an entry; a missing one is fine.
pub fn remove(file: &Path) -> Result<(), CliError> {
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(cache_err(file, e)),
        _ => Ok(()),
    }
}

/// Every valid entry of network `net`, by file name (libcni
/// `GetCachedAttachments`, filtered by network).
pub fn list(dir: &Path, net: &str) -> Result<Vec<Entry>, CliError> {
    let results = dir.join("results");
    let rd = match std::fs::read_dir(&results) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(cache_err(&results, e)),
    };
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    files.sort();
    Ok(files
        .iter()
        .filter_map(|f| read(f).ok().flatten())
        .filter(|e| e.network_name == net && !e.if_name.is_empty())
        .collect())
}

/// Go's `encoding/json` representation of `[]byte`: standard base64 with
/// padding; `null` reads as empty.
mod b64 {
    use serde::{Deserialize, Deserializer, Serializer};

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    pub fn decode(s: &str) -> Result<Vec<u8>, String> {
        let s = s.trim_end_matches('=');
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let (mut acc, mut bits) = (0u32, 0u32);
        for c in s.bytes() {
            let v = ALPHABET
                .iter()
                .position(|&a| a == c)
                .ok_or_else(|| format!("invalid base64 character {:?}", c as char))?;
            acc = (acc << 6) | v as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        Ok(out)
    }

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(data))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Vec::new()),
            Some(s) => decode(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
