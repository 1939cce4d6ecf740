//! The runner driving the reference plugins in `/usr/lib/cni` for real:
//! loopback -> bridge + host-local -> portmap, in a pod netns, with
//! `ferrocni` itself running inside a node netns (bridge, veth host ends and
//! iptables rules land there, never in the host's own namespace).

mod common;

use common::ferrocni;
use integration::TestNetns;
use serde_json::json;

const REF_BIN: &str = "/usr/lib/cni";

struct Setup {
    node: TestNetns,
    pod: TestNetns,
    dir: tempfile::TempDir,
    bridge: String,
}

impl Setup {
    fn new(tag: &str) -> Option<Setup> {
        if !std::path::Path::new(REF_BIN).join("bridge").exists() {
            eprintln!("skipping: reference plugins not installed in {REF_BIN}");
            return None;
        }
        let node = TestNetns::new(&format!("{tag}n"));
        let pod = TestNetns::new(&format!("{tag}p"));
        let dir = tempfile::Builder::new()
            .prefix("ferrocni-ref")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("net.d")).unwrap();
        let bridge = format!("fcbr{}", std::process::id() % 100_000);
        let list = json!({"cniVersion":"1.0.0","cniVersions":["0.4.0","1.0.0"],"name":"refnet","plugins":[
            {"type":"loopback"},
            {"type":"bridge","bridge":bridge,"isGateway":true,
             "ipam":{"type":"host-local","subnet":"10.99.7.0/24","dataDir":dir.path().join("ipam")}},
            {"type":"portmap","capabilities":{"portMappings":true},"snat":true}]});
        std::fs::write(
            dir.path().join("net.d/10-refnet.conflist"),
            list.to_string(),
        )
        .unwrap();
        Some(Setup {
            node,
            pod,
            dir,
            bridge,
        })
    }

    fn run(&self, args: &[&str], caps: Option<&str>) -> common::Run {
        let confdir = self.dir.path().join("net.d").display().to_string();
        let cache = self.dir.path().join("cache").display().to_string();
        let mut argv = vec!["--cache-dir", cache.as_str()];
        argv.extend_from_slice(args);
        let mut env = vec![("NETCONFPATH", confdir.as_str()), ("CNI_PATH", REF_BIN)];
        if let Some(c) = caps {
            env.push(("CAP_ARGS", c));
        }
        ferrocni(&argv, &env, Some(&self.node))
    }

    fn pod_path(&self) -> String {
        self.pod.path().display().to_string()
    }

    fn nat_rules(&self) -> String {
        self.node.exec_ok(&["iptables-save", "-t", "nat"])
    }
}

const CAPS: &str = r#"{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp"}]}"#;

#[test]
fn chain_add_check_del_through_the_reference_plugins() {
    let Some(s) = Setup::new("ref") else { return };
    let pod = s.pod_path();
    let out = s.run(&["add", "refnet", &pod], Some(CAPS)).ok();
    let result = out.json();
    assert_eq!(result["cniVersion"], "1.0.0");
    let ip = result["ips"][0]["address"]
        .as_str()
        .expect("an address")
        .to_string();
    assert!(ip.starts_with("10.99.7."), "{result}");
    let pod_ip = ip.split('/').next().unwrap().to_string();

    // The pod got eth0 with the address, lo is up (loopback ran first).
    let addrs = s
        .pod
        .exec_ok(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(addrs.contains(&ip), "{addrs}");
    let lo = s.pod.exec_ok(&["ip", "-o", "link", "show", "lo"]);
    assert!(lo.contains(",UP"), "{lo}");
    // The bridge exists in the node, not in the host.
    s.node.exec_ok(&["ip", "link", "show", &s.bridge]);
    let host = std::process::Command::new("ip")
        .args(["link", "show", &s.bridge])
        .output()
        .unwrap();
    assert!(
        !host.status.success(),
        "bridge leaked into the host namespace"
    );
    // portmap got its runtimeConfig: a DNAT to the pod in the node.
    let dnat = format!("--to-destination {pod_ip}:80");
    assert!(s.nat_rules().contains(&dnat), "{}", s.nat_rules());

    // Cache entry named like libcni's.
    let id = ferrocni::runtime::cnitool_container_id(&pod);
    let file = s.dir.path().join(format!("cache/results/refnet-{id}-eth0"));
    let entry = common::read_json(&file);
    assert_eq!(entry["result"]["ips"][0]["address"], ip.as_str());

    check_without_portmap(&s, &pod);

    s.run(&["del", "refnet", &pod], Some(CAPS)).ok();
    let links = s.pod.exec_ok(&["ip", "-o", "link"]);
    assert!(!links.contains("eth0"), "{links}");
    assert!(!s.nat_rules().contains(&dnat), "{}", s.nat_rules());
    assert!(!file.exists(), "cache entry removed after DEL");
    // host-local released the address (DEL had the cached prevResult).
    let ipam_dir = s.dir.path().join("ipam/refnet");
    let left: Vec<String> = std::fs::read_dir(&ipam_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("10."))
        .collect();
    assert!(left.is_empty(), "leaked reservations {left:?}");
}

/// CHECK over loopback + bridge (same network name, a list without portmap:
/// reference portmap 1.1.1's CHECK fails for IPv4-only pods whenever ip6tables
/// works, see docs/cli.md).
fn check_without_portmap(s: &Setup, pod: &str) {
    let path = s.dir.path().join("check.conflist");
    let mut list: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.dir.path().join("net.d/10-refnet.conflist")).unwrap(),
    )
    .unwrap();
    list["plugins"].as_array_mut().unwrap().pop();
    std::fs::write(&path, list.to_string()).unwrap();
    let file = path.display().to_string();
    s.run(&["--netconf", &file, "check", "refnet", pod], None)
        .ok();
    // CHECK really looks: with the pod's eth0 gone, bridge's CHECK fails.
    s.pod
        .exec_ok(&["ip", "link", "set", "eth0", "name", "moved0"]);
    let bad = s.run(&["--netconf", &file, "check", "refnet", pod], None);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.json()["code"].as_u64().is_some(), "{bad:?}");
    s.pod
        .exec_ok(&["ip", "link", "set", "moved0", "name", "eth0"]);
}
