//! Bad input: every case is a clear CNI error naming the offending key or
//! value, and nothing is applied (no rule, no record).

mod common;

use common::*;
use serde_json::{Value, json};

fn m(v: Value) -> Value {
    json!([v])
}

/// (portMappings, extra keys, expected code, text the message must name).
fn cases() -> Vec<(Value, Value, u64, &'static str)> {
    let ok = json!({"hostPort": 80, "containerPort": 80, "protocol": "tcp"});
    let with = |k: &str, v: Value| {
        let mut x = ok.clone();
        x[k] = v;
        m(x)
    };
    let cases: Vec<(Value, Value, u64, &str)> = vec![
        (with("hostPort", json!(0)), json!({}), 7, "hostPort"),
        (with("hostPort", json!(65536)), json!({}), 7, "65536"),
        (
            with("containerPort", json!(0)),
            json!({}),
            7,
            "containerPort",
        ),
        (with("hostPort", json!("80")), json!({}), 6, "hostPort"),
        (with("protocol", json!("icmp")), json!({}), 7, "icmp"),
        (
            with("hostIP", json!("not-an-ip")),
            json!({}),
            7,
            "not-an-ip",
        ),
        (json!({"hostPort": 1}), json!({}), 6, "portMappings"),
        (m(ok.clone()), json!({"backend": "pf"}), 7, "backend"),
        (m(ok.clone()), json!({"markMasqBit": 32}), 7, "markMasqBit"),
        (
            m(ok.clone()),
            json!({"markMasqBit": 14, "externalSetMarkChain": "KUBE-MARK-MASQ"}),
            7,
            "externalSetMarkChain",
        ),
        (
            m(ok.clone()),
            json!({"backend": "iptables", "conditionsV4": ["ip saddr 10.0.0.0/8"]}),
            7,
            "nftables syntax",
        ),
        (
            m(ok.clone()),
            json!({"backend": "nftables", "conditionsV4": ["-s", "10.0.0.0/8"]}),
            7,
            "iptables syntax",
        ),
        (
            m(ok.clone()),
            json!({"recordDir": "rel/dir"}),
            7,
            "recordDir",
        ),
        (m(ok.clone()), json!({"prevResult": null}), 7, "prevResult"),
        (m(ok.clone()), json!({"snat": "yes"}), 6, "snat"),
    ];
    cases
}

#[test]
fn bad_input_is_refused_with_nothing_applied() {
    let n = Node::new("bi");
    let p = Pod::fake("bad-input", "10.88.0.5/24");
    for (maps, extra, code, needle) in cases() {
        let mut conf = n.conf(None, maps.clone(), Some(&p));
        for (k, v) in extra.as_object().unwrap() {
            conf[k] = v.clone();
        }
        let out = n.call(&ours(), "ADD", &p.cid, &p.path(), &conf);
        assert_eq!(out.error_code(), code, "{maps} {extra}: {}", out.stdout);
        let msg = out.json()["msg"].as_str().unwrap_or_default().to_string();
        assert!(
            msg.contains(needle),
            "{maps} {extra}: {msg:?} lacks {needle:?}"
        );
    }
    let fw = n.firewall();
    assert!(
        !fw.contains("ferrocni") && !fw.contains("CNI-"),
        "applied:\n{fw}"
    );
    assert!(!n.records().exists(), "a record was written");
}
