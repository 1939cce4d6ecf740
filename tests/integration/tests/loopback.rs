//! loopback end to end: every supported version, CHECK, DEL (also with the
//! netns gone), and the bad-input table of the protocol layer, each case a
//! real process run inside a node namespace.

use integration::{CniCall, TestNetns};
use serde_json::{Value, json};

const VERSIONS: [&str; 5] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

fn conf(version: &str) -> Value {
    json!({"cniVersion": version, "name": "cni-loopback", "type": "loopback"})
}

fn lo_is_up(pod: &TestNetns) -> bool {
    let out = pod.exec_ok(&["ip", "-o", "link", "show", "lo"]);
    out.contains("<LOOPBACK,UP")
}

fn call(verb: &str, node: &TestNetns, pod: &TestNetns, id: &str) -> CniCall {
    CniCall::new("loopback", verb)
        .pod(id, &pod.path().display().to_string(), "lo")
        .in_node(node)
}

#[test]
fn add_check_del_at_every_version() {
    let node = TestNetns::new("lbn");
    for v in VERSIONS {
        let pod = TestNetns::new("lbp");
        pod.exec_ok(&["ip", "link", "set", "lo", "down"]);
        let out = call("ADD", &node, &pod, "c1").config(&conf(v)).run();
        assert!(out.success(), "{v}: {out:?}");
        let r = out.json();
        assert_eq!(r["cniVersion"], v);
        assert_eq!(r["interfaces"][0]["name"], "lo");
        assert_eq!(
            r["interfaces"][0]["sandbox"],
            pod.path().display().to_string()
        );
        let ips = r["ips"].as_array().unwrap();
        assert!(ips.iter().any(|i| i["address"] == "127.0.0.1/8"), "{r}");
        assert!(
            ips.iter()
                .all(|i| i.get("version").is_some() == v.starts_with("0."))
        );
        assert!(lo_is_up(&pod), "{v}: lo not up");
        if v != "0.3.0" && v != "0.3.1" {
            let mut c = conf(v);
            c["prevResult"] = r.clone();
            let chk = call("CHECK", &node, &pod, "c1").config(&c).run();
            assert!(chk.success(), "{v}: {chk:?}");
        }
        let del = call("DEL", &node, &pod, "c1").config(&conf(v)).run();
        assert!(del.success() && del.stdout.is_empty(), "{v}: {del:?}");
        assert!(!lo_is_up(&pod), "{v}: lo still up after DEL");
    }
}

#[test]
fn add_passes_prev_result_through_in_the_requested_version() {
    let node = TestNetns::new("lbn");
    let pod = TestNetns::new("lbp");
    let mut c = conf("1.0.0");
    c["prevResult"] = json!({"cniVersion": "0.4.0",
        "ips": [{"version": "4", "address": "10.1.2.3/24", "interface": 0}],
        "interfaces": [{"name": "eth0", "sandbox": "/x"}]});
    let out = call("ADD", &node, &pod, "c2").config(&c).run();
    let r = out.json();
    assert_eq!(r["ips"][0]["address"], "10.1.2.3/24");
    assert!(r["ips"][0].get("version").is_none());
    assert_eq!(r["interfaces"][0]["name"], "eth0");
}

#[test]
fn check_fails_when_lo_was_taken_down() {
    let node = TestNetns::new("lbn");
    let pod = TestNetns::new("lbp");
    let r = call("ADD", &node, &pod, "c3")
        .config(&conf("1.0.0"))
        .run()
        .json();
    pod.exec_ok(&["ip", "link", "set", "lo", "down"]);
    let mut c = conf("1.0.0");
    c["prevResult"] = r;
    let out = call("CHECK", &node, &pod, "c3").config(&c).run();
    assert!(!out.success());
    assert!(out.json()["msg"].as_str().unwrap().contains("down"));
}

#[test]
fn del_succeeds_when_the_netns_is_gone_and_when_empty() {
    let node = TestNetns::new("lbn");
    let pod = TestNetns::new("lbp");
    let path = pod.path().display().to_string();
    assert!(
        call("ADD", &node, &pod, "c4")
            .config(&conf("1.0.0"))
            .run()
            .success()
    );
    pod.delete();
    let gone = CniCall::new("loopback", "DEL")
        .pod("c4", &path, "lo")
        .in_node(&node);
    assert!(gone.config(&conf("1.0.0")).run().success());
    let empty = CniCall::new("loopback", "DEL")
        .pod("c4", "", "lo")
        .in_node(&node);
    assert!(empty.config(&conf("1.0.0")).run().success());
}

/// (what, env overrides, stdin, expected code, text the message must contain)
type BadCase = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    String,
    u64,
    &'static str,
);

fn bad_cases() -> Vec<BadCase> {
    let ok = conf("1.0.0").to_string();
    vec![
        (
            "missing CNI_COMMAND",
            vec![("CNI_COMMAND", "")],
            ok.clone(),
            4,
            "CNI_COMMAND",
        ),
        (
            "unknown CNI_COMMAND",
            vec![("CNI_COMMAND", "EXPLODE")],
            ok.clone(),
            4,
            "EXPLODE",
        ),
        (
            "bad container id",
            vec![("CNI_CONTAINERID", "a/../b")],
            ok.clone(),
            4,
            "a/../b",
        ),
        (
            "ifname too long",
            vec![("CNI_IFNAME", "averyveryverylongname")],
            ok.clone(),
            4,
            "averyveryverylongname",
        ),
        (
            "CNI_NETNS missing",
            vec![("CNI_NETNS", "")],
            ok.clone(),
            4,
            "CNI_NETNS",
        ),
        (
            "CNI_NETNS not a netns",
            vec![("CNI_NETNS", "/etc/hostname")],
            ok.clone(),
            8,
            "/etc/hostname",
        ),
        (
            "CNI_NETNS does not exist",
            vec![("CNI_NETNS", "/run/netns/nope-x")],
            ok.clone(),
            8,
            "nope-x",
        ),
        (
            "malformed JSON",
            vec![],
            "{\"cniVersion\": ".into(),
            6,
            "JSON",
        ),
        (
            "wrong-typed key",
            vec![],
            r#"{"cniVersion":"1.0.0","name":"n","type":"loopback","ipMasq":"yes"}"#.into(),
            6,
            "ipMasq",
        ),
        (
            "wrong-typed name",
            vec![],
            r#"{"cniVersion":"1.0.0","name":5,"type":"loopback"}"#.into(),
            6,
            "name",
        ),
        (
            "unsupported cniVersion",
            vec![],
            r#"{"cniVersion":"0.2.0","name":"n","type":"loopback"}"#.into(),
            1,
            "0.2.0",
        ),
        (
            "CHECK at 0.3.1",
            vec![("CNI_COMMAND", "CHECK")],
            conf("0.3.1").to_string(),
            1,
            "0.3.1",
        ),
        (
            "GC at 1.0.0",
            vec![("CNI_COMMAND", "GC")],
            ok.clone(),
            1,
            "1.0.0",
        ),
        (
            "bad CNI_ARGS pair",
            vec![("CNI_ARGS", "NOEQUALS")],
            ok,
            4,
            "NOEQUALS",
        ),
    ]
}

#[test]
fn bad_input_gets_the_right_code_and_names_the_value() {
    let node = TestNetns::new("lbn");
    let pod = TestNetns::new("lbp");
    for (what, env, stdin, want, needle) in bad_cases() {
        let mut c = call("ADD", &node, &pod, "c5").stdin(stdin);
        for (k, v) in env {
            c = c.env(k, v);
        }
        let out = c.run();
        assert_ne!(out.code, Some(0), "{what}: {out:?}");
        let e = out.json();
        assert_eq!(e["code"], want, "{what}: {e}");
        assert!(e["msg"].as_str().unwrap().contains(needle), "{what}: {e}");
        assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
    }
    // Nothing was configured by any of the refused calls.
    assert!(
        lo_is_up(&pod),
        "the harness brings lo up; a refused ADD must not change it"
    );
}

#[test]
fn oversized_stdin_is_refused_with_bounded_memory() {
    let node = TestNetns::new("lbn");
    let pod = TestNetns::new("lbp");
    let big = format!(
        "{{\"cniVersion\":\"1.0.0\",\"pad\":\"{}\"}}",
        "x".repeat(10 << 20)
    );
    let out = call("ADD", &node, &pod, "c6").stdin(big).run();
    assert_eq!(out.error_code(), 5);
    assert!(out.json()["msg"].as_str().unwrap().contains("larger than"));
}

#[test]
fn version_needs_no_stdin_and_no_netns() {
    let out = CniCall::new("loopback", "VERSION")
        .env("CNI_NETNS", "dummy")
        .run();
    let v = out.json();
    assert_eq!(v["supportedVersions"], json!(VERSIONS));
}
