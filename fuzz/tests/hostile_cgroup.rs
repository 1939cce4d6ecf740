//! cgroup-hook against a fake cgroup tree with planted symlinks and
//! annotations that try to leave the container's cgroup or reach files the
//! policy does not allow: every attempt is refused with one line and the
//! files outside (a victim directory) and the disallowed ones stay as they
//! were. (Real cgroupfs refuses symlinks itself; the hook must not rely on
//! that.)

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};

use ferrocni_fuzz::net::Scratch;
use ferrocni_fuzz::targets::cgroup::build_tree;
use serde_json::json;

const CG: &str = "cg/kubepods/pod1/ctr";

/// Runs the hook on the tree at `root`; (exit code, stderr+stdout).
fn hook(root: &Path, annotations: serde_json::Value) -> (i32, String) {
    hook_with(root, annotations, &[])
}

fn hook_with(root: &Path, annotations: serde_json::Value, extra: &[&str]) -> (i32, String) {
    let state = json!({"ociVersion": "1.0.2", "id": "abc", "status": "creating",
        "pid": 4242, "bundle": "", "annotations": annotations});
    let bin = integration::bin_dir().join("cgroup-hook");
    let mut c = Command::new(bin)
        .args([
            "--proc-root",
            "proc",
            "--cgroup-root",
            "cg",
            "--sys-root",
            "sys",
            "--policy",
            "policy.json",
        ])
        .args(extra)
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cgroup-hook");
    c.stdin
        .take()
        .unwrap()
        .write_all(state.to_string().as_bytes())
        .unwrap();
    let o = c.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    (o.status.code().unwrap_or(-1), text)
}

fn tree(tag: &str) -> (Scratch, std::path::PathBuf) {
    let s = Scratch::new(tag);
    build_tree(s.path()).unwrap();
    let v = s.path().join("victim");
    fs::create_dir_all(&v).unwrap();
    for f in ["memory.max", "pids.max", "cgroup.procs"] {
        fs::write(v.join(f), "untouched\n").unwrap();
    }
    (s, v)
}

fn untouched(v: &Path) {
    for f in ["memory.max", "pids.max", "cgroup.procs"] {
        assert_eq!(
            fs::read_to_string(v.join(f)).unwrap(),
            "untouched\n",
            "{f} was written"
        );
    }
}

fn refused_in_one_line(code: i32, out: &str) {
    assert_ne!(code, 0, "the hook succeeded: {out}");
    assert_eq!(out.trim().lines().count(), 1, "not one line: {out}");
}

#[test]
fn a_symlinked_container_cgroup_is_refused() {
    let (s, v) = tree("cgl");
    let ctr = s.path().join(CG);
    fs::remove_dir_all(&ctr).unwrap();
    symlink(&v, &ctr).unwrap();
    let (code, out) = hook(s.path(), json!({"memory.max.ferrocni.dev": "64Mi"}));
    refused_in_one_line(code, &out);
    untouched(&v);
}

#[test]
fn a_symlinked_parent_cgroup_is_refused() {
    let (s, v) = tree("cgp");
    let pod = s.path().join("cg/kubepods/pod1");
    fs::rename(&pod, s.path().join("real-pod1")).unwrap();
    fs::create_dir_all(v.join("ctr")).unwrap();
    symlink(&v, &pod).unwrap();
    let (code, out) = hook(s.path(), json!({"memory.max.ferrocni.dev": "64Mi"}));
    refused_in_one_line(code, &out);
    untouched(&v);
}

#[test]
fn a_symlinked_knob_file_is_never_written_through() {
    let (s, v) = tree("cgf");
    let f = s.path().join(CG).join("memory.max");
    fs::remove_file(&f).unwrap();
    symlink(v.join("memory.max"), &f).unwrap();
    let (code, out) = hook(s.path(), json!({"memory.max.ferrocni.dev": "64Mi"}));
    refused_in_one_line(code, &out);
    untouched(&v);
}

#[test]
fn a_cgroup_path_with_dot_dot_is_refused() {
    let (s, v) = tree("cgd");
    fs::create_dir_all(s.path().join("cg/x")).unwrap();
    fs::write(s.path().join("proc/4242/cgroup"), "0::/x/../../victim\n").unwrap();
    let (code, out) = hook(s.path(), json!({"pids.max.ferrocni.dev": "10"}));
    refused_in_one_line(code, &out);
    untouched(&v);
}

#[test]
fn annotations_cannot_name_other_files_or_cgroups() {
    let (s, v) = tree("cga");
    let ctr = s.path().join(CG);
    let procs_before = fs::read_to_string(ctr.join("cgroup.controllers")).unwrap();
    for (k, val) in [
        ("cgroup.procs.ferrocni.dev", "1"),
        ("cgroup.subtree_control.ferrocni.dev", "+memory"),
        ("memory.max.ferrocni.dev/../../victim", "1Mi"),
        ("memory.max.ferrocni.dev/..", "1Mi"),
        ("memory.max.ferrocni.dev/web/../x", "1Mi"),
        ("memory.max.ferrocni.dev", "1Mi\npids.max 1"),
        ("io.max.ferrocni.dev", "../../../dev/sda rbps=1"),
    ] {
        let (code, out) = hook(s.path(), json!({k: val}));
        refused_in_one_line(code, &format!("{out}{}", if code == 0 { k } else { "" }));
        assert_eq!(
            fs::read_to_string(ctr.join("memory.max")).unwrap(),
            "max\n",
            "{k}"
        );
    }
    // not under our domain at all (the prefix is ".."): ignored, nothing written
    let (code, out) = hook(s.path(), json!({"../memory.max.ferrocni.dev": "1Mi"}));
    assert_eq!(code, 0, "{out}");
    assert_eq!(fs::read_to_string(ctr.join("memory.max")).unwrap(), "max\n");
    assert_eq!(
        fs::read_to_string(ctr.join("cgroup.controllers")).unwrap(),
        procs_before
    );
    untouched(&v);
}

#[test]
fn a_knob_outside_the_policy_allowlist_is_refused() {
    let (s, v) = tree("cgw");
    fs::write(
        s.path().join("policy.json"),
        r#"{"mode":"enforce","on_error":"reject","allowed_knobs":["pids.max"]}"#,
    )
    .unwrap();
    let (code, out) = hook(s.path(), json!({"memory.max.ferrocni.dev": "64Mi"}));
    refused_in_one_line(code, &out);
    assert_eq!(
        fs::read_to_string(s.path().join(CG).join("memory.max")).unwrap(),
        "max\n"
    );
    let (code, out) = hook(s.path(), json!({"pids.max.ferrocni.dev": "64"}));
    assert_eq!(code, 0, "the allowed knob failed: {out}");
    assert_eq!(
        fs::read_to_string(s.path().join(CG).join("pids.max"))
            .unwrap()
            .trim(),
        "64"
    );
    untouched(&v);
}

/// Annotation values reach the hook's messages (container name, keys): a
/// newline in them must not forge lines on stderr or in the log file.
#[test]
fn annotation_text_cannot_forge_log_lines() {
    let (s, _) = tree("cgn");
    fs::write(
        s.path().join("policy.json"),
        r#"{"mode":"enforce","on_error":"warn"}"#,
    )
    .unwrap();
    let ann = json!({"io.kubernetes.cri.container-name": "web\nFORGED: all good",
        "memory.max.ferrocni.dev": "bogus", "pids.max.ferrocni.dev": "100"});
    let (_, out) = hook_with(s.path(), ann, &["-v", "--log", "hook.log"]);
    let log = fs::read_to_string(s.path().join("hook.log")).unwrap_or_default();
    for l in out.lines().chain(log.lines()) {
        assert!(
            l.starts_with("cgroup-hook:"),
            "forged line {l:?} in:\n{out}\n{log}"
        );
    }
}
