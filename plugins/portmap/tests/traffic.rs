//! The data path, on both backends: per-host-IP mappings reach their own
//! pod (TCP and UDP), any-address mappings answer on every node address,
//! hairpin (own and neighbour pod) and IPv4 localhost work; after DEL
//! (one without `portMappings`, one with an empty `CNI_NETNS`) nothing
//! answers and no rule, record or conntrack entry of the pods remains.

mod common;

use common::*;
use serde_json::json;

fn scenario(backend: &str) {
    let n = Node::new(&backend[..2]);
    let p1 = n.pod(&format!("web1-{backend}"));
    let p2 = n.pod(&format!("web2-{backend}"));
    let _s1 = Server::start(&p1.ns, 8080, "pod1");
    let _s2 = Server::start(&p2.ns, 8080, "pod2");
    let m1 = json!([
        {"HostPort": 80, "ContainerPort": 8080, "Protocol": "tcp", "HostIP": HOST1},
        {"HostPort": 80, "ContainerPort": 8080, "Protocol": "udp", "HostIP": HOST1},
        {"hostPort": 9090, "containerPort": 8080, "protocol": "tcp", "hostIP": ""},
    ]);
    let m2 = json!([
        {"hostPort": 80, "containerPort": 8080, "protocol": "tcp", "hostIP": HOST2},
        {"hostPort": 80, "containerPort": 8080, "protocol": "udp", "hostIP": HOST2},
        {"hostPort": 9091, "containerPort": 8080, "protocol": "tcp", "hostIP": "0.0.0.0"},
    ]);
    let c1 = n.conf(Some(backend), m1.clone(), Some(&p1));
    let c2 = n.conf(Some(backend), m2, Some(&p2));
    n.add(&p1, &c1);
    n.add(&p2, &c2);

    reachable(&n, &p1, &p2);
    for (p, c) in [(&p1, &c1), (&p2, &c2)] {
        let out = n.call(&ours(), "CHECK", &p.cid, &p.path(), c);
        assert!(out.success(), "CHECK {}: {}", p.cid, out.stdout);
    }
    assert!(
        !n.conntrack_of(p1.ip).is_empty(),
        "traffic left conntrack entries"
    );

    // DEL of pod1 the way cnitool does without CAP_ARGS: no portMappings.
    let bare = n.conf(Some(backend), serde_json::Value::Null, None);
    let out = n.call(&ours(), "DEL", &p1.cid, &p1.path(), &bare);
    assert!(out.success(), "DEL {}", out.stdout);
    // DEL of pod2 the way containerd's second round does: empty CNI_NETNS.
    let out = n.call(
        &ours(),
        "DEL",
        &p2.cid,
        "",
        &n.conf(Some(backend), json!([]), None),
    );
    assert!(out.success(), "DEL {}", out.stdout);
    gone(&n, &[&p1, &p2]);
    // DEL again: idempotent.
    let out = n.call(&ours(), "DEL", &p1.cid, "", &c1);
    assert!(out.success(), "second DEL {}", out.stdout);
}

/// Each host IP reaches its own pod; any-address, hairpin, localhost.
fn reachable(n: &Node, p1: &Pod, p2: &Pod) {
    let one = Some("pod1".to_string());
    let two = Some("pod2".to_string());
    assert_eq!(tcp_get(&n.out, HOST1, 80), one, "tcp {HOST1}:80");
    assert_eq!(tcp_get(&n.out, HOST2, 80), two, "tcp {HOST2}:80");
    assert_eq!(udp_get(&n.out, HOST1, 80), one, "udp {HOST1}:80");
    assert_eq!(udp_get(&n.out, HOST2, 80), two, "udp {HOST2}:80");
    assert_eq!(tcp_get(&n.out, HOST1, 9090), one, "any-address on {HOST1}");
    assert_eq!(tcp_get(&n.out, HOST2, 9090), one, "any-address on {HOST2}");
    assert_eq!(tcp_get(&n.out, HOST1, 9091), two, "0.0.0.0 on {HOST1}");
    assert_eq!(tcp_get(&n.out, HOST2, 9091), two, "0.0.0.0 on {HOST2}");
    assert_eq!(tcp_get(&p1.ns, HOST1, 80), one, "hairpin to itself");
    assert_eq!(tcp_get(&p2.ns, HOST1, 80), one, "hairpin to a neighbour");
    assert_eq!(tcp_get(&n.node, "127.0.0.1", 9090), one, "IPv4 localhost");
}

/// Nothing answers; no rule, conntrack entry or record of the pods is left.
fn gone(n: &Node, pods: &[&Pod]) {
    assert_eq!(tcp_get(&n.out, HOST1, 80), None);
    assert_eq!(tcp_get(&n.out, HOST2, 80), None);
    assert_eq!(udp_get(&n.out, HOST1, 80), None);
    assert_eq!(tcp_get(&n.out, HOST2, 9090), None);
    assert_eq!(tcp_get(&n.out, HOST1, 9091), None);
    assert_eq!(tcp_get(&n.node, "127.0.0.1", 9090), None);
    let fw = n.firewall();
    for p in pods {
        assert!(!fw.contains(&p.cid), "rule of {} left:\n{fw}", p.cid);
        assert!(
            !fw.contains(&p.ip.to_string()),
            "rule for {} left:\n{fw}",
            p.ip
        );
        assert_eq!(
            n.conntrack_of(p.ip),
            Vec::<String>::new(),
            "conntrack of {}",
            p.ip
        );
    }
    let left: Vec<_> = std::fs::read_dir(n.records().join(NET)).unwrap().collect();
    assert!(left.is_empty(), "records left: {left:?}");
}

#[test]
fn nftables_data_path() {
    scenario("nftables");
}

#[test]
fn iptables_data_path() {
    scenario("iptables");
}
