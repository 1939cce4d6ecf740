//! Shared topology and helpers of the bridge integration tests.
//!
//! Per test: a node netns (where every plugin call runs, never the host's
//! namespace) with an uplink veth `up0` (192.0.2.1/24, fd99::1/64) to an
//! "outside" netns (192.0.2.2, fd99::2) that has **no route back** to the
//! pod subnets, pods as further netns, and a private IPAM `dataDir`.
#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use integration::{CniCall, CniOutput, TestNetns};
use serde_json::{Value, json};

pub const OUTSIDE_V4: &str = "192.0.2.2";
pub const NODE_V4: &str = "192.0.2.1";
pub const OUTSIDE_V6: &str = "fd99::2";
pub const NODE_V6: &str = "fd99::1";
pub const REF_BRIDGE: &str = "/usr/lib/cni/bridge";
pub const REF_HOST_LOCAL: &str = "/usr/lib/cni/host-local";

/// A node with an uplink to an outside netns, and a CNI_PATH directory.
pub struct Topo {
    pub node: TestNetns,
    pub outside: TestNetns,
    pub dir: tempfile::TempDir,
}

impl Topo {
    pub fn new(tag: &str) -> Topo {
        let node = TestNetns::new(&format!("{tag}n"));
        let outside = TestNetns::new(&format!("{tag}o"));
        let out_name = outside.name().to_string();
        node.exec_ok(&[
            "ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0", "netns", &out_name,
        ]);
        node.exec_ok(&["ip", "addr", "add", "192.0.2.1/24", "dev", "up0"]);
        node.exec_ok(&["ip", "addr", "add", "fd99::1/64", "dev", "up0", "nodad"]);
        node.exec_ok(&["ip", "link", "set", "up0", "up"]);
        outside.exec_ok(&["ip", "addr", "add", "192.0.2.2/24", "dev", "up0"]);
        outside.exec_ok(&["ip", "addr", "add", "fd99::2/64", "dev", "up0", "nodad"]);
        outside.exec_ok(&["ip", "link", "set", "up0", "up"]);
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_bridge"), bin.join("bridge")).unwrap();
        let hl = std::env::var("FERROCNI_HOST_LOCAL").unwrap_or_else(|_| REF_HOST_LOCAL.into());
        std::os::unix::fs::symlink(hl, bin.join("host-local")).unwrap();
        Topo { node, outside, dir }
    }

    pub fn cni_path(&self) -> String {
        self.dir.path().join("bin").display().to_string()
    }

    /// A CNI_PATH whose `host-local` is a stub that appends each verb to
    /// `ipam.log` and succeeds (for 1.1 verbs the reference 1.1.1 lacks).
    pub fn stub_ipam_path(&self) -> String {
        let bin = self.dir.path().join("stub");
        if !bin.exists() {
            std::fs::create_dir(&bin).unwrap();
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_bridge"), bin.join("bridge")).unwrap();
            let log = self.dir.path().join("ipam.log");
            let script = format!(
                "#!/bin/sh\ncat >/dev/null\necho \"$CNI_COMMAND\" >> {}\n",
                log.display()
            );
            let stub = bin.join("host-local");
            std::fs::write(&stub, script).unwrap();
            std::process::Command::new("chmod")
                .arg("755")
                .arg(&stub)
                .status()
                .unwrap();
        }
        bin.display().to_string()
    }

    /// Verbs the stub IPAM received.
    pub fn stub_ipam_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ipam.log")).unwrap_or_default()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("ipam")
    }

    /// A bridge config (cniVersion 1.0.0, network `tnet`, bridge `tbr0`,
    /// 10.99.0.0/24 + fd00:99::/64 when `v6`), with `extra` keys merged.
    pub fn conf(&self, v6: bool, extra: Value) -> Value {
        let mut ranges = vec![json!([{"subnet": "10.99.0.0/24"}])];
        let mut routes = vec![json!({"dst": "0.0.0.0/0"})];
        if v6 {
            ranges.push(json!([{"subnet": "fd00:99::/64"}]));
            routes.push(json!({"dst": "::/0"}));
        }
        let mut c = json!({
            "cniVersion": "1.0.0", "name": "tnet", "type": "bridge", "bridge": "tbr0",
            "isGateway": true, "ipMasq": true,
            "ipam": {"type": "host-local", "dataDir": self.data_dir(),
                     "ranges": ranges, "routes": routes}
        });
        merge(&mut c, extra);
        c
    }

    /// Our plugin, `verb`, for pod `id` in `pod` (or no netns), in the node.
    pub fn call(&self, verb: &str, id: &str, pod: Option<&TestNetns>, conf: &Value) -> CniOutput {
        self.call_with(env!("CARGO_BIN_EXE_bridge"), verb, id, pod, conf)
    }

    /// Like [`Topo::call`] with another plugin binary (e.g. the reference).
    pub fn call_with(
        &self,
        bin: &str,
        verb: &str,
        id: &str,
        pod: Option<&TestNetns>,
        conf: &Value,
    ) -> CniOutput {
        let netns = pod
            .map(|p| p.path().display().to_string())
            .unwrap_or_default();
        let path = if bin == REF_BRIDGE {
            "/usr/lib/cni".to_string()
        } else {
            self.cni_path()
        };
        CniCall::new(bin, verb)
            .pod(id, &netns, "eth0")
            .env("CNI_PATH", &path)
            .config(conf)
            .in_node(&self.node)
            .run()
    }

    /// ADD that must succeed; returns the result.
    pub fn add_ok(&self, id: &str, pod: &TestNetns, conf: &Value) -> Value {
        let out = self.call("ADD", id, Some(pod), conf);
        assert!(
            out.success(),
            "ADD {id} failed: {} {}",
            out.stdout,
            out.stderr
        );
        out.json()
    }

    pub fn del_ok(&self, id: &str, pod: Option<&TestNetns>, conf: &Value) {
        let out = self.call("DEL", id, pod, conf);
        assert!(
            out.success(),
            "DEL {id} failed: {} {}",
            out.stdout,
            out.stderr
        );
    }

    /// Files in the network's IPAM directory other than the lock, the
    /// round-robin markers and hidden metadata: one per reserved address.
    pub fn reservations(&self) -> Vec<String> {
        let dir = self.data_dir().join("tnet");
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        rd.flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "lock" && !n.starts_with("last_reserved_ip") && !n.starts_with('.'))
            .collect()
    }

    /// Every netfilter rule of the node (nft ruleset + iptables-save).
    pub fn rules(&self) -> String {
        let nft = self.node.exec(&["nft", "list", "ruleset"]);
        let ipt = self.node.exec(&["iptables-save"]);
        let ip6t = self.node.exec(&["ip6tables-save"]);
        [nft.stdout, ipt.stdout, ip6t.stdout]
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Names of the node's veth interfaces other than the uplink.
    pub fn pod_veths(&self) -> Vec<String> {
        let out = self
            .node
            .exec_ok(&["ip", "-o", "link", "show", "type", "veth"]);
        out.lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .filter(|n| n != "up0")
            .collect()
    }
}

/// Merges the keys of `extra` into `base` (top level; `null` deletes).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
}

/// The pod's address of family v4/v6 from an ADD result (without prefix).
pub fn pod_ip(result: &Value, v6: bool) -> String {
    result["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| ip["address"].as_str().unwrap())
        .find(|a| a.contains(':') == v6)
        .map(|a| a.split('/').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no v6={v6} address in {result}"))
}

pub fn ping(from: &TestNetns, to: &str) -> bool {
    from.exec(&["ping", "-c1", "-W2", to]).status.success()
}

/// Sets the name of the calling thread's netns to `ns` for `f` (on a fresh
/// thread, so no test thread ever changes namespace).
pub fn in_netns<T: Send>(ns: &Path, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(ns).expect("open netns");
            // SAFETY: setns on a valid fd only affects this new thread.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns {}", ns.display());
            f()
        })
        .join()
        .expect("netns thread")
    })
}

/// Listens on `addr:port` inside `ns`, then runs `connect` (which should
/// make a TCP connection to it) and returns the peer address the listener
/// saw, or `None` when nothing arrived within a few seconds.
pub fn peer_seen_by(
    ns: &TestNetns,
    addr: &str,
    port: u16,
    connect: impl FnOnce(),
) -> Option<SocketAddr> {
    let sock: SocketAddr = format!("{addr}:{port}")
        .parse()
        .or_else(|_| format!("[{addr}]:{port}").parse())
        .unwrap();
    let listener = in_netns(&ns.path(), || TcpListener::bind(sock).expect("bind"));
    listener.set_nonblocking(false).unwrap();
    let accept = std::thread::spawn(move || {
        // The accept runs on a socket bound in `ns`; the thread itself need not be there.
        let (mut s, peer) = listener.accept().ok()?;
        let mut b = [0u8; 8];
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let _ = s.read(&mut b);
        Some(peer)
    });
    connect();
    // Unblock the accept when nothing connected.
    let _ = in_netns(&ns.path(), || {
        std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(200))
    });
    let peer = accept.join().ok().flatten()?;
    (peer.ip().to_string() != addr).then_some(peer)
}

/// TCP connect from inside `pod` to `addr:port` with bash's /dev/tcp.
pub fn tcp_from(pod: &TestNetns, addr: &str, port: u16) -> bool {
    let script = format!("exec 3<>/dev/tcp/{addr}/{port} && echo hi >&3");
    pod.exec(&["timeout", "3", "bash", "-c", &script])
        .status
        .success()
}
