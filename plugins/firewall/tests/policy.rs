//! Our nftables layout on a node with three bridge networks: isolation,
//! allow rules (port, protocol, source), stateful replies, and the traffic
//! that must stay unaffected (node, outside, hostPort DNAT, intra-network).

mod common;

use common::probe::{Listener, expect, expect_all};
use common::{EXT_IP, NODE_IP, Net, Node, Pod, br_netfilter};
use serde_json::json;

fn nets() -> (Net, Net, Net) {
    let web = Net::new("web", "fwweb0", "10.51.0.0/24", json!({}));
    let db = Net::new(
        "db",
        "fwdb0",
        "10.52.0.0/24",
        json!({"ingressPolicy": "same-bridge", "allow": [
            {"from": "10.51.0.0/24", "ports": ["tcp/5432", "udp/5353", "tcp/8000-8100"]}]}),
    );
    let log = Net::new(
        "log",
        "fwlog0",
        "10.53.0.0/24",
        json!({"ingressPolicy": "same-bridge", "allow": [{"from": "10.51.0.0/24", "ports": ["tcp/5140"]}]}),
    );
    (web, db, log)
}

/// Simulates portmap: DNAT node:18080 → pod:5433, by hand, in the node.
fn hostport(node: &Node, pod_ip: &str) {
    let rules = format!(
        "add table ip fwtest_hp\n\
         add chain ip fwtest_hp pre {{ type nat hook prerouting priority dstnat ; }}\n\
         add rule ip fwtest_hp pre tcp dport 18080 dnat to {pod_ip}:5433\n"
    );
    let mut c = node.ns.command(&["nft", "-f", "-"]);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// Allow rules open exactly what they say (port, protocol, range, source).
fn allow_paths(web1: &Pod, db1: &Pod, db2: &Pod, log1: &Pod) {
    let (w, d, l) = (&web1.ns, db1.ip.as_str(), log1.ip.as_str());
    expect_all(&[
        (w, "tcp", d, 5432, true, "web -> db allowed port"),
        (w, "tcp", d, 5433, false, "web -> db other port"),
        (w, "udp", d, 5353, true, "web -> db allowed udp"),
        (w, "udp", d, 5354, false, "web -> db other udp"),
        (w, "tcp", d, 8050, true, "web -> db in range"),
        (w, "tcp", d, 8101, false, "web -> db past range"),
        (w, "tcp", l, 5140, true, "web -> log allowed port"),
        (w, "tcp", l, 5432, false, "web -> log db port"),
        // source CIDR: log may not use web's allowance; db and log are apart
        (&log1.ns, "tcp", d, 5432, false, "log -> db"),
        (&db1.ns, "tcp", l, 5140, false, "db -> log"),
        // same-bridge: inside the network is open
        (&db2.ns, "tcp", d, 5433, true, "db2 -> db1"),
    ]);
}

/// Replies, node, outside world and hostPort DNAT stay unaffected.
fn unaffected_paths(node: &Node, web1: &Pod, db1: &Pod, log1: &Pod) {
    let (d, w) = (db1.ip.as_str(), web1.ip.as_str());
    expect_all(&[
        (&db1.ns, "tcp", w, 80, true, "db -> web (replies into db)"),
        (&log1.ns, "tcp", w, 80, true, "log -> web"),
        (
            &db1.ns,
            "tcp",
            EXT_IP,
            9000,
            true,
            "db -> outside (masquerade)",
        ),
        (&node.ext, "tcp", d, 5433, true, "outside -> db (routed)"),
        (&node.ns, "tcp", d, 5433, true, "node -> db"),
    ]);
    hostport(node, d);
    expect_all(&[
        (
            &node.ext,
            "tcp",
            NODE_IP,
            18080,
            true,
            "outside -> hostPort",
        ),
        (
            &log1.ns,
            "tcp",
            NODE_IP,
            18080,
            true,
            "log pod -> hostPort (DNAT)",
        ),
    ]);
}

#[test]
fn three_networks_isolation_allow_rules_and_unaffected_traffic() {
    let node = Node::new("fwn");
    node.ext
        .exec_ok(&["ip", "route", "add", "10.0.0.0/8", "via", NODE_IP]);
    let (web, db, log) = nets();
    let web1 = Pod::add(&node, &web);
    let db1 = Pod::add(&node, &db);
    let db2 = Pod::add(&node, &db);
    let log1 = Pod::add(&node, &log);
    let db_ports = [
        "tcp/5432", "tcp/5433", "udp/5353", "udp/5354", "tcp/8050", "tcp/8101",
    ];
    let _l_db1 = Listener::start(&db1.ns, &db_ports);
    let _l_log = Listener::start(&log1.ns, &["tcp/5140", "tcp/5432"]);
    let _l_web = Listener::start(&web1.ns, &["tcp/80"]);
    let _l_ext = Listener::start(&node.ext, &["tcp/9000"]);
    allow_paths(&web1, &db1, &db2, &log1);
    unaffected_paths(&node, &web1, &db1, &log1);
    for p in [&web1, &db1, &db2, &log1] {
        let out = p.check(&node);
        assert!(out.success(), "CHECK {}: {}", p.id, out.stdout);
    }
    for p in [web1, db1, db2, log1] {
        p.del(&node);
    }
    assert_eq!(node.ours(), "", "our table goes with the last pod");
    assert!(!node.iptables_filter().contains("CNI-FORWARD"));
}

#[test]
fn one_sided_policy_protects_the_opted_in_network_only() {
    // SPEC difference (ours): the reference drops only when both opted in.
    let node = Node::new("fwn");
    let open = Net::new("opn", "fwopn0", "10.54.0.0/24", json!({}));
    let closed = Net::new(
        "cls",
        "fwcls0",
        "10.55.0.0/24",
        json!({"ingressPolicy": "same-bridge"}),
    );
    let o = Pod::add(&node, &open);
    let c = Pod::add(&node, &closed);
    let _lo = Listener::start(&o.ns, &["tcp/80"]);
    let _lc = Listener::start(&c.ns, &["tcp/80"]);
    expect(&o.ns, "tcp", &c.ip, 80, false, "open -> protected");
    expect(
        &c.ns,
        "tcp",
        &o.ip,
        80,
        true,
        "protected -> open, replies pass",
    );
    o.del(&node);
    c.del(&node);
    assert!(!node.nft().contains("ferrocni_firewall"));
}

#[test]
fn isolated_cuts_pods_of_one_bridge_apart() {
    // (backend, net.bridge.bridge-nf-call-iptables in the node)
    for (backend, brnf) in [("nftables", "0"), ("nftables", "1"), ("iptables", "1")] {
        let node = Node::new("fwn");
        let _ = node.ns.exec(&[
            "sysctl",
            "-qw",
            &format!("net.bridge.bridge-nf-call-iptables={brnf}"),
        ]);
        let iso = Net::new(
            "iso",
            "fwiso0",
            "10.56.0.0/24",
            json!({"ingressPolicy": "isolated", "backend": backend}),
        );
        let other = Net::new("oth", "fwoth0", "10.57.0.0/24", json!({"backend": backend}));
        let a = Pod::add(&node, &iso);
        let b = Pod::add(&node, &iso);
        let o = Pod::add(&node, &other);
        let _la = Listener::start(&a.ns, &["tcp/80"]);
        let _lx = Listener::start(&node.ext, &["tcp/9000"]);
        // iptables (reference layout) sees switched traffic only via br_netfilter.
        if backend == "nftables" || br_netfilter(&node) {
            expect(
                &b.ns,
                "tcp",
                &a.ip,
                80,
                false,
                &format!("isolated {backend} brnf={brnf}: pod -> pod"),
            );
        } else {
            eprintln!("no br_netfilter here: the reference layout cannot drop switched traffic");
        }
        expect(&a.ns, "tcp", EXT_IP, 9000, true, "isolated pod -> outside");
        expect(&node.ns, "tcp", &a.ip, 80, true, "node -> isolated pod");
        if backend == "nftables" {
            expect(&o.ns, "tcp", &a.ip, 80, false, "other network -> isolated");
        }
        for p in [a, b, o] {
            assert!(p.check(&node).success());
            p.del(&node);
        }
        assert_eq!(node.ours(), "", "{backend}");
    }
}

#[test]
fn ipv6_networks_isolation_and_allow_rules() {
    let node = Node::new("fw6");
    let web = Net::new("web6", "fw6web0", "fd00:51::/64", json!({}));
    let db = Net::new(
        "db6",
        "fw6db0",
        "fd00:52::/64",
        json!({"ingressPolicy": "same-bridge",
               "allow": [{"from": "fd00:51::/64", "ports": ["tcp/5432"]}]}),
    );
    let w = Pod::add(&node, &web);
    let d = Pod::add(&node, &db);
    let d2 = Pod::add(&node, &db);
    assert!(d.ip.contains(':'), "{}", d.ip);
    let _ld = Listener::start(&d.ns, &["tcp/5432", "tcp/5433"]);
    let _lw = Listener::start(&w.ns, &["tcp/80"]);
    expect(&w.ns, "tcp", &d.ip, 5432, true, "v6 web -> db allowed port");
    expect(&w.ns, "tcp", &d.ip, 5433, false, "v6 web -> db other port");
    expect(&d2.ns, "tcp", &d.ip, 5433, true, "v6 db2 -> db1");
    expect(&d.ns, "tcp", &w.ip, 80, true, "v6 db -> web, replies pass");
    assert!(node.ours().contains(&d.ip));
    for p in [w, d, d2] {
        assert!(p.check(&node).success());
        p.del(&node);
    }
    assert_eq!(node.ours(), "");
}
