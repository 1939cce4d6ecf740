//! `portmap_del_known` on nftables: exactly this container's elements,
//! nothing of anybody else's, whatever is already gone.

mod common;

use common::{in_ns, net, ruleset};
use fwkit::{
    Backend, PortMapping, PortmapOpts, Protocol, portmap_add, portmap_check, portmap_del,
    portmap_del_known,
};
use integration::TestNetns;

const NFT: Backend = Backend::Nftables;

fn pm(host: Option<&str>, hp: u16, protocol: Protocol) -> PortMapping {
    PortMapping {
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port: hp,
        container_port: 80,
        protocol,
    }
}

fn ours() -> Vec<PortMapping> {
    vec![
        pm(None, 8080, Protocol::Tcp),
        pm(Some("10.0.0.1"), 8443, Protocol::Tcp),
        pm(None, 5353, Protocol::Udp),
        pm(Some("fd00::1"), 9999, Protocol::Sctp),
    ]
}

fn ips() -> Vec<ipnet::IpNet> {
    vec![net("10.88.0.2/16"), net("fd88::2/64")]
}

fn o() -> PortmapOpts {
    PortmapOpts::default()
}

/// `n` mappings held by other containers, 100 per container.
fn fill(ns: &TestNetns, n: u16) {
    in_ns(ns, || {
        for c in 0..n.div_ceil(100) {
            let maps: Vec<_> = (c * 100..(c * 100 + 100).min(n))
                .map(|i| pm(None, 20000 + i, Protocol::Tcp))
                .collect();
            let ip = net(&format!("10.200.0.{}/16", c + 2));
            portmap_add("n", &format!("fill{c}"), &[ip], &maps, &o(), NFT).unwrap();
        }
    });
}

/// A specific-address `hold` marker (shared by every holder of a port, so
/// known-DEL leaves it).
fn spec_marker(e: &str) -> bool {
    e.starts_with("hold") && e.ends_with(",2]")
}

/// Element lines (one per element) of the hostport table.
fn elements(ns: &TestNetns) -> Vec<String> {
    let rs = ns.exec_ok(&["nft", "-j", "list", "table", "inet", "ferrocni_hostport"]);
    let v: serde_json::Value = serde_json::from_str(&rs).unwrap();
    let mut out = Vec::new();
    for item in v["nftables"].as_array().unwrap() {
        let Some(s) = item.get("set").or_else(|| item.get("map")) else {
            continue;
        };
        for e in s["elem"].as_array().into_iter().flatten() {
            out.push(format!("{} {e}", s["name"].as_str().unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn removes_exactly_ours_among_2000_and_is_idempotent() {
    let ns = TestNetns::new("pkn");
    fill(&ns, 2000);
    let others = elements(&ns);
    assert!(others.len() >= 6000, "{}", others.len());
    in_ns(&ns, || portmap_add("n", "c1", &ips(), &ours(), &o(), NFT)).unwrap();
    let with_ours = elements(&ns);
    assert!(with_ours.iter().any(|e| e.contains("c1 n")));
    in_ns(&ns, || {
        portmap_del_known("n", "c1", &ips(), &ours(), &o(), NFT)
    })
    .unwrap();
    let after = elements(&ns);
    // Only the specific-address markers (shared by holders) may remain.
    let extra: Vec<_> = after.iter().filter(|e| !others.contains(e)).collect();
    assert!(extra.iter().all(|e| spec_marker(e)), "{extra:?}");
    assert!(others.iter().all(|e| after.contains(e)), "lost an element");
    assert!(!ruleset(&ns).contains("c1 n"));
    // Twice: nothing left to do, nothing else touched.
    in_ns(&ns, || {
        portmap_del_known("n", "c1", &ips(), &ours(), &o(), NFT)
    })
    .unwrap();
    assert_eq!(elements(&ns), after);
    // The leftover marker does not block an any-address ADD of that port.
    let any = [pm(None, 8443, Protocol::Tcp)];
    in_ns(&ns, || portmap_add("n", "c2", &ips(), &any, &o(), NFT)).unwrap();
}

#[test]
fn never_removes_another_containers_element() {
    let ns = TestNetns::new("pko");
    let a_ips = [net("10.1.0.2/24")];
    let rec = [
        pm(None, 80, Protocol::Tcp),
        pm(Some("10.0.0.1"), 81, Protocol::Tcp),
    ];
    in_ns(&ns, || {
        portmap_add("n", "a", &a_ips, &rec, &o(), NFT)?;
        // "a" is removed by id (GC, lost record), its ports go to "b"...
        portmap_del("n", "a", NFT)?;
        portmap_add("n", "b", &a_ips, &rec, &o(), NFT)
    })
    .unwrap();
    let before = elements(&ns);
    // ...and then "a"'s DEL with its record arrives late.
    in_ns(&ns, || portmap_del_known("n", "a", &a_ips, &rec, &o(), NFT)).unwrap();
    assert_eq!(elements(&ns), before);
    in_ns(&ns, || portmap_check("n", "b", &a_ips, &rec, &o(), NFT)).unwrap();
    // Same key, other owner, while "a" still holds other elements.
    let mine = [pm(None, 90, Protocol::Udp)];
    in_ns(&ns, || portmap_add("n", "a", &a_ips, &mine, &o(), NFT)).unwrap();
    let both: Vec<_> = rec.iter().chain(&mine).copied().collect();
    in_ns(&ns, || {
        portmap_del_known("n", "a", &a_ips, &both, &o(), NFT)
    })
    .unwrap();
    assert_eq!(elements(&ns), before);
}

#[test]
fn survives_partially_missing_elements() {
    let ns = TestNetns::new("pkp");
    in_ns(&ns, || portmap_add("n", "c", &ips(), &ours(), &o(), NFT)).unwrap();
    let t = ["inet", "ferrocni_hostport"];
    // A mapping element removed behind our back (its guard stays)...
    let del = |m: &str, k: &str| {
        let cmd = format!("delete element {} {} {m} {{ {k} }}", t[0], t[1]);
        ns.exec_ok(&["nft", &cmd]);
    };
    del("hp4_any", "udp . 5353");
    // ...a hair element gone, and a whole mapping (with its guard) gone.
    del("hair6_any", "tcp . 8080");
    in_ns(&ns, || {
        portmap_del_known("n", "c", &[ips()[1]], &ours()[3..], &o(), NFT)
    })
    .unwrap();
    // The record also names a mapping that was never added.
    let mut rec = ours();
    rec.push(pm(None, 7777, Protocol::Tcp));
    in_ns(&ns, || portmap_del_known("n", "c", &ips(), &rec, &o(), NFT)).unwrap();
    let left: Vec<_> = elements(&ns)
        .into_iter()
        .filter(|e| !spec_marker(e))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn no_table_and_iptables_fallback() {
    let ns = TestNetns::new("pk0");
    in_ns(&ns, || {
        portmap_del_known("n", "c", &ips(), &ours(), &o(), NFT)
    })
    .unwrap();
    assert_eq!(ruleset(&ns).trim(), "");
    // A record ADD would have refused (same socket twice) falls back to DEL by id.
    let bad = [
        pm(None, 80, Protocol::Tcp),
        pm(Some("0.0.0.0"), 80, Protocol::Tcp),
    ];
    in_ns(&ns, || portmap_add("n", "c", &ips(), &bad[..1], &o(), NFT)).unwrap();
    in_ns(&ns, || portmap_del_known("n", "c", &ips(), &bad, &o(), NFT)).unwrap();
    assert!(!ruleset(&ns).contains("c n"));
}

#[test]
fn hair_elements_go_whatever_snat_says() {
    let ns = TestNetns::new("pkh");
    let no_snat = PortmapOpts {
        snat: false,
        ..PortmapOpts::default()
    };
    let a = [net("10.3.0.2/24")];
    let m = [pm(None, 80, Protocol::Tcp)];
    // ADD with snat, DEL with a record that says no snat.
    in_ns(&ns, || portmap_add("n", "a", &a, &m, &o(), NFT)).unwrap();
    in_ns(&ns, || portmap_del_known("n", "a", &a, &m, &no_snat, NFT)).unwrap();
    assert!(!ruleset(&ns).contains("\"a n\""), "{}", ruleset(&ns));
    // The next holder of the port (with snat) is not blocked by a leftover.
    in_ns(&ns, || portmap_add("n", "b", &a, &m, &o(), NFT)).unwrap();
    in_ns(&ns, || portmap_del_known("n", "b", &a, &m, &o(), NFT)).unwrap();
    // ADD and DEL without snat.
    in_ns(&ns, || portmap_add("n", "c", &a, &m, &no_snat, NFT)).unwrap();
    in_ns(&ns, || portmap_del_known("n", "c", &a, &m, &no_snat, NFT)).unwrap();
    let left: Vec<_> = elements(&ns)
        .into_iter()
        .filter(|e| !spec_marker(e))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
