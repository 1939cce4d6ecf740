//! ferrocni CLI targets: a conflist with `CAP_ARGS`/`CNI_ARGS` turned into each
//! plugin's request (libcni's buildOneConfig) and decoded by that plugin's
//! config parser; and the libcni-format result cache files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ferrocni::conf::NetList;
use ferrocni::runtime::{RuntimeConf, parse_cap_args, parse_cni_args};
use serde_json::{Value, json};

use super::protocol::result_seeds;
use super::{Target, join_env, split_env};
use crate::check::{Verdict, cni_error};

pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "conflist",
            about: "conflist + CAP_ARGS/CNI_ARGS -> per-plugin request -> plugin config decoders",
            seeds: conflist_seeds,
            run: conflist,
        },
        Target {
            name: "cli_cache",
            about: "ferrocni result cache files (cniCacheV1, base64 config)",
            seeds: cache_seeds,
            run: cli_cache,
        },
    ]
}

fn conflist_seeds() -> Vec<Vec<u8>> {
    let list = json!({"cniVersion": "1.0.0", "cniVersions": ["0.4.0", "1.0.0", "1.1.0"],
        "name": "podnet", "disableCheck": false, "disableGC": false, "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
            "capabilities": {"ips": true, "mac": true},
            "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]],
                "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
        {"type": "firewall", "ingressPolicy": "same-bridge"}]});
    let caps = json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
        {"HostPort": 53, "ContainerPort": 53, "Protocol": "UDP", "HostIP": "127.0.0.1"}],
        "ips": ["10.88.0.9/16"], "mac": "02:00:00:00:00:09",
        "ipRanges": [[{"subnet": "10.88.0.0/16"}]]});
    let env = [
        ("CAP_ARGS", caps.to_string()),
        ("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let single = json!({"cniVersion": "0.4.0", "name": "one", "type": "bridge"});
    vec![
        join_env(&env, list.to_string().as_bytes()),
        join_env(&env, single.to_string().as_bytes()),
    ]
}

fn conflist(input: &[u8]) -> Verdict {
    let (env, body) = split_env(input);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let rt = RuntimeConf {
        container_id: "c0ffee".into(),
        netns: "/run/netns/x".into(),
        ifname: "eth0".into(),
        args: parse_cni_args(&get("CNI_ARGS").unwrap_or_default()).unwrap_or_default(),
        cap_args: parse_cap_args(&get("CAP_ARGS").unwrap_or_default()).unwrap_or_default(),
    };
    let Ok(list) = NetList::parse(body, Path::new("fuzz.conflist")) else {
        return Ok(());
    };
    let prev: Value = serde_json::from_slice(&result_seeds()[0]).unwrap_or_default();
    for plugin in &list.plugins {
        let req = list.plugin_request(plugin, Some(&prev), Some(&rt));
        let conf = match cni::NetConf::parse(&req) {
            Ok(c) => c,
            Err(e) => {
                cni_error(&e)?;
                continue;
            }
        };
        let verdict = match conf.plugin_type.as_str() {
            "portmap" => portmap::config::Config::parse(&conf)
                .err()
                .map(|e| cni::CniError::new(e.code(), e.to_string())),
            "bridge" => bridge::config::from_parts(&conf, None).err(),
            "firewall" => firewall::config::load(&conf).err(),
            _ => None,
        };
        if let Some(e) = verdict {
            cni_error(&e)?;
        }
    }
    Ok(())
}

fn cache_seeds() -> Vec<Vec<u8>> {
    let entry = json!({"kind": "cniCacheV1", "containerId": "c0ffee",
        "config": "eyJjbmlWZXJzaW9uIjoiMS4wLjAiLCJuYW1lIjoibiIsInR5cGUiOiJicmlkZ2UifQ==",
        "ifName": "eth0", "networkName": "n", "netns": "/run/netns/x",
        "cniArgs": [["K8S_POD_NAME", "web"]], "capabilityArgs": {"portMappings": []},
        "result": serde_json::from_slice::<Value>(&result_seeds()[1]).unwrap_or_default()});
    vec![entry.to_string().into_bytes()]
}

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrocni-fuzz-cache-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    })
}

fn cli_cache(input: &[u8]) -> Verdict {
    let file = scratch().join("entry");
    std::fs::write(&file, input).map_err(|e| format!("scratch: {e}"))?;
    if let Ok(Some(entry)) = ferrocni::cache::read(&file) {
        let again = serde_json::to_vec(&entry).map_err(|e| format!("re-encode: {e}"))?;
        let back: ferrocni::cache::Entry = serde_json::from_slice(&again)
            .map_err(|e| format!("cache entry does not read back: {e}"))?;
        if back != entry {
            return Err("cache entry changed in a write/read round trip".into());
        }
    }
    Ok(())
}
