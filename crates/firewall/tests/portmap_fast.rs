//! The nftables portmap ADD fast path: conflicts stay atomic and name the
//! holder, retries converge, concurrent ADDs have one winner, and a table
//! of the previous layout keeps its holders' claims.

mod common;

use common::{in_ns, net, ruleset};
use fwkit::{
    Backend, Error, PortMapping, PortmapOpts, Protocol, portmap_add, portmap_check,
    portmap_del_known,
};
use integration::TestNetns;
use std::sync::Barrier;

const NFT: Backend = Backend::Nftables;

fn pm(host: Option<&str>, port: u16) -> PortMapping {
    PortMapping {
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port: port,
        container_port: 80,
        protocol: Protocol::Tcp,
    }
}

fn ips(i: u8) -> Vec<ipnet::IpNet> {
    vec![
        net(&format!("10.88.0.{i}/16")),
        net(&format!("fd88::{i}/64")),
    ]
}

fn add(ns: &TestNetns, cid: &str, i: u8, maps: &[PortMapping]) -> fwkit::Result<()> {
    let o = PortmapOpts::default();
    in_ns(ns, || portmap_add("n", cid, &ips(i), maps, &o, NFT))
}

/// Every element of the table (sorted), for "nothing changed" checks.
fn elements(ns: &TestNetns) -> Vec<String> {
    let out = ns.exec_ok(&["nft", "list", "table", "inet", "ferrocni_hostport"]);
    let mut v: Vec<String> = out.lines().map(|l| l.trim().to_string()).collect();
    v.sort();
    v
}

fn holder_of(r: fwkit::Result<()>) -> String {
    match r {
        Err(Error::PortConflict { holder, .. }) => holder,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn four_overlaps_conflict_atomically_in_both_families() {
    let ns = TestNetns::new("pfo");
    add(&ns, "warm", 2, &[pm(None, 1)]).unwrap();
    for (a, b) in [("10.0.0.1", "10.0.0.2"), ("fd00::1", "fd00::2")] {
        let port = if a.contains(':') { 200 } else { 100 };
        add(&ns, "any", 3, &[pm(None, port)]).unwrap();
        add(&ns, "spec", 4, &[pm(Some(a), port + 1)]).unwrap();
        // Another specific address of a specifically held port is free.
        add(&ns, "spec2", 5, &[pm(Some(b), port + 1)]).unwrap();
        let before = elements(&ns);
        let cases = [
            (pm(None, port), &["any"][..]),           // any vs any
            (pm(Some(b), port), &["any"]),            // specific vs any
            (pm(None, port + 1), &["spec", "spec2"]), // any vs specific
            (pm(Some(a), port + 1), &["spec"]),       // same specific
        ];
        for (m, want) in cases {
            let got = holder_of(add(&ns, "x", 6, &[pm(None, port + 50), m]));
            assert!(want.contains(&got.as_str()), "{m}: {got}");
            assert_eq!(elements(&ns), before, "{m}: not atomic");
        }
    }
    assert!(!ruleset(&ns).contains("\"x n\""));
}

#[test]
fn retried_add_converges_and_released_ports_are_free() {
    let ns = TestNetns::new("pfr");
    let maps = [
        pm(None, 80),
        pm(Some("10.0.0.1"), 81),
        pm(Some("fd00::1"), 82),
    ];
    add(&ns, "warm", 2, &[pm(None, 1)]).unwrap();
    add(&ns, "c", 3, &maps).unwrap();
    let once = elements(&ns);
    add(&ns, "c", 3, &maps).unwrap();
    assert_eq!(elements(&ns), once, "a retried ADD changes nothing");
    let o = PortmapOpts::default();
    in_ns(&ns, || portmap_check("n", "c", &ips(3), &maps, &o, NFT)).unwrap();
    assert_eq!(
        holder_of(add(&ns, "d", 4, &[pm(Some("10.0.0.9"), 80)])),
        "c"
    );
    // Known-DEL releases the any-address claim with the mapping...
    in_ns(&ns, || portmap_del_known("n", "c", &ips(3), &maps, &o, NFT)).unwrap();
    add(&ns, "d", 4, &[pm(Some("10.0.0.9"), 80)]).unwrap();
    // ...and a specific claim left behind does not block an any-address ADD.
    add(&ns, "e", 5, &[pm(None, 81)]).unwrap();
    assert_eq!(
        holder_of(add(&ns, "f", 6, &[pm(Some("10.0.0.1"), 81)])),
        "e"
    );
}

/// `n` threads ADD `maps(i)` at once; returns the winners' indices.
fn race(ns: &TestNetns, n: u8, maps: &(dyn Fn(u8) -> PortMapping + Sync)) -> Vec<u8> {
    let go = Barrier::new(n.into());
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let go = &go;
                s.spawn(move || {
                    in_ns(ns, || {
                        go.wait();
                        let o = PortmapOpts::default();
                        portmap_add("n", &format!("r{i}"), &ips(10 + i), &[maps(i)], &o, NFT)
                    })
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<u8> = (0..n).filter(|i| results[*i as usize].is_ok()).collect();
    for r in results.into_iter().filter(Result::is_err) {
        let h = holder_of(r);
        assert!(
            winners.iter().any(|w| h == format!("r{w}")),
            "{h} did not win"
        );
    }
    winners
}

#[test]
fn concurrent_adds_of_one_port_have_one_winner() {
    let ns = TestNetns::new("pfx");
    // First ADDs on the node (no table yet), then on the fast path.
    assert_eq!(race(&ns, 8, &|_| pm(None, 7000)).len(), 1);
    assert_eq!(race(&ns, 8, &|_| pm(None, 7001)).len(), 1);
    // Any-address against specific-address claims of one port.
    let mixed = |i: u8| match i % 2 {
        0 => pm(None, 7002),
        _ => pm(Some(&format!("10.0.0.{i}")), 7002),
    };
    let w = race(&ns, 8, &mixed);
    let any = w.iter().filter(|i| *i % 2 == 0).count();
    assert!(any == 0 || w.len() == 1, "{w:?}");
    assert!(!w.is_empty());
}

#[test]
fn table_of_the_previous_layout_keeps_its_claims() {
    let ns = TestNetns::new("pfm");
    let t = "inet ferrocni_hostport";
    let v4 = "ipv4_addr . inet_service";
    let old = format!(
        "add table {t}
add map {t} hp4_ip {{ type inet_proto . ipv4_addr . inet_service : {v4} ; }}
add map {t} hp4_any {{ type inet_proto . inet_service : {v4} ; }}
add set {t} spec4 {{ type inet_proto . inet_service ; }}
add element {t} hp4_any {{ tcp . 80 comment \"old n\" : 10.9.0.2 . 80 }}
add element {t} hp4_ip {{ tcp . 10.0.0.1 . 81 comment \"olds n\" : 10.9.0.3 . 80 }}
add element {t} spec4 {{ tcp . 81 }}
"
    );
    let mut b = fwkit::Batch::new();
    b.line(old.trim_end());
    in_ns(&ns, || b.run(&["nft", "-f", "-"])).unwrap();
    assert_eq!(
        holder_of(add(&ns, "new", 2, &[pm(Some("10.0.0.9"), 80)])),
        "old"
    );
    assert_eq!(holder_of(add(&ns, "new", 2, &[pm(None, 81)])), "olds");
    add(&ns, "new", 2, &[pm(None, 82)]).unwrap();
    // Now on the current layout: the old claims still hold on the fast path.
    assert!(ruleset(&ns).contains("layout_v2"));
    assert_eq!(
        holder_of(add(&ns, "new2", 3, &[pm(Some("10.0.0.9"), 80)])),
        "old"
    );
    assert_eq!(holder_of(add(&ns, "new2", 3, &[pm(None, 81)])), "olds");
}
