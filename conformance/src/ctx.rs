//! The environment one plugin is exercised in: a node netns the plugin runs
//! in, a pod netns, a private data directory, and the config it is given.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use integration::{CniCall, TestNetns};
use serde_json::{Value, json};

/// Which binaries run: ours or the reference.
pub struct Target {
    pub label: &'static str,
    pub dir: PathBuf,
    pub plugin: PathBuf,
}

impl Target {
    pub fn new(label: &'static str, dir: &Path, name: &str) -> Target {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        Target {
            label,
            plugin: dir.join(name),
            dir,
        }
    }
    pub fn present(&self) -> bool {
        self.plugin.is_file()
    }
}

/// `conformance/plugins/<name>.json`: a minimal valid config for the plugin.
pub struct PluginSpec {
    pub name: String,
    pub config: Value,
    pub chained: bool,
}

impl PluginSpec {
    pub fn load(dir: &Path, name: &str) -> Option<PluginSpec> {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        Some(PluginSpec {
            name: name.to_string(),
            config: v.get("config").cloned().unwrap_or(json!({})),
            chained: v.get("chained").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

static IDS: AtomicU32 = AtomicU32::new(0);

/// Everything a case needs to make calls.
pub struct Ctx<'a> {
    pub spec: &'a PluginSpec,
    pub target: &'a Target,
    pub node: TestNetns,
    pub pod: TestNetns,
    data: PathBuf,
}

impl<'a> Ctx<'a> {
    pub fn new(spec: &'a PluginSpec, target: &'a Target) -> Ctx<'a> {
        let data = std::env::temp_dir().join(format!(
            "ferrocni-conf-{}-{}-{}",
            std::process::id(),
            spec.name,
            target.label
        ));
        let _ = std::fs::remove_dir_all(&data);
        Ctx {
            spec,
            target,
            node: TestNetns::new("cfn"),
            pod: TestNetns::new("cfp"),
            data,
        }
    }

    /// A fresh container id for one case.
    pub fn new_id(&self) -> String {
        format!(
            "conf{}x{}",
            std::process::id(),
            IDS.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The plugin's config at `version`, with a prevResult when it is chained.
    pub fn conf(&self, version: &str) -> Value {
        let text = self.spec.config.to_string().replace(
            "/tmp/ferrocni-conformance",
            &self.data.display().to_string(),
        );
        let mut c: Value = serde_json::from_str(&text).expect("config");
        c["cniVersion"] = json!(version);
        c["name"] = json!("conformance");
        c["type"] = json!(self.spec.name);
        if self.spec.chained {
            c["prevResult"] = self.prev_result(version);
        }
        c
    }

    fn prev_result(&self, version: &str) -> Value {
        let mut ip = json!({"interface": 0, "address": "10.99.0.2/24", "gateway": "10.99.0.1"});
        if version.starts_with("0.") {
            ip["version"] = json!("4");
        }
        json!({"cniVersion": version,
               "interfaces": [{"name": "eth0", "sandbox": self.pod.path().display().to_string()}],
               "ips": [ip]})
    }

    /// A call of the plugin in the node netns for attachment `id`.
    pub fn call(&self, verb: &str, id: &str) -> CniCall {
        CniCall::new(&self.target.plugin.display().to_string(), verb)
            .env("CNI_PATH", &self.target.dir.display().to_string())
            .pod(id, &self.pod.path().display().to_string(), "eth0")
            .in_node(&self.node)
    }
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
