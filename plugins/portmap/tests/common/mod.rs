//! Test topology for portmap: a node netns with an uplink veth to an
//! "outside" netns (node addresses 192.0.2.1 and 192.0.2.2, outside
//! 192.0.2.100), pods attached by the reference `bridge` + `host-local`
//! (run inside the node), and tiny TCP/UDP servers and clients living in
//! a netns through a socket made on a thread that joined it.

#![allow(dead_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use integration::{CniCall, CniOutput, TestNetns};
use serde_json::{Value, json};

pub const HOST1: &str = "192.0.2.1";
pub const HOST2: &str = "192.0.2.2";
pub const REF_DIR: &str = "/usr/lib/cni";
pub const NET: &str = "pmtest";

/// Our binary.
pub fn ours() -> String {
    env!("CARGO_BIN_EXE_portmap").to_string()
}

/// A node with its outside world and its private directories.
pub struct Node {
    pub node: TestNetns,
    pub out: TestNetns,
    pub dir: tempfile::TempDir,
}

/// A pod attached to the node's bridge by the reference plugins.
pub struct Pod {
    pub ns: TestNetns,
    pub cid: String,
    pub prev: Value,
    pub ip: IpAddr,
}

impl Node {
    pub fn new(tag: &str) -> Node {
        let node = TestNetns::new(&format!("{tag}n"));
        let out = TestNetns::new(&format!("{tag}o"));
        let (n, o) = (node.name().to_string(), out.name().to_string());
        let ip = |args: &[&str]| integration::run_ok(std::process::Command::new("ip").args(args));
        ip(&[
            "link", "add", "up0", "netns", &n, "type", "veth", "peer", "name", "up1", "netns", &o,
        ]);
        for a in [HOST1, HOST2] {
            node.exec_ok(&["ip", "addr", "add", &format!("{a}/24"), "dev", "up0"]);
        }
        node.exec_ok(&["ip", "link", "set", "up0", "up"]);
        out.exec_ok(&["ip", "addr", "add", "192.0.2.100/24", "dev", "up1"]);
        out.exec_ok(&["ip", "link", "set", "up1", "up"]);
        let dir = tempfile::tempdir().expect("tempdir");
        Node { node, out, dir }
    }

    pub fn records(&self) -> PathBuf {
        self.dir.path().join("records")
    }

    fn bridge_conf(&self) -> Value {
        json!({"cniVersion": "1.0.0", "name": NET, "type": "bridge", "bridge": "cnipm0",
               "isGateway": true, "hairpinMode": true,
               "ipam": {"type": "host-local", "subnet": "10.88.0.0/24",
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": self.dir.path().join("ipam")}})
    }

    /// Creates a pod netns and attaches it with the reference bridge.
    pub fn pod(&self, cid: &str) -> Pod {
        let ns = TestNetns::new("pmp");
        let out = CniCall::new(&format!("{REF_DIR}/bridge"), "ADD")
            .env("CNI_PATH", REF_DIR)
            .pod(cid, &ns.path().display().to_string(), "eth0")
            .config(&self.bridge_conf())
            .in_node(&self.node)
            .run();
        assert!(
            out.success(),
            "reference bridge ADD: {} {}",
            out.stdout,
            out.stderr
        );
        let prev = out.json();
        let addr = prev["ips"][0]["address"].as_str().expect("address");
        let ip = addr.split('/').next().unwrap().parse().unwrap();
        Pod {
            ns,
            cid: cid.to_string(),
            prev,
            ip,
        }
    }

    /// Our portmap config for `pod` (or none), with these mappings.
    pub fn conf(&self, backend: Option<&str>, maps: Value, pod: Option<&Pod>) -> Value {
        let mut c = json!({"cniVersion": "1.0.0", "name": NET, "type": "portmap",
                           "capabilities": {"portMappings": true},
                           "recordDir": self.records()});
        if let Some(b) = backend {
            c["backend"] = json!(b);
        }
        if !maps.is_null() {
            c["runtimeConfig"] = json!({"portMappings": maps});
        }
        if let Some(p) = pod {
            c["prevResult"] = p.prev.clone();
        }
        c
    }

    /// Runs `plugin` (ours unless a path is given) in the node for `pod`.
    pub fn call(
        &self,
        plugin: &str,
        verb: &str,
        cid: &str,
        netns: &str,
        conf: &Value,
    ) -> CniOutput {
        CniCall::new(plugin, verb)
            .env("CNI_PATH", REF_DIR)
            .pod(cid, netns, "eth0")
            .config(conf)
            .in_node(&self.node)
            .run()
    }

    /// Our ADD for `pod`; panics unless it succeeds.
    pub fn add(&self, pod: &Pod, conf: &Value) {
        let out = self.call(&ours(), "ADD", &pod.cid, &pod.path(), conf);
        assert!(
            out.success(),
            "portmap ADD {}: {} {}",
            pod.cid,
            out.stdout,
            out.stderr
        );
    }

    /// Text of the node's whole netfilter state (nft + both iptables families).
    pub fn firewall(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.node.exec(&["nft", "list", "ruleset"]).stdout)
            .into_owned();
        for save in ["iptables-save", "ip6tables-save"] {
            let out = self.node.exec(&[save, "-t", "nat"]).stdout;
            // Without the "# Generated … on <time>" comments.
            for l in String::from_utf8_lossy(&out)
                .lines()
                .filter(|l| !l.starts_with('#'))
            {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// Conntrack entries of the node mentioning `ip`.
    pub fn conntrack_of(&self, ip: IpAddr) -> Vec<String> {
        let out = self.node.exec(&["conntrack", "-L"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let needle = format!("={ip} ");
        text.lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_string)
            .collect()
    }
}

impl Pod {
    /// A pod netns with a synthetic prevResult (no data path).
    pub fn fake(cid: &str, cidr: &str) -> Pod {
        let ns = TestNetns::new("pmf");
        let prev = json!({"cniVersion": "1.0.0",
            "interfaces": [{"name": "eth0", "sandbox": ns.path()}],
            "ips": [{"address": cidr, "interface": 0}]});
        let ip = cidr.split('/').next().unwrap().parse().unwrap();
        Pod {
            ns,
            cid: cid.to_string(),
            prev,
            ip,
        }
    }

    pub fn path(&self) -> String {
        self.ns.path().display().to_string()
    }
}

/// Runs `f` on a fresh thread that joined `ns` (sockets made there stay there).
pub fn in_ns<T: Send + 'static>(ns: &TestNetns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = ns.path();
    std::thread::spawn(move || {
        let file = File::open(&path).expect("open netns");
        // SAFETY: setns on this short-lived thread only.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {}", path.display());
        f()
    })
    .join()
    .expect("netns thread")
}

/// A TCP and UDP echo-tag server on `port` in a netns; stops on drop.
pub struct Server {
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start(ns: &TestNetns, port: u16, tag: &str) -> Server {
        let (tcp, udp) = in_ns(ns, move || {
            let tcp = TcpListener::bind(("0.0.0.0", port)).expect("bind tcp");
            let udp = UdpSocket::bind(("0.0.0.0", port)).expect("bind udp");
            (tcp, udp)
        });
        let stop = Arc::new(AtomicBool::new(false));
        tcp.set_nonblocking(true).unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let (s1, s2, t1, t2) = (stop.clone(), stop.clone(), tag.to_string(), tag.to_string());
        std::thread::spawn(move || {
            while !s1.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.write_all(t1.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !s2.load(Ordering::Relaxed) {
                if let Ok((_, from)) = udp.recv_from(&mut buf) {
                    let _ = udp.send_to(t2.as_bytes(), from);
                }
            }
        });
        Server { stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("ip"), port)
}

/// What a TCP connection from `ns` to `ip:port` reads (None: no answer).
pub fn tcp_get(ns: &TestNetns, ip: &str, port: u16) -> Option<String> {
    let a = addr(ip, port);
    in_ns(ns, move || {
        let mut s = TcpStream::connect_timeout(&a, Duration::from_millis(700)).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(700))).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        (!out.is_empty()).then_some(out)
    })
}

/// What a UDP request from `ns` to `ip:port` gets back (None: no answer).
pub fn udp_get(ns: &TestNetns, ip: &str, port: u16) -> Option<String> {
    udp_get_from(ns, ip, port, 0)
}

/// [`udp_get`] from a fixed source port (`0`: any).
pub fn udp_get_from(ns: &TestNetns, ip: &str, port: u16, sport: u16) -> Option<String> {
    let a = addr(ip, port);
    in_ns(ns, move || {
        let s = UdpSocket::bind(("0.0.0.0", sport)).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        let mut buf = [0u8; 64];
        for _ in 0..2 {
            s.send_to(b"ping", a).ok()?;
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        None
    })
}
