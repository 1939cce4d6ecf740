//! Hostile or broken input: names that would escape the data directory,
//! corrupt reservation files, a damaged index, impossible requests, and
//! failures midway through ADD. Nothing may panic, leak or double-allocate.

mod common;

use common::*;
use integration::{CniCall, TestNetns};
use serde_json::json;

fn v4(dir: &std::path::Path) -> serde_json::Value {
    conf(dir, json!([[{"subnet": "10.50.0.0/24"}]]))
}

#[test]
fn network_names_cannot_escape_the_data_dir() {
    let ns = TestNetns::new("hlb");
    let dir = tmpdir();
    let data = dir.path().join("data");
    for bad in [
        "../escape",
        "a/b",
        "..",
        ".hidden",
        "a\u{0}b",
        "/abs",
        "sp ace",
    ] {
        let mut c = v4(&data);
        c["name"] = json!(bad);
        for verb in ["ADD", "DEL"] {
            let out = CniCall::new(OURS, verb)
                .pod("c", &ns.path().display().to_string(), "eth0")
                .config(&c)
                .run();
            assert_eq!(out.error_code(), 7, "{verb} {bad:?}: {}", out.stdout);
        }
    }
    assert!(!dir.path().join("escape").exists());
    assert!(!data.exists(), "nothing was created for a rejected name");
}

#[test]
fn corrupt_reservation_files_are_held_not_reused() {
    let ns = TestNetns::new("hlb");
    let dir = tmpdir();
    let c = conf(dir.path(), json!([[{"subnet": "10.50.0.0/29"}]]));
    ips_of(&add(OURS, "first", &ns.path(), &c)); // creates the directory: .2
    let nd = net_dir(dir.path());
    std::fs::write(nd.join("10.50.0.3"), "").unwrap();
    std::fs::write(nd.join("10.50.0.4"), "two words\r\nhere too").unwrap();
    std::fs::write(nd.join("10.50.0.5"), [0xff, 0xfe, 0x00]).unwrap();
    std::fs::write(nd.join("last_reserved_ip.0"), "garbage").unwrap();
    let got = ips_of(&add(OURS, "second", &ns.path(), &c));
    assert_eq!(
        got,
        ["10.50.0.6"],
        "corrupt files still hold their addresses"
    );
    assert!(del(OURS, "second", &c).success());
    assert!(del(OURS, "first", &c).success());
    assert_eq!(
        reservations(dir.path()).len(),
        3,
        "DEL removes only what it owns"
    );
}

#[test]
fn damaged_index_is_rebuilt_from_the_ip_files() {
    let ns = TestNetns::new("hlb");
    let dir = tmpdir();
    let c = v4(dir.path());
    let x = ips_of(&add(OURS, "x", &ns.path(), &c));
    let y = ips_of(&add(OURS, "y", &ns.path(), &c));
    let idx = net_dir(dir.path()).join(".ferrocni-index");
    let buckets: Vec<_> = std::fs::read_dir(&idx)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("b."))
        .collect();
    // Every entry now claims y's address, without touching the network dir's mtime.
    let mut entries = 0;
    for b in &buckets {
        let text = std::fs::read_to_string(b).unwrap();
        let mut lied = String::new();
        for l in text.lines() {
            entries += usize::from(l.starts_with("id="));
            let toks: Vec<String> = l
                .split(' ')
                .map(|t| {
                    if t.starts_with("ips=") {
                        format!("ips={}", y[0])
                    } else {
                        t.to_string()
                    }
                })
                .collect();
            lied.push_str(&format!("{}\n", toks.join(" ")));
        }
        std::fs::write(b, lied).unwrap();
    }
    assert_eq!(entries, 2, "one entry per attachment");
    assert!(del(OURS, "x", &c).success());
    let left = reservations(dir.path());
    assert_eq!(
        left.keys().cloned().collect::<Vec<_>>(),
        y,
        "x released, y untouched (x was {x:?})"
    );
    // Garbage stamp and a garbage marker: still consistent.
    std::fs::write(idx.join("stamp"), "nonsense").unwrap();
    std::fs::write(idx.join("b.00"), "x\r\neth0").unwrap();
    std::fs::write(idx.join("stray"), "y\r\neth0").unwrap();
    assert_eq!(
        ips_of(&add(OURS, "y", &ns.path(), &c)),
        y,
        "retry finds y's address"
    );
    // The whole index removed: rebuilt on the next call.
    std::fs::remove_dir_all(&idx).unwrap();
    assert!(check(OURS, "y", &ns.path(), &c).success());
    assert!(del(OURS, "y", &c).success());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn requested_addresses() {
    let ns = TestNetns::new("hlb");
    let dir = tmpdir();
    let c = dual(dir.path());
    let req = |id: &str, ips: &str| {
        CniCall::new(OURS, "ADD")
            .pod(id, &ns.path().display().to_string(), "eth0")
            .env("CNI_ARGS", &format!("IgnoreUnknown=1;IP={ips}"))
            .config(&c)
            .run()
    };
    assert_eq!(
        ips_of(&req("a", "10.10.0.77,fd10::77")),
        ["10.10.0.77", "fd10::77"]
    );
    assert_eq!(
        ips_of(&req("a", "10.10.0.77,fd10::77")),
        ["10.10.0.77", "fd10::77"],
        "retry"
    );
    let taken = req("b", "10.10.0.77");
    assert_eq!(taken.error_code(), 105, "{}", taken.stdout);
    assert_eq!(req("b", "10.10.0.1").error_code(), 7, "gateway");
    let outside = req("b", "192.168.9.9");
    assert_eq!(outside.error_code(), 7);
    assert!(outside.stdout.contains("192.168.9.9"));
    assert_eq!(req("b", "bogus").error_code(), 7);
    assert_eq!(
        reservations(dir.path()).len(),
        2,
        "failed requests leaked nothing"
    );
    let mut rc = c.clone();
    rc["runtimeConfig"] = json!({"ips": ["10.10.0.80/24"]});
    rc["args"] = json!({"cni": {"ips": ["fd10::80"]}});
    assert_eq!(
        ips_of(&add(OURS, "c", &ns.path(), &rc)),
        ["10.10.0.80", "fd10::80"]
    );
    assert_eq!(
        ips_of(&add(OURS, "d", &ns.path(), &c))[0],
        "10.10.0.81",
        "cursor follows requests"
    );
}

#[test]
fn failure_in_a_later_set_releases_the_earlier_ones() {
    let ns = TestNetns::new("hlb");
    let dir = tmpdir();
    // The v6 set has two addresses (::2, ::3); fill them first.
    let c = conf(
        dir.path(),
        json!([[{"subnet": "10.51.0.0/24"}], [{"subnet": "fd51::/126"}]]),
    );
    ips_of(&add(OURS, "p1", &ns.path(), &c));
    ips_of(&add(OURS, "p2", &ns.path(), &c));
    let before = reservations(dir.path());
    let out = add(OURS, "p3", &ns.path(), &c);
    assert_eq!(out.error_code(), 106, "{}", out.stdout);
    assert_eq!(
        reservations(dir.path()),
        before,
        "the v4 address of p3 was released"
    );
    assert!(!check(OURS, "p3", &ns.path(), &c).success());
}

#[test]
fn malformed_configs_get_spec_codes() {
    let ns = TestNetns::new("hlb");
    let dir = tmpdir();
    let run = |stdin: &str| {
        CniCall::new(OURS, "ADD")
            .pod("c", &ns.path().display().to_string(), "eth0")
            .stdin(stdin)
            .run()
    };
    assert_eq!(run("{nope").error_code(), 6);
    assert_eq!(
        run(r#"{"cniVersion":"1.0.0","name":"n","type":"host-local"}"#).error_code(),
        7
    );
    let mut c = v4(dir.path());
    c["ipam"]["ranges"] = json!([[{"subnet": "10.0.0.0/24"}], [{"subnet": "10.0.0.128/25"}]]);
    assert_eq!(run(&c.to_string()).error_code(), 7);
    c["ipam"]["ranges"] = json!("10.0.0.0/24");
    assert_eq!(run(&c.to_string()).error_code(), 6);
}

#[test]
fn del_is_idempotent_and_needs_no_netns() {
    let ns = TestNetns::new("hlb");
    let dir = tmpdir();
    let c = v4(dir.path());
    assert!(del(OURS, "never-added", &c).success(), "DEL before any ADD");
    ips_of(&add(OURS, "p", &ns.path(), &c));
    ns.delete();
    for _ in 0..2 {
        let out = CniCall::new(OURS, "DEL")
            .pod("p", "/run/netns/does-not-exist", "eth0")
            .config(&c)
            .run();
        assert!(out.success(), "{}", out.stdout);
    }
    assert!(reservations(dir.path()).is_empty());
}
