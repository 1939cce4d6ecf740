//! Hostile names, ids and sizes against the real plugin binaries, inside a
//! node namespace: network names and container ids with `..`, `/`, quotes,
//! newlines, rule syntax and great length must be refused with a coded
//! error or handled completely — nothing written outside `dataDir`, nothing
//! injected into the ruleset, no broken batch, and DEL leaves the node as a
//! plain pod's ADD+DEL does. 10 MB of stdin is refused clearly, in bounded
//! memory (RLIMIT_DATA 24 MiB), by every plugin and by cgroup-hook.

use std::io::Write;
use std::process::{Command, Stdio};

use ferrocni_fuzz::net::Scratch;
use ferrocni_fuzz::net::chain::{self, Net, Pod};
use ferrocni_fuzz::net::node::Node;
use ferrocni_fuzz::net::probe;
use serde_json::json;

const HOSTILE: &[&str] = &[
    "..",
    "../../../../tmp/escape",
    "a/b",
    "a\"b",
    "a'b",
    "a\nb",
    "a b",
    "a;b",
    "",
    "$(touch /tmp/x)",
    "x\" ; flush ruleset ; \"",
    "-j ACCEPT",
    ".hidden",
    "a\u{0}b",
    "é",
];

/// Every file under `dir` (relative paths), recursively.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap_or(&p).display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn hostile_network_names_are_refused_before_touching_anything() {
    let node = Node::new("hn");
    let root = Scratch::new("names");
    let data = root.path().join("data").join("ipam");
    std::fs::create_dir_all(&data).unwrap();
    let before = probe::rules(&node);
    let pod = Pod::new("c1", "hnp", 1);
    for name in HOSTILE {
        for plugin in chain::PLUGINS {
            let conf = json!({"cniVersion": "1.0.0", "name": name, "type": plugin,
                "ipam": {"type": "host-local", "dataDir": data, "subnet": "10.77.0.0/24"},
                "recordDir": root.path().join("data/portmap"),
                "prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "10.77.0.2/24"}]}});
            let out = chain::call(&node, plugin, "ADD", &pod, &conf, None);
            assert_eq!(
                out.code,
                Some(1),
                "{plugin} accepted name {name:?}: {}",
                out.stdout
            );
            assert_eq!(
                out.json()["code"],
                7,
                "{plugin} name {name:?}: {}",
                out.stdout
            );
        }
    }
    assert_eq!(
        tree(root.path()),
        vec!["data", "data/ipam"],
        "files appeared"
    );
    assert_eq!(probe::rules(&node), before, "the ruleset changed");
    assert!(!std::path::Path::new("/tmp/escape").exists());
}

#[test]
fn hostile_container_ids_are_refused_with_code_4() {
    let node = Node::new("hi");
    let net = Net::new("hinet", 7);
    let before = probe::rules(&node);
    let mut pod = Pod::new("x", "hip", 30999);
    // an environment variable cannot carry NUL
    for id in HOSTILE.iter().filter(|i| !i.contains('\0')) {
        pod.id = id.to_string();
        for plugin in chain::PLUGINS {
            let out = chain::call(
                &node,
                plugin,
                "ADD",
                &pod,
                &net.conf(plugin, 30999, None, None),
                None,
            );
            assert_eq!(
                out.code,
                Some(1),
                "{plugin} accepted id {id:?}: {}",
                out.stdout
            );
            assert_eq!(out.json()["code"], 4, "{plugin} id {id:?}: {}", out.stdout);
        }
    }
    assert!(
        tree(net.dir.path()).is_empty(),
        "files appeared: {:?}",
        tree(net.dir.path())
    );
    assert_eq!(probe::rules(&node), before, "the ruleset changed");
}

/// Ids that are valid but awkward: dots, dashes, underscores, 200
/// characters (past nft's 128-byte comment limit).
#[test]
fn awkward_valid_ids_work_end_to_end_and_leave_nothing() {
    let node = Node::new("hv");
    let net = Net::new("hvnet", 8);
    let mut plain = Pod::new("plain", "hvp", 31500);
    cycle(&node, &net, &mut plain);
    let baseline = probe::rules(&node);
    let long = format!("a{}", "b.-_9".repeat(40));
    for (n, id) in ["a..b", "a.", "9-_-.", long.as_str()].iter().enumerate() {
        let mut pod = Pod::new(id, "hvp", 31501 + n as u16);
        cycle(&node, &net, &mut pod);
        let leaks = probe::pod_leftovers(&node, &net, id, pod.ip.as_deref());
        assert!(leaks.is_empty(), "id {id:?}: {leaks:?}");
        assert_eq!(
            probe::rules(&node),
            baseline,
            "id {id:?}: rules differ from a plain pod's"
        );
    }
    assert!(probe::net_leftovers(&node, &net, &[]).is_empty());
}

/// The spec puts no length limit on container ids; portmap's record file
/// is named `<id>:<ifname>` and fails past NAME_MAX (255 bytes).
#[test]
fn a_300_character_id_works_end_to_end() {
    let node = Node::new("hl");
    let net = Net::new("hlnet", 9);
    let mut pod = Pod::new(&format!("a{}", "b".repeat(299)), "hlp", 31600);
    cycle(&node, &net, &mut pod);
}

/// Whatever the plugins think of an id, a failed ADD followed by the
/// runtime's DEL leaves nothing — and DEL never fails.
#[test]
fn a_failed_add_of_an_overlong_id_leaves_nothing_after_del() {
    let node = Node::new("hf");
    let net = Net::new("hfnet", 10);
    for len in [300, 5000] {
        let mut pod = Pod::new(&format!("a{}", "c".repeat(len - 1)), "hfp", 31700);
        chain::add(&node, &net, &mut pod, None);
        let errs = chain::del(&node, &net, &pod);
        assert!(errs.is_empty(), "len {len}: DEL failed: {errs:?}");
        pod.ns.take();
        let leaks = probe::pod_leftovers(&node, &net, &pod.id, pod.ip.as_deref());
        assert!(leaks.is_empty(), "len {len}: {leaks:?}");
        assert!(probe::net_leftovers(&node, &net, &[]).is_empty());
    }
}

fn cycle(node: &Node, net: &Net, pod: &mut Pod) {
    let r = chain::add(node, net, pod, None);
    assert!(r.failed.is_none(), "{}: ADD failed: {:?}", pod.id, r.failed);
    assert!(node.host_port_answers(pod.host_port) || pod.ns.is_some());
    chain::check(node, net, pod).unwrap_or_else(|e| panic!("{}: {e}", pod.id));
    let errs = chain::del(node, net, pod);
    assert!(errs.is_empty(), "{errs:?}");
}

/// Exit code and output of `argv` fed `stdin`, run with its heap and
/// other private data limited to `mib` MiB (RLIMIT_DATA): a program that
/// reads what it refuses ends up failing differently.
fn run_limited(argv: &[&str], env: &[(&str, &str)], stdin: Vec<u8>, mib: u64) -> (i32, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: mib << 20,
                rlim_max: mib << 20,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn");
    let mut input = child.stdin.take().unwrap();
    let w = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = w.join();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn ten_megabytes_of_stdin_is_refused_in_bounded_memory() {
    let bin = integration::bin_dir();
    let mut big = br#"{"cniVersion":"1.0.0","name":"n","type":"x","pad":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 10 << 20));
    big.extend(b"\"}");
    let env = [
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "big"),
        ("CNI_NETNS", "/run/netns/none"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/nonexistent"),
    ];
    for p in ["bridge", "host-local", "portmap", "firewall", "loopback"] {
        let path = bin.join(p).display().to_string();
        let (code, out) = run_limited(&[&path], &env, big.clone(), 24);
        assert_eq!(code, 1, "{p}: {out}");
        assert!(
            out.contains("\"code\":5") && out.contains("larger than"),
            "{p}: {out}"
        );
    }
    let hook = bin.join("cgroup-hook").display().to_string();
    let (code, out) = run_limited(&[&hook], &[], big, 24);
    assert!(
        code > 0,
        "cgroup-hook accepted (or crashed on) 10 MB of state: {code} {out}"
    );
    assert_eq!(
        out.trim().lines().count(),
        1,
        "cgroup-hook error is not one line: {out}"
    );
}
