//! Data path in real namespaces: pod↔pod across the bridge, pod→gateway,
//! pod→outside only through MASQUERADE (the outside sees the node's
//! address), hairpin, MTU on the bridge and both veth ends, dual-stack
//! addresses and default routes, result shape.

mod common;

use common::*;
use integration::TestNetns;
use serde_json::json;

#[test]
fn two_pods_talk_and_reach_outside_only_through_masquerade() {
    let t = Topo::new("dp");
    let (p1, p2) = (TestNetns::new("dp1"), TestNetns::new("dp2"));
    let conf = t.conf(true, json!({}));
    let r1 = t.add_ok("pod1", &p1, &conf);
    let r2 = t.add_ok("pod2", &p2, &conf);
    let (ip1, ip2) = (pod_ip(&r1, false), pod_ip(&r2, false));
    assert!(ping(&p1, &ip2), "pod1 -> pod2 (v4)");
    assert!(ping(&p2, &ip1), "pod2 -> pod1 (v4)");
    assert!(ping(&p1, &pod_ip(&r2, true)), "pod1 -> pod2 (v6)");
    assert!(ping(&p1, "10.99.0.1"), "pod1 -> gateway (v4)");
    assert!(ping(&p1, "fd00:99::1"), "pod1 -> gateway (v6)");
    // The outside has no route to 10.99.0.0/24: only MASQUERADE makes this work,
    // and the listener sees the node's uplink address.
    let seen = peer_seen_by(&t.outside, OUTSIDE_V4, 8080, || {
        assert!(tcp_from(&p1, OUTSIDE_V4, 8080), "pod1 -> outside (v4)");
    });
    assert_eq!(seen.map(|s| s.ip().to_string()), Some(NODE_V4.to_string()));
    let seen6 = peer_seen_by(&t.outside, OUTSIDE_V6, 8081, || {
        assert!(tcp_from(&p2, OUTSIDE_V6, 8081), "pod2 -> outside (v6)");
    });
    assert_eq!(seen6.map(|s| s.ip().to_string()), Some(NODE_V6.to_string()));
    t.del_ok("pod1", Some(&p1), &conf);
    t.del_ok("pod2", Some(&p2), &conf);
}

#[test]
fn without_ip_masq_the_outside_cannot_answer() {
    let t = Topo::new("nm");
    let p1 = TestNetns::new("nm1");
    let conf = t.conf(false, json!({"ipMasq": false}));
    let r = t.add_ok("pod1", &p1, &conf);
    assert!(ping(&p1, "10.99.0.1"), "gateway still reachable");
    assert!(
        !ping(&p1, OUTSIDE_V4),
        "outside must not answer without MASQUERADE"
    );
    let seen = peer_seen_by(&t.outside, OUTSIDE_V4, 8082, || {
        assert!(!tcp_from(&p1, OUTSIDE_V4, 8082));
    });
    assert_eq!(seen, None);
    assert!(
        !t.rules().contains(&pod_ip(&r, false)),
        "no masquerade rule expected"
    );
    t.del_ok("pod1", Some(&p1), &conf);
}

#[test]
fn hairpin_flag_and_mtu_on_bridge_and_both_veth_ends() {
    let t = Topo::new("hm");
    let p1 = TestNetns::new("hm1");
    let conf = t.conf(false, json!({"hairpinMode": true, "mtu": 1400}));
    let r = t.add_ok("pod1", &p1, &conf);
    let host_veth = r["interfaces"][1]["name"].as_str().unwrap().to_string();
    let port = t.node.exec_ok(&["ip", "-d", "link", "show", &host_veth]);
    assert!(port.contains("hairpin on"), "{port}");
    assert!(
        port.contains("mtu 1400") && port.contains("master tbr0"),
        "{port}"
    );
    let br = t.node.exec_ok(&["ip", "link", "show", "tbr0"]);
    assert!(br.contains("mtu 1400"), "{br}");
    let pod = p1.exec_ok(&["ip", "link", "show", "eth0"]);
    assert!(pod.contains("mtu 1400"), "{pod}");
    // hairpinMode off → flag off
    let p2 = TestNetns::new("hm2");
    let conf2 = t.conf(false, json!({"hairpinMode": false}));
    let r2 = t.add_ok("pod2", &p2, &conf2);
    let v2 = r2["interfaces"][1]["name"].as_str().unwrap().to_string();
    assert!(
        t.node
            .exec_ok(&["ip", "-d", "link", "show", &v2])
            .contains("hairpin off")
    );
}

#[test]
fn dual_stack_addresses_default_routes_and_result_shape() {
    let t = Topo::new("ds");
    let p1 = TestNetns::new("ds1");
    let conf = t.conf(
        true,
        json!({"isDefaultGateway": true, "dns": {"nameservers": ["10.99.0.53"]}}),
    );
    let r = t.add_ok("pod1", &p1, &conf);
    assert_eq!(r["cniVersion"], "1.0.0");
    let ifs = r["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 3);
    assert_eq!(ifs[0]["name"], "tbr0");
    assert!(ifs[1]["name"].as_str().unwrap().starts_with("veth"));
    assert_eq!(ifs[2]["name"], "eth0");
    assert_eq!(ifs[2]["sandbox"], p1.path().display().to_string());
    assert!(
        r["ips"]
            .as_array()
            .unwrap()
            .iter()
            .all(|ip| ip["interface"] == 2)
    );
    assert_eq!(r["dns"]["nameservers"][0], "10.99.0.53");
    // The MACs in the result are the real ones.
    let brl = t.node.exec_ok(&["ip", "link", "show", "tbr0"]);
    assert!(brl.contains(ifs[0]["mac"].as_str().unwrap()), "{brl}");
    let eth = p1.exec_ok(&["ip", "link", "show", "eth0"]);
    assert!(eth.contains(ifs[2]["mac"].as_str().unwrap()), "{eth}");
    let a4 = p1.exec_ok(&["ip", "-4", "addr", "show", "eth0"]);
    assert!(a4.contains(&format!("{}/24", pod_ip(&r, false))), "{a4}");
    let a6 = p1.exec_ok(&["ip", "-6", "addr", "show", "eth0"]);
    assert!(a6.contains(&format!("{}/64", pod_ip(&r, true))), "{a6}");
    assert!(!a6.contains("tentative"), "DAD must be off: {a6}");
    let r4 = p1.exec_ok(&["ip", "-4", "route", "show", "default"]);
    assert!(r4.contains("via 10.99.0.1 dev eth0"), "{r4}");
    let r6 = p1.exec_ok(&["ip", "-6", "route", "show", "default"]);
    assert!(r6.contains("via fd00:99::1 dev eth0"), "{r6}");
    let gw = t.node.exec_ok(&["ip", "addr", "show", "tbr0"]);
    assert!(
        gw.contains("10.99.0.1/24") && gw.contains("fd00:99::1/64"),
        "{gw}"
    );
    assert_eq!(
        t.node
            .exec_ok(&["cat", "/proc/sys/net/ipv4/ip_forward"])
            .trim(),
        "1"
    );
}

#[test]
fn bridge_mac_stays_pinned_as_ports_come_and_go() {
    let t = Topo::new("pm");
    let conf = t.conf(false, json!({}));
    let pods: Vec<TestNetns> = (0..3).map(|i| TestNetns::new(&format!("pm{i}"))).collect();
    let first = t.add_ok("p0", &pods[0], &conf);
    let mac = first["interfaces"][0]["mac"].as_str().unwrap().to_string();
    for (i, p) in pods.iter().enumerate().skip(1) {
        let r = t.add_ok(&format!("p{i}"), p, &conf);
        assert_eq!(r["interfaces"][0]["mac"], mac.as_str());
    }
    t.del_ok("p0", Some(&pods[0]), &conf);
    let l = t.node.exec_ok(&["ip", "link", "show", "tbr0"]);
    assert!(l.contains(&mac), "bridge MAC changed: {l}");
}

#[test]
fn layer2_only_config_attaches_without_addresses() {
    let t = Topo::new("l2");
    let p1 = TestNetns::new("l21");
    let conf = json!({"cniVersion": "1.0.0", "name": "tnet", "type": "bridge", "bridge": "tbr0", "ipam": {}});
    let r = t.add_ok("pod1", &p1, &conf);
    assert!(r.get("ips").is_none(), "{r}");
    let eth = p1.exec_ok(&["ip", "link", "show", "eth0"]);
    assert!(eth.contains("state UP") || eth.contains(",UP"), "{eth}");
    t.del_ok("pod1", Some(&p1), &conf);
    assert!(t.pod_veths().is_empty());
}

#[test]
fn enabledad_waits_for_dad_on_netlink_events() {
    let t = Topo::new("da");
    let p1 = TestNetns::new("da1");
    let conf = t.conf(true, json!({"enabledad": true}));
    let start = std::time::Instant::now();
    let r = t.add_ok("pod1", &p1, &conf);
    let took = start.elapsed();
    // Right after ADD returns, DAD is over: nothing tentative, and the
    // address really went through DAD (no `nodad` flag).
    let a6 = p1.exec_ok(&["ip", "-6", "addr", "show", "eth0"]);
    let mine = format!("{}/64", pod_ip(&r, true));
    let line = a6
        .lines()
        .find(|l| l.contains(&mine))
        .unwrap_or_else(|| panic!("{a6}"));
    assert!(
        !line.contains("tentative") && !line.contains("nodad"),
        "{a6}"
    );
    assert_eq!(
        p1.exec_ok(&["sysctl", "-n", "net.ipv6.conf.eth0.accept_dad"])
            .trim(),
        "1"
    );
    assert!(
        took < std::time::Duration::from_secs(5),
        "bounded wait: {took:?}"
    );
    t.del_ok("pod1", Some(&p1), &conf);
}

#[test]
fn macspoofchk_drops_frames_with_another_source_mac() {
    let t = Topo::new("ms");
    let (p1, p2) = (TestNetns::new("ms1"), TestNetns::new("ms2"));
    let conf = t.conf(false, json!({"macspoofchk": true, "ipMasq": false}));
    t.add_ok("pod1", &p1, &conf);
    let r2 = t.add_ok("pod2", &p2, &conf);
    let ip2 = pod_ip(&r2, false);
    assert!(ping(&p1, &ip2), "legitimate MAC passes");
    let chains = t.node.exec_ok(&["nft", "list", "table", "bridge", "nat"]);
    assert!(chains.contains("cni-br-iface-pod1-eth0-mac"), "{chains}");
    p1.exec_ok(&["ip", "link", "set", "eth0", "address", "0a:58:de:ad:be:ef"]);
    p1.exec_ok(&["ip", "neigh", "flush", "all"]);
    assert!(!ping(&p1, &ip2), "spoofed source MAC must be dropped");
    t.del_ok("pod1", Some(&p1), &conf);
    t.del_ok("pod2", Some(&p2), &conf);
    let left = t.node.exec_ok(&["nft", "list", "table", "bridge", "nat"]);
    assert!(!left.contains("cni-br-iface-"), "{left}");
}

#[test]
fn ipv6_disabled_in_the_pod_is_turned_on_for_a_v6_address() {
    let t = Topo::new("v6");
    let p1 = TestNetns::new("v61");
    p1.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    p1.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    let r = t.add_ok("pod1", &p1, &t.conf(true, json!({})));
    let a6 = p1.exec_ok(&["ip", "-6", "addr", "show", "eth0"]);
    assert!(a6.contains(&pod_ip(&r, true)), "{a6}");
    assert!(ping(&p1, "fd00:99::1"), "v6 gateway");
}

#[test]
fn port_isolation_promisc_and_disabled_container_interface() {
    let t = Topo::new("pi");
    let (p1, p2) = (TestNetns::new("pi1"), TestNetns::new("pi2"));
    let conf = t.conf(
        false,
        json!({"portIsolation": true, "promiscMode": true, "ipMasq": false}),
    );
    let r1 = t.add_ok("pod1", &p1, &conf);
    let r2 = t.add_ok("pod2", &p2, &conf);
    let v1 = r1["interfaces"][1]["name"].as_str().unwrap().to_string();
    let port = t.node.exec_ok(&["ip", "-d", "link", "show", &v1]);
    assert!(port.contains("isolated on"), "{port}");
    assert!(
        t.node
            .exec_ok(&["ip", "link", "show", "tbr0"])
            .contains("PROMISC")
    );
    // Isolated ports reach the bridge (gateway) but not each other.
    assert!(ping(&p1, "10.99.0.1"), "isolated pod -> gateway");
    assert!(
        !ping(&p1, &pod_ip(&r2, false)),
        "isolated pods must not talk"
    );
    // Layer 2 with disableContainerInterface: the pod end stays down.
    let p3 = TestNetns::new("pi3");
    let l2 = json!({"cniVersion": "1.0.0", "name": "l2net", "type": "bridge", "bridge": "tbr1",
        "ipam": {}, "disableContainerInterface": true});
    t.add_ok("pod3", &p3, &l2);
    let eth = p3.exec_ok(&["ip", "link", "show", "eth0"]);
    assert!(!eth.contains(",UP") && eth.contains("state DOWN"), "{eth}");
}
