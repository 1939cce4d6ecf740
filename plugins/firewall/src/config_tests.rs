//! Unit tests of configuration validation.

use super::*;
use serde_json::json;

fn conf(v: serde_json::Value) -> std::result::Result<FwConf, cni::CniError> {
    let mut base = json!({"cniVersion": "1.0.0", "name": "n", "type": "firewall"});
    for (k, val) in v.as_object().unwrap() {
        base[k] = val.clone();
    }
    load(&cni::NetConf::parse(base.to_string().as_bytes()).unwrap())
}

#[test]
fn defaults_match_reference() {
    let c = conf(json!({})).unwrap();
    assert_eq!(c.backend, BackendChoice::Nftables);
    assert_eq!(c.admin_chain, "CNI-ADMIN");
    assert_eq!(c.policy, Policy::Open);
    assert!(c.allow.is_empty());
    assert_eq!(c.record_dir, std::path::Path::new(DEFAULT_RECORD_DIR));
    let c = conf(json!({"recordDir": "/tmp/fw"})).unwrap();
    assert_eq!(c.record_dir, std::path::Path::new("/tmp/fw"));
    let c = conf(
        json!({"backend": "iptables", "iptablesAdminChainName": "MY-ADMIN",
                        "ingressPolicy": "isolated", "firewalldZone": "trusted"}),
    )
    .unwrap();
    assert_eq!(c.backend, BackendChoice::Iptables);
    assert_eq!(c.admin_chain, "MY-ADMIN");
    assert_eq!(c.policy, Policy::Isolated);
}

#[test]
fn allow_rules_parse() {
    let c = conf(json!({"allow": [
        {"from": "10.1.0.0/24", "ports": ["tcp/5432", "udp/53", "tcp/8000-8100", "sctp/9"]},
        {"from": "fd00::5"},
        {"from": "10.2.3.4/16"}]}))
    .unwrap();
    assert_eq!(c.allow[0].from.to_string(), "10.1.0.0/24");
    assert_eq!(
        c.allow[0].ports[2],
        PortSpec {
            proto: Proto::Tcp,
            first: 8000,
            last: 8100
        }
    );
    assert_eq!(c.allow[0].ports[3].proto, Proto::Sctp);
    assert_eq!(c.allow[1].from.to_string(), "fd00::5/128");
    assert!(c.allow[1].ports.is_empty());
    assert_eq!(c.allow[2].from.to_string(), "10.2.0.0/16");
}

fn bad_cases() -> Vec<(serde_json::Value, &'static str, u32)> {
    vec![
        (json!({"ingressPolicy": "closed"}), "\"closed\"", 7),
        (json!({"backend": "pf"}), "\"pf\"", 7),
        (json!({"backend": "firewalld"}), "firewalld", 2),
        (
            json!({"backend": "iptables", "allow": [{"from": "10.0.0.0/8"}]}),
            "allow",
            2,
        ),
        (json!({"iptablesAdminChainName": "-X"}), "\"-X\"", 7),
        (json!({"iptablesAdminChainName": "a b"}), "\"a b\"", 7),
        (json!({"iptablesAdminChainName": "X".repeat(29)}), "XXXX", 7),
        (
            json!({"allow": [{"from": "10.0.0.0/33"}]}),
            "10.0.0.0/33",
            7,
        ),
        (json!({"allow": [{"from": "web"}]}), "\"web\"", 7),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["icmp/1"]}]}),
            "icmp/1",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["tcp/0"]}]}),
            "tcp/0",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["tcp/65536"]}]}),
            "tcp/65536",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["tcp/90-80"]}]}),
            "reversed",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["tcp/+80"]}]}),
            "tcp/+80",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["5432"]}]}),
            "5432",
            7,
        ),
        (
            json!({"allow": [{"from": "10.0.0.0/8", "ports": ["tcp/1-2-3"]}]}),
            "tcp/1-2-3",
            7,
        ),
        (json!({"allow": [{"ports": []}]}), "from", 6),
        (json!({"allow": {"from": "x"}}), "allow", 6),
        (json!({"ingressPolicy": 3}), "ingressPolicy", 6),
        (json!({"recordDir": "rel/dir"}), "recordDir", 7),
        (json!({"recordDir": 5}), "recordDir", 6),
    ]
}

#[test]
fn bad_input_names_the_value() {
    for (v, needle, code) in bad_cases() {
        let e = conf(v.clone()).unwrap_err();
        assert_eq!(e.code, code, "{v}: {}", e.msg);
        assert!(e.msg.contains(needle), "{v}: {}", e.msg);
    }
}
