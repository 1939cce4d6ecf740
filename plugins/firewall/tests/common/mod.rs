//! Shared pieces of the firewall integration tests: a node namespace with
//! an "outside" peer, bridge networks set up with the reference `bridge` +
//! `host-local`, pods with listeners, and connection probes.
#![allow(dead_code)]

pub mod probe;

use integration::{CniCall, TestNetns, run_ok};
use serde_json::{Value, json};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub const REF_DIR: &str = "/usr/lib/cni";
pub const OURS: &str = env!("CARGO_BIN_EXE_firewall");
/// The node's address on the link to the outside namespace.
pub const NODE_IP: &str = "192.168.77.1";
pub const EXT_IP: &str = "192.168.77.2";

static IDS: AtomicU32 = AtomicU32::new(0);

/// The bridge plugin the pods are made with: `$FW_TEST_BRIDGE`, else ours
/// when the workspace's binaries are built (`make test`), else the
/// reference. IPAM is always the reference host-local.
pub fn bridge_bin() -> String {
    if let Ok(b) = std::env::var("FW_TEST_BRIDGE") {
        return b;
    }
    let ours = integration::bin_dir().join("bridge");
    if ours.is_file() {
        return ours.display().to_string();
    }
    format!("{REF_DIR}/bridge")
}

/// Where the iptables backend's records go unless a test says otherwise
/// (never the node's default directory).
pub fn records_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ferrocni-fwtest-records-{}", std::process::id()))
}

/// A fresh container id.
pub fn new_id(tag: &str) -> String {
    format!(
        "fw{}{tag}{}",
        std::process::id(),
        IDS.fetch_add(1, Ordering::Relaxed)
    )
}

/// A node netns joined by a veth to an "outside" netns (no route back to
/// pod subnets, so pod → outside only works masqueraded).
pub struct Node {
    pub ns: TestNetns,
    pub ext: TestNetns,
    pub data: std::path::PathBuf,
}

impl Node {
    pub fn new(tag: &str) -> Node {
        let ns = TestNetns::new(tag);
        let ext = TestNetns::new("ext");
        run_ok(Command::new("ip").args([
            "-n",
            ns.name(),
            "link",
            "add",
            "uplink0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ext.name(),
        ]));
        ns.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{NODE_IP}/24"),
            "dev",
            "uplink0",
        ]);
        ns.exec_ok(&["ip", "link", "set", "uplink0", "up"]);
        ext.exec_ok(&["ip", "addr", "add", &format!("{EXT_IP}/24"), "dev", "eth0"]);
        ext.exec_ok(&["ip", "link", "set", "eth0", "up"]);
        let data = std::env::temp_dir().join(format!("ferrocni-fwtest-{}", ns.name()));
        Node { ns, ext, data }
    }

    /// `nft list ruleset` inside the node.
    pub fn nft(&self) -> String {
        self.ns.exec_ok(&["nft", "list", "ruleset"])
    }

    /// Our table (empty when it does not exist).
    pub fn ours(&self) -> String {
        let out = self
            .ns
            .exec(&["nft", "list", "table", "inet", "ferrocni_firewall"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `iptables-save` (filter table, counters and comments stripped).
    pub fn iptables_filter(&self) -> String {
        let out = self.ns.exec_ok(&["iptables-save", "-t", "filter"]);
        out.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// One bridge network and the firewall config chained after it.
#[derive(Clone)]
pub struct Net {
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    /// The firewall plugin's own keys (ingressPolicy, allow, backend …).
    pub fw: Value,
    /// The firewall binary: ours or the reference.
    pub fw_bin: String,
}

impl Net {
    pub fn new(name: &str, bridge: &str, subnet: &str, fw: Value) -> Net {
        Net {
            name: name.into(),
            bridge: bridge.into(),
            subnet: subnet.into(),
            fw,
            fw_bin: OURS.into(),
        }
    }

    pub fn reference(mut self) -> Net {
        self.fw_bin = format!("{REF_DIR}/firewall");
        self
    }

    fn bridge_conf(&self, node: &Node) -> Value {
        let dst = if self.subnet.contains(':') {
            "::/0"
        } else {
            "0.0.0.0/0"
        };
        json!({"cniVersion": "1.0.0", "name": self.name, "type": "bridge",
               "bridge": self.bridge, "isGateway": true, "ipMasq": true,
               "ipam": {"type": "host-local", "ranges": [[{"subnet": self.subnet}]],
                        "routes": [{"dst": dst}],
                        "dataDir": node.data.display().to_string()}})
    }

    /// The firewall config with `prev` as prevResult (or none).
    pub fn fw_conf(&self, prev: Option<&Value>) -> Value {
        let mut c = json!({"cniVersion": "1.0.0", "name": self.name, "type": "firewall",
                           "recordDir": records_dir()});
        for (k, v) in self.fw.as_object().into_iter().flatten() {
            c[k] = v.clone();
        }
        if let Some(p) = prev {
            c["prevResult"] = p.clone();
        }
        c
    }

    /// A firewall call of this network for `id` in `node`.
    pub fn fw_call(&self, node: &Node, verb: &str, id: &str, netns: &str) -> CniCall {
        CniCall::new(&self.fw_bin, verb)
            .env("CNI_PATH", REF_DIR)
            .pod(id, netns, "eth0")
            .in_node(&node.ns)
    }
}

/// A pod: its netns, its bridge result and address.
pub struct Pod {
    pub ns: TestNetns,
    pub id: String,
    pub net: Net,
    pub result: Value,
    pub ip: String,
}

impl Pod {
    /// bridge ADD (reference) then firewall ADD with the bridge's result.
    pub fn add(node: &Node, net: &Net) -> Pod {
        let ns = TestNetns::new("fwp");
        let id = new_id("p");
        let path = ns.path().display().to_string();
        let out = CniCall::new(&bridge_bin(), "ADD")
            .env("CNI_PATH", REF_DIR)
            .pod(&id, &path, "eth0")
            .config(&net.bridge_conf(node))
            .in_node(&node.ns)
            .run();
        assert!(out.success(), "bridge ADD: {} {}", out.stdout, out.stderr);
        let result = out.json();
        let fw = net
            .fw_call(node, "ADD", &id, &path)
            .config(&net.fw_conf(Some(&result)))
            .run();
        assert!(fw.success(), "firewall ADD: {} {}", fw.stdout, fw.stderr);
        assert_eq!(
            fw.json()["ips"],
            result["ips"],
            "ADD passes prevResult through"
        );
        let ip = result["ips"][0]["address"].as_str().unwrap();
        let ip = ip.split('/').next().unwrap().to_string();
        Pod {
            ns,
            id,
            net: net.clone(),
            result,
            ip,
        }
    }

    pub fn path(&self) -> String {
        self.ns.path().display().to_string()
    }

    /// firewall CHECK with the bridge result.
    pub fn check(&self, node: &Node) -> integration::CniOutput {
        self.net
            .fw_call(node, "CHECK", &self.id, &self.path())
            .config(&self.net.fw_conf(Some(&self.result)))
            .run()
    }

    /// firewall DEL then bridge DEL.
    pub fn del(self, node: &Node) {
        let fw = self
            .net
            .fw_call(node, "DEL", &self.id, &self.path())
            .config(&self.net.fw_conf(Some(&self.result)))
            .run();
        assert!(fw.success(), "firewall DEL: {} {}", fw.stdout, fw.stderr);
        let out = CniCall::new(&bridge_bin(), "DEL")
            .env("CNI_PATH", REF_DIR)
            .pod(&self.id, &self.path(), "eth0")
            .config(&self.net.bridge_conf(node))
            .in_node(&node.ns)
            .run();
        assert!(out.success(), "bridge DEL: {} {}", out.stdout, out.stderr);
    }
}

/// True when this kernel passes bridged IPv4 through the IP hooks in `node`
/// (`isolated` between pods of one bridge relies on it, as the reference).
pub fn br_netfilter(node: &Node) -> bool {
    let out = node
        .ns
        .exec(&["cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"]);
    String::from_utf8_lossy(&out.stdout).trim() == "1"
}
