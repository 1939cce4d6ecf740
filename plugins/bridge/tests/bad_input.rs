//! Bad input gives a clear CNI error (code and message naming the key or
//! object) and leaves nothing half-built: no veth, no reservation, no
//! masquerade rule — including failures after IPAM (undo stack).

mod common;

use common::*;
use integration::{CniOutput, TestNetns};
use serde_json::{Value, json};

fn assert_nothing_built(t: &Topo) {
    let veths: Vec<String> = t
        .pod_veths()
        .into_iter()
        .filter(|v| !v.starts_with("tbr0"))
        .collect();
    assert!(veths.is_empty(), "veths left: {veths:?}");
    assert!(
        t.reservations().is_empty(),
        "reservations left: {:?}",
        t.reservations()
    );
    // Per-pod rules carry the container id (nft element comment, iptables
    // comment); network-level scaffolding may stay, as with the reference.
    let rules = t.rules();
    assert!(!rules.contains("pod1"), "rules left:\n{rules}");
    assert!(!rules.contains("10.99.0.2 "), "rules left:\n{rules}");
}

fn fails(out: &CniOutput, code: u64, needles: &[&str]) {
    assert!(!out.success(), "expected failure, got {}", out.stdout);
    assert_eq!(out.error_code(), code, "{}", out.stdout);
    for n in needles {
        assert!(out.stdout.contains(n), "{n:?} not in {}", out.stdout);
    }
}

fn add(tag: &str, extra: Value) -> (Topo, TestNetns, CniOutput) {
    let t = Topo::new(tag);
    let p = TestNetns::new(&format!("{tag}1"));
    let out = t.call("ADD", "pod1", Some(&p), &t.conf(false, extra));
    (t, p, out)
}

fn bridge_exists(t: &Topo) -> bool {
    t.node
        .exec(&["ip", "link", "show", "tbr0"])
        .status
        .success()
}

#[test]
fn ifname_collision_is_a_conflict_and_builds_nothing() {
    let t = Topo::new("bc");
    let p = TestNetns::new("bc1");
    p.exec_ok(&[
        "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "other",
    ]);
    let out = t.call("ADD", "pod1", Some(&p), &t.conf(false, json!({})));
    fails(&out, 105, &["eth0", "already exists"]);
    assert!(!bridge_exists(&t), "bridge created for a failing ADD");
    assert_nothing_built(&t);
}

#[test]
fn bridge_name_taken_by_another_kind_is_rejected() {
    let t = Topo::new("bn");
    let p = TestNetns::new("bn1");
    t.node.exec_ok(&[
        "ip", "link", "add", "tbr0", "type", "veth", "peer", "name", "tbr0p",
    ]);
    let out = t.call("ADD", "pod1", Some(&p), &t.conf(false, json!({})));
    fails(&out, 7, &["tbr0", "not a bridge", "veth"]);
    assert_nothing_built(&t);
    assert!(
        p.exec_ok(&["ip", "-o", "link"]).lines().count() == 1,
        "pod got an interface"
    );
}

#[test]
fn mtu_the_kernel_rejects_is_a_clear_error() {
    // Fresh bridge: rejected at bridge creation.
    let (t, _p, out) = add("mt", json!({"mtu": 70000}));
    fails(&out, 7, &["mtu 70000", "tbr0"]);
    assert!(!bridge_exists(&t));
    assert_nothing_built(&t);
    // Existing bridge: rejected at veth creation.
    let p2 = TestNetns::new("mt2");
    t.node
        .exec_ok(&["ip", "link", "add", "tbr0", "type", "bridge"]);
    let out = t.call("ADD", "pod2", Some(&p2), &t.conf(false, json!({"mtu": 30})));
    fails(&out, 7, &["mtu 30"]);
    assert_nothing_built(&t);
}

#[test]
fn vlan_out_of_range_and_hairpin_with_promisc_are_config_errors() {
    for (extra, needles) in [
        (json!({"vlan": 5000}), vec!["vlan", "5000", "4094"]),
        (
            json!({"hairpinMode": true, "promiscMode": true}),
            vec!["hairpinMode", "promiscMode"],
        ),
        (
            json!({"vlanTrunk": [{"minID": 10, "maxID": 5}]}),
            vec!["minID"],
        ),
        (json!({"ipMasqBackend": "pf"}), vec!["ipMasqBackend", "pf"]),
        (
            json!({"bridge": "this-name-is-too-long"}),
            vec!["bridge", "15"],
        ),
    ] {
        let (t, _p, out) = add("bv", extra);
        fails(&out, 7, &needles);
        assert!(!bridge_exists(&t));
        assert_nothing_built(&t);
    }
}

#[test]
fn vlan_on_a_kernel_without_802_1q_fails_clearly() {
    let probe = TestNetns::new("vp");
    let supported = probe
        .exec(&[
            "ip",
            "link",
            "add",
            "b",
            "type",
            "bridge",
            "vlan_filtering",
            "1",
        ])
        .status
        .success();
    if supported {
        eprintln!("kernel has bridge VLAN filtering: covered by tests/vm/bridge-vlan.sh");
        return;
    }
    let (t, _p, out) = add("vk", json!({"vlan": 100}));
    fails(&out, 7, &["vlan", "kernel"]);
    assert_nothing_built(&t);
}

#[test]
fn failure_after_ipam_rolls_everything_back() {
    // The bridge already carries another IPv4 address: the gateway step,
    // after IPAM and the veth, must fail and undo both (and any rule).
    let t = Topo::new("ur");
    let p = TestNetns::new("ur1");
    t.node
        .exec_ok(&["ip", "link", "add", "tbr0", "type", "bridge"]);
    t.node
        .exec_ok(&["ip", "addr", "add", "10.50.0.1/24", "dev", "tbr0"]);
    let out = t.call("ADD", "pod1", Some(&p), &t.conf(true, json!({})));
    fails(&out, 105, &["tbr0", "10.50.0.1/24", "forceAddress"]);
    assert_nothing_built(&t);
    assert!(
        p.exec_ok(&["ip", "-o", "link"]).lines().count() == 1,
        "pod interface left"
    );
    // forceAddress replaces it.
    let ok = t.add_ok("pod1", &p, &t.conf(true, json!({"forceAddress": true})));
    assert_eq!(ok["ips"][0]["gateway"], "10.99.0.1");
    let addrs = t.node.exec_ok(&["ip", "addr", "show", "tbr0"]);
    assert!(
        !addrs.contains("10.50.0.1") && addrs.contains("10.99.0.1/24"),
        "{addrs}"
    );
}

#[test]
fn unknown_cni_args_are_rejected_unless_ignore_unknown() {
    let t = Topo::new("ua");
    let p = TestNetns::new("ua1");
    let conf = t.conf(false, json!({}));
    let call = |args: &str| {
        integration::CniCall::new(env!("CARGO_BIN_EXE_bridge"), "ADD")
            .pod("pod1", &p.path().display().to_string(), "eth0")
            .env("CNI_PATH", &t.cni_path())
            .env("CNI_ARGS", args)
            .config(&conf)
            .in_node(&t.node)
            .run()
    };
    fails(&call("FOO=bar"), 4, &["FOO"]);
    assert_nothing_built(&t);
    let out = call("FOO=bar;IgnoreUnknown=1;MAC=0a:58:0a:63:00:09");
    assert!(out.success(), "{}", out.stdout);
    assert_eq!(out.json()["interfaces"][2]["mac"], "0a:58:0a:63:00:09");
}
