//! Port mappings on the reference iptables layout, compared with what the
//! Debian reference portmap plugin writes, and reference artefacts removed.

mod common;

use common::{in_ns, nat, net, rules};
use fwkit::{
    Backend, Error, Flavor, PortMapping, PortmapOpts, Protocol, portmap_add, portmap_check,
    portmap_del, portmap_gc,
};
use integration::TestNetns;
use std::io::Write;
use std::process::Stdio;

const IPT: Backend = Backend::Iptables(Flavor::Nft);
const REF: &str = include_str!("data/ref-v4-nat.save");

fn pm(host: Option<&str>, hp: u16, cp: u16) -> PortMapping {
    PortMapping {
        host_ip: host.map(|h| h.parse().unwrap()),
        host_port: hp,
        container_port: cp,
        protocol: Protocol::Tcp,
    }
}

fn portmap_lines(save: &str) -> Vec<String> {
    let mut v: Vec<String> = rules(save)
        .into_iter()
        .filter(|l| l.contains("HOSTPORT") || l.contains("CNI-DN-"))
        .collect();
    v.sort();
    v
}

#[test]
fn same_rules_as_the_reference_plugin() {
    let ns = TestNetns::new("pipt");
    let maps = [pm(None, 8080, 80), pm(Some("10.0.0.1"), 8443, 443)];
    let o = PortmapOpts::default();
    let ips = [net("10.88.0.2/16")];
    in_ns(&ns, || portmap_add("mynet", "abc123", &ips, &maps, &o, IPT)).unwrap();
    in_ns(&ns, || portmap_add("mynet", "abc123", &ips, &maps, &o, IPT)).unwrap();
    assert_eq!(portmap_lines(&nat(&ns, "iptables-nft")), portmap_lines(REF));
    in_ns(&ns, || {
        portmap_check("mynet", "abc123", &ips, &maps, &o, IPT)
    })
    .unwrap();
    in_ns(&ns, || portmap_del("mynet", "abc123", IPT)).unwrap();
    let left = nat(&ns, "iptables-nft");
    assert!(
        !left.contains("CNI-DN-") && !left.contains("abc123"),
        "{left}"
    );
    assert!(
        left.contains(":CNI-HOSTPORT-DNAT"),
        "scaffolding stays: {left}"
    );
    assert!(
        in_ns(&ns, || portmap_check(
            "mynet", "abc123", &ips, &maps, &o, IPT
        ))
        .is_err()
    );
}

#[test]
fn legacy_v6_multiport_split_and_conditions() {
    let ns = TestNetns::new("pip6");
    let b = Backend::Iptables(Flavor::Legacy);
    let maps: Vec<_> = (0..17).map(|i| pm(None, 9000 + i, 80)).collect();
    let o = PortmapOpts {
        conditions_v6: vec!["!".into(), "-s".into(), "fd99::/64".into()],
        mark_masq_bit: 5,
        ..PortmapOpts::default()
    };
    let ips = [net("fd88::2/64")];
    in_ns(&ns, || portmap_add("n", "c", &ips, &maps, &o, b)).unwrap();
    let got = nat(&ns, "ip6tables-legacy");
    assert_eq!(got.matches("--dports").count(), 2, "{got}");
    assert!(
        got.contains("-A CNI-HOSTPORT-DNAT ! -s fd99::/64 -p tcp")
            && got.contains("--dports 9015,9016 -j CNI-DN-"),
        "{got}"
    );
    assert!(got.contains("--to-destination [fd88::2]:80"), "{got}");
    assert!(got.contains("--set-xmark 0x20/0x20"), "{got}");
    assert!(!got.contains("127.0.0.1"), "{got}");
    in_ns(&ns, || portmap_check("n", "c", &ips, &maps, &o, b)).unwrap();
    in_ns(&ns, || portmap_gc("n", &[], b)).unwrap();
    assert!(!nat(&ns, "ip6tables-legacy").contains("CNI-DN-"));
}

#[test]
fn conflicts_name_the_holder() {
    let ns = TestNetns::new("pcon");
    let o = PortmapOpts::default();
    in_ns(&ns, || {
        portmap_add(
            "n",
            "a",
            &[net("10.1.0.2/24")],
            &[pm(Some("10.0.0.1"), 80, 1)],
            &o,
            IPT,
        )
    })
    .unwrap();
    let r = in_ns(&ns, || {
        portmap_add("n", "b", &[net("10.1.0.3/24")], &[pm(None, 80, 1)], &o, IPT)
    });
    match r {
        Err(Error::PortConflict { holder, .. }) => assert_eq!(holder, "a"),
        other => panic!("expected conflict, got {other:?}"),
    }
    in_ns(&ns, || {
        portmap_add(
            "n",
            "b",
            &[net("10.1.0.3/24")],
            &[pm(Some("10.0.0.2"), 80, 1)],
            &o,
            IPT,
        )
    })
    .unwrap();
    in_ns(&ns, || portmap_gc("n", &["b"], IPT)).unwrap();
    let left = nat(&ns, "iptables-nft");
    assert!(
        !left.contains(r#"id: \"a\""#) && left.contains(r#"id: \"b\""#),
        "{left}"
    );
}

#[test]
fn reference_plugin_artefacts_are_removed_by_container_id() {
    let ns = TestNetns::new("pref");
    let conf = r#"{"cniVersion":"0.4.0","name":"mynet","type":"portmap","snat":true,
      "runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]},
      "prevResult":{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"/x"}],
      "ips":[{"version":"4","address":"10.88.0.2/16","interface":0}]}}"#;
    let mut cmd = ns.command(&["/usr/lib/cni/portmap"]);
    cmd.env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", "abc123")
        .env("CNI_NETNS", "/x")
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(nat(&ns, "iptables-nft").contains("CNI-DN-70a29d9dc18bc4d652ea5"));
    // A second container now conflicts with the reference's mapping.
    let o = PortmapOpts::default();
    let r = in_ns(&ns, || {
        portmap_add(
            "mynet",
            "zzz",
            &[net("10.88.0.3/16")],
            &[pm(None, 8080, 1)],
            &o,
            IPT,
        )
    });
    assert!(
        matches!(r, Err(Error::PortConflict { ref holder, .. }) if holder == "abc123"),
        "{r:?}"
    );
    in_ns(&ns, || portmap_del("mynet", "abc123", IPT)).unwrap();
    let left = nat(&ns, "iptables-nft");
    assert!(
        !left.contains("CNI-DN-") && !left.contains("abc123"),
        "{left}"
    );
}
