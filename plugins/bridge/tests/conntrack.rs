//! DEL leaves no conntrack entry of the pod's addresses in the node netns:
//! two pods on one bridge talk TCP (v4 and v6, bridged, tracked in the
//! node through br_netfilter) and pod1 reaches the outside through
//! MASQUERADE; after both DELs (one with prevResult, one reading the
//! addresses from the pod link) `conntrack -L` in the node shows none of
//! their addresses, while the node's own flow to the outside stays.

mod common;

use common::*;
use integration::TestNetns;
use serde_json::json;

/// `conntrack -L` of both families in the node netns.
fn node_entries(t: &Topo) -> String {
    let v4 = t.node.exec_ok(&["conntrack", "-L", "-f", "ipv4"]);
    let v6 = t.node.exec_ok(&["conntrack", "-L", "-f", "ipv6"]);
    v4 + &v6
}

/// Lines of `entries` that name `ip` as a source or destination.
fn lines_of<'a>(entries: &'a str, ip: &str) -> Vec<&'a str> {
    let (src, dst) = (format!("src={ip} "), format!("dst={ip} "));
    entries
        .lines()
        .filter(|l| l.contains(&src) || l.contains(&dst))
        .collect()
}

/// A TCP connection from `from` to `to`:`port` (listener in `to_ns`).
fn talk(from: &TestNetns, to_ns: &TestNetns, to: &str, port: u16) {
    let mut ok = false;
    let _ = peer_seen_by(to_ns, to, port, || ok = tcp_from(from, to, port));
    assert!(ok, "TCP {} -> {to}:{port}", from.name());
}

#[test]
fn del_leaves_no_conntrack_entry_of_the_pods() {
    let t = Topo::new("ck");
    let (p1, p2) = (TestNetns::new("ck1"), TestNetns::new("ck2"));
    let conf = t.conf(true, json!({}));
    let r1 = t.add_ok("pod1", &p1, &conf);
    let r2 = t.add_ok("pod2", &p2, &conf);
    let pod_ips = [
        pod_ip(&r1, false),
        pod_ip(&r1, true),
        pod_ip(&r2, false),
        pod_ip(&r2, true),
    ];
    talk(&p1, &p2, &pod_ips[2], 5432);
    talk(&p2, &p1, &pod_ips[1], 5432);
    talk(&p1, &t.outside, OUTSIDE_V4, 8080);
    talk(&t.node, &t.outside, OUTSIDE_V4, 8081);
    let before = node_entries(&t);
    for ip in &pod_ips {
        assert!(
            !lines_of(&before, ip).is_empty(),
            "no entry of {ip}:\n{before}"
        );
    }
    let mut with_prev = conf.clone();
    with_prev["prevResult"] = r1.clone();
    t.del_ok("pod1", Some(&p1), &with_prev);
    t.del_ok("pod2", Some(&p2), &conf);
    let after = node_entries(&t);
    for ip in &pod_ips {
        let left = lines_of(&after, ip);
        assert!(left.is_empty(), "entries of {ip} left after DEL: {left:#?}");
    }
    assert!(
        after.contains("dport=8081 "),
        "the node's own flow was deleted:\n{after}"
    );
    assert!(t.pod_veths().is_empty(), "{:?}", t.pod_veths());
    // Idempotent: DEL again (netns gone, no prevResult: nothing to match).
    drop((p1, p2));
    t.del_ok("pod1", None, &conf);
    t.del_ok("pod2", None, &conf);
}
