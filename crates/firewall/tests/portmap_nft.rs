//! Port mappings on the nftables backend, inside throwaway namespaces.

mod common;

use common::{in_ns, net, ruleset};
use fwkit::{
    Backend, Error, PortMapping, PortmapOpts, Protocol, portmap_add, portmap_check, portmap_del,
    portmap_gc,
};
use integration::TestNetns;

const NFT: Backend = Backend::Nftables;

fn pm(host: Option<&str>, hp: u16, cp: u16, protocol: Protocol) -> PortMapping {
    PortMapping {
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port: hp,
        container_port: cp,
        protocol,
    }
}

fn add(ns: &TestNetns, cid: &str, ips: &[&str], maps: &[PortMapping]) -> fwkit::Result<()> {
    let ips: Vec<_> = ips.iter().map(|s| net(s)).collect();
    in_ns(ns, || {
        portmap_add("n", cid, &ips, maps, &PortmapOpts::default(), NFT)
    })
}

#[test]
fn add_check_del_round_trip() {
    let ns = TestNetns::new("pnft");
    let maps = [
        pm(None, 8080, 80, Protocol::Tcp),
        pm(Some("10.0.0.1"), 8443, 443, Protocol::Tcp),
        pm(None, 5353, 53, Protocol::Udp),
        pm(Some("fd00::1"), 9999, 99, Protocol::Sctp),
    ];
    add(&ns, "c1", &["10.88.0.2/16", "fd88::2/64"], &maps).unwrap();
    let rs = ruleset(&ns);
    for want in [
        "tcp . 8080 comment \"c1 n\" : 10.88.0.2 . 80",
        "tcp . 8080 comment \"c1 n\" : fd88::2 . 80",
        "tcp . 10.0.0.1 . 8443 comment \"c1 n\" : 10.88.0.2 . 443",
        "sctp . fd00::1 . 9999 comment \"c1 n\" : fd88::2 . 99",
        "udp . 5353 comment \"c1 n\" : 10.88.0.2 . 53",
        "tcp . 8080 comment \"c1 n\" : jump hair-",
        "tcp . 10.0.0.1 . 8443 comment \"c1 n\" : jump hair-",
        "ip saddr 10.88.0.0/16 meta mark set meta mark | 0x00002000",
        "ip6 saddr fd88::/64 meta mark set meta mark | 0x00002000",
        "fib daddr type local jump hostports",
    ] {
        assert!(rs.contains(want), "missing {want:?} in\n{rs}");
    }
    assert!(
        !rs.contains("sctp . fd00::1 . 9999 comment \"c1 n\" : 10.88"),
        "{rs}"
    );
    let ips = [net("10.88.0.2/16"), net("fd88::2/64")];
    let o = PortmapOpts::default();
    in_ns(&ns, || portmap_check("n", "c1", &ips, &maps, &o, NFT)).unwrap();
    // Retrying the same ADD converges.
    add(&ns, "c1", &["10.88.0.2/16", "fd88::2/64"], &maps).unwrap();
    in_ns(&ns, || portmap_del("n", "c1", NFT)).unwrap();
    let rs = ruleset(&ns);
    assert!(!rs.contains("c1 n"), "{rs}");
    assert!(!rs.contains("tcp . 8443"), "marker left: {rs}");
    assert!(in_ns(&ns, || portmap_check("n", "c1", &ips, &maps, &o, NFT)).is_err());
    in_ns(&ns, || portmap_del("n", "c1", NFT)).unwrap();
}

#[test]
fn conflicts_name_the_holder() {
    let ns = TestNetns::new("pcon");
    add(
        &ns,
        "a",
        &["10.1.0.2/24"],
        &[pm(None, 80, 8080, Protocol::Tcp)],
    )
    .unwrap();
    add(
        &ns,
        "s",
        &["10.1.0.4/24"],
        &[pm(Some("10.0.0.7"), 81, 1, Protocol::Tcp)],
    )
    .unwrap();
    let cases = [
        pm(None, 80, 1, Protocol::Tcp),             // any vs any
        pm(Some("10.0.0.9"), 80, 1, Protocol::Tcp), // specific vs any
        pm(None, 81, 1, Protocol::Tcp),             // any vs specific
        pm(Some("10.0.0.7"), 81, 1, Protocol::Tcp), // same specific
    ];
    for (i, m) in cases.iter().enumerate() {
        let r = add(
            &ns,
            "b",
            &["10.1.0.3/24"],
            &[pm(None, 7000, 1, Protocol::Udp), *m],
        );
        match r {
            Err(Error::PortConflict {
                holder, mapping, ..
            }) => {
                assert_eq!(holder, if i < 2 { "a" } else { "s" }, "{m}");
                assert_eq!(mapping, m.to_string());
            }
            other => panic!("{m}: expected conflict, got {other:?}"),
        }
        // Atomic: nothing of "b" went in.
        assert!(!ruleset(&ns).contains("\"b n\""), "{m}");
    }
    // Non-overlapping: other protocol, other specific address.
    add(
        &ns,
        "b",
        &["10.1.0.3/24"],
        &[pm(None, 80, 1, Protocol::Udp)],
    )
    .unwrap();
    add(
        &ns,
        "c",
        &["10.1.0.5/24"],
        &[pm(Some("10.0.0.8"), 81, 1, Protocol::Tcp)],
    )
    .unwrap();
    // Once "s" and "c" are gone, an any-address mapping on 81 is free.
    in_ns(&ns, || portmap_del("n", "s", NFT)).unwrap();
    in_ns(&ns, || portmap_del("n", "c", NFT)).unwrap();
    add(
        &ns,
        "d",
        &["10.1.0.6/24"],
        &[pm(None, 81, 1, Protocol::Tcp)],
    )
    .unwrap();
}

#[test]
fn gc_keeps_valid_containers() {
    let ns = TestNetns::new("pgc");
    add(
        &ns,
        "a",
        &["10.2.0.2/24"],
        &[pm(None, 80, 1, Protocol::Tcp)],
    )
    .unwrap();
    add(
        &ns,
        "b",
        &["10.2.0.3/24"],
        &[pm(Some("10.0.0.1"), 81, 1, Protocol::Tcp)],
    )
    .unwrap();
    in_ns(&ns, || portmap_gc("n", &["a"], NFT)).unwrap();
    let rs = ruleset(&ns);
    assert!(rs.contains("\"a n\"") && !rs.contains("\"b n\""), "{rs}");
    assert!(!rs.contains("tcp . 81"), "{rs}");
}

#[test]
fn masq_all_and_no_snat() {
    let ns = TestNetns::new("popt");
    let ips = [net("10.3.0.2/24")];
    let maps = [pm(None, 80, 1, Protocol::Tcp)];
    let all = PortmapOpts {
        masq_all: true,
        ..PortmapOpts::default()
    };
    in_ns(&ns, || portmap_add("n", "a", &ips, &maps, &all, NFT)).unwrap();
    let rs = ruleset(&ns);
    assert!(rs.contains("tcp . 80 comment \"a n\" : jump hair-"), "{rs}");
    assert!(!rs.contains("ip saddr 10.3.0.0/24"), "{rs}");
    let none = PortmapOpts {
        snat: false,
        ..PortmapOpts::default()
    };
    let maps = [pm(None, 90, 1, Protocol::Tcp)];
    in_ns(&ns, || portmap_add("n", "b", &ips, &maps, &none, NFT)).unwrap();
    assert!(!ruleset(&ns).contains("tcp . 90 comment \"b n\" : jump"));
    assert!(ruleset(&ns).contains("tcp . 90 comment \"b n\" : 10.3.0.2 . 1"));
    let cond = PortmapOpts {
        conditions_v4: vec!["-s".into()],
        ..PortmapOpts::default()
    };
    let r = in_ns(&ns, || portmap_add("n", "c", &ips, &maps, &cond, NFT));
    assert!(matches!(r, Err(Error::Unsupported { .. })), "{r:?}");
}
