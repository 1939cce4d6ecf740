//! CHECK passes right after ADD and fails (code 107, naming what is wrong)
//! after each kind of tampering: veth deleted, address removed, route
//! removed, masquerade rule removed (nftables and iptables backends),
//! bridge port moved off the bridge.

mod common;

use common::*;
use integration::{CniOutput, TestNetns};
use serde_json::{Value, json};

fn with_prev(conf: &Value, prev: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = prev.clone();
    c
}

fn check(t: &Topo, pod: &TestNetns, conf: &Value, prev: &Value) -> CniOutput {
    t.call("CHECK", "pod1", Some(pod), &with_prev(conf, prev))
}

fn assert_check_fails(out: &CniOutput, needle: &str) {
    assert!(!out.success(), "CHECK should fail ({needle})");
    assert_eq!(out.error_code(), 107, "{}", out.stdout);
    assert!(
        out.stdout.contains(needle),
        "{needle} not in {}",
        out.stdout
    );
}

fn setup(tag: &str, extra: Value) -> (Topo, TestNetns, Value, Value) {
    let t = Topo::new(tag);
    let p = TestNetns::new(&format!("{tag}1"));
    let conf = t.conf(true, extra);
    let prev = t.add_ok("pod1", &p, &conf);
    let out = check(&t, &p, &conf, &prev);
    assert!(
        out.success(),
        "fresh CHECK failed: {} {}",
        out.stdout,
        out.stderr
    );
    (t, p, conf, prev)
}

#[test]
fn check_fails_when_the_veth_is_deleted() {
    let (t, p, conf, prev) = setup("cv", json!({}));
    p.exec_ok(&["ip", "link", "del", "eth0"]);
    assert_check_fails(&check(&t, &p, &conf, &prev), "eth0");
}

#[test]
fn check_fails_when_an_address_is_removed() {
    let (t, p, conf, prev) = setup("ca", json!({}));
    let v6 = format!("{}/64", pod_ip(&prev, true));
    p.exec_ok(&["ip", "addr", "del", &v6, "dev", "eth0"]);
    assert_check_fails(&check(&t, &p, &conf, &prev), &v6);
}

#[test]
fn check_fails_when_the_default_route_is_removed() {
    let (t, p, conf, prev) = setup("cr", json!({}));
    p.exec_ok(&["ip", "route", "del", "default"]);
    assert_check_fails(&check(&t, &p, &conf, &prev), "0.0.0.0/0");
}

#[test]
fn check_fails_when_the_nft_masquerade_rule_is_removed() {
    let (t, p, conf, prev) = setup("cn", json!({}));
    // Drop this pod's element from our masquerade map.
    let ip = pod_ip(&prev, false);
    t.node.exec_ok(&[
        "nft",
        "delete",
        "element",
        "inet",
        "ferrocni",
        "masq4",
        &format!("{{ {ip} }}"),
    ]);
    assert_check_fails(&check(&t, &p, &conf, &prev), "ipMasq");
}

#[test]
fn check_fails_when_the_iptables_masquerade_chain_is_removed() {
    let (t, p, conf, prev) = setup("ci", json!({"ipMasqBackend": "iptables"}));
    let save =
        String::from_utf8_lossy(&t.node.exec(&["iptables-save", "-t", "nat"]).stdout).into_owned();
    let rule = save
        .lines()
        .find(|l| l.starts_with("-A POSTROUTING") && l.contains("-j CNI-"))
        .unwrap_or_else(|| panic!("no reference-style jump in {save}"))
        .replacen("-A ", "-D ", 1);
    let mut argv = vec!["iptables", "-t", "nat"];
    let words = shell_words(&rule);
    argv.extend(words.iter().map(String::as_str));
    t.node.exec_ok(&argv);
    assert_check_fails(&check(&t, &p, &conf, &prev), "ipMasq");
}

#[test]
fn check_fails_when_the_port_leaves_the_bridge() {
    let (t, p, conf, prev) = setup("cm", json!({}));
    let veth = prev["interfaces"][1]["name"].as_str().unwrap().to_string();
    t.node.exec_ok(&["ip", "link", "set", &veth, "nomaster"]);
    assert_check_fails(&check(&t, &p, &conf, &prev), "tbr0");
}

#[test]
fn check_without_prev_result_is_rejected() {
    let t = Topo::new("cp");
    let p = TestNetns::new("cp1");
    let conf = t.conf(false, json!({}));
    t.add_ok("pod1", &p, &conf);
    let out = t.call("CHECK", "pod1", Some(&p), &conf);
    assert!(!out.success());
    assert!(out.stdout.contains("prevResult"), "{}", out.stdout);
}

/// Splits an iptables-save rule line, honouring double quotes.
fn shell_words(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut esc) = (Vec::new(), String::new(), false, false);
    for c in s.chars() {
        match (c, quoted, esc) {
            (_, _, true) => {
                cur.push(c);
                esc = false;
            }
            ('\\', true, false) => esc = true,
            ('"', _, false) => quoted = !quoted,
            (' ', false, false) => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
