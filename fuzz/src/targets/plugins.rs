//! Plugin config decoders, capability args included: portmap (mappings with
//! any key case), bridge, firewall; and host-local's whole ADD/CHECK/DEL/GC
//! in-process against a throwaway data directory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use cni::NetConf;
use serde_json::{Value, json};

use super::protocol::{conf_seeds, result_seeds};
use super::{Target, join_env, split_env};
use crate::check::{Verdict, cni_error, error_json};

pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "portmap_config",
            about: "portmap Config::parse: keys, portMappings (any key case), prevResult IPs",
            seeds: cap_seeds,
            run: portmap_config,
        },
        Target {
            name: "bridge_config",
            about: "bridge config::from_parts: keys, runtimeConfig mac/ips, CNI_ARGS MAC",
            seeds: cap_seeds,
            run: bridge_config,
        },
        Target {
            name: "firewall_config",
            about: "firewall config::load and the prevResult bridge/IP extraction",
            seeds: cap_seeds,
            run: firewall_config,
        },
        Target {
            name: "host_local",
            about: "host-local ADD/CHECK/DEL/GC in-process: ipam keys, ips, ipRanges, CNI_ARGS IP",
            seeds: host_local_seeds,
            run: host_local,
        },
    ]
}

/// Configs exercising every capability (portMappings, ips, ipRanges, mac).
pub fn cap_seeds() -> Vec<Vec<u8>> {
    let prev: Value = serde_json::from_slice(&result_seeds()[0]).unwrap_or_default();
    let mut out = conf_seeds();
    let extra = [
        json!({"cniVersion": "1.0.0", "name": "pm", "type": "portmap", "prevResult": prev,
            "backend": "iptables", "markMasqBit": 13, "conditionsV4": ["-s", "1.2.3.4"],
            "runtimeConfig": {"portMappings": [
                {"HostPort": 80, "ContainerPort": 8080, "Protocol": "TCP", "HostIP": "0.0.0.0"},
                {"hostPort": 53, "containerPort": 53, "protocol": "udp"},
                {"hostport": 9000, "containerport": 90, "protocol": "sctp", "hostIP": "::1"}]}}),
        json!({"cniVersion": "1.0.0", "name": "br", "type": "bridge", "bridge": "br0",
            "vlan": 10, "mtu": 9000, "hairpinMode": true, "macspoofchk": true,
            "runtimeConfig": {"mac": "02:11:22:33:44:55", "ips": ["10.0.0.9/24"]},
            "ipam": {"type": "host-local", "subnet": "10.0.0.0/24"}}),
        json!({"cniVersion": "1.0.0", "name": "fw", "type": "firewall", "prevResult": prev,
            "backend": "nftables", "ingressPolicy": "same-bridge",
            "iptablesAdminChainName": "CNI-ADMIN",
            "allow": [{"ports": ["80", "1000-2000/udp"], "from": ["10.0.0.0/8"]}]}),
    ];
    out.extend(extra.iter().map(|v| v.to_string().into_bytes()));
    out
}

fn parsed(input: &[u8]) -> Result<Option<NetConf>, String> {
    match NetConf::parse(input) {
        Ok(c) => Ok(Some(c)),
        Err(e) => cni_error(&e).map(|_| None),
    }
}

fn portmap_config(input: &[u8]) -> Verdict {
    let Some(conf) = parsed(input)? else {
        return Ok(());
    };
    match portmap::config::Config::parse(&conf) {
        Err(e) => cni_error(&cni::CniError::new(e.code(), e.to_string())),
        Ok(_) => {
            if let Some(prev) = &conf.prev_result {
                portmap::config::container_ips(prev, "eth0");
            }
            Ok(())
        }
    }
}

fn bridge_config(input: &[u8]) -> Verdict {
    let (env, body) = split_env(input);
    let Some(conf) = parsed(body)? else {
        return Ok(());
    };
    let mac = env
        .iter()
        .find(|(k, _)| k == "MAC")
        .map(|(_, v)| v.as_str());
    match bridge::config::from_parts(&conf, mac) {
        Err(e) => cni_error(&e),
        Ok(_) => Ok(()),
    }
}

fn firewall_config(input: &[u8]) -> Verdict {
    let Some(conf) = parsed(input)? else {
        return Ok(());
    };
    if let Err(e) = firewall::config::load(&conf) {
        cni_error(&e)?;
    }
    if let Some(prev) = &conf.prev_result {
        if let Err(e) = firewall::attach::bridge_of(prev) {
            cni_error(&cni::CniError::from(e))?;
        }
        firewall::attach::ips_of(prev);
    }
    Ok(())
}

fn host_local_seeds() -> Vec<Vec<u8>> {
    let confs = [
        json!({"cniVersion": "1.0.0", "name": "hl", "type": "host-local",
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.5.0.0/29"}],
                [{"subnet": "fd05::/120", "rangeStart": "fd05::10", "rangeEnd": "fd05::20"}]],
                "routes": [{"dst": "0.0.0.0/0", "gw": "10.5.0.1"}]}}),
        json!({"cniVersion": "0.3.1", "name": "hl", "type": "bridge",
            "ipam": {"type": "host-local", "subnet": "10.6.0.0/24", "gateway": "10.6.0.254",
                "rangeStart": "10.6.0.10", "rangeEnd": "10.6.0.12"}}),
        json!({"cniVersion": "1.1.0", "name": "hl", "type": "host-local",
            "cni.dev/valid-attachments": [{"containerID": "other", "ifname": "eth0"}],
            "args": {"cni": {"ips": ["10.7.0.9"]}},
            "runtimeConfig": {"ips": ["10.7.0.8/24"], "ipRanges": [[{"subnet": "10.7.0.0/24"}]]},
            "ipam": {"type": "host-local", "reclaimAfterReboot": true}}),
    ];
    let mut out = Vec::new();
    for (i, c) in confs.iter().enumerate() {
        for verb in ["ADD", "CHECK", "DEL", "GC"] {
            let args = if i == 0 {
                "IP=10.5.0.3"
            } else {
                "IgnoreUnknown=1"
            };
            let env = [("CNI_COMMAND", verb), ("CNI_ARGS", args)];
            out.push(join_env(&env, c.to_string().as_bytes()));
        }
    }
    out
}

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrocni-fuzz-hl-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    })
}

/// The config with `dataDir` (any case) forced into the scratch directory
/// and `resolvConf` removed, so no input can touch files outside it (an
/// absent `ipam` would mean the host's default data directory on DEL/GC).
fn confine(body: &[u8], data_dir: &str) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    if let Some(obj) = v.as_object_mut()
        && obj.get("ipam").is_none_or(Value::is_null)
    {
        obj.insert("ipam".into(), json!({}));
    }
    if let Some(ipam) = v.get_mut("ipam").and_then(Value::as_object_mut) {
        ipam.retain(|k, _| {
            let k = k.to_ascii_lowercase();
            k != "datadir" && k != "resolvconf"
        });
        ipam.insert("dataDir".into(), data_dir.into());
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

fn host_local(input: &[u8]) -> Verdict {
    let (env, body) = split_env(input);
    let dir = scratch();
    let body = confine(body, &dir.display().to_string());
    let mut map: BTreeMap<String, String> = env.into_iter().collect();
    map.entry("CNI_COMMAND".into())
        .or_insert_with(|| "ADD".into());
    map.entry("CNI_CONTAINERID".into())
        .or_insert_with(|| "fuzz".into());
    map.entry("CNI_IFNAME".into())
        .or_insert_with(|| "eth0".into());
    map.insert("CNI_NETNS".into(), "/proc/self/ns/net".into());
    map.insert("CNI_NETNS_OVERRIDE".into(), "1".into());
    map.insert("CNI_PATH".into(), "/nonexistent".into());
    let get = |k: &str| map.get(k).cloned();
    let out = cni::dispatch(&host_local::HostLocal, &get, &mut &body[..]);
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::create_dir_all(dir);
    if out.exit_code != 0 {
        return error_json(&out.stdout);
    }
    Ok(())
}
