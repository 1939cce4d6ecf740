//! cgroup-hook targets: the OCI state JSON through the whole hook (against a
//! fake /proc, cgroup tree and sysfs in a scratch directory), and every
//! annotation value grammar plus key grammar, annotation files and policies.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cgroup_hook::hook::Opts;
use cgroup_hook::knob::Knob;
use cgroup_hook::policy::{Mode, Policy};
use serde_json::json;

use super::Target;
use crate::check::{Verdict, one_line};

pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "oci_state",
            about: "cgroup-hook hook::run: OCI state JSON + annotations on a fake cgroup tree",
            seeds: state_seeds,
            run: oci_state,
        },
        Target {
            name: "annotations",
            about: "every knob's value grammar, key grammar, selection, annotation files, policy",
            seeds: annotation_seeds,
            run: annotations,
        },
    ]
}

const CG: &str = "kubepods/pod1/ctr";

/// Every knob with values people write, plus the key forms.
pub fn sample_annotations() -> BTreeMap<String, String> {
    let pairs = [
        ("memory.max.ferrocni.dev/web", "512Mi"),
        ("memory.high.ferrocni.dev/POD", "1.5Gi"),
        ("memory.low.ferrocni.dev", "64M"),
        ("memory.min.ferrocni.dev/web", "0"),
        ("memory.swap.max.ferrocni.dev/web", "max"),
        ("memory.oom.group.ferrocni.dev/web", "true"),
        ("cpu.max.ferrocni.dev/web", "50%"),
        ("cpu.weight.ferrocni.dev/POD", "200"),
        ("cpu.idle.ferrocni.dev/web", "0"),
        (
            "io.max.ferrocni.dev/web",
            "8:0 rbps=1Mi wiops=100; /dev/sda riops=5",
        ),
        ("io.weight.ferrocni.dev/web", "default 100; 8:0 200"),
        ("pids.max.ferrocni.dev/web", "100"),
        ("cpuset.cpus.ferrocni.dev/web", "0-1,3"),
        ("cpuset.mems.ferrocni.dev/web", "0"),
        ("class.ferrocni.dev/POD", "debug"),
        ("mode.ferrocni.dev", "dry-run"),
        ("io.kubernetes.cri.container-name", "web"),
    ];
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn state_seeds() -> Vec<Vec<u8>> {
    let ann = sample_annotations();
    let mut out = vec![
        json!({"ociVersion": "1.0.2", "id": "abc", "status": "creating", "pid": 4242,
            "bundle": "", "annotations": ann}),
        json!({"ociVersion": "1.0", "id": "def", "status": "created", "pid": 4242,
            "annotations": {"pids.max.ferrocni.dev": "50", "cpu.max.ferrocni.dev": "100m"}}),
        json!({"id": "sbx", "pid": 4242, "annotations":
            {"io.kubernetes.cri.container-type": "sandbox", "memory.max.ferrocni.dev/POD": "1Gi"}}),
    ];
    out.push(json!({"id": "x", "pid": 1, "annotations": {"memroy.max.ferrocni.dev/web": "1Gi"}}));
    out.into_iter()
        .map(|v| v.to_string().into_bytes())
        .collect()
}

fn annotation_seeds() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = sample_annotations()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect();
    out.push(include_bytes!("../../../plugins/cgroup-hook/examples/cgroup-policy.json").to_vec());
    out.push(b"{\"metadata\":{\"annotations\":{\"pids.max.ferrocni.dev\":\"10\"}}}".to_vec());
    out
}

fn tree() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrocni-fuzz-cg-{}", std::process::id()));
        build_tree(&d).expect("fake cgroup tree");
        d
    })
}

/// A fake cgroup v2 tree like the hook's own end-to-end tests use.
pub fn build_tree(root: &Path) -> std::io::Result<()> {
    let cg = root.join("cg").join(CG);
    fs::create_dir_all(&cg)?;
    let parent = cg.parent().unwrap_or(&cg);
    fs::write(
        parent.join("cgroup.subtree_control"),
        "cpuset cpu io memory pids\n",
    )?;
    fs::write(parent.join("cpuset.cpus.effective"), "0-3\n")?;
    fs::write(parent.join("cpuset.mems.effective"), "0\n")?;
    for (f, v) in [
        ("cgroup.controllers", "cpuset cpu io memory pids"),
        ("memory.max", "max"),
        ("memory.high", "max"),
        ("memory.swap.max", "max"),
        ("memory.oom.group", "0"),
        ("cpu.max", "max 100000"),
        ("cpu.weight", "100"),
        ("cpu.idle", "0"),
        ("io.max", ""),
        ("io.weight", "default 100"),
        ("pids.max", "max"),
        ("cpuset.cpus", ""),
        ("cpuset.mems", ""),
    ] {
        fs::write(cg.join(f), format!("{v}\n"))?;
    }
    fs::create_dir_all(root.join("proc/4242"))?;
    fs::write(root.join("proc/4242/cgroup"), format!("0::/{CG}\n"))?;
    let disk = root.join("sys/devices/block/sda");
    fs::create_dir_all(disk.join("sda1"))?;
    fs::write(disk.join("dev"), "8:0\n")?;
    fs::write(disk.join("sda1/partition"), "1\n")?;
    fs::create_dir_all(root.join("sys/dev/block"))?;
    let _ = std::os::unix::fs::symlink(&disk, root.join("sys/dev/block/8:0"));
    let _ = std::os::unix::fs::symlink(disk.join("sda1"), root.join("sys/dev/block/8:1"));
    let policy = include_str!("../../../plugins/cgroup-hook/examples/cgroup-policy.json");
    fs::write(
        root.join("policy.json"),
        policy.replace("/var/lib/containers", "8:1"),
    )
}

fn oci_state(input: &[u8]) -> Verdict {
    let root = tree();
    let opts = Opts {
        policy: Some(root.join("policy.json")),
        dry_run: input.len().is_multiple_of(2),
        verbose: false,
        log: None,
        proc_root: root.join("proc"),
        cgroup_root: Some(root.join("cg")),
        sys_root: root.join("sys"),
    };
    let text = String::from_utf8_lossy(input);
    match cgroup_hook::hook::run(&opts, &text) {
        Ok(()) => Ok(()),
        Err(e) => one_line("hook", &e.to_string()),
    }
}

fn annotations(input: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(input);
    let value = text.split_once('=').map_or(&*text, |(_, v)| v);
    for knob in Knob::ALL {
        if let Err(e) = knob.parse(value) {
            one_line(knob.file(), &e.to_string())?;
        }
    }
    let map = match cgroup_hook::cli::parse_annotation_file(&text) {
        Ok(m) => m,
        Err(e) => {
            one_line("annotation file", &e)?;
            BTreeMap::new()
        }
    };
    for k in map.keys() {
        if let Err(e) = cgroup_hook::annotations::parse_key(k) {
            one_line("key", &e)?;
        }
    }
    let policy = Policy::parse(&text).unwrap_or_default();
    let built = cgroup_hook::requests::build(&map, Some("web"), &policy, Mode::Enforce);
    for p in &built.problems {
        one_line("problem", p)?;
    }
    Ok(())
}
