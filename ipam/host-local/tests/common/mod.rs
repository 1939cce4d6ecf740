//! Shared helpers of host-local's integration tests: configs, calls of our
//! binary and the reference, and views of the data directory.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use integration::{CniCall, CniOutput};
use serde_json::{Value, json};

/// Our binary, built by cargo for these tests.
pub const OURS: &str = env!("CARGO_BIN_EXE_host-local");
/// The Debian reference binary (containernetworking/plugins 1.1.1).
pub const REF: &str = "/usr/lib/cni/host-local";

/// Whether the reference is installed (interop tests need it).
pub fn have_ref() -> bool {
    Path::new(REF).exists()
}

/// A config with `ranges` and `dataDir` at `dir`, at `version`.
pub fn conf_v(dir: &Path, version: &str, ranges: Value) -> Value {
    json!({"cniVersion": version, "name": "testnet", "type": "host-local",
        "ipam": {"type": "host-local", "dataDir": dir, "ranges": ranges}})
}

/// A 1.0.0 config (the newest the reference understands).
pub fn conf(dir: &Path, ranges: Value) -> Value {
    conf_v(dir, "1.0.0", ranges)
}

/// A dual-stack /24 + /64.
pub fn dual(dir: &Path) -> Value {
    conf(
        dir,
        json!([[{"subnet": "10.10.0.0/24"}], [{"subnet": "fd10::/64"}]]),
    )
}

/// `<dataDir>/testnet`.
pub fn net_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("testnet")
}

pub fn add(bin: &str, id: &str, netns: &Path, conf: &Value) -> CniOutput {
    CniCall::new(bin, "ADD")
        .pod(id, &netns.display().to_string(), "eth0")
        .config(conf)
        .run()
}

pub fn del(bin: &str, id: &str, conf: &Value) -> CniOutput {
    CniCall::new(bin, "DEL")
        .pod(id, "", "eth0")
        .config(conf)
        .run()
}

pub fn check(bin: &str, id: &str, netns: &Path, conf: &Value) -> CniOutput {
    CniCall::new(bin, "CHECK")
        .pod(id, &netns.display().to_string(), "eth0")
        .config(conf)
        .run()
}

/// A verb without an attachment (STATUS, GC).
pub fn call(bin: &str, verb: &str, conf: &Value) -> CniOutput {
    CniCall::new(bin, verb).config(conf).run()
}

/// Asserts success and returns the addresses of the result (`a.b.c.d`, no prefix).
pub fn ips_of(out: &CniOutput) -> Vec<String> {
    assert!(out.success(), "call failed: {} {}", out.stdout, out.stderr);
    out.json()["ips"]
        .as_array()
        .expect("ips")
        .iter()
        .map(|i| {
            i["address"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Reservation files (name → content) of the network directory.
pub fn reservations(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(net_dir(dir)) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<std::net::IpAddr>().is_ok() {
            out.insert(
                name,
                String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned(),
            );
        }
    }
    out
}

/// Entries of the network directory other than lock, cursors and our index,
/// plus anything in the index other than its stamp.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let nd = net_dir(dir);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&nd).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n != "lock" && !n.starts_with("last_reserved_ip.") && n != ".ferrocni-index" {
            out.push(n);
        }
    }
    if let Ok(rd) = std::fs::read_dir(nd.join(".ferrocni-index")) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n != "stamp" {
                out.push(format!(".ferrocni-index/{n}"));
            }
        }
    }
    out.sort();
    out
}

/// A fresh temporary data directory.
pub fn tmpdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hl-test-")
        .tempdir()
        .unwrap()
}
