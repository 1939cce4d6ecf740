//! GC releases exactly the reservations of attachments not named valid;
//! STATUS reports exhaustion and unusable data directories with code 50.

mod common;

use common::*;
use integration::{CniCall, TestNetns};
use serde_json::{Value, json};

fn add_if(bin: &str, id: &str, ifname: &str, ns: &TestNetns, conf: &Value) -> Vec<String> {
    let out = CniCall::new(bin, "ADD")
        .pod(id, &ns.path().display().to_string(), ifname)
        .config(conf)
        .run();
    ips_of(&out)
}

fn gc_conf(dir: &std::path::Path, key: Option<&str>, valid: Value) -> Value {
    let mut c = conf_v(dir, "1.1.0", json!([[{"subnet": "10.40.0.0/24"}]]));
    if let Some(k) = key {
        c[k] = valid;
    }
    c
}

fn owners(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = reservations(dir).into_values().collect();
    v.sort();
    v
}

#[test]
fn gc_removes_exactly_the_stale_ones() {
    let ns = TestNetns::new("hlg");
    let dir = tmpdir();
    let add_conf = conf(dir.path(), json!([[{"subnet": "10.40.0.0/24"}]]));
    for id in ["a", "b", "c"] {
        add_if(OURS, id, "eth0", &ns, &add_conf);
    }
    add_if(OURS, "a", "eth1", &ns, &add_conf);
    if have_ref() {
        add_if(REF, "r1", "eth0", &ns, &add_conf);
        add_if(REF, "r2", "eth0", &ns, &add_conf);
    }
    let nd = net_dir(dir.path());
    std::fs::write(nd.join("10.40.0.200"), "legacy1").unwrap();
    std::fs::write(nd.join("10.40.0.201"), "legacy2\n").unwrap();
    std::fs::write(nd.join("10.40.0.202"), "").unwrap();
    let valid = json!([{"containerID": "a", "ifname": "eth0"},
        {"containerID": "r1", "ifname": "eth0"}, {"containerID": "legacy1", "ifname": "eth0"},
        {"containerID": "gone", "ifname": "eth0"}]);
    let out = call(
        OURS,
        "GC",
        &gc_conf(dir.path(), Some("cni.dev/valid-attachments"), valid),
    );
    assert!(out.success(), "{} {}", out.stdout, out.stderr);
    let mut want = vec!["a\r\neth0".to_string(), "legacy1".to_string()];
    if have_ref() {
        want.push("r1\r\neth0".into());
    }
    want.sort();
    assert_eq!(owners(dir.path()), want);
    assert!(check(OURS, "a", &ns.path(), &add_conf).success());
    assert!(!check(OURS, "b", &ns.path(), &add_conf).success());
    // The index agrees with the files: DEL of the kept ones empties the directory.
    for id in ["a", "legacy1", "r1"] {
        assert!(del(OURS, id, &add_conf).success());
    }
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn gc_accepts_the_older_key_name() {
    let ns = TestNetns::new("hlg");
    let dir = tmpdir();
    let add_conf = conf(dir.path(), json!([[{"subnet": "10.40.0.0/24"}]]));
    add_if(OURS, "keep", "eth0", &ns, &add_conf);
    add_if(OURS, "drop", "eth0", &ns, &add_conf);
    let valid = json!([{"containerID": "keep", "ifname": "eth0"}]);
    assert!(
        call(
            OURS,
            "GC",
            &gc_conf(dir.path(), Some("cni.dev/attachments"), valid)
        )
        .success()
    );
    assert_eq!(owners(dir.path()), ["keep\r\neth0"]);
}

#[test]
fn gc_without_the_key_means_no_valid_attachment() {
    let ns = TestNetns::new("hlg");
    let dir = tmpdir();
    let add_conf = conf(dir.path(), json!([[{"subnet": "10.40.0.0/24"}]]));
    add_if(OURS, "x", "eth0", &ns, &add_conf);
    add_if(OURS, "y", "eth0", &ns, &add_conf);
    assert!(call(OURS, "GC", &gc_conf(dir.path(), None, Value::Null)).success());
    assert!(reservations(dir.path()).is_empty());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn status_reports_a_full_range_with_code_50() {
    let ns = TestNetns::new("hls");
    let dir = tmpdir();
    // Two ranges of one address each (.2 of each /30; .1 is the gateway).
    let ranges = json!([[{"subnet": "10.41.0.0/30"}, {"subnet": "10.41.1.0/30"}], [{"subnet": "fd41::/64"}]]);
    let c11 = conf_v(dir.path(), "1.1.0", ranges);
    assert!(
        call(OURS, "STATUS", &c11).success(),
        "fresh network is available"
    );
    ips_of(&add(OURS, "p1", &ns.path(), &c11));
    assert!(call(OURS, "STATUS", &c11).success(), "one address left");
    ips_of(&add(OURS, "p2", &ns.path(), &c11));
    let st = call(OURS, "STATUS", &c11);
    assert_eq!(st.error_code(), 50, "{}", st.stdout);
    let full = add(OURS, "p3", &ns.path(), &c11);
    assert_eq!(full.error_code(), 106, "{}", full.stdout);
    assert_eq!(
        reservations(dir.path()).len(),
        4,
        "failed ADD leaked nothing"
    );
    assert!(del(OURS, "p1", &c11).success());
    assert!(
        call(OURS, "STATUS", &c11).success(),
        "available again after DEL"
    );
}

#[test]
fn unusable_data_dir_is_a_storage_error_and_status_50() {
    let ns = TestNetns::new("hls");
    let dir = tmpdir();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let c = conf_v(&file, "1.1.0", json!([[{"subnet": "10.42.0.0/24"}]]));
    let out = add(OURS, "p", &ns.path(), &c);
    let code = out.error_code();
    assert!(code >= 100 && code != 11, "code {code}: {}", out.stdout);
    assert!(
        out.json()["msg"].as_str().unwrap().contains("not-a-dir"),
        "{}",
        out.stdout
    );
    assert_eq!(call(OURS, "STATUS", &c).error_code(), 50);
    assert!(del(OURS, "p", &c).success(), "DEL has nothing to release");
    assert!(call(OURS, "GC", &c).success());
}
