//! Drop-in compatibility with the reference plugin (Debian 1.1.1): pods
//! ADDed by the reference bridge + host-local (iptables ipMasq) are DELed
//! cleanly by ours, also after their netns is gone (where the reference
//! itself leaks its `CNI-` chain), and pods of both plugins share a bridge.

mod common;

use common::*;
use integration::TestNetns;
use serde_json::{Value, json};

fn ref_add(t: &Topo, id: &str, pod: &TestNetns, conf: &Value) -> Value {
    let out = t.call_with(REF_BRIDGE, "ADD", id, Some(pod), conf);
    assert!(
        out.success(),
        "reference ADD: {} {}",
        out.stdout,
        out.stderr
    );
    out.json()
}

fn ipt_nat(t: &Topo) -> String {
    String::from_utf8_lossy(&t.node.exec(&["iptables-save", "-t", "nat"]).stdout).into_owned()
}

fn assert_no_pod_state(t: &Topo) {
    let nat = ipt_nat(t);
    assert!(!nat.contains("CNI-"), "reference chain left:\n{nat}");
    assert!(t.pod_veths().is_empty(), "{:?}", t.pod_veths());
    assert!(t.reservations().is_empty(), "{:?}", t.reservations());
}

#[test]
fn reference_pods_are_deleted_cleanly_by_ours() {
    for backend in [Value::Null, json!("iptables")] {
        let t = Topo::new("io");
        let p = TestNetns::new("io1");
        let conf = t.conf(
            false,
            json!({"cniVersion": "0.4.0", "hairpinMode": true, "ipMasqBackend": backend}),
        );
        let r = ref_add(&t, "refpod", &p, &conf);
        assert!(
            ipt_nat(&t).contains("CNI-"),
            "reference did not use iptables"
        );
        assert_eq!(r["interfaces"][2]["name"], "eth0");
        // CHECK of a reference-created pod passes with ours (iptables layout).
        if !backend.is_null() {
            let mut c = conf.clone();
            c["prevResult"] = r.clone();
            let out = t.call("CHECK", "refpod", Some(&p), &c);
            assert!(
                out.success(),
                "CHECK ref pod: {} {}",
                out.stdout,
                out.stderr
            );
        }
        t.del_ok("refpod", Some(&p), &conf);
        assert_no_pod_state(&t);
    }
}

#[test]
fn reference_pod_with_its_netns_gone_is_cleaned_by_ours() {
    let t = Topo::new("ig");
    let p = TestNetns::new("ig1");
    let conf = t.conf(false, json!({"cniVersion": "0.4.0"}));
    let r = ref_add(&t, "refpod", &p, &conf);
    p.delete();
    // No netns and no prevResult: the reference DEL would leak its chain.
    t.del_ok("refpod", None, &conf);
    assert!(
        !ipt_nat(&t).contains("CNI-"),
        "chain left:\n{}",
        ipt_nat(&t)
    );
    // The runtime's DEL with prevResult also removes the host veth at once
    // (the kernel's netns teardown, which removes it too, is asynchronous).
    let mut c = conf.clone();
    c["prevResult"] = r;
    t.del_ok("refpod", None, &c);
    assert_no_pod_state(&t);
}

#[test]
fn pods_of_both_plugins_share_a_bridge() {
    let t = Topo::new("ib");
    let (p1, p2) = (TestNetns::new("ib1"), TestNetns::new("ib2"));
    // With the iptables backend our rules are the reference's, so even a
    // rollback to the reference binary can DEL our pods (see docs/bridge.md).
    let conf = t.conf(
        false,
        json!({"cniVersion": "0.4.0", "ipMasqBackend": "iptables"}),
    );
    let r1 = ref_add(&t, "refpod", &p1, &conf);
    let r2 = t.add_ok("ourpod", &p2, &conf);
    assert_eq!(
        r1["interfaces"][0]["mac"], r2["interfaces"][0]["mac"],
        "bridge MAC moved"
    );
    assert_eq!(
        r2["ips"][0]["version"], "4",
        "0.4.0 results carry ips[].version"
    );
    assert!(ping(&p1, &pod_ip(&r2, false)));
    assert!(ping(&p2, &pod_ip(&r1, false)));
    assert!(ping(&p1, OUTSIDE_V4), "reference pod reaches outside");
    assert!(
        ping(&p2, OUTSIDE_V4),
        "our pod reaches outside next to reference rules"
    );
    // The reference deletes our pod too (it only needs the link and IPAM).
    let out = t.call_with(REF_BRIDGE, "DEL", "ourpod", Some(&p2), &conf);
    assert!(out.success(), "{}", out.stdout);
    t.del_ok("ourpod", Some(&p2), &conf);
    t.del_ok("refpod", Some(&p1), &conf);
    assert_no_pod_state(&t);
    let nft = t.node.exec_ok(&["nft", "list", "ruleset"]);
    assert!(!nft.contains("comment \"ourpod"), "{nft}");
}
