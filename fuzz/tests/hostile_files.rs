//! Planted symlinks and escapes: in a host-local `dataDir`, in the CLI's
//! results cache, and in a (fake) cgroup tree for cgroup-hook, plus
//! annotations that aim outside the container's cgroup or at files the
//! policy does not allow. A victim directory next to each must come out
//! byte-for-byte unchanged.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Stdio;

use ferrocni_fuzz::net::Scratch;
use ferrocni_fuzz::net::chain::{self, Pod};
use ferrocni_fuzz::net::node::Node;
use serde_json::json;

/// A directory with a sentinel file and a subdirectory; `snapshot` lists
/// every entry with its content.
fn victim(root: &Path) -> std::path::PathBuf {
    let v = root.join("victim");
    fs::create_dir_all(v.join("dir")).unwrap();
    fs::write(v.join("sentinel"), "sentinel\n").unwrap();
    fs::write(v.join("dir/memory.max"), "max\n").unwrap();
    v
}

fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                stack.push(p);
                out.push((name, "<dir>".into()));
            } else {
                out.push((name, fs::read_to_string(&p).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

fn host_local(node: &Node, verb: &str, pod: &Pod, data: &Path, valid: &[&str]) -> String {
    let list: Vec<_> = valid
        .iter()
        .map(|id| json!({"containerID": id, "ifname": "eth0"}))
        .collect();
    let conf = json!({"cniVersion": "1.1.0", "name": "symnet", "type": "host-local",
        "cni.dev/valid-attachments": list,
        "ipam": {"type": "host-local", "dataDir": data, "ranges": [[{"subnet": "10.80.0.0/29"}]]}});
    chain::call(node, "host-local", verb, pod, &conf, None).stdout
}

/// Plants `(name in the network dir, target in the victim dir)` symlinks,
/// runs ADD, CHECK, GC, DEL, GC; returns the victim before and after.
type Snap = Vec<(String, String)>;
fn plant_and_run(tag: &str, plants: &[(&str, &str)]) -> (Snap, Snap) {
    let node = Node::new(tag);
    let root = Scratch::new(tag);
    let v = victim(root.path());
    let before = snapshot(&v);
    let net = root.path().join("data/symnet");
    fs::create_dir_all(&net).unwrap();
    for (name, target) in plants {
        symlink(v.join(target), net.join(name)).unwrap();
    }
    let pod = Pod::new("symp", &format!("{tag}p"), 1);
    let data = root.path().join("data");
    for (verb, valid) in [
        ("ADD", &[][..]),
        ("CHECK", &[]),
        ("GC", &["symp"]),
        ("DEL", &[]),
        ("GC", &[]),
    ] {
        host_local(&node, verb, &pod, &data, valid);
    }
    (before, snapshot(&v))
}

#[test]
fn host_local_never_follows_planted_reservation_symlinks() {
    let (before, after) = plant_and_run("hr", &[("10.80.0.2", "sentinel"), ("10.80.0.3", "ghost")]);
    assert_eq!(
        after, before,
        "host-local wrote through a planted reservation symlink"
    );
}

#[test]
fn host_local_never_follows_a_planted_cursor_symlink() {
    let (before, after) = plant_and_run("hu", &[("last_reserved_ip.0", "last")]);
    assert_eq!(
        after, before,
        "host-local wrote the cursor through a symlink"
    );
}

#[test]
fn host_local_never_follows_a_planted_index_dir_symlink() {
    let (before, after) = plant_and_run("hx", &[(".ferrocni-index", "dir")]);
    assert_eq!(after, before, "host-local used a symlinked index directory");
}

#[test]
fn host_local_never_follows_a_planted_lock_symlink() {
    let (before, after) = plant_and_run("hk", &[("lock", "created-through-lock")]);
    assert_eq!(after, before, "host-local followed the lock symlink");
}

/// `ferrocni` in the node with a conflist of bridge + host-local.
fn cli(node: &Node, root: &Path, verb: &str, netns: &str) -> (bool, String) {
    let out = node
        .ns
        .command(&[
            &node.bin.join("ferrocni").display().to_string(),
            "--cache-dir",
        ])
        .arg(root.join("cache"))
        .args([verb, "clinet", netns])
        .env("NETCONFPATH", root.join("conf"))
        .env("CNI_PATH", &node.bin)
        .env("CNI_CONTAINERID", "clipod")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn cli_setup(root: &Path) {
    fs::create_dir_all(root.join("conf")).unwrap();
    let list = json!({"cniVersion": "1.0.0", "name": "clinet", "plugins": [
        {"type": "host-local", "ipam": {"type": "host-local", "dataDir": root.join("ipam"),
            "ranges": [[{"subnet": "10.81.0.0/29"}]]}}]});
    fs::write(root.join("conf/10-clinet.conflist"), list.to_string()).unwrap();
    fs::create_dir_all(root.join("cache/results")).unwrap();
}

#[test]
fn cli_cache_entry_symlinks_are_replaced_and_removed_never_followed() {
    let node = Node::new("hc");
    let root = Scratch::new("clisym");
    let v = victim(root.path());
    cli_setup(root.path());
    let entry = root.path().join("cache/results/clinet-clipod-eth0");
    symlink(v.join("sentinel"), &entry).unwrap();
    let before = snapshot(&v);
    let pod = Pod::new("clipod", "hcp", 1);
    let ns = pod.ns.as_ref().unwrap().path().display().to_string();
    let (ok, out) = cli(&node, root.path(), "add", &ns);
    assert!(ok, "add failed: {out}");
    assert_eq!(
        snapshot(&v),
        before,
        "the cache write went through the entry symlink"
    );
    assert!(
        !entry.is_symlink(),
        "the cache entry is still the planted symlink"
    );
    symlink_replace(&v.join("sentinel"), &entry);
    let (ok, out) = cli(&node, root.path(), "del", &ns);
    assert!(ok, "del failed: {out}");
    assert_eq!(snapshot(&v), before, "DEL touched the symlink's target");
    assert!(!entry.exists() && !entry.is_symlink(), "DEL left the entry");
}

#[test]
fn cli_cache_temp_file_symlinks_are_never_followed() {
    let node = Node::new("ht");
    let root = Scratch::new("clitmp");
    let v = victim(root.path());
    cli_setup(root.path());
    let last = fs::read_to_string("/proc/sys/kernel/ns_last_pid").unwrap();
    let last: u32 = last.trim().parse().unwrap();
    for pid in last..last + 400 {
        let tmp = root
            .path()
            .join(format!("cache/results/.clinet-clipod-eth0.{pid}.tmp"));
        symlink(v.join(format!("tmp-{pid}")), tmp).unwrap();
    }
    let before = snapshot(&v);
    let pod = Pod::new("clipod", "htp", 1);
    let ns = pod.ns.as_ref().unwrap().path().display().to_string();
    let (ok, out) = cli(&node, root.path(), "add", &ns);
    assert!(ok, "add failed: {out}");
    assert_eq!(
        snapshot(&v),
        before,
        "the cache write went through a planted temp symlink"
    );
}

fn symlink_replace(target: &Path, link: &Path) {
    let _ = fs::remove_file(link);
    symlink(target, link).unwrap();
}
