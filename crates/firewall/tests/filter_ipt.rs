//! Firewall-plugin filter helpers vs the Debian reference firewall plugin.

mod common;

use common::{in_ns, net};
use fwkit::{Flavor, filter_add, filter_check, filter_del};
use integration::TestNetns;
use std::io::Write;
use std::process::Stdio;

fn filter(ns: &TestNetns, tool: &str) -> Vec<String> {
    let out = ns.exec_ok(&[&format!("{tool}-save"), "-t", "filter"]);
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("-A ") || l.starts_with(":CNI"))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn reference(ns: &TestNetns, verb: &str) {
    let conf = r#"{"cniVersion":"0.4.0","name":"mynet","type":"firewall","backend":"iptables",
      "prevResult":{"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":"/x"}],
      "ips":[{"version":"4","address":"10.88.0.2/16","interface":0},
             {"version":"6","address":"fd88::2/64","interface":0}]}}"#;
    let mut cmd = ns.command(&["/usr/lib/cni/firewall"]);
    cmd.env("CNI_COMMAND", verb)
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
}

#[test]
fn same_rules_as_reference_and_interchangeable_del() {
    let ours = TestNetns::new("fwo");
    let theirs = TestNetns::new("fwr");
    let ips = [net("10.88.0.2/16"), net("fd88::2/64")];
    in_ns(&ours, || filter_add(&ips, None, Flavor::Nft)).unwrap();
    in_ns(&ours, || filter_add(&ips, None, Flavor::Nft)).unwrap();
    reference(&theirs, "ADD");
    for tool in ["iptables-nft", "ip6tables-nft"] {
        assert_eq!(filter(&ours, tool), filter(&theirs, tool), "{tool}");
    }
    in_ns(&ours, || filter_check(&ips, None, Flavor::Nft)).unwrap();
    // Our DEL removes the reference's rules, and the reference DEL ours.
    in_ns(&theirs, || filter_del(&ips, Flavor::Nft)).unwrap();
    reference(&ours, "DEL");
    for ns in [&ours, &theirs] {
        let left = filter(ns, "iptables-nft").join("\n");
        assert!(
            !left.contains("10.88.0.2") && left.contains("-j CNI-ADMIN"),
            "{left}"
        );
        assert!(!filter(ns, "ip6tables-nft").join("\n").contains("fd88::2"));
    }
    assert!(in_ns(&ours, || filter_check(&ips, None, Flavor::Nft)).is_err());
}

#[test]
fn legacy_and_custom_admin_chain() {
    let ns = TestNetns::new("fwl");
    let ips = [net("10.5.0.9/24")];
    in_ns(&ns, || filter_add(&ips, Some("MY-ADMIN"), Flavor::Legacy)).unwrap();
    let got = filter(&ns, "iptables-legacy").join("\n");
    assert!(got.contains("admin overrides\" -j MY-ADMIN"), "{got}");
    assert!(
        got.contains("-A CNI-FORWARD -s 10.5.0.9/32 -j ACCEPT"),
        "{got}"
    );
    in_ns(&ns, || filter_del(&ips, Flavor::Legacy)).unwrap();
    assert!(
        !filter(&ns, "iptables-legacy")
            .join("\n")
            .contains("10.5.0.9")
    );
    assert!(in_ns(&ns, || filter_add(&ips, Some("bad chain"), Flavor::Legacy)).is_err());
}
