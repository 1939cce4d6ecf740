//! Unit tests of config decoding, validation and backend selection.

use super::*;
use serde_json::json;

fn conf(extra: Value) -> NetConf {
    let mut v = json!({"cniVersion": "1.0.0", "name": "net1", "type": "portmap"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    NetConf::parse(v.to_string().as_bytes()).unwrap()
}

fn maps(m: Value) -> NetConf {
    conf(json!({"runtimeConfig": {"portMappings": m}}))
}

fn err(c: NetConf) -> PortmapError {
    Config::parse(&c).unwrap_err()
}

#[test]
fn both_spellings_and_defaults() {
    let c = Config::parse(&maps(json!([
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"HostPort": 30001, "ContainerPort": 8080, "Protocol": "UDP", "HostIP": ""},
        {"hostPort": 80, "containerPort": 8080, "hostIP": "192.0.2.7"},
    ])))
    .unwrap();
    assert_eq!(c.mappings.len(), 3);
    assert_eq!(c.mappings[1].host_port, 30001);
    assert_eq!(c.mappings[1].protocol, Protocol::Udp);
    assert_eq!(c.mappings[1].host_ip, None);
    assert_eq!(c.mappings[2].protocol, Protocol::Tcp);
    assert_eq!(c.mappings[2].host_ip, Some("192.0.2.7".parse().unwrap()));
    assert!(c.opts.snat && !c.opts.masq_all);
    assert_eq!(c.opts.mark_masq_bit, 13);
    assert_eq!(c.backend, BackendChoice::Nftables);
    assert_eq!(c.record_dir, PathBuf::from(DEFAULT_RECORD_DIR));
}

#[test]
fn no_mappings_is_empty() {
    assert!(Config::parse(&conf(json!({}))).unwrap().mappings.is_empty());
    assert!(
        Config::parse(&maps(Value::Null))
            .unwrap()
            .mappings
            .is_empty()
    );
}

#[test]
fn bad_mappings_name_the_entry() {
    let cases = [
        (
            json!([{"hostPort": 0, "containerPort": 80}]),
            7,
            "[0].hostPort",
        ),
        (
            json!([{"hostPort": 65536, "containerPort": 80}]),
            7,
            "hostPort",
        ),
        (
            json!([{"hostPort": 80, "containerPort": -1}]),
            7,
            "containerPort",
        ),
        (
            json!([{"hostPort": "80", "containerPort": 80}]),
            6,
            "hostPort",
        ),
        (json!([{"containerPort": 80}]), 7, "hostPort"),
        (
            json!([{}, {"hostPort": 1, "containerPort": 1, "protocol": "icmp"}]),
            7,
            "[0]",
        ),
        (
            json!([{"hostPort": 1, "containerPort": 1, "protocol": "icmp"}]),
            7,
            "icmp",
        ),
        (
            json!([{"hostPort": 1, "containerPort": 1, "hostIP": "eth0"}]),
            7,
            "hostIP",
        ),
        (
            json!([{"hostPort": 1, "containerPort": 1, "hostIP": 5}]),
            6,
            "hostIP",
        ),
        (json!({"hostPort": 1}), 6, "portMappings"),
        (json!([7]), 6, "portMappings[0]"),
    ];
    for (m, code, needle) in cases {
        let e = err(maps(m.clone()));
        assert_eq!(e.code(), code, "{m}: {e}");
        assert!(e.to_string().contains(needle), "{m}: {e}");
    }
}

#[test]
fn mark_bit_and_chain() {
    assert_eq!(err(conf(json!({"markMasqBit": 32}))).code(), 7);
    assert_eq!(err(conf(json!({"markMasqBit": -1}))).code(), 7);
    let both = json!({"markMasqBit": 14, "externalSetMarkChain": "KUBE-MARK-MASQ"});
    assert!(err(conf(both)).to_string().contains("externalSetMarkChain"));
    let c = Config::parse(&conf(json!({"markMasqBit": 0}))).unwrap();
    assert_eq!(c.opts.mark_masq_bit, 0);
    assert_eq!(err(conf(json!({"snat": "yes"}))).code(), 6);
}

#[test]
fn backend_selection() {
    let pick = |v: Value| Config::parse(&conf(v)).map(|c| c.backend);
    assert_eq!(pick(json!({})).unwrap(), BackendChoice::Nftables);
    let chain = json!({"externalSetMarkChain": "KUBE-MARK-MASQ"});
    assert_eq!(pick(chain).unwrap(), BackendChoice::Iptables);
    let ipt = json!({"conditionsV4": ["-s", "1.2.3.4"]});
    assert_eq!(pick(ipt).unwrap(), BackendChoice::Iptables);
    let neg = json!({"conditionsV6": ["! -d fd00::1"]});
    assert_eq!(pick(neg).unwrap(), BackendChoice::Iptables);
    let nft = json!({"conditionsV4": ["ip saddr 1.2.3.4"]});
    assert_eq!(pick(nft).unwrap(), BackendChoice::Nftables);
    let forced = json!({"backend": "iptables"});
    assert_eq!(pick(forced).unwrap(), BackendChoice::Iptables);
}

#[test]
fn conditions_in_the_other_syntax_are_rejected() {
    let cases = [
        json!({"backend": "iptables", "conditionsV4": ["ip saddr 1.2.3.4"]}),
        json!({"backend": "nftables", "conditionsV4": ["-s 1.2.3.4"]}),
        json!({"conditionsV4": ["-s 1.2.3.4"], "conditionsV6": ["ip6 saddr ::1"]}),
        json!({"backend": "nftables", "externalSetMarkChain": "X"}),
        json!({"backend": "pf"}),
        json!({"conditionsV4": ["-s 1.2.3.4\n-A X"]}),
        json!({"recordDir": "relative/dir"}),
    ];
    for c in cases {
        let e = err(conf(c.clone()));
        assert_eq!(e.code(), 7, "{c}: {e}");
    }
}

#[test]
fn container_ips_follow_the_reference() {
    let prev: CniResult = serde_json::from_value(json!({
        "interfaces": [{"name": "br0"}, {"name": "veth1"},
                       {"name": "eth0", "sandbox": "/run/netns/p"},
                       {"name": "net1", "sandbox": "/run/netns/p"}],
        "ips": [{"address": "10.0.0.1/24", "interface": 0},
                {"address": "10.9.0.2/24", "interface": 3},
                {"address": "10.0.0.2/24", "interface": 2},
                {"address": "10.0.0.3/24", "interface": 2},
                {"address": "fd00::2/64", "interface": 2}]
    }))
    .unwrap();
    let ips = container_ips(&prev, "eth0");
    let want: Vec<IpNet> = vec![
        "10.0.0.2/24".parse().unwrap(),
        "fd00::2/64".parse().unwrap(),
    ];
    assert_eq!(ips, want);
    assert_eq!(
        container_ips(&prev, "net1"),
        vec!["10.9.0.2/24".parse::<IpNet>().unwrap()]
    );
    assert!(container_ips(&prev, "eth9").is_empty());
}

fn json_leaf() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        (0u16..=65535).prop_map(Value::from),
        Just(json!("tcp")),
        Just(json!("fd00::1")),
    ]
}

fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let keys = prop_oneof![
        Just("hostPort".to_string()),
        Just("HostIP".to_string()),
        Just("containerport".to_string()),
        Just("Protocol".to_string()),
        "[a-zA-Z]{1,8}",
    ];
    json_leaf().prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #[test]
    fn arbitrary_input_never_panics(maps in json_value(), extra in json_value()) {
        let mut v = json!({"cniVersion": "1.0.0", "name": "n", "type": "portmap",
                           "runtimeConfig": {"portMappings": maps}});
        if let Value::Object(o) = extra {
            for (k, x) in o {
                v[k] = x;
            }
        }
        if let Ok(c) = NetConf::parse(v.to_string().as_bytes()) {
            let _ = Config::parse(&c);
        }
    }
}
