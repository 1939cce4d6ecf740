//! Process counts of the fast paths. The spawn counter is process-wide, so
//! this binary holds a single test.

mod common;

use common::{in_ns, net};
use fwkit::{Backend, PortMapping, PortmapOpts, Protocol, spawn_count};
use integration::TestNetns;

const NFT: Backend = Backend::Nftables;

fn pm(port: u16) -> PortMapping {
    PortMapping {
        host_ip: None,
        host_port: port,
        container_port: 80,
        protocol: Protocol::Tcp,
    }
}

fn count(ns: &TestNetns, f: &(dyn Fn() -> fwkit::Result<()> + Sync)) -> u64 {
    let before = spawn_count();
    in_ns(ns, f).unwrap();
    spawn_count() - before
}

fn portmap_counts(ns: &TestNetns) {
    let o = PortmapOpts::default();
    for c in 0..20u16 {
        let maps: Vec<_> = (0..100).map(|i| pm(20000 + c * 100 + i)).collect();
        let ip = [net(&format!("10.200.0.{}/16", c + 2))];
        in_ns(ns, || {
            fwkit::portmap_add("n", &format!("f{c}"), &ip, &maps, &o, NFT)
        })
        .unwrap();
    }
    let ips = [net("10.88.0.2/16"), net("fd88::2/64")];
    let maps = [pm(8080), pm(8081)];
    assert_eq!(
        count(ns, &|| fwkit::portmap_add("n", "c", &ips, &maps, &o, NFT)),
        1
    );
    // Known DEL among 2,000 mappings: one write, no read; again: one.
    let del = || fwkit::portmap_del_known("n", "c", &ips, &maps, &o, NFT);
    assert_eq!(count(ns, &del), 1);
    assert_eq!(count(ns, &del), 1);
    // Partially gone: one failed attempt that names what is missing, then the rest.
    in_ns(ns, || fwkit::portmap_add("n", "c", &ips, &maps, &o, NFT)).unwrap();
    ns.exec_ok(&[
        "nft",
        "delete element inet ferrocni_hostport hp4_any { tcp . 8081 }",
    ]);
    assert_eq!(count(ns, &del), 2);
    assert!(!common::ruleset(ns).contains("\"c n\""));
    // Unknown mappings: one read, one write.
    in_ns(ns, || fwkit::portmap_add("n", "c", &ips, &maps, &o, NFT)).unwrap();
    assert_eq!(count(ns, &|| fwkit::portmap_del("n", "c", NFT)), 2);
}

fn masq_counts(ns: &TestNetns) {
    let a = [net("10.7.0.2/24"), net("fd07::2/64")];
    let b = [net("10.7.0.3/24"), net("fd07::3/64")];
    assert_eq!(count(ns, &|| fwkit::masq_add("n", "a", "eth0", &a, NFT)), 2);
    assert_eq!(count(ns, &|| fwkit::masq_add("n", "b", "eth0", &b, NFT)), 1);
    // A retried ADD: the element-only batch, then one that confirms ours.
    assert_eq!(count(ns, &|| fwkit::masq_add("n", "b", "eth0", &b, NFT)), 2);
    let del = || fwkit::masq_del("n", "b", "eth0", Some(&b), NFT);
    assert_eq!(count(ns, &del), 1);
    assert_eq!(count(ns, &del), 1);
    assert_eq!(
        count(ns, &|| fwkit::masq_del("n", "a", "eth0", None, NFT)),
        2
    );
    // Reference iptables sweep with nothing there: no process (netlink
    // query for iptables-nft, /proc for legacy).
    let sweep = || fwkit::masq_del_reference_iptables("n", "a");
    assert_eq!(count(ns, &sweep), 0);
    // With a v4 iptables-nft chain: one save and one restore.
    let ipt = Backend::Iptables(fwkit::Flavor::Nft);
    in_ns(ns, || {
        fwkit::masq_add("n", "a", "eth0", &[net("10.7.0.2/24")], ipt)
    })
    .unwrap();
    assert_eq!(count(ns, &sweep), 2);
    assert_eq!(count(ns, &sweep), 0);
}

#[test]
fn fast_paths_process_counts() {
    let ns = TestNetns::new("fcnt");
    portmap_counts(&ns);
    masq_counts(&ns);
}
