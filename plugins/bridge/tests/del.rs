//! DEL, STATUS, GC: DEL after the netns was deleted leaves no rule, no
//! veth, no reservation; DEL is idempotent and works with an empty
//! `CNI_NETNS` and no prevResult (containerd's second round); the
//! replayed containerd trace; GC removes rules of invalid attachments;
//! STATUS forwards to IPAM.

mod common;

use common::*;
use integration::TestNetns;
use serde_json::json;

fn assert_clean(t: &Topo, ips: &[String]) {
    assert!(t.pod_veths().is_empty(), "veths left: {:?}", t.pod_veths());
    assert!(
        t.reservations().is_empty(),
        "reservations left: {:?}",
        t.reservations()
    );
    let rules = t.rules();
    for ip in ips {
        assert!(!rules.contains(ip.as_str()), "rule for {ip} left:\n{rules}");
    }
    assert!(!rules.contains("CNI-"), "reference chain left:\n{rules}");
}

#[test]
fn del_after_the_netns_is_gone_leaves_nothing() {
    for backend in ["nftables", "iptables"] {
        let t = Topo::new("dg");
        let p = TestNetns::new("dg1");
        let conf = t.conf(true, json!({"ipMasqBackend": backend}));
        let r = t.add_ok("pod1", &p, &conf);
        let ips = vec![pod_ip(&r, false), pod_ip(&r, true)];
        assert!(t.rules().contains(&ips[0]), "{backend}: no rule after ADD");
        assert_eq!(t.reservations().len(), 2);
        let path = p.path();
        p.delete();
        // containerd: the stale path with prevResult, then no path and no
        // prevResult at all.
        let mut with_prev = conf.clone();
        with_prev["prevResult"] = r.clone();
        let out = integration::CniCall::new(env!("CARGO_BIN_EXE_bridge"), "DEL")
            .pod("pod1", &path.display().to_string(), "eth0")
            .env("CNI_PATH", &t.cni_path())
            .config(&with_prev)
            .in_node(&t.node)
            .run();
        assert!(out.success(), "{backend}: {} {}", out.stdout, out.stderr);
        let none = t.call("DEL", "pod1", None, &conf);
        assert!(none.success(), "{}", none.stdout);
        assert_clean(&t, &ips);
    }
}

#[test]
fn del_is_idempotent_and_accepts_empty_netns_without_prev_result() {
    let t = Topo::new("di");
    let p = TestNetns::new("di1");
    let conf = t.conf(false, json!({}));
    let r = t.add_ok("pod1", &p, &conf);
    let mut with_prev = conf.clone();
    with_prev["prevResult"] = r.clone();
    t.del_ok("pod1", Some(&p), &with_prev);
    t.del_ok("pod1", Some(&p), &with_prev);
    t.del_ok("pod1", None, &conf);
    assert_clean(&t, &[pod_ip(&r, false)]);
    assert!(
        p.exec_ok(&["ip", "-o", "link"]).lines().count() == 1,
        "only lo left in the pod"
    );
}

#[test]
fn containerd_trace_replays() {
    // containerd 1.6: ADD, DEL with prevResult, then DEL with empty netns and
    // no prevResult; CNI_ARGS in random order with IgnoreUnknown.
    let t = Topo::new("ct");
    let p = TestNetns::new("ct1");
    let conf = t.conf(
        false,
        json!({"hairpinMode": true, "bridge": "labctd0", "name": "tnet"}),
    );
    let args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=lab;K8S_POD_NAME=labpod1;K8S_POD_INFRA_CONTAINER_ID=57950fd6;K8S_POD_UID=uid-1";
    let id = "57950fd64d0fadc0d7a4354ed5dbaaa9e990c2304d70dec172857127f379ae99";
    let call = |verb: &str, netns: &str, c: &serde_json::Value| {
        integration::CniCall::new(env!("CARGO_BIN_EXE_bridge"), verb)
            .pod(id, netns, "eth0")
            .env("CNI_PATH", &t.cni_path())
            .env("CNI_ARGS", args)
            .config(c)
            .in_node(&t.node)
            .run()
    };
    let netns = p.path().display().to_string();
    let add = call("ADD", &netns, &conf);
    assert!(add.success(), "{}", add.stdout);
    let r = add.json();
    assert_eq!(r["interfaces"][0]["name"], "labctd0");
    let mut c2 = conf.clone();
    c2["prevResult"] = r.clone();
    assert!(call("DEL", &netns, &c2).success());
    assert!(call("DEL", "", &conf).success());
    assert_clean(&t, &[pod_ip(&r, false)]);
}

#[test]
fn gc_removes_masquerade_of_invalid_attachments_and_status_forwards() {
    let t = Topo::new("gc");
    let pods: Vec<TestNetns> = (0..3).map(|i| TestNetns::new(&format!("gc{i}"))).collect();
    let conf = t.conf(false, json!({}));
    let ips: Vec<String> = pods
        .iter()
        .enumerate()
        .map(|(i, p)| pod_ip(&t.add_ok(&format!("pod{i}"), p, &conf), false))
        .collect();
    // GC and STATUS are CNI 1.1; the reference host-local 1.1.1 stops at 1.0,
    // so a stub IPAM records that they are forwarded.
    let mut gc = conf.clone();
    gc["cniVersion"] = json!("1.1.0");
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "pod1", "ifname": "eth0"}]);
    let call = |verb: &str, c: &serde_json::Value| {
        integration::CniCall::new(env!("CARGO_BIN_EXE_bridge"), verb)
            .env("CNI_PATH", &t.stub_ipam_path())
            .config(c)
            .in_node(&t.node)
            .run()
    };
    let out = call("GC", &gc);
    assert!(out.success(), "{} {}", out.stdout, out.stderr);
    let rules = t.rules();
    assert!(
        !rules.contains(&ips[0]) && !rules.contains(&ips[2]),
        "{rules}"
    );
    assert!(
        rules.contains(&ips[1]),
        "valid attachment lost its rule: {rules}"
    );
    let st = call("STATUS", &gc);
    assert!(st.success(), "{} {}", st.stdout, st.stderr);
    assert_eq!(t.stub_ipam_log(), "GC\nSTATUS\n");
}
