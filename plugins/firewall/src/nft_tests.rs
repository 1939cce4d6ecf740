//! Golden tests of our nftables layout.

use super::*;
use crate::config::{Allow, BackendChoice, PortSpec, Proto};
use crate::nftjson::parse_table;

fn att(cid: &str, net: &str, ips: &[&str]) -> Attachment {
    Attachment {
        net: net.into(),
        cid: cid.into(),
        ifname: "eth0".into(),
        bridge: Some("br-db".into()),
        port: Some("veth1".into()),
        ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn conf(policy: Policy, allow: Vec<Allow>) -> FwConf {
    FwConf {
        backend: BackendChoice::Nftables,
        admin_chain: "CNI-ADMIN".into(),
        policy,
        allow,
        record_dir: crate::config::DEFAULT_RECORD_DIR.into(),
    }
}

#[test]
fn add_batch_golden() {
    let allow = vec![
        Allow {
            from: "10.1.0.0/24".parse().unwrap(),
            ports: vec![
                PortSpec {
                    proto: Proto::Tcp,
                    first: 5432,
                    last: 5432,
                },
                PortSpec {
                    proto: Proto::Udp,
                    first: 8000,
                    last: 8100,
                },
            ],
        },
        Allow {
            from: "fd00::/64".parse().unwrap(),
            ports: vec![],
        },
    ];
    let b = add_batch(
        &att("c1", "db", &["10.2.0.5"]),
        &conf(Policy::SameBridge, allow),
    );
    let ch = net_chain("db");
    let want = format!("add table inet ferrocni_firewall
add set inet ferrocni_firewall pods4 {{ type ipv4_addr ; }}
add set inet ferrocni_firewall pods6 {{ type ipv6_addr ; }}
add map inet ferrocni_firewall ingress {{ type ifname : verdict ; }}
add chain inet ferrocni_firewall forward {{ type filter hook forward priority filter ; policy accept ; }}
flush chain inet ferrocni_firewall forward
add rule inet ferrocni_firewall forward ct state established,related accept
add rule inet ferrocni_firewall forward ct status dnat accept
add rule inet ferrocni_firewall forward oifname vmap @ingress
add chain inet ferrocni_firewall {ch}
flush chain inet ferrocni_firewall {ch}
add rule inet ferrocni_firewall {ch} iifname \"br-db\" return
add rule inet ferrocni_firewall {ch} meta iifkind != \"bridge\" return
add rule inet ferrocni_firewall {ch} ip saddr 10.1.0.0/24 tcp dport 5432 return
add rule inet ferrocni_firewall {ch} ip saddr 10.1.0.0/24 udp dport 8000-8100 return
add rule inet ferrocni_firewall {ch} ip6 saddr fd00::/64 return
add rule inet ferrocni_firewall {ch} counter drop comment \"db ingressPolicy same-bridge\"
add element inet ferrocni_firewall ingress {{ \"br-db\" comment \"db\" : goto {ch} }}
add element inet ferrocni_firewall pods4 {{ 10.2.0.5 }}
delete element inet ferrocni_firewall pods4 {{ 10.2.0.5 }}
add element inet ferrocni_firewall pods4 {{ 10.2.0.5 comment \"c1 eth0 db\" }}
");
    assert_eq!(b.text(), want);
}

#[test]
fn isolated_has_no_intra_bridge_return_and_open_has_no_chain() {
    let t = add_batch(
        &att("c1", "db", &["10.2.0.5"]),
        &conf(Policy::Isolated, vec![]),
    );
    assert!(!t.text().contains("iifname \"br-db\" return"));
    assert!(t.text().contains("goto fw-"));
    let t = add_batch(&att("c1", "db", &["10.2.0.5"]), &conf(Policy::Open, vec![]));
    assert!(!t.text().contains("fw-"), "{}", t.text());
}

#[test]
fn add_cost_is_independent_of_pods_and_networks() {
    let c = conf(Policy::SameBridge, vec![]);
    let a = add_batch(&att("c1", "db", &["10.2.0.5"]), &c)
        .text()
        .lines()
        .count();
    let b = add_batch(&att("c999", "other", &["10.9.3.7"]), &c)
        .text()
        .lines()
        .count();
    assert_eq!(a, b);
}

fn listing(elems4: &str, ingress: &str, chains: &str) -> String {
    format!(
        r#"{{"nftables": [
 {{"map": {{"family": "inet", "name": "ingress", "table": "ferrocni_firewall", "type": "ifname", "map": "verdict", "elem": [{ingress}]}}}},
 {{"set": {{"family": "inet", "name": "pods4", "table": "ferrocni_firewall", "type": "ipv4_addr", "elem": [{elems4}]}}}},
 {{"chain": {{"family": "inet", "table": "ferrocni_firewall", "name": "forward"}}}}{chains}]}}"#
    )
}

#[test]
fn removal_keeps_scaffolding_until_last_pod() {
    let ch = net_chain("db");
    let ingress = format!(
        r#"[{{"elem": {{"val": "br-db", "comment": "db"}}}}, {{"goto": {{"target": "{ch}"}}}}]"#
    );
    let chain = format!(
        r#", {{"chain": {{"family": "inet", "table": "ferrocni_firewall", "name": "{ch}"}}}}"#
    );
    let e = |ip: &str, c: &str| format!(r#"{{"elem": {{"val": "{ip}", "comment": "{c}"}}}}"#);
    let two = format!(
        "{}, {}, {}",
        e("10.2.0.5", "c1 eth0 db"),
        e("10.2.0.6", "c2 eth0 db"),
        e("10.3.0.2", "c3 eth0 web")
    );
    let t = parse_table(&listing(&two, &ingress, &chain)).unwrap();
    let (b, ips) = removal(&t, "db", &|e| e.comment.as_deref() == Some("c1 eth0 db"));
    assert_eq!(
        b.text(),
        "delete element inet ferrocni_firewall pods4 { 10.2.0.5 }\n"
    );
    assert_eq!(ips, vec!["10.2.0.5".parse::<IpAddr>().unwrap()]);
    let one = format!(
        "{}, {}",
        e("10.2.0.6", "c2 eth0 db"),
        e("10.3.0.2", "c3 eth0 web")
    );
    let t = parse_table(&listing(&one, &ingress, &chain)).unwrap();
    let (b, _) = removal(&t, "db", &|e| e.comment.as_deref() == Some("c2 eth0 db"));
    let want = format!(
        "delete element inet ferrocni_firewall pods4 {{ 10.2.0.6 }}
delete element inet ferrocni_firewall ingress {{ \"br-db\" }}
delete chain inet ferrocni_firewall {ch}
"
    );
    assert_eq!(b.text(), want);
    let last = e("10.3.0.2", "c3 eth0 web");
    let t = parse_table(&listing(&last, &ingress, &chain)).unwrap();
    let (b, _) = removal(&t, "web", &|_| true);
    assert_eq!(b.text(), "delete table inet ferrocni_firewall\n");
    let (b, _) = removal(&t, "web", &|_| false);
    assert!(b.is_empty());
}
