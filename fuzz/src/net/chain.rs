//! A network (bridge + host-local, portmap, firewall) and the chain calls a
//! runtime makes for one pod: ADD in order (any one exec may be killed),
//! DEL in reverse, CHECK, and GC with the surviving attachments.

use std::path::PathBuf;
use std::time::Duration;

use integration::TestNetns;
use serde_json::{Value, json};

use super::Scratch;
use super::exec::{self, Kill, Outcome};
use super::node::{Node, POD_PORT};

/// The chain's plugins, in ADD order.
pub const PLUGINS: [&str; 3] = ["bridge", "portmap", "firewall"];
const VERSION: &str = "1.1.0";

/// One network on the node: `10.<60+idx>.0.0/24` on bridge `rbr<idx>`.
pub struct Net {
    pub name: String,
    pub bridge: String,
    pub idx: u8,
    pub dir: Scratch,
    /// `nftables` (the default) or `iptables` (the reference's layout) for
    /// bridge's masquerade and portmap.
    pub backend: &'static str,
    /// The same for the firewall plugin.
    pub firewall_backend: &'static str,
}

impl Net {
    pub fn new(name: &str, idx: u8) -> Net {
        Net {
            name: name.into(),
            bridge: format!("rbr{idx}"),
            idx,
            dir: Scratch::new(name),
            backend: "nftables",
            firewall_backend: "nftables",
        }
    }

    /// The same network on the reference's iptables layout (all plugins).
    pub fn iptables(mut self) -> Net {
        self.backend = "iptables";
        self.firewall_backend = "iptables";
        self
    }

    /// bridge and portmap on iptables, the firewall on nftables.
    pub fn iptables_but_firewall(mut self) -> Net {
        self.backend = "iptables";
        self
    }

    pub fn gateway(&self) -> String {
        format!("10.{}.0.1", 60 + self.idx)
    }

    /// host-local's directory for this network.
    pub fn reservations_dir(&self) -> PathBuf {
        self.dir.path().join("ipam").join(&self.name)
    }

    pub fn record_dir(&self) -> PathBuf {
        self.dir.path().join("portmap")
    }

    fn plugin_conf(&self, plugin: &str, host_port: u16) -> Value {
        let mut c = self.base_conf(plugin, host_port);
        let key = if plugin == "bridge" {
            "ipMasqBackend"
        } else {
            "backend"
        };
        c[key] = json!(self.backend);
        c
    }

    fn base_conf(&self, plugin: &str, host_port: u16) -> Value {
        let subnet = format!("10.{}.0.0/24", 60 + self.idx);
        match plugin {
            "bridge" => json!({"type": "bridge", "bridge": self.bridge, "isGateway": true,
                "ipMasq": true, "ipam": {"type": "host-local", "dataDir": self.dir.path().join("ipam"),
                    "ranges": [[{"subnet": subnet, "gateway": self.gateway()}]],
                    "routes": [{"dst": "0.0.0.0/0"}]}}),
            "portmap" => json!({"type": "portmap", "capabilities": {"portMappings": true},
                "recordDir": self.record_dir(),
                "runtimeConfig": {"portMappings": [
                    {"hostPort": host_port, "containerPort": POD_PORT, "protocol": "tcp"},
                    {"hostPort": host_port, "containerPort": POD_PORT, "protocol": "udp"}]}}),
            _ => json!({"type": "firewall", "recordDir": self.dir.path().join("firewall")}),
        }
    }

    /// The configuration list the `ferrocni` CLI reads (portMappings then
    /// come from `CAP_ARGS` through the declared capability).
    pub fn conflist(&self) -> Value {
        let plugins: Vec<Value> = PLUGINS
            .iter()
            .map(|p| {
                let mut c = self.plugin_conf(p, 0);
                if let Some(o) = c.as_object_mut() {
                    o.remove("runtimeConfig");
                }
                c
            })
            .collect();
        json!({"cniVersion": VERSION, "name": self.name, "plugins": plugins})
    }

    /// The request of `plugin` (name, version, prevResult / GC list added).
    pub fn conf(
        &self,
        plugin: &str,
        host_port: u16,
        prev: Option<&Value>,
        gc: Option<&[&Pod]>,
    ) -> Value {
        let mut c = self.plugin_conf(plugin, host_port);
        c["name"] = json!(self.name);
        c["cniVersion"] = json!(VERSION);
        if let Some(p) = prev {
            c["prevResult"] = p.clone();
        }
        if let Some(valid) = gc {
            if let Some(o) = c.as_object_mut() {
                o.remove("runtimeConfig");
            }
            let list: Vec<Value> = valid
                .iter()
                .map(|p| json!({"containerID": p.id, "ifname": "eth0"}))
                .collect();
            c["cni.dev/valid-attachments"] = json!(list);
        }
        c
    }
}

/// A pod: its id, namespace, host port, and what ADD told about it.
pub struct Pod {
    pub id: String,
    pub ns: Option<TestNetns>,
    pub host_port: u16,
    pub ip: Option<String>,
    /// The final result of a completed chain ADD (the runtime's cache).
    pub result: Option<Value>,
    /// The pod's "pong" server, when started.
    pub server: Option<super::node::Pong>,
}

impl Pod {
    pub fn new(id: &str, tag: &str, host_port: u16) -> Pod {
        Pod {
            id: id.into(),
            ns: Some(TestNetns::new(tag)),
            host_port,
            ip: None,
            result: None,
            server: None,
        }
    }

    fn netns(&self, gone: &str) -> String {
        self.ns
            .as_ref()
            .map_or(gone.to_string(), |n| n.path().display().to_string())
    }
}

/// Runs one verb of one plugin for `pod`.
pub fn call(
    node: &Node,
    plugin: &str,
    verb: &str,
    pod: &Pod,
    conf: &Value,
    kill: Option<Kill>,
) -> Outcome {
    let env: Vec<(String, String)> = [
        ("CNI_COMMAND", verb.to_string()),
        ("CNI_CONTAINERID", pod.id.clone()),
        (
            "CNI_NETNS",
            pod.netns(&format!("/run/netns/gone-{}", pod.id)),
        ),
        ("CNI_IFNAME", "eth0".into()),
        (
            "CNI_ARGS",
            format!("IgnoreUnknown=1;K8S_POD_NAME={}", pod.id),
        ),
        ("CNI_PATH", node.bin.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let out = exec::run(
        &node.bin.join(plugin),
        &env,
        conf.to_string().as_bytes(),
        &node.path(),
        kill,
    );
    record(plugin, verb, out.elapsed);
    out
}

type Timings = std::collections::BTreeMap<String, (u64, Duration)>;
static TIMINGS: std::sync::Mutex<Timings> = std::sync::Mutex::new(Timings::new());

fn record(plugin: &str, verb: &str, took: Duration) {
    let mut t = TIMINGS.lock().unwrap_or_else(|p| p.into_inner());
    let e = t.entry(format!("{plugin} {verb}")).or_default();
    e.0 += 1;
    e.1 += took;
}

/// Per plugin and verb: calls and mean milliseconds, one line each.
pub fn timings() -> Vec<String> {
    let t = TIMINGS.lock().unwrap_or_else(|p| p.into_inner());
    t.iter()
        .map(|(k, (n, d))| {
            format!(
                "{k:<14} {n:>6} calls, mean {:>6.1} ms",
                d.as_secs_f64() * 1e3 / *n as f64
            )
        })
        .collect()
}

/// What a chain ADD did.
#[derive(Debug, Default)]
pub struct Added {
    /// Index in [`PLUGINS`] of the exec that was killed.
    pub killed: Option<usize>,
    /// The first failure that was not a kill: (plugin, stdout).
    pub failed: Option<(String, String)>,
    /// Per-plugin durations (ms) of the execs that ran to the end.
    pub took_ms: Vec<u128>,
}

/// ADD of the whole chain; `kill` = (plugin index, when).
pub fn add(node: &Node, net: &Net, pod: &mut Pod, kill: Option<(usize, Kill)>) -> Added {
    let mut out = Added::default();
    let mut prev: Option<Value> = None;
    for (i, plugin) in PLUGINS.iter().enumerate() {
        let conf = net.conf(plugin, pod.host_port, prev.as_ref(), None);
        let k = kill.filter(|(at, _)| *at == i).map(|(_, k)| k);
        let r = call(node, plugin, "ADD", pod, &conf, k);
        if r.killed {
            out.killed = Some(i);
            return out;
        }
        if !r.ok() {
            out.failed = Some((plugin.to_string(), format!("{} {}", r.stdout, r.stderr)));
            return out;
        }
        out.took_ms.push(r.elapsed.as_millis());
        let v = r.json();
        if i == 0 {
            pod.ip = v["ips"][0]["address"]
                .as_str()
                .and_then(|a| a.split('/').next())
                .map(String::from);
        }
        prev = Some(v);
    }
    pod.result = prev;
    out
}

/// DEL of the whole chain in reverse order (with the cached result when the
/// ADD completed); returns the failures.
pub fn del(node: &Node, net: &Net, pod: &Pod) -> Vec<String> {
    let mut errs = Vec::new();
    for plugin in PLUGINS.iter().rev() {
        let conf = net.conf(plugin, pod.host_port, pod.result.as_ref(), None);
        let r = call(node, plugin, "DEL", pod, &conf, None);
        if !r.ok() {
            errs.push(format!(
                "{plugin} DEL {}: {} {}",
                pod.id,
                r.stdout,
                r.stderr.trim()
            ));
        }
    }
    errs
}

/// CHECK of the whole chain (needs a completed ADD).
pub fn check(node: &Node, net: &Net, pod: &Pod) -> Result<(), String> {
    for plugin in PLUGINS {
        let conf = net.conf(plugin, pod.host_port, pod.result.as_ref(), None);
        let r = call(node, plugin, "CHECK", pod, &conf, None);
        if !r.ok() {
            return Err(format!("{plugin} CHECK {}: {}", pod.id, r.stdout));
        }
    }
    Ok(())
}

/// GC of every plugin with `valid` as the attachments still in use.
pub fn gc(node: &Node, net: &Net, valid: &[&Pod]) -> Vec<String> {
    let nobody = Pod {
        id: "gc".into(),
        ns: None,
        host_port: 0,
        ip: None,
        result: None,
        server: None,
    };
    let mut errs = Vec::new();
    for plugin in PLUGINS {
        let conf = net.conf(plugin, 0, None, Some(valid));
        let r = call(node, plugin, "GC", &nobody, &conf, None);
        if !r.ok() {
            errs.push(format!("{plugin} GC: {} {}", r.stdout, r.stderr.trim()));
        }
    }
    errs
}

/// A random delay biased to the few milliseconds an exec takes.
pub fn kill_delay(rng: &mut crate::rng::Rng, typical_ms: u128) -> Duration {
    let span = (typical_ms.max(2) * 12 / 10) as u64 * 1000;
    Duration::from_micros(rng.next_u64() % span.max(1))
}
