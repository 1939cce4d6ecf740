//! End-to-end runs of the `cgroup-hook` binary against a fake /proc, cgroup
//! tree and sysfs in a temp dir (never the host's cgroups).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cgroup-hook");
const CG: &str = "kubepods/pod1/ctr";

struct Tree {
    t: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let t = tempfile::tempdir().unwrap();
        let tree = Tree { t };
        let cg = tree.cg();
        fs::create_dir_all(&cg).unwrap();
        let parent = cg.parent().unwrap();
        fs::write(
            parent.join("cgroup.subtree_control"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        fs::write(parent.join("cpuset.cpus.effective"), "0-3\n").unwrap();
        for (f, v) in [
            ("cgroup.controllers", "cpuset cpu io memory pids"),
            ("memory.max", "max"),
            ("memory.high", "max"),
            ("memory.swap.max", "max"),
            ("cpu.max", "max 100000"),
            ("cpu.weight", "100"),
            ("io.max", ""),
            ("pids.max", "max"),
            ("cpuset.cpus", ""),
        ] {
            fs::write(cg.join(f), format!("{v}\n")).unwrap();
        }
        fs::create_dir_all(tree.p("proc/4242")).unwrap();
        fs::write(tree.p("proc/4242/cgroup"), format!("0::/{CG}\n")).unwrap();
        // sysfs: disk 8:0 with partition 8:1
        let disk = tree.p("sys/devices/block/sda");
        fs::create_dir_all(disk.join("sda1")).unwrap();
        fs::write(disk.join("dev"), "8:0\n").unwrap();
        fs::write(disk.join("sda1/partition"), "1\n").unwrap();
        fs::create_dir_all(tree.p("sys/dev/block")).unwrap();
        std::os::unix::fs::symlink(&disk, tree.p("sys/dev/block/8:0")).unwrap();
        std::os::unix::fs::symlink(disk.join("sda1"), tree.p("sys/dev/block/8:1")).unwrap();
        fs::write(
            tree.p("policy.json"),
            include_str!("../examples/cgroup-policy.json").replace("/var/lib/containers", "8:1"),
        )
        .unwrap();
        tree
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }

    fn cg(&self) -> PathBuf {
        self.p("cg").join(CG)
    }

    fn read(&self, f: &str) -> String {
        fs::read_to_string(self.cg().join(f)).unwrap()
    }

    /// Runs the hook with `annotations` (JSON object text); returns (code, stderr).
    fn hook(&self, annotations: &str, extra: &[&str]) -> (i32, String) {
        let state = format!(
            r#"{{"ociVersion":"1.0.2","id":"abc","status":"creating","pid":4242,"bundle":"","annotations":{annotations}}}"#
        );
        self.run_with(&state, extra)
    }

    fn run_with(&self, stdin: &str, extra: &[&str]) -> (i32, String) {
        let mut args: Vec<String> = [
            "--proc-root",
            "proc",
            "--cgroup-root",
            "cg",
            "--sys-root",
            "sys",
            "--policy",
            "policy.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        run(self.t.path(), &args, stdin)
    }
}

fn run(dir: &Path, args: &[String], stdin: &str) -> (i32, String) {
    let mut c = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&o.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&o.stdout));
    (o.status.code().unwrap_or(-1), text)
}

const WEB: &str = r#""io.kubernetes.cri.container-name":"web","io.kubernetes.cri.sandbox-name":"shop","io.kubernetes.cri.sandbox-namespace":"prod""#;

#[test]
fn applies_limits_and_is_idempotent() {
    let t = Tree::new();
    let ann = format!(
        r#"{{{WEB},"memory.max.ferrocni.dev/web":"512Mi","cpu.max.ferrocni.dev/POD":"50%","pids.max.ferrocni.dev":"100","io.max.ferrocni.dev/web":"8:1 wbps=1Mi","cpuset.cpus.ferrocni.dev/web":"1-2"}}"#
    );
    let (code, err) = t.hook(&ann, &["-v"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(t.read("memory.max"), "536870912");
    assert_eq!(t.read("cpu.max"), "50000 100000");
    assert_eq!(t.read("pids.max"), "100");
    assert_eq!(t.read("io.max"), "8:0 wbps=1048576");
    assert_eq!(t.read("cpuset.cpus"), "1-2");
    assert_eq!(err.matches(": set ").count(), 5, "{err}");
    let (code, err) = t.hook(&ann, &["-v"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.matches(": set ").count(), 0, "second run wrote: {err}");
}

#[test]
fn a_bad_value_rejects_the_container_with_nothing_written() {
    let t = Tree::new();
    let ann = format!(
        r#"{{{WEB},"memory.max.ferrocni.dev/web":"512Mi","pids.max.ferrocni.dev/web":"1.5Gb"}}"#
    );
    let (code, err) = t.hook(&ann, &[]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("cgroup-hook: pod prod/shop container web: annotation pids.max.ferrocni.dev/web=\"1.5Gb\": invalid count"), "{err}");
    assert_eq!(t.read("memory.max"), "max\n");
}

#[test]
fn tighten_only_and_warn_mode() {
    let t = Tree::new();
    fs::write(t.cg().join("memory.max"), "268435456\n").unwrap();
    let ann = format!(
        r#"{{{WEB},"memory.max.ferrocni.dev/web":"1Gi","cpu.weight.ferrocni.dev/web":"50"}}"#
    );
    let (code, err) = t.hook(&ann, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("looser than the current memory.max 268435456"),
        "{err}"
    );
    assert_eq!(t.read("cpu.weight"), "100\n");
    let p = fs::read_to_string(t.p("policy.json"))
        .unwrap()
        .replace(r#""on_error": "reject""#, r#""on_error": "warn""#);
    fs::write(t.p("policy.json"), p).unwrap();
    let (code, err) = t.hook(&ann, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: pod prod/shop container web: annotation memory.max"),
        "{err}"
    );
    assert_eq!(t.read("cpu.weight"), "50");
    assert_eq!(t.read("memory.max"), "268435456\n");
}

#[test]
fn classes_from_the_policy() {
    let t = Tree::new();
    let ann = format!(r#"{{{WEB},"class.ferrocni.dev/POD":"non-core"}}"#);
    let (code, err) = t.hook(&ann, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(t.read("memory.max"), "1073741824");
    assert_eq!(t.read("io.max"), "8:0 wbps=1048576");
    let (code, err) = t.hook(
        &format!(r#"{{{WEB},"class.ferrocni.dev/web":"nope"}}"#),
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown class \"nope\""), "{err}");
}

#[test]
fn dry_run_sandbox_and_no_annotations_write_nothing() {
    let t = Tree::new();
    let ann = format!(r#"{{{WEB},"memory.max.ferrocni.dev/web":"512Mi"}}"#);
    let (code, err) = t.hook(&ann, &["--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("dry-run: pod prod/shop container web: would write")
            && err.contains("memory.max: \"536870912\" (now \"max\")"),
        "{err}"
    );
    let (code, err) = t.hook(
        &format!(
            r#"{{{WEB},"memory.max.ferrocni.dev/web":"512Mi","mode.ferrocni.dev":"dry-run"}}"#
        ),
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("would write"), "{err}");
    let sandbox =
        r#"{"io.kubernetes.cri.container-type":"sandbox","memory.max.ferrocni.dev":"1.5Gb"}"#;
    assert_eq!(t.hook(sandbox, &[]), (0, String::new()));
    assert_eq!(t.hook("{}", &[]), (0, String::new()));
    assert_eq!(t.read("memory.max"), "max\n");
}

#[test]
fn crun_state_with_container_subgroup_and_bundle() {
    let t = Tree::new();
    let sub = t.cg().join("container");
    fs::create_dir_all(&sub).unwrap();
    for f in ["cgroup.controllers", "memory.max"] {
        fs::copy(t.cg().join(f), sub.join(f)).unwrap();
    }
    fs::write(t.cg().join("cgroup.subtree_control"), "memory\n").unwrap();
    fs::write(t.p("proc/4242/cgroup"), format!("0::/{CG}/container\n")).unwrap();
    fs::create_dir_all(t.p("bundle")).unwrap();
    let cfg = format!(
        r#"{{"annotations":{{"memory.max.ferrocni.dev":"256Mi"}},"linux":{{"cgroupsPath":"/{CG}"}}}}"#
    );
    fs::write(t.p("bundle/config.json"), cfg).unwrap();
    let state = format!(
        r#"{{"ociVersion":"1.0","id":"abc","status":"created","pid":4242,"root":"/run/crun","bundle":"{}"}}"#,
        t.p("bundle").display()
    );
    let (code, err) = t.run_with(&state, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_to_string(sub.join("memory.max")).unwrap(),
        "268435456"
    );
}

#[test]
fn symlinked_cgroup_and_hybrid_hosts_are_refused() {
    let t = Tree::new();
    fs::create_dir_all(t.p("cg/evil")).unwrap();
    std::os::unix::fs::symlink(t.p("elsewhere"), t.p("cg/evil/ctr")).unwrap();
    fs::write(t.p("proc/4242/cgroup"), "0::/evil/ctr\n").unwrap();
    let (code, err) = t.hook(r#"{"memory.max.ferrocni.dev":"1Gi"}"#, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("evil/ctr"), "{err}");
    // hybrid host: no --cgroup-root, mountinfo from the fake /proc
    fs::create_dir_all(t.p("proc/self")).unwrap();
    fs::write(t.p("proc/self/mountinfo"), "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n").unwrap();
    let args: Vec<String> = ["--proc-root", "proc", "--policy", "policy.json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let state = r#"{"id":"abc","pid":4242,"annotations":{"memory.max.ferrocni.dev":"1Gi"}}"#;
    let (code, err) = run(t.t.path(), &args, state);
    assert_eq!((code, err.lines().count()), (1, 1), "{err}");
    assert!(
        err.contains("no unified cgroup v2 hierarchy (hybrid"),
        "{err}"
    );
}

#[test]
fn validate_annotation_files() {
    let t = Tree::new();
    fs::write(
        t.p("ann.txt"),
        "# pod annotations\nmemory.max.ferrocni.dev/web=1Gi\nclass.ferrocni.dev/POD=debug\n",
    )
    .unwrap();
    let (code, out) = run(
        t.t.path(),
        &args(&["validate", "--policy", "policy.json", "--file", "ann.txt"]),
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("web: memory.max=1073741824 pids.max=1000"),
        "{out}"
    );
    let (code, out) = run(
        t.t.path(),
        &args(&[
            "validate",
            "--policy",
            "policy.json",
            "-a",
            "memory.max.ferrocni.dev/web=1MB",
            "-a",
            "cpu.mx.ferrocni.dev=1",
        ]),
        "",
    );
    assert_eq!((code, out.lines().count()), (1, 2), "{out}");
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn hooks_config_and_usage_errors() {
    let t = Tree::new();
    let (code, out) = run(
        t.t.path(),
        &args(&[
            "hooks-config",
            "--path",
            "/usr/bin/cgroup-hook",
            "--timeout",
            "3",
        ]),
        "",
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["hook"]["timeout"].as_u64(), v["stages"][0].as_str()),
        (Some(3), Some("createRuntime"))
    );
    let (code, out) = run(
        t.t.path(),
        &args(&["hooks-config", "--format", "containerd"]),
        "",
    );
    assert_eq!(code, 0);
    assert!(out.contains("\"createRuntime\""), "{out}");
    let (code, _) = run(t.t.path(), &args(&["frobnicate", "--bogus"]), "");
    assert_eq!(code, 2);
}

#[test]
fn report_by_path_pid_and_id() {
    let t = Tree::new();
    fs::write(t.cg().join("memory.current"), "4096\n").unwrap();
    let (code, out) = run(
        t.t.path(),
        &args(&["report", "--cgroup-root", "cg", "--json", CG]),
        "",
    );
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["memory"]["current"], 4096);
    let (code, out) = run(
        t.t.path(),
        &args(&[
            "report",
            "--cgroup-root",
            "cg",
            "--proc-root",
            "proc",
            "4242",
        ]),
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("current 4.0 KiB"), "{out}");
    let (code, out) = run(
        t.t.path(),
        &args(&["report", "--cgroup-root", "cg", "nosuchid"]),
        "",
    );
    assert_eq!((code, out.lines().count()), (1, 1), "{out}");
}
