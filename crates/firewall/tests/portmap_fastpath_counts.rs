//! The nftables portmap ADD fast path: once the table has the current
//! layout, ADD is one element-only `nft -f -` that leaves every rule alone.
//! The spawn counter is process-wide, so this binary holds a single test.

mod common;

use common::{in_ns, net, ruleset};
use fwkit::{Backend, Error, PortMapping, PortmapOpts, Protocol, portmap_add, spawn_count};
use integration::TestNetns;

const NFT: Backend = Backend::Nftables;

fn pm(host: Option<&str>, port: u16) -> PortMapping {
    PortMapping {
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port: port,
        container_port: 80,
        protocol: Protocol::Tcp,
    }
}

/// Processes started by one ADD of `cid`, and its result.
fn add(ns: &TestNetns, cid: &str, ip: &str, maps: &[PortMapping]) -> (u64, fwkit::Result<()>) {
    let ips = [net(ip), net("fd88::2/64")];
    let o = PortmapOpts::default();
    let before = spawn_count();
    let r = in_ns(ns, || portmap_add("n", cid, &ips, maps, &o, NFT));
    (spawn_count() - before, r)
}

/// Every rule of our table with its handle (a rewrite changes handles).
fn rule_handles(ns: &TestNetns) -> Vec<String> {
    let out = ns.exec_ok(&["nft", "-a", "list", "table", "inet", "ferrocni_hostport"]);
    let rules: Vec<String> = out
        .lines()
        .filter(|l| l.contains("# handle") && !l.contains('{'))
        .map(|l| l.trim().to_string())
        .collect();
    assert!(rules.len() >= 12, "{out}");
    rules
}

#[test]
fn fast_path_is_one_element_only_batch() {
    let ns = TestNetns::new("pfc");
    // First ADD on the node: no table, so straight to the full batch.
    assert_eq!(add(&ns, "first", "10.88.0.3/16", &[pm(None, 1000)]).0, 1);
    let handles = rule_handles(&ns);
    for i in 0..200u16 {
        let ip = format!("10.88.{}.{}/16", 1 + i / 200, 2 + i % 200);
        let (n, r) = add(&ns, &format!("c{i}"), &ip, &[pm(None, 2000 + i)]);
        r.unwrap();
        assert_eq!(n, 1, "ADD {i}");
    }
    // Specific addresses next to each other, and the four overlaps.
    let spec = [pm(Some("10.0.0.1"), 3000), pm(Some("10.0.0.2"), 3000)];
    assert_eq!(add(&ns, "s1", "10.88.9.1/16", &spec[..1]).0, 1);
    assert_eq!(add(&ns, "s2", "10.88.9.2/16", &spec[1..]).0, 1);
    let cases = [
        (pm(None, 2000), &["c0"][..]),
        (pm(Some("10.0.0.9"), 2000), &["c0"]),
        (pm(None, 3000), &["s1", "s2"]),
        (pm(Some("10.0.0.2"), 3000), &["s2"]),
    ];
    for (m, want) in cases {
        let (n, r) = add(&ns, "x", "10.88.9.9/16", &[pm(None, 4000), m]);
        assert_eq!(n, 2, "{m}: the fast batch, then one read");
        match r {
            Err(Error::PortConflict { holder, .. }) => {
                assert!(want.contains(&holder.as_str()), "{m}: {holder}");
            }
            other => panic!("{m}: {other:?}"),
        }
    }
    assert!(!ruleset(&ns).contains("\"x n\""));
    assert_eq!(rule_handles(&ns), handles, "no rule was rewritten");
    // A retried ADD: fast batch, read, one write.
    let (n, r) = add(&ns, "c5", "10.88.1.7/16", &[pm(None, 2005)]);
    r.unwrap();
    assert_eq!(n, 3);
}
