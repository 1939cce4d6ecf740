//! Seeds from the repository: the conformance suite's configurations and the
//! real containerd/podman traces (env, stdin, stdout of every call), routed
//! to the targets whose grammar they are, plus every saved regression input.

use std::path::Path;

use serde_json::Value;

use crate::targets::join_env;

const CONF_TARGETS: &[&str] = &[
    "netconf",
    "portmap_config",
    "bridge_config",
    "firewall_config",
    "conflist",
];

/// The repository's seeds for `target` (hand-written ones come from the target).
pub fn repo_seeds(target: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut confs = Vec::new();
    if let Ok(rd) = std::fs::read_dir(root.join("conformance/plugins")) {
        for e in rd.flatten() {
            if let Ok(v) = std::fs::read(e.path()).map(|b| serde_json::from_slice::<Value>(&b)) {
                v.ok().iter().for_each(|v| collect_confs(v, &mut confs));
            }
        }
    }
    let mut traces = Vec::new();
    for name in ["containerd-1.6-trace.log", "podman-4.3-trace.log"] {
        let path = root.join("tests/integration/fixtures").join(name);
        if path.exists() {
            traces.extend(integration::trace::fixture(name));
        }
    }
    if CONF_TARGETS.contains(&target) {
        out.extend(confs.iter().map(|c| c.to_string().into_bytes()));
        out.extend(traces.iter().map(|t| t.stdin.clone().into_bytes()));
    }
    match target {
        "dispatch" | "host_local" => {
            for t in &traces {
                let env: Vec<(&str, &str)> = t
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                out.push(join_env(&env, t.stdin.as_bytes()));
            }
        }
        "prevresult" => {
            for t in &traces {
                out.push(t.stdout.clone().into_bytes());
                if let Ok(v) = serde_json::from_str::<Value>(&t.stdin)
                    && let Some(p) = v.get("prevResult")
                {
                    out.push(p.to_string().into_bytes());
                }
            }
        }
        _ => {}
    }
    for dir in ["fuzz/regressions", "fuzz/regressions-open"] {
        let d = root.join(dir).join(target);
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.path().extension().is_some_and(|x| x == "bin")
                && let Ok(b) = std::fs::read(e.path())
            {
                out.push(b);
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Every object in `v` that looks like a network configuration.
fn collect_confs(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("type") || m.contains_key("cniVersion") {
                out.push(v.clone());
            }
            m.values().for_each(|c| collect_confs(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| collect_confs(c, out)),
        _ => {}
    }
}
