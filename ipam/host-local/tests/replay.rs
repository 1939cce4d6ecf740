//! Replays the host-local calls of the recorded containerd 1.6 and podman 4.3
//! traces (/work/shared/fixtures) against ours and the reference, with our
//! own netns and data directory substituted: same exit codes as recorded,
//! results structurally equal to the recorded ones and equal to the
//! reference's byte for byte.

mod common;

use std::path::Path;

use common::*;
use integration::{CniCall, TestNetns};
use serde_json::Value;

const FIXTURES: &str = "/work/shared/fixtures";

/// One recorded call.
#[derive(Debug)]
struct Recorded {
    env: Vec<(String, String)>,
    rc: i32,
    stdin: Value,
    stdout: Option<Value>,
}

fn parse_trace(text: &str) -> Vec<Recorded> {
    let mut out = Vec::new();
    for block in text.split("=== ").skip(1) {
        let mut lines = block.lines();
        let head = lines.next().unwrap_or_default();
        let mut words = head.split_whitespace();
        if words.next() != Some("host-local") {
            continue;
        }
        let mut env: Vec<(String, String)> = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (mut rc, mut stdin, mut stdout) = (0, Value::Null, None);
        for l in lines.map(str::trim) {
            if let Some(a) = l.strip_prefix("CNI_ARGS=") {
                env.push(("CNI_ARGS".into(), a.to_string()));
            } else if let Some(s) = l.strip_prefix("stdin:") {
                stdin = serde_json::from_str(s.trim()).unwrap();
            } else if let Some(s) = l.strip_prefix("stdout:") {
                stdout = serde_json::from_str(s.trim()).ok();
            }
            if let Some(r) = l.split_whitespace().find_map(|w| w.strip_prefix("rc=")) {
                rc = r.parse().unwrap();
            }
        }
        out.push(Recorded {
            env,
            rc,
            stdin,
            stdout,
        });
    }
    out
}

/// The same shape: equal key sets and array lengths, recursively, with
/// equal values except where addresses may legitimately differ.
fn same_shape(a: &Value, b: &Value, path: &str) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<_> = x.keys().collect();
            let ky: Vec<_> = y.keys().collect();
            assert_eq!(kx, ky, "keys at {path}");
            for k in x.keys() {
                same_shape(&x[k], &y[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "length at {path}");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                same_shape(p, q, &format!("{path}[{i}]"));
            }
        }
        _ if path.ends_with(".address") => {}
        _ => assert_eq!(a, b, "value at {path}"),
    }
}

fn replay(bin: &str, calls: &[Recorded], ns: &TestNetns, data: &Path) -> Vec<Option<Value>> {
    let mut outs = Vec::new();
    for rec in calls {
        let mut stdin = rec.stdin.clone();
        stdin["ipam"]["dataDir"] = Value::String(data.display().to_string());
        let mut call = CniCall::new(bin, "ADD").config(&stdin);
        for (k, v) in &rec.env {
            let v = if k == "CNI_NETNS" && !v.is_empty() {
                ns.path().display().to_string()
            } else {
                v.clone()
            };
            call = call.env(k, &v);
        }
        let out = call.run();
        assert_eq!(
            out.code,
            Some(rec.rc),
            "{bin} {:?}: {} {}",
            rec.env,
            out.stdout,
            out.stderr
        );
        outs.push((!out.stdout.trim().is_empty()).then(|| out.json()));
    }
    outs
}

fn replay_trace(file: &str) {
    let path = Path::new(FIXTURES).join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} missing", path.display());
        return;
    };
    let calls = parse_trace(&text);
    assert!(calls.len() >= 2, "trace has host-local calls");
    let ns = TestNetns::new("hlp");
    let (d1, d2) = (tmpdir(), tmpdir());
    let ours = replay(OURS, &calls, &ns, d1.path());
    for (rec, got) in calls.iter().zip(&ours) {
        match (&rec.stdout, got) {
            (Some(want), Some(got)) => same_shape(want, got, "result"),
            (None, None) => {}
            (w, g) => panic!("stdout differs: recorded {w:?}, ours {g:?}"),
        }
    }
    assert!(
        reservations(d1.path()).len() <= 1,
        "only the last pod may still hold an address"
    );
    if have_ref() {
        assert_eq!(
            ours,
            replay(REF, &calls, &ns, d2.path()),
            "ours vs reference"
        );
    }
}

#[test]
fn containerd_1_6_trace() {
    replay_trace("containerd-1.6-trace.log");
}

#[test]
fn podman_4_3_trace() {
    replay_trace("podman-4.3-trace.log");
}
