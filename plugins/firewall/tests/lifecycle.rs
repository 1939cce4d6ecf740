//! DEL without netns or prevResult, GC, CHECK, a node whose iptables
//! FORWARD policy is DROP, prevResults without a bridge, and bad input that
//! must leave the node untouched.

mod common;

use common::probe::{Listener, expect};
use common::{EXT_IP, NODE_IP, Net, Node, Pod, new_id};
use integration::TestNetns;
use serde_json::{Value, json};

/// A prevResult naming `bridge` and `ip` (no real interfaces needed).
fn prev(bridge: Option<&str>, ip: &str, sandbox: &str) -> Value {
    let mut ifs = vec![json!({"name": "eth0", "sandbox": sandbox})];
    if let Some(br) = bridge {
        ifs.insert(0, json!({"name": "veth0"}));
        ifs.insert(0, json!({"name": br}));
    }
    let idx = ifs.len() - 1;
    json!({"cniVersion": "1.0.0", "interfaces": ifs,
           "ips": [{"address": ip, "interface": idx}]})
}

#[test]
fn forward_drop_policy_gets_reference_accepts() {
    let node = Node::new("fwd");
    node.ns.exec_ok(&["iptables", "-P", "FORWARD", "DROP"]);
    node.ext
        .exec_ok(&["ip", "route", "add", "10.0.0.0/8", "via", NODE_IP]);
    let net = Net::new("dr", "fwdr0", "10.64.0.0/24", json!({}));
    let p = Pod::add(&node, &net);
    let _lx = Listener::start(&node.ext, &["tcp/9000"]);
    let _lp = Listener::start(&p.ns, &["tcp/80"]);
    let filter = node.iptables_filter();
    assert!(
        filter.contains(&format!("-A CNI-FORWARD -s {}/32 -j ACCEPT", p.ip)),
        "{filter}"
    );
    expect(
        &p.ns,
        "tcp",
        EXT_IP,
        9000,
        true,
        "pod -> outside under FORWARD DROP",
    );
    expect(
        &node.ext,
        "tcp",
        &p.ip,
        80,
        false,
        "new inbound stays dropped",
    );
    assert!(p.check(&node).success());
    node.ns.exec_ok(&[
        "iptables",
        "-D",
        "CNI-FORWARD",
        "-s",
        &format!("{}/32", p.ip),
        "-j",
        "ACCEPT",
    ]);
    assert_eq!(
        p.check(&node).error_code(),
        107,
        "CHECK sees the missing accept"
    );
    p.del(&node);
    assert!(!node.iptables_filter().contains("10.64.0."));
    assert!(!node.nft().contains("ferrocni_firewall"));
}

#[test]
fn del_without_netns_or_prevresult_removes_by_container_id() {
    let node = Node::new("fwl");
    let net = Net::new(
        "gone",
        "fwgone0",
        "10.65.0.0/24",
        json!({"ingressPolicy": "same-bridge"}),
    );
    let keep = Pod::add(&node, &net);
    let p = Pod::add(&node, &net);
    let (id, ip) = (p.id.clone(), p.ip.clone());
    let Pod { ns, .. } = p;
    ns.delete();
    let out = net
        .fw_call(&node, "DEL", &id, "/run/netns/fcni-gone-forever")
        .config(&net.fw_conf(None))
        .run();
    assert!(out.success(), "{} {}", out.stdout, out.stderr);
    let rules = node.ours();
    assert!(!rules.contains(&ip), "{rules}");
    assert!(
        rules.contains(&keep.ip) && rules.contains("fwgone0"),
        "{rules}"
    );
    let again = net
        .fw_call(&node, "DEL", &id, "")
        .config(&net.fw_conf(None))
        .run();
    assert!(again.success(), "DEL is idempotent");
    keep.del(&node);
    assert!(!node.nft().contains("ferrocni_firewall"));
}

/// ADD of a synthetic attachment (prevResult naming `bridge`, `ip`).
fn add_synth(node: &Node, net: &Net, id: &str, bridge: &str, ip: &str, path: &str) {
    let p = prev(Some(bridge), ip, path);
    let out = net
        .fw_call(node, "ADD", id, path)
        .config(&net.fw_conf(Some(&p)))
        .run();
    assert!(out.success(), "{}", out.stdout);
}

/// GC of `net` with `valid` attachments.
fn gc(node: &Node, net: &Net, valid: Value) {
    let mut c = net.fw_conf(None);
    c["cniVersion"] = json!("1.1.0");
    c["cni.dev/valid-attachments"] = valid;
    let out = net
        .fw_call(node, "GC", "", "")
        .unset("CNI_CONTAINERID")
        .unset("CNI_NETNS")
        .config(&c)
        .run();
    assert!(out.success(), "GC: {} {}", out.stdout, out.stderr);
}

#[test]
fn gc_removes_attachments_not_in_the_valid_list() {
    let node = Node::new("fwg");
    let pod = TestNetns::new("fwq");
    let path = pod.path().display().to_string();
    let sb = json!({"ingressPolicy": "same-bridge"});
    let net = Net::new("gcn", "fwgc0", "10.66.0.0/24", sb);
    let other = Net::new("gco", "fwgc1", "10.67.0.0/24", json!({}));
    let ids: Vec<String> = (0..3).map(|_| new_id("g")).collect();
    for (i, id) in ids.iter().enumerate() {
        add_synth(
            &node,
            &net,
            id,
            "fwgc0",
            &format!("10.66.0.{}/24", 10 + i),
            &path,
        );
    }
    let oid = new_id("o");
    add_synth(&node, &other, &oid, "fwgc1", "10.67.0.9/24", &path);
    gc(
        &node,
        &net,
        json!([{"containerID": ids[0], "ifname": "eth0"}]),
    );
    let rules = node.ours();
    assert!(rules.contains("10.66.0.10"), "{rules}");
    assert!(
        !rules.contains("10.66.0.11") && !rules.contains("10.66.0.12"),
        "{rules}"
    );
    assert!(
        rules.contains("10.67.0.9"),
        "GC leaves other networks alone: {rules}"
    );
    gc(&node, &net, json!([]));
    let rules = node.ours();
    assert!(
        !rules.contains("10.66.0.10") && !rules.contains("fwgc0"),
        "{rules}"
    );
    let del = other
        .fw_call(&node, "DEL", &oid, &path)
        .config(&other.fw_conf(None))
        .run();
    assert!(del.success());
    assert_eq!(node.ours(), "");
}

#[test]
fn prevresult_without_bridge_gets_address_records_only() {
    let node = Node::new("fwb");
    let pod = TestNetns::new("fwq");
    let path = pod.path().display().to_string();
    let open = Net::new("nob", "x", "10.68.0.0/24", json!({}));
    let p = prev(None, "10.99.0.2/24", &path);
    let id = new_id("n");
    let out = open
        .fw_call(&node, "ADD", &id, &path)
        .config(&open.fw_conf(Some(&p)))
        .run();
    assert!(out.success(), "{}", out.stdout);
    assert!(node.nft().contains("10.99.0.2"));
    let chk = open
        .fw_call(&node, "CHECK", &id, &path)
        .config(&open.fw_conf(Some(&p)))
        .run();
    assert!(chk.success(), "{}", chk.stdout);
    assert!(
        open.fw_call(&node, "DEL", &id, &path)
            .config(&open.fw_conf(Some(&p)))
            .run()
            .success()
    );
    let sb = Net::new(
        "nob",
        "x",
        "10.68.0.0/24",
        json!({"ingressPolicy": "same-bridge"}),
    );
    let out = sb
        .fw_call(&node, "ADD", &new_id("n"), &path)
        .config(&sb.fw_conf(Some(&p)))
        .run();
    assert_eq!(out.error_code(), 7, "{}", out.stdout);
    assert!(out.json()["msg"].as_str().unwrap().contains("bridge"));
    assert!(!node.nft().contains("ferrocni_firewall"));
}

#[test]
fn bad_input_is_refused_naming_the_value_and_applies_nothing() {
    let node = Node::new("fwx");
    let pod = TestNetns::new("fwq");
    let path = pod.path().display().to_string();
    let p = prev(Some("fwbad0"), "10.69.0.2/24", &path);
    let cases = [
        (json!({"ingressPolicy": "closed"}), "closed", 7),
        (json!({"backend": "firewalld"}), "firewalld", 2),
        (json!({"backend": "pf"}), "pf", 7),
        (
            json!({"allow": [{"from": "10.0.0.0/33", "ports": ["tcp/1"]}]}),
            "10.0.0.0/33",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["tcp/90-80"]}]}),
            "tcp/90-80",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["tcp/70000"]}]}),
            "tcp/70000",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["gre/1"]}]}),
            "gre/1",
            7,
        ),
        (json!({"iptablesAdminChainName": "BAD NAME"}), "BAD NAME", 7),
    ];
    let before_ipt = node.iptables_filter();
    for (fw, needle, code) in cases {
        let net = Net::new("bad", "fwbad0", "10.69.0.0/24", fw.clone());
        let out = net
            .fw_call(&node, "ADD", &new_id("b"), &path)
            .config(&net.fw_conf(Some(&p)))
            .run();
        assert_eq!(out.error_code(), code, "{fw}: {}", out.stdout);
        let msg = out.json()["msg"].as_str().unwrap().to_string();
        assert!(msg.contains(needle), "{fw}: {msg}");
        assert_eq!(node.nft().trim(), "", "{fw}: nothing applied");
        assert_eq!(node.iptables_filter(), before_ipt, "{fw}: nothing applied");
    }
    let net = Net::new("bad", "fwbad0", "10.69.0.0/24", json!({}));
    let out = net
        .fw_call(&node, "ADD", &new_id("b"), &path)
        .config(&net.fw_conf(None))
        .run();
    assert!(!out.success() && out.json()["msg"].as_str().unwrap().contains("prevResult"));
}

#[test]
fn status_reports_the_backend() {
    let node = Node::new("fws");
    let net = Net::new("st", "fwst0", "10.70.0.0/24", json!({}));
    let mut c = net.fw_conf(None);
    c["cniVersion"] = json!("1.1.0");
    let ok = net
        .fw_call(&node, "STATUS", "", "")
        .unset("CNI_CONTAINERID")
        .unset("CNI_NETNS")
        .config(&c)
        .run();
    assert!(ok.success(), "{} {}", ok.stdout, ok.stderr);
    // A PATH without nft: the backend cannot run here -> code 50.
    let bad = net
        .fw_call(&node, "STATUS", "", "")
        .unset("CNI_CONTAINERID")
        .unset("CNI_NETNS")
        .env("PATH", "/nonexistent")
        .config(&c)
        .run();
    assert_eq!(bad.error_code(), 50, "{}", bad.stdout);
}

#[test]
fn bridge_taken_over_by_another_network_is_repointed() {
    let node = Node::new("fwt");
    let pod = TestNetns::new("fwq");
    let path = pod.path().display().to_string();
    let sb = json!({"ingressPolicy": "same-bridge"});
    let n1 = Net::new("tk1", "fwtk0", "10.71.0.0/24", sb.clone());
    let n2 = Net::new("tk2", "fwtk0", "10.71.0.0/24", sb);
    let (a, b) = (new_id("t"), new_id("t"));
    add_synth(&node, &n1, &a, "fwtk0", "10.71.0.2/24", &path);
    add_synth(&node, &n2, &b, "fwtk0", "10.71.0.3/24", &path);
    let chain2 = firewall::nft::net_chain("tk2");
    assert!(
        node.ours()
            .contains(&format!("\"fwtk0\" comment \"tk2\" : goto {chain2}")),
        "{}",
        node.ours()
    );
    for (net, id) in [(&n1, &a), (&n2, &b)] {
        let out = net
            .fw_call(&node, "DEL", id, &path)
            .config(&net.fw_conf(None))
            .run();
        assert!(out.success(), "{}", out.stdout);
    }
    assert_eq!(node.ours(), "");
}
