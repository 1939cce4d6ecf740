//! 50 pods ADDed at once on one (not yet existing) bridge: all succeed with
//! distinct addresses, all are reachable, then all are DELed at once and
//! no per-pod state is left: no veth, no rule, no reservation.

mod common;

use common::*;
use integration::TestNetns;
use serde_json::json;

const PODS: usize = 50;

/// ADDs every pod at once; every ADD must succeed.
fn add_all(t: &Topo, pods: &[TestNetns], conf: &serde_json::Value) -> Vec<serde_json::Value> {
    std::thread::scope(|s| {
        let handles: Vec<_> = pods
            .iter()
            .enumerate()
            .map(|(i, p)| s.spawn(move || t.call("ADD", &format!("pod{i}"), Some(p), conf)))
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                let out = h.join().expect("ADD thread");
                assert!(out.success(), "ADD pod{i}: {} {}", out.stdout, out.stderr);
                out.json()
            })
            .collect()
    })
}

#[test]
fn fifty_concurrent_adds_then_dels_leave_no_per_pod_state() {
    let t = Topo::new("cc");
    let conf = t.conf(true, json!({"hairpinMode": true}));
    let pods: Vec<TestNetns> = (0..PODS)
        .map(|i| TestNetns::new(&format!("c{i}")))
        .collect();
    let results = add_all(&t, &pods, &conf);
    let mut ips: Vec<String> = results.iter().map(|r| pod_ip(r, false)).collect();
    let mut v6: Vec<String> = results.iter().map(|r| pod_ip(r, true)).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), PODS, "addresses must be distinct");
    assert_eq!(t.pod_veths().len(), PODS);
    // Every pod answers from the node and from pod 0; the gateway answers every pod.
    for (i, ip) in results.iter().map(|r| pod_ip(r, false)).enumerate() {
        assert!(ping(&t.node, &ip), "node -> pod{i} ({ip})");
        assert!(ping(&pods[0], &ip), "pod0 -> pod{i} ({ip})");
    }
    assert!(ping(&pods[PODS - 1], "10.99.0.1"));
    let gw = t.node.exec_ok(&["ip", "-o", "addr", "show", "tbr0"]);
    assert_eq!(gw.matches("10.99.0.1/24").count(), 1, "{gw}");
    let rules = t.rules();
    for ip in ips.iter().chain(v6.iter()) {
        assert!(rules.contains(ip.as_str()), "no masquerade for {ip}");
    }
    std::thread::scope(|s| {
        for (i, p) in pods.iter().enumerate() {
            let (t, conf) = (&t, &conf);
            s.spawn(move || t.del_ok(&format!("pod{i}"), Some(p), conf));
        }
    });
    assert!(t.pod_veths().is_empty(), "{:?}", t.pod_veths());
    assert!(t.reservations().is_empty(), "{:?}", t.reservations());
    let rules = t.rules();
    ips.append(&mut v6);
    for ip in &ips {
        assert!(
            !rules.contains(&format!("{ip} ")),
            "rule for {ip} left:\n{rules}"
        );
    }
    assert!(!rules.contains("comment \"pod"), "{rules}");
}
