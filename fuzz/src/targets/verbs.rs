//! The plugins' whole ADD/CHECK/DEL/GC/STATUS in-process (bridge, portmap,
//! firewall; bridge delegating to the real host-local binary), on fuzzed
//! configs and env. Every call runs on a thread that has moved itself into
//! a fresh network namespace (renewed every few hundred inputs; nothing
//! runs if that fails), with `dataDir` and `recordDir` forced into a
//! scratch directory, so no input can reach the host's network or files.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::plugins::cap_seeds;
use super::{Target, join_env, split_env};
use crate::check::{Verdict, error_json};

pub fn targets() -> Vec<Target> {
    vec![Target {
        name: "plugin_verbs",
        about: "bridge/portmap/firewall verbs in-process in a throwaway netns, fuzzed config + env",
        seeds,
        run,
    }]
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, conf) in cap_seeds().into_iter().enumerate() {
        let verb = ["ADD", "CHECK", "DEL", "GC", "STATUS"][i % 5];
        out.push(join_env(
            &[("CNI_COMMAND", verb), ("CNI_IFNAME", "eth0")],
            &conf,
        ));
    }
    let br = json!({"cniVersion": "1.0.0", "name": "fzbr", "type": "bridge", "bridge": "fzbr0",
        "isGateway": true, "ipMasq": true, "hairpinMode": true,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.99.0.0/24"}]]}});
    out.push(join_env(
        &[("CNI_COMMAND", "ADD")],
        br.to_string().as_bytes(),
    ));
    out
}

thread_local! {
    /// Calls on this thread, and whether it is in a namespace of its own.
    static STATE: Cell<(u32, bool)> = const { Cell::new((0, false)) };
}

/// Moves this thread into a fresh netns every 300 calls; false unless the
/// thread is in a namespace it made.
fn fresh_netns() -> bool {
    STATE.with(|s| {
        let (n, mut own) = s.get();
        if n % 300 == 0 {
            // SAFETY: unshare only changes this thread's namespaces.
            own = unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0;
        }
        s.set((n.wrapping_add(1), own));
        own
    })
}

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrocni-fuzz-verbs-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    })
}

/// The config with every path the plugins write to forced into scratch.
fn confine(body: &[u8]) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let dir = scratch();
    let o = v.as_object_mut()?;
    o.retain(|k, _| !k.eq_ignore_ascii_case("recordDir"));
    o.insert("recordDir".into(), json!(dir.join("records")));
    if o.get("ipam").is_none_or(Value::is_null) {
        o.insert("ipam".into(), json!({}));
    }
    if let Some(ipam) = o.get_mut("ipam").and_then(Value::as_object_mut) {
        ipam.retain(|k, _| {
            let k = k.to_ascii_lowercase();
            k != "datadir" && k != "resolvconf"
        });
        ipam.insert("dataDir".into(), json!(dir.join("ipam")));
    }
    Some(v)
}

fn run(input: &[u8]) -> Verdict {
    let (env, body) = split_env(input);
    let Some(conf) = confine(body) else {
        return Ok(());
    };
    if !fresh_netns() {
        return Ok(());
    }
    let mut map: BTreeMap<String, String> = env.into_iter().collect();
    map.entry("CNI_COMMAND".into())
        .or_insert_with(|| "ADD".into());
    map.entry("CNI_CONTAINERID".into())
        .or_insert_with(|| "fz".into());
    map.entry("CNI_IFNAME".into())
        .or_insert_with(|| "eth0".into());
    map.insert("CNI_NETNS".into(), "/proc/thread-self/ns/net".into());
    map.insert("CNI_NETNS_OVERRIDE".into(), "1".into());
    map.insert(
        "CNI_PATH".into(),
        integration::bin_dir().display().to_string(),
    );
    let stdin = conf.to_string();
    let plugin: &dyn cni::Plugin = match conf["type"].as_str() {
        Some("portmap") => &portmap::Portmap,
        Some("firewall") => &firewall::Firewall,
        _ => &bridge::Bridge,
    };
    let get = |k: &str| map.get(k).cloned();
    let out = cni::dispatch(plugin, &get, &mut stdin.as_bytes());
    if std::env::var_os("FERROCNI_FUZZ_TRACE").is_some() {
        eprintln!("{} {} -> {}", map["CNI_COMMAND"], stdin, out.stdout);
    }
    if map["CNI_COMMAND"] == "ADD" {
        map.insert("CNI_COMMAND".into(), "DEL".into());
        let get = |k: &str| map.get(k).cloned();
        let del = cni::dispatch(plugin, &get, &mut stdin.as_bytes());
        if del.exit_code != 0 {
            error_json(&del.stdout).map_err(|e| format!("{e} [DEL after ADD]"))?;
        }
    }
    if out.exit_code != 0 {
        return error_json(&out.stdout);
    }
    Ok(())
}
