//! Tests of configuration loading: every key, legacy and runtime ranges,
//! requested addresses, and the reference's validation errors.

use cni::{CniArgs, CniError, NetConf};
use serde_json::{Value, json};

use super::*;

fn conf(extra: Value) -> NetConf {
    let mut v = json!({"cniVersion": "1.0.0", "name": "net1", "type": "host-local"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    NetConf::parse(v.to_string().as_bytes()).unwrap()
}

fn load(extra: Value, args: &str) -> Result<IpamConfig> {
    IpamConfig::load(&conf(extra), &CniArgs::parse(args).unwrap())
}

fn code(e: HostLocalError) -> u32 {
    CniError::from(e).code
}

fn ranges_of(c: &IpamConfig) -> Vec<String> {
    c.ranges.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_key_is_read() {
    let c = load(
        json!({"ipam": {"type": "host-local", "dataDir": "/tmp/x", "resolvConf": "/etc/r",
            "reclaimAfterReboot": true,
            "ranges": [[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.0.10", "rangeEnd": "10.0.0.20", "gateway": "10.0.0.254"}]],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.0.0.254"}]}}),
        "",
    )
    .unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(c.net_dir(), PathBuf::from("/tmp/x/net1"));
    assert_eq!(c.resolv_conf, Some(PathBuf::from("/etc/r")));
    assert!(c.reclaim_after_reboot);
    assert_eq!(ranges_of(&c), ["10.0.0.10-10.0.0.20"]);
    assert_eq!(c.ranges[0].0[0].gateway.to_string(), "10.0.0.254");
    assert_eq!(c.routes.len(), 2);
    assert_eq!(c.routes[1].gw.unwrap().to_string(), "10.0.0.254");
}

#[test]
fn defaults() {
    let c = load(
        json!({"ipam": {"type": "host-local", "subnet": "10.0.0.0/24"}}),
        "",
    )
    .unwrap();
    assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert!(!c.reclaim_after_reboot);
    assert!(c.routes.is_empty() && c.resolv_conf.is_none());
}

#[test]
fn keys_match_without_regard_to_case_like_go() {
    let c = load(
        json!({"ipam": {"type": "host-local", "DataDir": "/tmp/y",
            "Ranges": [[{"Subnet": "10.0.0.0/24", "RANGESTART": "10.0.0.5"}]]}}),
        "",
    )
    .unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/tmp/y"));
    assert_eq!(ranges_of(&c), ["10.0.0.5-10.0.0.254"]);
}

#[test]
fn order_is_runtime_ranges_then_legacy_then_ranges() {
    let c = load(
        json!({"ipam": {"type": "host-local", "subnet": "10.1.0.0/24",
            "ranges": [[{"subnet": "10.2.0.0/24"}]]},
          "runtimeConfig": {"ipRanges": [[{"subnet": "10.3.0.0/24"}]]}}),
        "",
    )
    .unwrap();
    assert_eq!(
        ranges_of(&c),
        [
            "10.3.0.1-10.3.0.254",
            "10.1.0.1-10.1.0.254",
            "10.2.0.1-10.2.0.254"
        ]
    );
}

#[test]
fn empty_strings_mean_unset_like_go() {
    let c = load(
        json!({"ipam": {"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24", "gateway": "", "rangeStart": ""}]]}}),
        "",
    )
    .unwrap();
    assert_eq!(c.ranges[0].0[0].gateway.to_string(), "10.0.0.1");
}

#[test]
fn validation_errors_are_code_7_or_6() {
    let r = |ranges: Value| json!({"ipam": {"type": "host-local", "ranges": ranges}});
    let cases = [
        (json!({}), 7, "missing 'ipam'"),
        (json!({"ipam": {"type": "host-local"}}), 7, "no IP ranges"),
        (r(json!([[{"subnet": "10.0.0.1/24"}]])), 7, "host bits"),
        (r(json!([[{"subnet": "10.0.0.0/31"}]])), 7, "too small"),
        (r(json!([[{"subnet": "fd00::/128"}]])), 7, "too small"),
        (r(json!([[]])), 7, "empty range set"),
        (
            r(json!([[{"subnet": "10.0.0.0/24"}], [{"subnet": "10.0.0.0/16"}]])),
            7,
            "range set 0 overlaps with 1",
        ),
        (
            r(json!([[{"subnet": "10.0.0.0/24"}, {"subnet": "10.0.0.0/24"}]])),
            7,
            "overlap",
        ),
        (
            r(json!([[{"subnet": "nope"}]])),
            6,
            "ipam.ranges[0][0].subnet",
        ),
        (
            r(json!([[{"subnet": "10.0.0.0/24", "gateway": "x"}]])),
            6,
            "gateway",
        ),
        (r(json!([[{"subnet": 5}]])), 6, "subnet"),
        (r(json!({"a": 1})), 6, "ipam.ranges"),
        (
            json!({"ipam": {"type": "host-local", "subnet": "10.0.0.0/24", "routes": [{"dst": "bad"}]}}),
            6,
            "routes",
        ),
        (
            json!({"ipam": {"type": "host-local", "subnet": "10.0.0.0/24", "reclaimAfterReboot": "yes"}}),
            6,
            "reclaimAfterReboot",
        ),
    ];
    for (extra, want, text) in cases {
        let e = CniError::from(load(extra.clone(), "").unwrap_err());
        assert_eq!(e.code, want, "{extra}: {}", e.msg);
        assert!(e.msg.contains(text), "{extra}: {}", e.msg);
    }
}

#[test]
fn requested_ips_come_from_args_env_and_runtime_config() {
    let c = load(
        json!({"ipam": {"type": "host-local", "subnet": "10.0.0.0/24"},
            "args": {"cni": {"ips": ["10.0.0.7", "fd00::7/64"]}},
            "runtimeConfig": {"ips": ["10.0.0.8/24"]}}),
        "IP=10.0.0.5,10.0.0.6;K8S_POD_NAME=x",
    )
    .unwrap();
    let got: Vec<String> = c.requested.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        got,
        ["10.0.0.5", "10.0.0.6", "10.0.0.7", "fd00::7", "10.0.0.8"]
    );
}

#[test]
fn bad_requested_ips_and_unknown_args_fail() {
    let base = json!({"ipam": {"type": "host-local", "subnet": "10.0.0.0/24"}});
    assert_eq!(code(load(base.clone(), "IP=nope").unwrap_err()), 7);
    assert_eq!(code(load(base.clone(), "FOO=1").unwrap_err()), 4);
    assert!(load(base.clone(), "FOO=1;IgnoreUnknown=1").is_ok());
    let mapped = load(base, "IP=::ffff:10.0.0.9").unwrap();
    assert_eq!(mapped.requested[0].to_string(), "10.0.0.9");
}

#[test]
fn lenient_load_keeps_data_dir_of_an_invalid_config() {
    let c =
        conf(json!({"ipam": {"type": "host-local", "dataDir": "/tmp/z", "subnet": "10.0.0.1/24"}}));
    assert!(IpamConfig::load(&c, &CniArgs::default()).is_err());
    let l = IpamConfig::load_lenient(&c).unwrap();
    assert_eq!(l.net_dir(), PathBuf::from("/tmp/z/net1"));
}
