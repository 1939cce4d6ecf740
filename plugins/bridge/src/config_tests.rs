//! Unit tests of configuration decoding and validation.

use super::*;
use serde_json::json;

fn conf(extra: Value) -> NetConf {
    let mut v = json!({"cniVersion": "1.0.0", "name": "net1", "type": "bridge"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    NetConf::parse(v.to_string().as_bytes()).unwrap()
}

fn load_json(extra: Value) -> Result<BridgeConf, CniError> {
    from_parts(&conf(extra), None)
}

#[test]
fn defaults_match_the_reference() {
    let c = load_json(json!({})).unwrap();
    assert_eq!(c.bridge, "cni0");
    assert!(!c.is_gateway && !c.is_default_gateway && !c.force_address && !c.ip_masq);
    assert_eq!(c.masq_backend, MasqBackend::Nftables);
    assert_eq!(c.mtu, None);
    assert!(!c.hairpin && !c.promisc && !c.macspoofchk && !c.enable_dad);
    assert_eq!(c.vlan, None);
    assert!(c.vlan_trunk.is_empty());
    assert!(c.preserve_default_vlan);
    assert!(!c.layer3);
    assert_eq!(c.mac, None);
}

#[test]
fn every_key_is_read() {
    let c = load_json(json!({
        "bridge": "br-x", "isDefaultGateway": true, "forceAddress": true, "ipMasq": true,
        "ipMasqBackend": "iptables", "mtu": 1400, "hairpinMode": true, "vlan": 7,
        "preserveDefaultVlan": false, "macspoofchk": true, "enabledad": true,
        "portIsolation": true, "ipam": {"type": "host-local"}
    }))
    .unwrap();
    assert_eq!(c.bridge, "br-x");
    assert!(c.is_gateway, "isDefaultGateway implies isGateway");
    assert!(c.is_default_gateway && c.force_address && c.ip_masq && c.hairpin);
    assert_eq!(c.masq_backend, MasqBackend::Iptables);
    assert_eq!(c.mtu, Some(1400));
    assert_eq!(c.vlan, Some(7));
    assert!(!c.preserve_default_vlan && c.macspoofchk && c.enable_dad && c.port_isolation);
    assert!(c.layer3);
}

#[test]
fn empty_ipam_is_layer_2() {
    assert!(!load_json(json!({"ipam": {}})).unwrap().layer3);
}

#[test]
fn trunk_ranges_are_expanded_sorted_and_deduplicated() {
    let c =
        load_json(json!({"vlanTrunk": [{"id": 9}, {"minID": 3, "maxID": 5}, {"id": 4}]})).unwrap();
    assert_eq!(c.vlan_trunk, vec![3, 4, 5, 9]);
    assert!(c.uses_vlan());
}

fn err_of(extra: Value) -> CniError {
    load_json(extra).unwrap_err()
}

#[test]
fn bad_values_name_key_and_value() {
    let cases = [
        (json!({"vlan": 4095}), "vlan", "4095"),
        (json!({"vlan": -1}), "vlan", "-1"),
        (json!({"mtu": -5}), "mtu", "-5"),
        (
            json!({"bridge": "a-very-long-bridge-name"}),
            "bridge",
            "a-very-long-bridge-name",
        ),
        (json!({"bridge": "a/b"}), "bridge", "a/b"),
        (json!({"ipMasqBackend": "pf"}), "ipMasqBackend", "pf"),
        (json!({"vlanTrunk": [{"id": 0}]}), "vlanTrunk.id", "0"),
        (
            json!({"vlanTrunk": [{"minID": 5, "maxID": 3}]}),
            "vlanTrunk.minID",
            "5",
        ),
        (json!({"vlanTrunk": [{"minID": 5}]}), "vlanTrunk.minID", "5"),
        (
            json!({"vlanTrunk": [{"maxID": 5000}]}),
            "vlanTrunk.maxID",
            "5000",
        ),
        (
            json!({"runtimeConfig": {"mac": "zz"}}),
            "runtimeConfig.mac",
            "zz",
        ),
        (
            json!({"runtimeConfig": {"mac": "01:00:5e:00:00:01"}}),
            "runtimeConfig.mac",
            "multicast",
        ),
    ];
    for (extra, key, value) in cases {
        let e = err_of(extra.clone());
        assert_eq!(e.code, 7, "{extra}: {e}");
        assert!(
            e.msg.contains(key) && e.msg.contains(value),
            "{extra}: {}",
            e.msg
        );
    }
}

#[test]
fn wrong_types_are_decode_errors_naming_the_key() {
    for (extra, key) in [
        (json!({"hairpinMode": "yes"}), "hairpinMode"),
        (json!({"mtu": "1500"}), "mtu"),
        (json!({"vlanTrunk": [{"vid": 1}]}), "vlanTrunk"),
        (json!({"args": {"cni": {"mac": 5}}}), "args.cni.mac"),
    ] {
        let e = err_of(extra.clone());
        assert_eq!(e.code, 6, "{extra}: {e}");
        assert!(e.msg.contains(key), "{extra}: {}", e.msg);
    }
}

#[test]
fn contradictions_are_rejected() {
    let e = err_of(json!({"hairpinMode": true, "promiscMode": true}));
    assert_eq!(e.code, 7);
    assert!(e.msg.contains("hairpinMode") && e.msg.contains("promiscMode"));
    let e = err_of(json!({"vlan": 3, "vlanTrunk": [{"id": 4}]}));
    assert!(e.msg.contains("vlanTrunk"));
    let e = err_of(json!({"disableContainerInterface": true, "ipam": {"type": "host-local"}}));
    assert!(e.msg.contains("disableContainerInterface"));
}

#[test]
fn mac_precedence_runtime_config_then_args_then_env() {
    let all = conf(json!({
        "runtimeConfig": {"mac": "0a:00:00:00:00:01"},
        "args": {"cni": {"mac": "0a:00:00:00:00:02"}}
    }));
    let c = from_parts(&all, Some("0a:00:00:00:00:03")).unwrap();
    assert_eq!(c.mac, Some([0x0a, 0, 0, 0, 0, 1]));
    let args = conf(json!({"args": {"cni": {"mac": "0a:00:00:00:00:02"}}}));
    let c = from_parts(&args, Some("0a:00:00:00:00:03")).unwrap();
    assert_eq!(c.mac, Some([0x0a, 0, 0, 0, 0, 2]));
    let c = from_parts(&conf(json!({})), Some("0A-00-00-00-00-03")).unwrap();
    assert_eq!(c.mac, Some([0x0a, 0, 0, 0, 0, 3]));
    assert_eq!(format_mac(&c.mac.unwrap()), "0a:00:00:00:00:03");
}
