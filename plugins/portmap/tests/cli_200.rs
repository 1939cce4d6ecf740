//! 200 pods through the `ferrocni` CLI with the chain bridge + host-local ->
//! portmap -> loopback (all ours), one host port each: every pod answers on
//! its own host port from outside; DEL (without `CAP_ARGS`, as cnitool does)
//! removes every rule, record and conntrack entry.
//!
//! Heavy (about half a minute): `#[ignore]`d, run by `make test` through
//! `test-extra` after the workspace binaries are built (it needs `ferrocni`,
//! `bridge`, `host-local` and `loopback` in the harness's bin dir).

mod common;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use integration::{TestNetns, bin_dir};
use serde_json::json;

const PODS: usize = 200;
const BASE_PORT: usize = 20000;

struct Lab {
    n: Node,
    bins: std::path::PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let n = Node::new("c2");
        let bins = n.dir.path().join("bin");
        std::fs::create_dir(&bins).unwrap();
        for p in ["bridge", "host-local", "loopback", "ferrocni"] {
            let src = bin_dir().join(p);
            assert!(
                src.exists(),
                "{} missing: build the workspace binaries first",
                src.display()
            );
            std::os::unix::fs::symlink(src, bins.join(p)).unwrap();
        }
        std::os::unix::fs::symlink(ours(), bins.join("portmap")).unwrap();
        let list = json!({"cniVersion": "1.0.0", "name": NET, "plugins": [
            {"type": "bridge", "bridge": "cnipm0", "isGateway": true, "hairpinMode": true,
             "ipam": {"type": "host-local", "subnet": "10.88.0.0/16",
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": n.dir.path().join("ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": true}, "recordDir": n.records()},
            {"type": "loopback"}]});
        std::fs::write(n.dir.path().join("pm.conflist"), list.to_string()).unwrap();
        Lab { n, bins }
    }

    fn ferrocni(&self, verb: &str, pod: &TestNetns, cid: &str, caps: Option<String>) {
        let d = self.n.dir.path();
        let mut cmd = Command::new(self.bins.join("ferrocni"));
        cmd.arg("--netconf")
            .arg(d.join("pm.conflist"))
            .arg("--cache-dir")
            .arg(d.join("cache"))
            .args([verb, NET])
            .arg(pod.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CNI_PATH", &self.bins)
            .env("CNI_CONTAINERID", cid)
            .stdin(Stdio::null());
        if let Some(c) = caps {
            cmd.env("CAP_ARGS", c);
        }
        let node = std::fs::File::open(self.n.node.path()).unwrap();
        // SAFETY: setns is async-signal-safe; `node` outlives the spawn.
        unsafe {
            cmd.pre_exec(move || {
                use std::os::fd::AsRawFd;
                match libc::setns(node.as_raw_fd(), libc::CLONE_NEWNET) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
        let out = cmd.output().expect("spawn ferrocni");
        assert!(
            out.status.success(),
            "ferrocni {verb} {cid}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One thread answering on every pod's listener with the pod's name.
fn serve(listeners: Vec<(TcpListener, String)>) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            for (l, tag) in &listeners {
                if let Ok((mut c, _)) = l.accept() {
                    let _ = std::io::Write::write_all(&mut c, tag.as_bytes());
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    stop
}

#[test]
#[ignore = "heavy: 200 pods; run by make test-extra"]
fn two_hundred_pods_through_the_cli() {
    let lab = Lab::new();
    let pods: Vec<TestNetns> = (0..PODS).map(|_| TestNetns::new("c2p")).collect();
    let mut listeners = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        let cid = format!("cli-pod-{i}");
        let caps = json!({"portMappings": [{"hostPort": BASE_PORT + i, "containerPort": 8080, "protocol": "tcp"}]});
        lab.ferrocni("add", pod, &cid, Some(caps.to_string()));
        let l = in_ns(pod, || TcpListener::bind("0.0.0.0:8080").expect("bind"));
        l.set_nonblocking(true).unwrap();
        listeners.push((l, cid));
    }
    let stop = serve(listeners);
    for i in 0..PODS {
        let got = tcp_get(&lab.n.out, HOST1, (BASE_PORT + i) as u16);
        assert_eq!(
            got,
            Some(format!("cli-pod-{i}")),
            "host port {}",
            BASE_PORT + i
        );
    }
    for (i, pod) in pods.iter().enumerate() {
        lab.ferrocni("del", pod, &format!("cli-pod-{i}"), None);
    }
    stop.store(true, Ordering::Relaxed);
    let fw = lab.n.firewall();
    assert!(!fw.contains("cli-pod-"), "rules left:\n{fw}");
    let left = std::fs::read_dir(lab.n.records().join(NET))
        .unwrap()
        .count();
    assert_eq!(left, 0, "records left");
    for i in [0, PODS / 2, PODS - 1] {
        assert_eq!(tcp_get(&lab.n.out, HOST1, (BASE_PORT + i) as u16), None);
    }
    let ct = lab.n.node.exec(&["conntrack", "-L"]);
    let text = String::from_utf8_lossy(&ct.stdout);
    let pod_ip = |w: &str| {
        let a = w.strip_prefix("src=").or_else(|| w.strip_prefix("dst="));
        a.is_some_and(|a| a.starts_with("10.88.") && a != "10.88.0.1")
    };
    let left: Vec<&str> = text
        .lines()
        .filter(|l| l.split_whitespace().any(pod_ip))
        .collect();
    assert!(left.is_empty(), "conntrack of pods left: {left:#?}");
}
