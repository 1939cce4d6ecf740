//! Backend detection, probes and the one-process-per-call promise.

mod common;

use common::in_ns;
use fwkit::{Backend, Flavor, detect_backend, detect_iptables_flavor, probe};
use integration::TestNetns;

#[test]
fn flavor_follows_kubelet_hint_then_rule_count() {
    let ns = TestNetns::new("det");
    assert_eq!(in_ns(&ns, detect_iptables_flavor), Flavor::Nft);
    // More legacy rules than nft rules: legacy.
    ns.exec_ok(&[
        "iptables-legacy",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-j",
        "RETURN",
    ]);
    assert_eq!(in_ns(&ns, detect_iptables_flavor), Flavor::Legacy);
    // The kubelet hint in nft mangle wins over rule counts.
    ns.exec_ok(&["iptables-nft", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"]);
    assert_eq!(in_ns(&ns, detect_iptables_flavor), Flavor::Nft);
}

#[test]
fn legacy_hint_wins() {
    let ns = TestNetns::new("det");
    ns.exec_ok(&[
        "iptables-legacy",
        "-t",
        "mangle",
        "-N",
        "KUBE-KUBELET-CANARY",
    ]);
    assert_eq!(in_ns(&ns, detect_iptables_flavor), Flavor::Legacy);
    assert_eq!(
        in_ns(&ns, || detect_backend(Some("iptables"))).unwrap(),
        Backend::Iptables(Flavor::Legacy)
    );
}

#[test]
fn probes_and_auto_choice() {
    let ns = TestNetns::new("det");
    assert_eq!(
        in_ns(&ns, || detect_backend(None)).unwrap(),
        Backend::Nftables
    );
    in_ns(&ns, || probe(Backend::Nftables)).unwrap();
    in_ns(&ns, || probe(Backend::Iptables(Flavor::Legacy))).unwrap();
    let bad = in_ns(&ns, || detect_backend(Some("ebtables")));
    assert!(bad.is_err());
}
