//! ipMasq on the reference iptables layout (both flavours), including
//! artefacts created by the Debian reference bridge plugin.

mod common;

use common::{in_ns, nat, net, rules};
use fwkit::{Backend, Flavor, masq_add, masq_check, masq_del, masq_gc};
use integration::TestNetns;

const CHAIN: &str = "CNI-70a29d9dc18bc4d652ea5d59"; // mynet + abc123

fn round_trip(flavor: Flavor, tool: &str) {
    let ns = TestNetns::new("mipt");
    let b = Backend::Iptables(flavor);
    let ips = [net("10.88.0.2/16")];
    in_ns(&ns, || masq_add("mynet", "abc123", "eth0", &ips, b)).unwrap();
    in_ns(&ns, || masq_add("mynet", "abc123", "eth0", &ips, b)).unwrap();
    let got = rules(&nat(&ns, tool));
    let c = r#"-m comment --comment "name: \"mynet\" id: \"abc123\"""#;
    let want = [
        format!("-A POSTROUTING -s 10.88.0.2/32 {c} -j {CHAIN}"),
        format!("-A {CHAIN} -d 10.88.0.0/16 {c} -j ACCEPT"),
        format!("-A {CHAIN} ! -d 224.0.0.0/4 {c} -j MASQUERADE"),
    ];
    for w in &want {
        assert_eq!(got.iter().filter(|l| *l == w).count(), 1, "{w}\n{got:#?}");
    }
    in_ns(&ns, || masq_check("mynet", "abc123", "eth0", &ips, b)).unwrap();
    in_ns(&ns, || masq_del("mynet", "abc123", "eth0", None, b)).unwrap();
    let after = nat(&ns, tool);
    assert!(!after.contains("CNI-"), "{after}");
    assert!(in_ns(&ns, || masq_check("mynet", "abc123", "eth0", &ips, b)).is_err());
    in_ns(&ns, || masq_del("mynet", "abc123", "eth0", None, b)).unwrap();
}

#[test]
fn iptables_nft_round_trip() {
    round_trip(Flavor::Nft, "iptables-nft");
}

#[test]
fn iptables_legacy_round_trip() {
    round_trip(Flavor::Legacy, "iptables-legacy");
}

#[test]
fn ipv6_uses_ff00_and_128() {
    let ns = TestNetns::new("mip6");
    let b = Backend::Iptables(Flavor::Nft);
    in_ns(&ns, || masq_add("n", "c", "eth0", &[net("fd00::5/64")], b)).unwrap();
    let got = nat(&ns, "ip6tables-nft");
    assert!(got.contains("-A POSTROUTING -s fd00::5/128"), "{got}");
    assert!(got.contains("! -d ff00::/8"), "{got}");
    in_ns(&ns, || {
        masq_del("n", "c", "eth0", Some(&[net("fd00::5/64")]), b)
    })
    .unwrap();
    assert!(!nat(&ns, "ip6tables-nft").contains("CNI-"));
}

#[test]
fn gc_removes_only_stale_chains_of_the_network() {
    let ns = TestNetns::new("mgc");
    let b = Backend::Iptables(Flavor::Nft);
    in_ns(&ns, || {
        masq_add("n", "keep", "eth0", &[net("10.5.0.2/24")], b)?;
        masq_add("n", "gone", "eth0", &[net("10.5.0.3/24")], b)?;
        masq_add("m", "other", "eth0", &[net("10.6.0.2/24")], b)?;
        masq_gc("n", &[("keep", "eth0")], b)
    })
    .unwrap();
    let got = nat(&ns, "iptables-nft");
    assert!(
        got.contains(r#"id: \"keep\""#) && got.contains(r#"id: \"other\""#),
        "{got}"
    );
    assert!(!got.contains(r#"id: \"gone\""#), "{got}");
    assert!(!got.contains(&fwkit::ipmasq_chain("n", "gone")), "{got}");
}

/// Runs the Debian reference bridge plugin (ipMasq) in `node` for a pod.
fn reference_bridge(node: &TestNetns, pod: &TestNetns, verb: &str) -> String {
    let conf = format!(
        r#"{{"cniVersion":"0.4.0","name":"mynet","type":"bridge","bridge":"cni0",
        "isGateway":true,"ipMasq":true,"ipam":{{"type":"host-local",
        "subnet":"10.88.0.0/16","dataDir":"/tmp/{}-ipam"}}}}"#,
        node.name()
    );
    let mut cmd = node.command(&["/usr/lib/cni/bridge"]);
    cmd.env("CNI_COMMAND", verb)
        .env("CNI_CONTAINERID", "abc123")
        .env("CNI_NETNS", pod.path())
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni");
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
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
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn reference_bridge_artefacts_are_removed_without_ips() {
    let node = TestNetns::new("rbn");
    let pod = TestNetns::new("rbp");
    reference_bridge(&node, &pod, "ADD");
    let before = nat(&node, "iptables-nft");
    assert!(before.contains(&format!("-j {CHAIN}")), "{before}");
    let b = Backend::Iptables(Flavor::Nft);
    // Our CHECK accepts what the reference wrote.
    in_ns(&node, || {
        masq_check("mynet", "abc123", "eth0", &[net("10.88.0.2/16")], b)
    })
    .unwrap();
    pod.delete();
    in_ns(&node, || masq_del("mynet", "abc123", "eth0", None, b)).unwrap();
    let after = nat(&node, "iptables-nft");
    assert!(!after.contains("CNI-"), "{after}");
    let _ = std::fs::remove_dir_all(format!("/tmp/{}-ipam", node.name()));
}
