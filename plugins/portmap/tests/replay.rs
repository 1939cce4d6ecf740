//! Replays the portmap calls real clients made (containerd 1.6: capitalised
//! `portMappings`, a second DEL with empty `CNI_NETNS` and no prevResult;
//! podman 4.3: 0.4.0 configs with `ips[].version`, VERSION probes) against
//! our binary in a node netns. Each call must succeed where the reference's
//! did, ADD must print what the reference printed (structurally), and the
//! node must be clean after the last DEL.

mod common;

use common::*;
use integration::trace::{TracedCall, fixture};
use integration::{CniCall, TestNetns};
use serde_json::Value;

fn replay(file: &str) {
    let n = Node::new("rp");
    let pod = TestNetns::new("rpp");
    let ours_path = pod.path().display().to_string();
    let calls: Vec<TracedCall> = fixture(file)
        .into_iter()
        .filter(|c| c.plugin == "portmap")
        .collect();
    assert!(calls.len() >= 3, "{file}: too few portmap calls");
    let mut added = 0;
    for c in &calls {
        if replay_call(&n, file, c, &ours_path) {
            added += 1;
        }
    }
    assert_eq!(added, 1, "{file}");
    let fw = n.firewall();
    let cid = &calls
        .iter()
        .find(|c| c.env["CNI_COMMAND"] == "ADD")
        .unwrap()
        .env["CNI_CONTAINERID"];
    assert!(
        !fw.contains(cid.as_str()),
        "{file}: rules left after DEL:\n{fw}"
    );
}

/// Runs one traced call with our paths; true when it was an ADD.
fn replay_call(n: &Node, file: &str, c: &TracedCall, ours_path: &str) -> bool {
    let original = c.env.get("CNI_NETNS").cloned().unwrap_or_default();
    let netns = if original.is_empty() || original == "dummy" {
        original.clone()
    } else {
        ours_path.to_string()
    };
    let verb = &c.env["CNI_COMMAND"];
    let mut stdin: Value = if c.stdin.is_empty() {
        Value::Null
    } else if original.is_empty() {
        serde_json::from_str(&c.stdin).expect("traced stdin")
    } else {
        serde_json::from_str(&c.stdin.replace(&original, ours_path)).expect("traced stdin")
    };
    if stdin.get("name").is_some() {
        stdin["recordDir"] = serde_json::json!(n.records());
    }
    let mut call = CniCall::new(&ours(), verb)
        .in_node(&n.node)
        .stdin(stdin.to_string());
    for (k, v) in &c.env {
        if k.starts_with("CNI_") && k != "CNI_COMMAND" && k != "CNI_PATH" {
            call = call.env(k, v);
        }
    }
    let out = call.env("CNI_NETNS", &netns).run();
    assert_eq!(
        out.code,
        Some(c.rc),
        "{file} {verb}: {} {}",
        out.stdout,
        out.stderr
    );
    if verb != "ADD" {
        return false;
    }
    let want: Value = serde_json::from_str(&c.stdout.replace(&original, ours_path)).unwrap();
    assert_eq!(
        out.json(),
        want,
        "{file}: ADD result differs from the reference's"
    );
    assert!(
        n.firewall().contains(&c.env["CNI_CONTAINERID"]),
        "{file}: no rule"
    );
    true
}

#[test]
fn containerd_trace() {
    replay("containerd-1.6-trace.log");
}

#[test]
fn podman_trace() {
    replay("podman-4.3-trace.log");
}
