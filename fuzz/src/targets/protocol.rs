//! Protocol-crate targets: network config, prevResult round trips in every
//! version, `CNI_ARGS`, and the whole skeleton with a no-op plugin.

use std::collections::BTreeMap;

use cni::version::SUPPORTED;
use cni::{CniArgs, CniError, CniResult, NetConf, Plugin, Request};
use serde_json::{Value, json};

use super::{Target, join_env, split_env};
use crate::check::{Verdict, cni_error, error_json};

pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "netconf",
            about: "cni::NetConf::parse: shared keys, prevResult, GC attachments",
            seeds: conf_seeds,
            run: netconf,
        },
        Target {
            name: "prevresult",
            about: "CniResult::from_value, then to_value/from_value in every version",
            seeds: result_seeds,
            run: prevresult,
        },
        Target {
            name: "cni_args",
            about: "CNI_ARGS: CniArgs::parse, IgnoreUnknown, check_known",
            seeds: args_seeds,
            run: cni_args,
        },
        Target {
            name: "dispatch",
            about: "cni::skel::dispatch with a no-op plugin: env + stdin, every verb",
            seeds: dispatch_seeds,
            run: dispatch,
        },
    ]
}

/// Network configurations of every plugin and version.
pub fn conf_seeds() -> Vec<Vec<u8>> {
    let prev = result_seeds().remove(0);
    let prev: Value = serde_json::from_slice(&prev).unwrap_or_default();
    let mut out = Vec::new();
    for v in SUPPORTED {
        out.push(
            json!({"cniVersion": v.as_str(), "name": "n1", "type": "bridge",
            "bridge": "cni0", "isGateway": true, "ipMasq": true, "mtu": 1400,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.22.0.0/16"}]],
                "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "/tmp/x"},
            "dns": {"nameservers": ["10.0.0.10"], "search": ["a.b"]}}),
        );
        out.push(
            json!({"cniVersion": v.as_str(), "name": "n1", "type": "portmap",
            "capabilities": {"portMappings": true}, "snat": true, "prevResult": prev,
            "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80,
                "protocol": "tcp", "hostIP": "127.0.0.1"}]}}),
        );
    }
    out.push(
        json!({"cniVersion": "1.1.0", "name": "n", "type": "firewall",
        "cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}],
        "cni.dev/attachments": [], "args": {"cni": {"ips": ["10.0.0.5"]}}}),
    );
    out.into_iter()
        .map(|v| v.to_string().into_bytes())
        .collect()
}

/// Results in every version's layout.
pub fn result_seeds() -> Vec<Vec<u8>> {
    let legacy = json!({"cniVersion": "0.4.0",
        "interfaces": [{"name": "cni0", "mac": "aa:bb:cc:dd:ee:ff"},
            {"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "sandbox": "/run/netns/x"}],
        "ips": [{"version": "4", "interface": 1, "address": "10.88.0.5/16", "gateway": "10.88.0.1"},
            {"version": "6", "interface": 1, "address": "fd00::5/64", "gateway": "fd00::1"}],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd00::1"}],
        "dns": {"nameservers": ["1.1.1.1"], "domain": "x", "search": ["y"], "options": ["ndots:5"]}});
    let v1 = json!({"cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "mtu": 1500,
            "sandbox": "/run/netns/p", "socketPath": "/s", "pciID": "0000:00:01.0"}],
        "ips": [{"interface": 0, "address": "10.1.0.2/24", "gateway": "10.1.0.1"}],
        "routes": [{"dst": "10.2.0.0/16", "gw": "10.1.0.1", "mtu": 1400, "advmss": 1360,
            "priority": 10, "table": 100, "scope": 0}], "dns": {}});
    let old = json!({"cniVersion": "0.3.0", "ip4": {"ip": "10.0.0.2/24"},
        "ips": [{"version": "4", "address": "10.0.0.2/24"}]});
    [legacy, v1, old]
        .into_iter()
        .map(|v| v.to_string().into_bytes())
        .collect()
}

fn args_seeds() -> Vec<Vec<u8>> {
    [
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u",
        "IP=10.0.0.5,fd00::5;IgnoreUnknown=true",
        "MAC=02:00:00:00:00:01",
        "",
        ";;=;a==b;IgnoreUnknown=maybe",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn dispatch_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, conf) in conf_seeds().into_iter().enumerate() {
        let verb = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"][i % 6];
        let env = [
            ("CNI_COMMAND", verb),
            ("CNI_CONTAINERID", "c0ffee"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_NETNS", "/proc/self/ns/net"),
            ("CNI_NETNS_OVERRIDE", "1"),
            ("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=a"),
            ("CNI_PATH", "/nonexistent"),
        ];
        out.push(join_env(&env, &conf));
    }
    out
}

fn netconf(input: &[u8]) -> Verdict {
    match NetConf::parse(input) {
        Err(e) => cni_error(&e),
        Ok(c) => {
            if let Some(prev) = &c.prev_result {
                round_trip(prev)?;
            }
            if let Err(e) = c.ipam_type() {
                cni_error(&e)?;
            }
            Ok(())
        }
    }
}

/// Every version's layout reads back as exactly the converted result.
fn round_trip(r: &CniResult) -> Verdict {
    for v in SUPPORTED {
        let text = r.to_value(v);
        let back = CniResult::from_value(&text)
            .map_err(|e| format!("{v} output does not read back: {e}: {text}"))?;
        if back != r.converted(v) {
            return Err(format!("{v} round trip changed the result: {text}"));
        }
    }
    Ok(())
}

fn prevresult(input: &[u8]) -> Verdict {
    let Ok(v) = serde_json::from_slice::<Value>(input) else {
        return Ok(());
    };
    match CniResult::from_value(&v) {
        Err(e) => cni_error(&e),
        Ok(r) => round_trip(&r),
    }
}

fn cni_args(input: &[u8]) -> Verdict {
    let s = String::from_utf8_lossy(input);
    let args = match CniArgs::parse(&s) {
        Err(e) => return expect_code(&e, 4),
        Ok(a) => a,
    };
    if let Err(e) = args.check_known(&["IP", "MAC"]) {
        expect_code(&e, 4)?;
    }
    for (k, _) in &args.pairs {
        if args.get(k).is_none() {
            return Err(format!("a parsed key is missing from get(): {k:?}"));
        }
    }
    Ok(())
}

fn expect_code(e: &CniError, code: u32) -> Verdict {
    cni_error(e)?;
    if e.code != code {
        return Err(format!("expected code {code}, got {}: {}", e.code, e.msg));
    }
    Ok(())
}

/// A plugin that does nothing: ADD echoes prevResult.
struct Noop;

impl Plugin for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        Ok(req.conf.prev_result.clone().unwrap_or_default())
    }
    fn del(&self, _: &Request) -> Result<(), CniError> {
        Ok(())
    }
    fn check(&self, _: &Request) -> Result<(), CniError> {
        Ok(())
    }
}

fn dispatch(input: &[u8]) -> Verdict {
    let (env, stdin) = split_env(input);
    let env: BTreeMap<String, String> = env.into_iter().collect();
    let get = |k: &str| env.get(k).cloned();
    let out = cni::dispatch(&Noop, &get, &mut &stdin[..]);
    if out.exit_code != 0 {
        return error_json(&out.stdout);
    }
    if env.get("CNI_COMMAND").map(String::as_str) == Some("ADD") {
        let v: Value = serde_json::from_str(&out.stdout)
            .map_err(|e| format!("ADD printed non-JSON ({e}): {:?}", out.stdout))?;
        CniResult::from_value(&v).map_err(|e| format!("ADD result does not parse: {e}"))?;
        let want = NetConf::parse(stdin).map(|c| c.cni_version.as_str());
        if want.ok() != v["cniVersion"].as_str() {
            return Err(format!("ADD result version differs from the config's: {v}"));
        }
    }
    Ok(())
}
