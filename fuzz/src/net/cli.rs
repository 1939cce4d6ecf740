//! The same chain driven through the `ferrocni` CLI (libcni semantics and
//! its result cache): ADD (killable: the CLI alone or with the plugin it is
//! running), DEL, and GC with `--valid` attachments.

use std::path::PathBuf;

use serde_json::json;

use super::chain::{Net, Pod};
use super::exec::{self, Kill, Outcome};
use super::node::{Node, POD_PORT};

/// The cache entry of `pod` (libcni layout).
pub fn cache_entry(net: &Net, pod: &Pod) -> PathBuf {
    net.dir
        .path()
        .join("cache/results")
        .join(format!("{}-{}-eth0", net.name, pod.id))
}

fn run(node: &Node, net: &Net, pod: &Pod, args: &[&str], kill: Option<Kill>) -> Outcome {
    let conf = net.dir.path().join("conf");
    if !conf.exists() {
        std::fs::create_dir_all(&conf).expect("conf dir");
        let file = conf.join(format!("10-{}.conflist", net.name));
        std::fs::write(file, net.conflist().to_string()).expect("conflist");
    }
    let caps = json!({"portMappings": [
        {"hostPort": pod.host_port, "containerPort": POD_PORT, "protocol": "tcp"},
        {"hostPort": pod.host_port, "containerPort": POD_PORT, "protocol": "udp"}]});
    let env: Vec<(String, String)> = [
        ("NETCONFPATH", conf.display().to_string()),
        ("CNI_PATH", node.bin.display().to_string()),
        ("CNI_CONTAINERID", pod.id.clone()),
        ("CAP_ARGS", caps.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cache = net.dir.path().join("cache").display().to_string();
    let mut argv = vec!["--cache-dir", &cache];
    argv.extend_from_slice(args);
    exec::run_args(
        &node.bin.join("ferrocni"),
        &argv,
        &env,
        b"",
        &node.path(),
        kill,
    )
}

fn netns_arg(pod: &Pod) -> String {
    pod.ns
        .as_ref()
        .map_or(format!("/run/netns/gone-{}", pod.id), |n| {
            n.path().display().to_string()
        })
}

/// `ferrocni add`; on success records the pod's address and result.
pub fn add(node: &Node, net: &Net, pod: &mut Pod, kill: Option<Kill>) -> Outcome {
    let ns = netns_arg(pod);
    let out = run(node, net, pod, &["add", &net.name, &ns], kill);
    if out.ok() {
        let v = out.json();
        let ip = v["ips"][0]["address"]
            .as_str()
            .and_then(|a| a.split('/').next());
        pod.ip = ip.map(String::from);
        pod.result = Some(v);
    }
    out
}

/// `ferrocni del`.
pub fn del(node: &Node, net: &Net, pod: &Pod) -> Result<(), String> {
    let ns = netns_arg(pod);
    let out = run(node, net, pod, &["del", &net.name, &ns], None);
    out.ok().then_some(()).ok_or_else(|| {
        format!(
            "ferrocni del {}: {} {}",
            pod.id,
            out.stdout,
            out.stderr.trim()
        )
    })
}

/// `ferrocni gc` keeping `valid`.
pub fn gc(node: &Node, net: &Net, valid: &[&Pod]) -> Result<(), String> {
    let nobody = Pod {
        id: "gc".into(),
        ns: None,
        host_port: 0,
        ip: None,
        result: None,
        server: None,
    };
    let specs: Vec<String> = valid.iter().map(|p| format!("{}/eth0", p.id)).collect();
    let mut args = vec!["gc", net.name.as_str()];
    for s in &specs {
        args.extend(["--valid", s.as_str()]);
    }
    let out = run(node, net, &nobody, &args, None);
    out.ok()
        .then_some(())
        .ok_or_else(|| format!("ferrocni gc: {} {}", out.stdout, out.stderr.trim()))
}
