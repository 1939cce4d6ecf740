//! The runner against recorder plugins (shell scripts that log what they get):
//! chaining, capabilities, version choice, the cache, DEL/CHECK/GC/STATUS.
//! No network namespace is touched: recorders only write files.

mod common;

use common::{Lab, unbase64};
use serde_json::{Value, json};

const NS: &str = "/run/netns/ferrocni-recorder-test";

fn r1() -> Value {
    json!({"cniVersion":"0.4.0","interfaces":[{"name":"eth0","sandbox":NS}],
        "ips":[{"version":"4","address":"10.1.0.5/24","interface":0}],"dns":{}})
}

fn r2() -> Value {
    json!({"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":NS,"mtu":1400}],
        "ips":[{"address":"10.2.0.5/24","interface":0}],"dns":{}})
}

/// Two recorders `a`, `b`; `a` declares portMappings, `b` bandwidth (mac off).
fn two_plugin_lab(version: &str) -> Lab {
    let lab = Lab::new();
    lab.recorder("a", &r1());
    lab.recorder("b", &r2());
    lab.conf(
        "10-rec.conflist",
        &json!({"cniVersion":version,"name":"rec","plugins":[
            {"type":"a","capabilities":{"portMappings":true},"keyA":1},
            {"type":"b","capabilities":{"bandwidth":true,"mac":false}}]}),
    );
    lab
}

const CAPS: &str = r#"{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],
    "bandwidth":{"ingressRate":1000},"mac":"aa:bb:cc:dd:ee:ff"}"#;

fn cid() -> String {
    ferrocni::runtime::cnitool_container_id(NS)
}

#[test]
fn add_chains_prev_result_and_filters_capabilities() {
    let lab = two_plugin_lab("1.0.0");
    let out = lab
        .run(
            &["add", "rec", NS],
            &[
                ("CAP_ARGS", CAPS),
                ("CNI_ARGS", "K8S_POD_NAME=p"),
                ("FERROCNI_PASSTHROUGH", "kept"),
            ],
        )
        .ok();
    let calls = lab.calls();
    assert_eq!(calls.len(), 2);
    let (a, b) = (&calls[0], &calls[1]);
    assert_eq!(
        (a.plugin.as_str(), a.verb.as_str(), b.plugin.as_str()),
        ("a", "ADD", "b")
    );
    assert_eq!(a.container_id, cid());
    // The caller's environment passes through, like libcni's invoke.
    assert_eq!(a.passthrough, "kept");
    assert_eq!(
        (a.netns.as_str(), a.ifname.as_str(), a.args.as_str()),
        (NS, "eth0", "K8S_POD_NAME=p")
    );
    // First ADD: no prevResult; name/cniVersion injected; own keys kept.
    assert!(a.stdin.get("prevResult").is_none(), "{}", a.stdin);
    assert_eq!(
        (a.stdin["name"].as_str(), a.stdin["cniVersion"].as_str()),
        (Some("rec"), Some("1.0.0"))
    );
    assert_eq!(a.stdin["keyA"], 1);
    // runtimeConfig: only what each plugin declared.
    assert_eq!(
        a.stdin["runtimeConfig"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["portMappings"]
    );
    assert_eq!(
        b.stdin["runtimeConfig"],
        json!({"bandwidth":{"ingressRate":1000}})
    );
    // prevResult = a's result converted to the list version (no ips[].version).
    assert_eq!(
        b.stdin["prevResult"]["ips"][0],
        json!({"address":"10.1.0.5/24","interface":0})
    );
    assert_eq!(b.stdin["prevResult"]["cniVersion"], "1.0.0");
    // Final result: b's, in the list version (1.1 fields dropped at 1.0.0).
    let res = out.json();
    assert_eq!(res["ips"][0]["address"], "10.2.0.5/24");
    assert_eq!(res["cniVersion"], "1.0.0");
    assert!(res["interfaces"][0].get("mtu").is_none());
}

#[test]
fn version_comes_from_cni_versions() {
    let lab = Lab::new();
    lab.recorder("a", &r1());
    lab.conf(
        "v.conflist",
        &json!({"cniVersion":"0.3.1","cniVersions":["0.4.0","1.1.0","2.0.0"],"name":"v","plugins":[{"type":"a"}]}),
    );
    let out = lab.run(&["add", "v", NS], &[]).ok();
    assert_eq!(lab.calls()[0].stdin["cniVersion"], "1.1.0");
    assert_eq!(out.json()["cniVersion"], "1.1.0");
    assert!(out.json()["ips"][0].get("version").is_none());
}

#[test]
fn cache_entry_has_libcni_fields_and_is_removed_by_del() {
    let lab = two_plugin_lab("1.0.0");
    lab.run(
        &["add", "rec", NS],
        &[("CAP_ARGS", CAPS), ("CNI_ARGS", "A=1;B=2")],
    )
    .ok();
    let file = lab.cache_file("rec", &cid(), "eth0");
    let entry = common::read_json(&file);
    let mut keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "capabilityArgs",
            "cniArgs",
            "config",
            "containerId",
            "ifName",
            "kind",
            "netns",
            "networkName",
            "result"
        ]
    );
    assert_eq!(entry["kind"], "cniCacheV1");
    assert_eq!(entry["containerId"], cid());
    assert_eq!(
        (entry["ifName"].as_str(), entry["networkName"].as_str()),
        (Some("eth0"), Some("rec"))
    );
    assert_eq!(entry["netns"], NS);
    assert_eq!(entry["cniArgs"], json!([["A", "1"], ["B", "2"]]));
    assert_eq!(entry["capabilityArgs"]["mac"], "aa:bb:cc:dd:ee:ff");
    assert_eq!(entry["result"]["ips"][0]["address"], "10.2.0.5/24");
    let config = unbase64(entry["config"].as_str().unwrap());
    let on_disk = std::fs::read(lab.confdir().join("10-rec.conflist")).unwrap();
    assert_eq!(config, on_disk, "config must be the list bytes");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    lab.run(&["del", "rec", NS], &[]).ok();
    assert!(!file.exists(), "cache entry must be removed after DEL");
}

#[test]
fn del_runs_in_reverse_with_the_cached_prev_result() {
    let lab = two_plugin_lab("1.0.0");
    lab.run(&["add", "rec", NS], &[("CAP_ARGS", CAPS)]).ok();
    lab.clear();
    lab.run(&["del", "rec", NS], &[]).ok();
    let calls = lab.calls();
    let order: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.plugin.as_str(), c.verb.as_str()))
        .collect();
    assert_eq!(order, [("b", "DEL"), ("a", "DEL")]);
    for c in &calls {
        assert_eq!(
            c.stdin["prevResult"]["ips"][0]["address"], "10.2.0.5/24",
            "{}",
            c.plugin
        );
    }
    // CAP_ARGS absent on DEL: the capability args cached at ADD are used.
    assert_eq!(
        calls[1].stdin["runtimeConfig"]["portMappings"][0]["hostPort"],
        8080
    );
    // A second DEL: no cache, no prevResult, still every plugin, still success.
    lab.clear();
    lab.run(&["del", "rec", NS], &[("CAP_ARGS", "{}")]).ok();
    let calls = lab.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.stdin.get("prevResult").is_none()));
    assert!(
        calls[1].stdin.get("runtimeConfig").is_none(),
        "explicit CAP_ARGS wins"
    );
}

#[test]
fn del_below_0_4_0_sends_no_prev_result() {
    let lab = two_plugin_lab("0.3.1");
    lab.run(&["add", "rec", NS], &[]).ok();
    lab.clear();
    lab.run(&["del", "rec", NS], &[]).ok();
    assert!(
        lab.calls()
            .iter()
            .all(|c| c.stdin.get("prevResult").is_none())
    );
}

#[test]
fn check_sends_the_cached_result_and_honours_disable_check() {
    let lab = two_plugin_lab("1.0.0");
    lab.run(&["add", "rec", NS], &[]).ok();
    lab.clear();
    lab.run(&["check", "rec", NS], &[]).ok();
    let calls = lab.calls();
    let order: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.plugin.as_str(), c.verb.as_str()))
        .collect();
    assert_eq!(order, [("a", "CHECK"), ("b", "CHECK")]);
    assert!(
        calls
            .iter()
            .all(|c| c.stdin["prevResult"]["ips"][0]["address"] == "10.2.0.5/24")
    );

    lab.conf(
        "10-rec.conflist",
        &json!({"cniVersion":"1.0.0","name":"rec","disableCheck":true,"plugins":[{"type":"a"}]}),
    );
    lab.clear();
    lab.run(&["check", "rec", NS], &[]).ok();
    assert!(lab.calls().is_empty(), "disableCheck: nothing sent");
}

#[test]
fn check_below_0_4_0_is_refused() {
    let lab = two_plugin_lab("0.3.1");
    let out = lab.run(&["check", "rec", NS], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("0.4.0"), "{}", out.stderr);
    assert!(lab.calls().is_empty());
}

#[test]
fn plugin_error_is_printed_and_nothing_is_cached() {
    let lab = two_plugin_lab("1.0.0");
    lab.fail(
        "b",
        "ADD",
        &json!({"code":11,"msg":"try later","details":"busy"}),
    );
    let out = lab.run(&["add", "rec", NS], &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let err = out.json();
    assert_eq!(
        (err["code"].as_u64(), err["msg"].as_str()),
        (Some(11), Some("try later"))
    );
    assert_eq!(err["cniVersion"], "1.0.0");
    assert!(
        out.stderr.contains("plugin b failed (ADD)"),
        "{}",
        out.stderr
    );
    assert!(!lab.cache_file("rec", &cid(), "eth0").exists());
}

#[test]
fn container_id_and_netns_follow_cnitool() {
    let lab = two_plugin_lab("1.0.0");
    lab.run(&["add", "rec", "/run/netns/../netns//x"], &[]).ok();
    let a = &lab.calls()[0];
    // printf %s /run/netns/x | sha512sum | cut -c1-20
    let want = format!("cnitool-{}", sha512_prefix("/run/netns/x"));
    assert_eq!(
        (a.container_id.as_str(), a.netns.as_str()),
        (want.as_str(), "/run/netns/x")
    );
    lab.clear();
    lab.run(
        &["add", "rec", NS, "-i", "net1"],
        &[("CNI_CONTAINERID", "mine")],
    )
    .ok();
    let a = &lab.calls()[0];
    assert_eq!(
        (a.container_id.as_str(), a.ifname.as_str()),
        ("mine", "net1")
    );
    assert!(lab.cache_file("rec", "mine", "net1").exists());
}

/// sha512 by coreutils, an independent implementation.
fn sha512_prefix(s: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "printf %s \"$1\" | sha512sum | cut -c1-20", "sh", s])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn single_plugin_conf_is_found_by_name_among_lists() {
    let lab = Lab::new();
    lab.recorder("a", &r1());
    lab.conf(
        "10-other.conflist",
        &json!({"cniVersion":"1.0.0","name":"other","plugins":[{"type":"b"}]}),
    );
    lab.conf(
        "20-single.conf",
        &json!({"cniVersion":"1.0.0","name":"single","type":"a","k":"v"}),
    );
    lab.run(&["add", "single", NS], &[]).ok();
    let a = &lab.calls()[0];
    assert_eq!((a.plugin.as_str(), a.stdin["k"].as_str()), ("a", Some("v")));
    let entry = common::read_json(&lab.cache_file("single", &cid(), "eth0"));
    let list: Value = serde_json::from_slice(&unbase64(entry["config"].as_str().unwrap())).unwrap();
    assert_eq!(list["plugins"][0]["type"], "a");
    let missing = lab.run(&["add", "nope", NS], &[]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("\"nope\""), "{}", missing.stderr);
}

#[test]
fn netconf_flag_uses_the_file_directly() {
    let lab = Lab::new();
    lab.recorder("a", &r1());
    let elsewhere = lab.dir.path().join("x.conflist");
    std::fs::write(
        &elsewhere,
        json!({"cniVersion":"1.0.0","name":"direct","plugins":[{"type":"a"}]}).to_string(),
    )
    .unwrap();
    let file = elsewhere.display().to_string();
    lab.run(&["--netconf", &file, "add", NS], &[]).ok();
    assert_eq!(lab.calls()[0].stdin["name"], "direct");
    let wrong = lab.run(&["--netconf", &file, "del", "other", NS], &[]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
}

#[test]
fn a_legacy_cache_file_still_gives_prev_result() {
    let lab = two_plugin_lab("1.0.0");
    let file = lab.cache_file("rec", &cid(), "eth0");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, r1().to_string()).unwrap();
    lab.run(&["del", "rec", NS], &[]).ok();
    let calls = lab.calls();
    assert_eq!(calls.len(), 2);
    for c in &calls {
        assert_eq!(c.stdin["prevResult"]["ips"][0]["address"], "10.1.0.5/24");
        assert_eq!(c.stdin["prevResult"]["cniVersion"], "1.0.0");
    }
    assert!(!file.exists());
}
