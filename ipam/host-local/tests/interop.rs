//! Mixed-binary interop with the Debian reference host-local on one data
//! directory: releases in both directions, no double allocation, CHECK and
//! retry across binaries, and the reference's DEL never touching our index.

mod common;

use std::collections::HashSet;

use common::*;
use integration::TestNetns;

macro_rules! need_ref {
    () => {
        if !have_ref() {
            eprintln!("skipped: {REF} not installed (make deps)");
            return;
        }
    };
}

#[test]
fn reference_allocation_is_released_by_ours() {
    need_ref!();
    let ns = TestNetns::new("hli");
    let dir = tmpdir();
    let conf = dual(dir.path());
    let ips = ips_of(&add(REF, "ref-1", &ns.path(), &conf));
    assert_eq!(reservations(dir.path()).len(), 2);
    assert!(
        check(OURS, "ref-1", &ns.path(), &conf).success(),
        "ours sees the reference's reservation"
    );
    let again = ips_of(&add(OURS, "ref-1", &ns.path(), &conf));
    assert_eq!(
        again, ips,
        "ADD retried with ours returns the reference's addresses"
    );
    assert!(del(OURS, "ref-1", &conf).success());
    assert!(reservations(dir.path()).is_empty());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn our_allocation_is_released_by_the_reference() {
    need_ref!();
    let ns = TestNetns::new("hli");
    let dir = tmpdir();
    let conf = dual(dir.path());
    ips_of(&add(OURS, "ours-1", &ns.path(), &conf));
    ips_of(&add(OURS, "ours-2", &ns.path(), &conf));
    let c = check(REF, "ours-1", &ns.path(), &conf);
    assert!(c.success(), "reference CHECK sees ours: {}", c.stdout);
    let dup = add(REF, "ours-1", &ns.path(), &conf);
    assert!(
        !dup.success(),
        "the reference sees our reservation as a duplicate"
    );
    assert!(del(REF, "ours-1", &conf).success());
    let left = reservations(dir.path());
    assert_eq!(left.len(), 2, "only ours-2 remains: {left:?}");
    assert!(left.values().all(|c| c == "ours-2\r\neth0"));
    // The reference's walk read our index files and removed none of them.
    let idx = net_dir(dir.path()).join(".ferrocni-index");
    assert!(idx.join("stamp").exists());
    // Our index notices the foreign change: CHECK of ours-1 now fails.
    assert!(!check(OURS, "ours-1", &ns.path(), &conf).success());
    assert!(check(OURS, "ours-2", &ns.path(), &conf).success());
    assert!(del(REF, "ours-2", &conf).success());
    assert!(reservations(dir.path()).is_empty());
}

#[test]
fn alternating_binaries_never_share_an_address() {
    need_ref!();
    let ns = TestNetns::new("hli");
    let dir = tmpdir();
    let conf = conf(
        dir.path(),
        serde_json::json!([[{"subnet": "10.20.0.0/28"}]]),
    );
    let mut seen = HashSet::new();
    // 13 usable addresses: .2 … .14; fill them alternating binaries.
    for i in 0..13 {
        let bin = if i % 2 == 0 { OURS } else { REF };
        let ip = ips_of(&add(bin, &format!("c{i}"), &ns.path(), &conf)).remove(0);
        assert!(
            seen.insert(ip.clone()),
            "{ip} handed out twice (call {i} by {bin})"
        );
    }
    for bin in [OURS, REF] {
        let full = add(bin, "one-too-many", &ns.path(), &conf);
        assert!(!full.success(), "{bin} must report exhaustion");
    }
    // Free two (one by each binary) and reallocate them crosswise.
    assert!(del(REF, "c0", &conf).success());
    assert!(del(OURS, "c1", &conf).success());
    let a = ips_of(&add(OURS, "n1", &ns.path(), &conf));
    let b = ips_of(&add(REF, "n2", &ns.path(), &conf));
    assert_ne!(a, b);
    assert_eq!(reservations(dir.path()).len(), 13);
}

#[test]
fn round_robin_cursor_is_shared() {
    need_ref!();
    let ns = TestNetns::new("hli");
    let dir = tmpdir();
    let conf = conf(
        dir.path(),
        serde_json::json!([[{"subnet": "10.21.0.0/24"}]]),
    );
    assert_eq!(ips_of(&add(REF, "a", &ns.path(), &conf)), ["10.21.0.2"]);
    assert_eq!(ips_of(&add(OURS, "b", &ns.path(), &conf)), ["10.21.0.3"]);
    assert!(del(OURS, "a", &conf).success());
    assert_eq!(ips_of(&add(REF, "c", &ns.path(), &conf)), ["10.21.0.4"]);
    assert_eq!(ips_of(&add(OURS, "d", &ns.path(), &conf)), ["10.21.0.5"]);
}

#[test]
fn concurrent_mixed_binaries() {
    need_ref!();
    let ns = TestNetns::new("hli");
    let dir = tmpdir();
    let conf = dual(dir.path());
    let outs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..60)
            .map(|i| {
                let (ns, conf) = (&ns, &conf);
                s.spawn(move || {
                    let bin = if i % 2 == 0 { OURS } else { REF };
                    add(bin, &format!("m{i}"), &ns.path(), conf)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen = HashSet::new();
    for o in &outs {
        for ip in ips_of(o) {
            assert!(seen.insert(ip.clone()), "{ip} twice");
        }
    }
    std::thread::scope(|s| {
        for i in 0..60 {
            let conf = &conf;
            // Each attachment is released by the binary that did NOT allocate it.
            s.spawn(move || {
                let bin = if i % 2 == 0 { REF } else { OURS };
                let d = del(bin, &format!("m{i}"), conf);
                assert!(d.success(), "{} {}", d.stdout, d.stderr);
            });
        }
    });
    assert!(reservations(dir.path()).is_empty());
    // Markers of attachments the reference released are dropped by our next call.
    assert!(del(OURS, "nobody", &conf).success());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn same_results_as_the_reference_for_every_version() {
    need_ref!();
    let ns = TestNetns::new("hli");
    for v in ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] {
        let (d1, d2) = (tmpdir(), tmpdir());
        let mk = |d: &std::path::Path| {
            let mut c = conf_v(
                d,
                v,
                serde_json::json!([[{"subnet": "10.30.0.0/24"}], [{"subnet": "fd30::/64"}]]),
            );
            c["ipam"]["routes"] =
                serde_json::json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd30::1"}]);
            c
        };
        let a = add(OURS, "x", &ns.path(), &mk(d1.path())).json();
        let b = add(REF, "x", &ns.path(), &mk(d2.path())).json();
        assert_eq!(a, b, "cniVersion {v}");
    }
}

#[test]
fn ipv6_file_names_are_spelled_like_the_reference() {
    need_ref!();
    let ns = TestNetns::new("hli");
    for subnet in [
        "fd00:1:0:1:1::/80",
        "fd00:0:1:0:0:1::/96",
        "fd00:0:0:0:1::/80",
        "2001:db8::/120",
    ] {
        let (d1, d2) = (tmpdir(), tmpdir());
        let ranges = serde_json::json!([[{"subnet": subnet}]]);
        for i in 0..3 {
            ips_of(&add(
                OURS,
                &format!("c{i}"),
                &ns.path(),
                &conf(d1.path(), ranges.clone()),
            ));
            ips_of(&add(
                REF,
                &format!("c{i}"),
                &ns.path(),
                &conf(d2.path(), ranges.clone()),
            ));
        }
        assert_eq!(reservations(d1.path()), reservations(d2.path()), "{subnet}");
    }
}
