//! The result cache, byte-compatible with libcni's `cniCacheV1` files so
//! ferrocni, cnitool, CRI-O and podman can read each other's entries.
//!
//! File: `<cacheDir>/results/<network>-<containerID>-<ifname>` (dir 0700,
//! file 0600). JSON keys as libcni's `cachedInfo`: `kind` ("cniCacheV1"),
//! `containerId`, `config` (the list bytes, base64 like Go's `[]byte`),
//! `ifName`, `networkName`, `netns`, `cniArgs` (`[[k, v], ...]`),
//! `capabilityArgs`, `result`; the last four omitted when empty.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::CliError;

/// libcni's cache kind tag.
pub const KIND: &str = "cniCacheV1";
/// libcni's default cache directory.
pub const DEFAULT_DIR: &str = "/var/lib/cni";

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
    dir.join("results")
        .join(format!("{net}-{container_id}-{ifname}"))
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
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    let tmp = results.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| cache_err(&tmp, e))?;
    f.write_all(&bytes).map_err(|e| cache_err(&tmp, e))?;
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
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cache_err(file, e)),
    };
    match serde_json::from_slice::<Entry>(&bytes) {
        Ok(entry) if entry.kind == KIND => Ok(Some(entry)),
        Ok(entry) => Err(cache_err(file, format!("wrong kind {:?}", entry.kind))),
        Err(e) => legacy(&bytes).map(Some).ok_or_else(|| cache_err(file, e)),
    }
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_matches_the_standard_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64::encode(plain.as_bytes()), enc);
            assert_eq!(b64::decode(enc).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(b64::decode(&b64::encode(&all)).unwrap(), all);
        assert!(b64::decode("Zm9v!").is_err());
    }

    fn entry() -> Entry {
        Entry {
            kind: KIND.into(),
            container_id: "c1".into(),
            config: br#"{"name":"n"}"#.to_vec(),
            if_name: "eth0".into(),
            network_name: "n".into(),
            netns: "/run/netns/x".into(),
            cni_args: vec![["K".into(), "V".into()]],
            capability_args: json!({"portMappings":[]}).as_object().unwrap().clone(),
            result: Some(json!({"cniVersion":"1.0.0"})),
        }
    }

    #[test]
    fn field_names_are_libcnis() {
        let v = serde_json::to_value(entry()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "capabilityArgs",
                "cniArgs",
                "config",
                "containerId",
                "ifName",
                "kind",
                "netns",
                "networkName",
                "result"
            ]
        );
        assert_eq!(v["config"], "eyJuYW1lIjoibiJ9");
        assert_eq!(v["cniArgs"], json!([["K", "V"]]));
        let bare = Entry {
            netns: String::new(),
            cni_args: vec![],
            capability_args: Map::new(),
            result: None,
            ..entry()
        };
        let v = serde_json::to_value(bare).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 5, "{v}");
    }

    #[test]
    fn write_read_list_remove() {
        let dir = std::env::temp_dir().join(format!("ferrocni-cache-{}", std::process::id()));
        let file = write(&dir, &entry()).unwrap();
        assert_eq!(file, dir.join("results/n-c1-eth0"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read(&file).unwrap(), Some(entry()));
        std::fs::write(dir.join("results/junk"), "nope").unwrap();
        assert_eq!(list(&dir, "n").unwrap(), vec![entry()]);
        assert!(list(&dir, "other").unwrap().is_empty());
        std::fs::write(&file, r#"{"cniVersion":"0.4.0","ips":[]}"#).unwrap();
        let old = read(&file).unwrap().unwrap();
        assert_eq!(
            (
                old.kind.as_str(),
                old.result.unwrap()["cniVersion"].as_str()
            ),
            ("", Some("0.4.0"))
        );
        assert!(
            list(&dir, "n").unwrap().is_empty(),
            "legacy entries are not attachments"
        );
        std::fs::write(&file, r#"{"kind":"cniCacheV9"}"#).unwrap();
        assert!(read(&file).is_err());
        remove(&file).unwrap();
        remove(&file).unwrap();
        assert_eq!(read(&file).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
