//! Unit tests of result building.

use super::*;
use crate::config::from_parts;
use cni::NetConf;
use serde_json::json;

fn cfg(extra: serde_json::Value) -> BridgeConf {
    let mut v = json!({"cniVersion": "1.0.0", "name": "n", "type": "bridge",
        "ipam": {"type": "host-local"}});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    from_parts(&NetConf::parse(v.to_string().as_bytes()).unwrap(), None).unwrap()
}

fn ipam(v: serde_json::Value) -> CniResult {
    CniResult::from_value(&v).unwrap()
}

#[test]
fn gateway_defaults_to_first_host_and_goes_on_the_bridge() {
    let p = plan(
        ipam(json!({"ips": [{"address": "10.1.2.7/24"}, {"address": "fd00:1::7/64"}]})),
        &cfg(json!({"isGateway": true})),
    )
    .unwrap();
    assert_eq!(p.result.ips[0].gateway, Some("10.1.2.1".parse().unwrap()));
    assert_eq!(p.result.ips[1].gateway, Some("fd00:1::1".parse().unwrap()));
    assert!(p.result.ips.iter().all(|ip| ip.interface == Some(2)));
    let want: Vec<IpNet> = vec![
        "10.1.2.1/24".parse().unwrap(),
        "fd00:1::1/64".parse().unwrap(),
    ];
    assert_eq!(p.bridge_addrs, want);
    assert!(p.result.routes.is_empty());
    assert!(p.has_v6());
}

#[test]
fn without_is_gateway_nothing_goes_on_the_bridge() {
    let p = plan(
        ipam(json!({"ips": [{"address": "10.1.2.7/24"}]})),
        &cfg(json!({})),
    )
    .unwrap();
    assert_eq!(p.result.ips[0].gateway, None);
    assert!(p.bridge_addrs.is_empty());
}

#[test]
fn default_gateway_adds_one_default_route_per_family() {
    let p = plan(
        ipam(
            json!({"ips": [{"address": "10.1.2.7/24", "gateway": "10.1.2.254"},
                            {"address": "10.1.3.7/24"},
                            {"address": "fd00::7/64"}]}),
        ),
        &cfg(json!({"isDefaultGateway": true})),
    )
    .unwrap();
    let dsts: Vec<String> = p.result.routes.iter().map(|r| r.dst.to_string()).collect();
    assert_eq!(dsts, ["0.0.0.0/0", "::/0"]);
    assert_eq!(p.result.routes[0].gw, Some("10.1.2.254".parse().unwrap()));
    assert_eq!(p.bridge_addrs.len(), 3);
}

#[test]
fn ipam_default_route_with_gateway_is_kept_and_not_duplicated() {
    let p = plan(
        ipam(
            json!({"ips": [{"address": "10.1.2.7/24", "gateway": "10.1.2.1"}],
                    "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.2.9"}]}),
        ),
        &cfg(json!({"isDefaultGateway": true})),
    )
    .unwrap();
    assert_eq!(p.result.routes.len(), 1);
    assert_eq!(
        p.routes,
        vec![(
            "0.0.0.0/0".parse().unwrap(),
            Some("10.1.2.9".parse().unwrap())
        )]
    );
}

#[test]
fn routes_without_gw_use_the_family_gateway_and_are_installed_once() {
    let p = plan(
        ipam(
            json!({"ips": [{"address": "10.1.2.7/24", "gateway": "10.1.2.1"}],
                    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "fd00:9::/64"}]}),
        ),
        &cfg(json!({"isDefaultGateway": true})),
    )
    .unwrap();
    // reference: the IPAM default route has no gw, so one with the gw is appended
    assert_eq!(p.result.routes.len(), 3);
    assert_eq!(
        p.routes,
        vec![
            (
                "0.0.0.0/0".parse().unwrap(),
                Some("10.1.2.1".parse().unwrap())
            ),
            ("fd00:9::/64".parse().unwrap(), None),
        ]
    );
}

#[test]
fn empty_ipam_result_is_an_error() {
    let e = plan(ipam(json!({})), &cfg(json!({}))).unwrap_err();
    assert_eq!(e.code(), 7);
}

#[test]
fn mixed_family_gateway_is_an_error() {
    let e = plan(
        ipam(json!({"ips": [{"address": "10.1.2.7/24", "gateway": "fd00::1"}]})),
        &cfg(json!({})),
    )
    .unwrap_err();
    assert!(e.to_string().contains("fd00::1"));
}

#[test]
fn config_dns_overrides_ipam_dns_only_when_set() {
    let mut r = ipam(json!({"dns": {"nameservers": ["10.0.0.53"]}}));
    apply_dns(&mut r, Some(&Dns::default()));
    assert_eq!(r.dns.nameservers, ["10.0.0.53"]);
    let conf = Dns {
        search: vec!["example.org".into()],
        ..Dns::default()
    };
    apply_dns(&mut r, Some(&conf));
    assert_eq!(r.dns, conf);
}
