//! The iptables backend's per-attachment records: DEL without prevResult
//! (containerd's second round, a netns already gone), GC by the valid
//! list, symlinked record directories, failed ADDs.

mod common;

use common::{Net, Node, new_id};
use integration::TestNetns;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A prevResult naming only the pod side with `ip` (no bridge needed).
fn prev(ip: &str) -> Value {
    json!({"cniVersion": "1.0.0",
           "interfaces": [{"name": "eth0", "sandbox": "/run/netns/x"}],
           "ips": [{"address": ip, "interface": 0}]})
}

/// An iptables-backend network whose records live in `dir`.
fn ipt_net(name: &str, dir: &Path) -> Net {
    let fw = json!({"backend": "iptables", "recordDir": dir});
    Net::new(name, "unused0", "10.70.0.0/24", fw)
}

fn record(dir: &Path, net: &str, id: &str) -> PathBuf {
    dir.join(net).join(format!("{id}:eth0"))
}

/// A node plus one pod netns whose path every ADD names (the firewall
/// never enters it, but the skeleton checks that it exists).
struct Env {
    node: Node,
    pod: TestNetns,
}

impl Env {
    fn new(tag: &str) -> Env {
        Env {
            node: Node::new(tag),
            pod: TestNetns::new("fwq"),
        }
    }
}

/// ADD of `id` with `ip`.
fn add(env: &Env, net: &Net, id: &str, ip: &str) -> integration::CniOutput {
    let path = env.pod.path().display().to_string();
    net.fw_call(&env.node, "ADD", id, &path)
        .config(&net.fw_conf(Some(&prev(ip))))
        .run()
}

/// DEL as containerd's second round sends it: no netns, no prevResult.
fn bare_del(node: &Node, net: &Net, id: &str) {
    let out = net
        .fw_call(node, "DEL", id, "")
        .config(&net.fw_conf(None))
        .run();
    assert!(out.success(), "DEL: {} {}", out.stdout, out.stderr);
}

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
fn del_without_prevresult_or_netns_removes_the_recorded_rules() {
    let env = Env::new("fwr");
    let node = &env.node;
    let dir = node.data.join("records");
    let net = ipt_net("recn", &dir);
    let (a, b) = (new_id("a"), new_id("b"));
    assert!(add(&env, &net, &a, "10.70.0.10/24").success());
    assert!(add(&env, &net, &b, "10.70.0.11/24").success());
    let rec = record(&dir, "recn", &a);
    let mode = std::fs::metadata(&rec).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(node.iptables_filter().contains("-d 10.70.0.10/32"));
    bare_del(node, &net, &a);
    let rules = node.iptables_filter();
    assert!(!rules.contains("10.70.0.10/"), "{rules}");
    assert!(rules.contains("-s 10.70.0.11/32 -j ACCEPT"), "{rules}");
    assert!(!rec.exists(), "record removed");
    bare_del(node, &net, &a);
    // Without prevResult and without a record nothing changes.
    bare_del(node, &net, &new_id("u"));
    assert_eq!(node.iptables_filter(), rules);
    let del = net
        .fw_call(node, "DEL", &b, "")
        .config(&net.fw_conf(Some(&prev("10.70.0.11/24"))))
        .run();
    assert!(del.success());
    assert!(!node.iptables_filter().contains("10.70.0."));
    assert!(!record(&dir, "recn", &b).exists());
}

#[test]
fn nftables_backend_writes_no_record() {
    let env = Env::new("fwn");
    let node = &env.node;
    let dir = node.data.join("records");
    let net = Net::new("recf", "unused0", "10.71.0.0/24", json!({"recordDir": dir}));
    assert!(add(&env, &net, &new_id("n"), "10.71.0.10/24").success());
    assert!(node.ours().contains("10.71.0.10"));
    assert!(!dir.exists(), "no record directory on nftables");
}

#[test]
fn gc_removes_stale_records_and_rules_and_keeps_valid_ones() {
    let env = Env::new("fwc");
    let node = &env.node;
    let dir = node.data.join("records");
    let net = ipt_net("recg", &dir);
    let other = ipt_net("recx", &dir);
    let ids: Vec<String> = (0..3).map(|_| new_id("g")).collect();
    for (i, id) in ids.iter().enumerate() {
        let out = add(&env, &net, id, &format!("10.70.0.{}/24", 20 + i));
        assert!(out.success(), "{}", out.stdout);
    }
    let oid = new_id("o");
    assert!(add(&env, &other, &oid, "10.70.0.30/24").success());
    // A temp file left by a firewall killed before its rename.
    let tmp = dir.join("recg").join(format!(".{}:eth0.tmp77", ids[1]));
    std::fs::write(&tmp, b"{").unwrap();
    gc(
        node,
        &net,
        json!([{"containerID": ids[0], "ifname": "eth0"}]),
    );
    assert!(!tmp.exists(), "GC sweeps killed writers' temp files");
    let rules = node.iptables_filter();
    assert!(rules.contains("-d 10.70.0.20/32"), "{rules}");
    assert!(!rules.contains("10.70.0.21/") && !rules.contains("10.70.0.22/"));
    assert!(
        rules.contains("-s 10.70.0.30/32"),
        "other network kept: {rules}"
    );
    assert!(record(&dir, "recg", &ids[0]).exists());
    assert!(!record(&dir, "recg", &ids[1]).exists());
    assert!(!record(&dir, "recg", &ids[2]).exists());
    assert!(record(&dir, "recx", &oid).exists());
    gc(node, &net, json!([]));
    assert!(!node.iptables_filter().contains("10.70.0.20/"));
    assert!(!record(&dir, "recg", &ids[0]).exists());
    assert!(node.iptables_filter().contains("10.70.0.30/"));
}

#[test]
fn symlinked_record_dir_is_not_followed() {
    let env = Env::new("fws");
    let node = &env.node;
    std::fs::create_dir_all(&node.data).unwrap();
    let target = node.data.join("elsewhere");
    std::fs::create_dir(&target).unwrap();
    let link = node.data.join("records");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let net = ipt_net("recs", &link);
    let before = node.iptables_filter();
    let out = add(&env, &net, &new_id("s"), "10.70.0.40/24");
    assert!(!out.success(), "{}", out.stdout);
    assert_eq!(out.error_code(), 102, "{}", out.stdout);
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    assert_eq!(node.iptables_filter(), before, "nothing applied");
}

/// A PATH whose iptables restore tools all fail.
fn failing_restore(node: &Node) -> String {
    let bin = node.data.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    for base in ["iptables", "ip6tables"] {
        for flavor in ["nft", "legacy"] {
            let p = bin.join(format!("{base}-{flavor}-restore"));
            std::fs::write(&p, "#!/bin/sh\necho injected failure >&2\nexit 1\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn failed_add_leaves_no_record_and_restores_the_previous_one() {
    let env = Env::new("fwf");
    let node = &env.node;
    let dir = node.data.join("records");
    let net = ipt_net("recz", &dir);
    let path = failing_restore(node);
    let id = new_id("f");
    let fail = |ip: &str| {
        net.fw_call(node, "ADD", &id, &env.pod.path().display().to_string())
            .env("PATH", &path)
            .config(&net.fw_conf(Some(&prev(ip))))
            .run()
    };
    let out = fail("10.70.0.50/24");
    assert!(!out.success(), "{}", out.stdout);
    assert!(
        !record(&dir, "recz", &id).exists(),
        "no record after failed ADD"
    );
    assert!(add(&env, &net, &id, "10.70.0.50/24").success());
    let rec = std::fs::read(record(&dir, "recz", &id)).unwrap();
    assert!(!fail("10.70.0.51/24").success());
    assert_eq!(
        std::fs::read(record(&dir, "recz", &id)).unwrap(),
        rec,
        "restored"
    );
    bare_del(node, &net, &id);
    assert!(!node.iptables_filter().contains("10.70.0.5"));
}
