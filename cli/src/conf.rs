//! Network configuration lists: loading from `NETCONFPATH` like libcni, the
//! version choice, and the per-plugin request configuration.
//!
//! Search order (libcni `LoadNetworkConf`): `*.conflist` files sorted by name,
//! then `*.conf` / `*.json` sorted by name; the first whose `name` matches
//! wins. A single-plugin file becomes a one-plugin list
//! `{"cniVersion", "name", "plugins": [file]}`, and those bytes are what the
//! result cache stores. Version: the highest entry of `cniVersions` (plus
//! `cniVersion`) that ferrocni supports; otherwise `cniVersion`.

use std::path::{Path, PathBuf};

use cni::Version;
use serde_json::{Map, Value};

use crate::error::CliError;
use crate::runtime::RuntimeConf;

/// A loaded network configuration list.
#[derive(Debug, Clone)]
pub struct NetList {
    pub name: String,
    pub version: Version,
    pub disable_check: bool,
    pub disable_gc: bool,
    /// Each plugin's configuration object, in list order.
    pub plugins: Vec<Map<String, Value>>,
    /// The list's bytes (cached as `config`).
    pub bytes: Vec<u8>,
    pub source: PathBuf,
}

impl NetList {
    /// Parses a file's bytes: a list when it has `plugins`, else one plugin.
    pub fn parse(bytes: &[u8], source: &Path) -> Result<NetList, CliError> {
        let err = |msg: String| CliError::Config {
            path: source.to_path_buf(),
            msg,
        };
        let v: Value = serde_json::from_slice(bytes).map_err(|e| err(format!("not JSON: {e}")))?;
        let Value::Object(mut obj) = v else {
            return Err(err("must be a JSON object".into()));
        };
        let mut bytes = bytes.to_vec();
        if !obj.contains_key("plugins") {
            let mut list = Map::new();
            for key in ["cniVersion", "name"] {
                list.insert(key.into(), obj.get(key).cloned().unwrap_or(Value::Null));
            }
            list.insert("plugins".into(), Value::Array(vec![Value::Object(obj)]));
            bytes = serde_json::to_vec(&list).map_err(|e| err(e.to_string()))?;
            obj = list;
        }
        let list = from_object(&obj).map_err(err)?;
        Ok(NetList {
            bytes,
            source: source.to_path_buf(),
            ..list
        })
    }

    /// Loads a file given with `--netconf`.
    pub fn load_file(path: &Path) -> Result<NetList, CliError> {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::io(format!("reading {}", path.display()), e))?;
        NetList::parse(&bytes, path)
    }

    /// Finds network `name` in `dir` the way libcni does.
    pub fn load_dir(dir: &Path, name: &str) -> Result<NetList, CliError> {
        let mut lists = files(dir, &["conflist"])?;
        lists.extend(files(dir, &["conf", "json"])?);
        for f in &lists {
            let list = NetList::load_file(f)?;
            if list.name == name {
                return Ok(list);
            }
        }
        Err(CliError::NetworkNotFound {
            name: name.into(),
            dir: dir.to_path_buf(),
        })
    }

    /// The request configuration for one plugin (libcni `buildOneConfig`):
    /// the plugin's keys plus `name`, `cniVersion`, `prevResult` when given,
    /// and `runtimeConfig` built from the capabilities the plugin declares.
    pub fn plugin_request(
        &self,
        plugin: &Map<String, Value>,
        prev: Option<&Value>,
        rt: Option<&RuntimeConf>,
    ) -> Vec<u8> {
        let mut conf = plugin.clone();
        conf.insert("name".into(), Value::String(self.name.clone()));
        conf.insert("cniVersion".into(), self.version.as_str().into());
        if let Some(prev) = prev {
            conf.insert("prevResult".into(), prev.clone());
        }
        if let Some(rt) = rt {
            let rc = runtime_config(plugin, &rt.cap_args);
            if !rc.is_empty() {
                conf.insert("runtimeConfig".into(), Value::Object(rc));
            }
        }
        serde_json::to_vec(&conf).unwrap_or_default()
    }
}

/// libcni `injectRuntimeConfig`: only capabilities set to `true` in the
/// plugin's `capabilities` and present in the capability args.
pub fn runtime_config(
    plugin: &Map<String, Value>,
    cap_args: &Map<String, Value>,
) -> Map<String, Value> {
    let Some(Value::Object(caps)) = plugin.get("capabilities") else {
        return Map::new();
    };
    caps.iter()
        .filter(|(_, on)| on.as_bool() == Some(true))
        .filter_map(|(cap, _)| cap_args.get(cap).map(|v| (cap.clone(), v.clone())))
        .collect()
}

fn from_object(obj: &Map<String, Value>) -> Result<NetList, String> {
    let name = match obj.get("name") {
        Some(Value::String(n)) => n.clone(),
        Some(other) => return Err(format!("name must be a string, got {other}")),
        None => return Err("no network name".into()),
    };
    cni::config::validate_network_name(&name).map_err(|e| e.msg)?;
    let version = choose_version(obj)?;
    let plugins = match obj.get("plugins") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) => return Err("no plugins in list".into()),
        _ => return Err("plugins must be an array".into()),
    };
    let mut out = Vec::new();
    for (i, p) in plugins.iter().enumerate() {
        match p {
            Value::Object(m)
                if m.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty()) =>
            {
                out.push(m.clone())
            }
            _ => return Err(format!("plugins[{i}]: must be an object with a \"type\"")),
        }
    }
    Ok(NetList {
        name,
        version,
        disable_check: read_bool(obj, "disableCheck")?,
        disable_gc: read_bool(obj, "disableGC")?,
        plugins: out,
        bytes: Vec::new(),
        source: PathBuf::new(),
    })
}

/// The highest supported version among `cniVersions` and `cniVersion`;
/// without `cniVersions`, `cniVersion` itself (which must be supported).
pub fn choose_version(obj: &Map<String, Value>) -> Result<Version, String> {
    let single = match obj.get("cniVersion") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => return Err(format!("cniVersion must be a string, got {other}")),
    };
    let mut candidates: Vec<&str> = single.into_iter().collect();
    match obj.get("cniVersions") {
        None => {}
        Some(Value::Array(vs)) => {
            for v in vs {
                candidates.push(
                    v.as_str()
                        .ok_or(format!("cniVersions: {v} is not a string"))?,
                );
            }
        }
        Some(other) => return Err(format!("cniVersions must be an array, got {other}")),
    }
    if let Some(best) = candidates
        .iter()
        .filter_map(|s| Version::parse(s).ok())
        .max()
    {
        return Ok(best);
    }
    match single {
        Some(s) => Version::parse(s).map_err(|e| e.msg),
        None if !candidates.is_empty() => Err(format!(
            "none of cniVersions {candidates:?} is supported (ferrocni supports {})",
            supported_list()
        )),
        None => Err(cni::version::missing_version().msg),
    }
}

fn supported_list() -> String {
    let all: Vec<&str> = cni::version::SUPPORTED.iter().map(|v| v.as_str()).collect();
    all.join(", ")
}

/// libcni's `readBool`: a JSON bool, or the strings "true"/"false" (any case).
fn read_bool(obj: &Map<String, Value>, key: &str) -> Result<bool, String> {
    match obj.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(format!("{key}: invalid value {other}")),
    }
}

/// Regular files in `dir` with one of `exts`, sorted by name. A missing
/// directory has no files.
fn files(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>, CliError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CliError::io(format!("reading {}", dir.display()), e)),
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
        })
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(v: Value) -> Result<NetList, CliError> {
        NetList::parse(v.to_string().as_bytes(), Path::new("/t.conflist"))
    }

    #[test]
    fn version_is_the_highest_supported_of_cni_versions() {
        let l = list(
            json!({"name":"n","cniVersion":"0.3.1","cniVersions":["1.0.0","0.4.0","9.9.9"],
            "plugins":[{"type":"x"}]}),
        )
        .unwrap();
        assert_eq!(l.version, Version::V1_0_0);
        let l = list(json!({"name":"n","cniVersion":"1.1.0","cniVersions":["1.0.0"],"plugins":[{"type":"x"}]}))
            .unwrap();
        assert_eq!(l.version, Version::V1_1_0);
        let l = list(json!({"name":"n","cniVersions":["0.4.0"],"plugins":[{"type":"x"}]})).unwrap();
        assert_eq!(l.version, Version::V0_4_0);
        let e =
            list(json!({"name":"n","cniVersion":"0.2.0","plugins":[{"type":"x"}]})).unwrap_err();
        assert!(e.to_string().contains("0.2.0"), "{e}");
        assert!(list(json!({"name":"n","plugins":[{"type":"x"}]})).is_err());
        let e = list(json!({"name":"n","cniVersions":["0.2.0","3.0.0"],"plugins":[{"type":"x"}]}))
            .unwrap_err();
        assert!(e.to_string().contains("3.0.0"), "{e}");
    }

    #[test]
    fn a_single_plugin_conf_becomes_a_list() {
        let l = list(json!({"cniVersion":"0.4.0","name":"lo","type":"loopback"})).unwrap();
        assert_eq!(l.plugins.len(), 1);
        assert_eq!(l.plugins[0]["type"], "loopback");
        let cached: Value = serde_json::from_slice(&l.bytes).unwrap();
        assert_eq!(cached["plugins"][0]["name"], "lo");
        assert_eq!(cached["name"], "lo");
    }

    #[test]
    fn runtime_config_only_carries_declared_capabilities() {
        let plugin =
            json!({"type":"portmap","capabilities":{"portMappings":true,"bandwidth":false}});
        let caps =
            json!({"portMappings":[{"hostPort":8080}],"bandwidth":{"ingressRate":1},"mac":"x"});
        let rc = runtime_config(plugin.as_object().unwrap(), caps.as_object().unwrap());
        assert_eq!(rc.keys().collect::<Vec<_>>(), ["portMappings"]);
        let none = runtime_config(
            json!({"type":"bridge"}).as_object().unwrap(),
            caps.as_object().unwrap(),
        );
        assert!(none.is_empty());
    }

    #[test]
    fn plugin_request_injects_name_version_prev_and_runtime_config() {
        let l = list(json!({"name":"n","cniVersion":"1.0.0","plugins":[
            {"type":"a","cniVersion":"0.3.1","runtimeConfig":{"static":1}},
            {"type":"b","capabilities":{"mac":true},"runtimeConfig":{"static":2}}]}))
        .unwrap();
        let rt = RuntimeConf {
            cap_args: json!({"mac":"aa"}).as_object().unwrap().clone(),
            ..RuntimeConf::default()
        };
        let a: Value =
            serde_json::from_slice(&l.plugin_request(&l.plugins[0], None, Some(&rt))).unwrap();
        assert_eq!(
            (a["name"].as_str(), a["cniVersion"].as_str()),
            (Some("n"), Some("1.0.0"))
        );
        assert!(a.get("prevResult").is_none());
        assert_eq!(a["runtimeConfig"], json!({"static":1}));
        let prev = json!({"cniVersion":"1.0.0"});
        let b: Value =
            serde_json::from_slice(&l.plugin_request(&l.plugins[1], Some(&prev), Some(&rt)))
                .unwrap();
        assert_eq!(b["runtimeConfig"], json!({"mac":"aa"}));
        assert_eq!(b["prevResult"], prev);
    }

    #[test]
    fn bad_lists_name_the_problem() {
        for (v, want) in [
            (
                json!({"name":"n","cniVersion":"1.0.0","plugins":[]}),
                "no plugins",
            ),
            (
                json!({"name":"n","cniVersion":"1.0.0","plugins":[{"x":1}]}),
                "plugins[0]",
            ),
            (
                json!({"name":"a/b","cniVersion":"1.0.0","plugins":[{"type":"x"}]}),
                "a/b",
            ),
            (
                json!({"name":"n","cniVersion":"1.0.0","disableCheck":"maybe","plugins":[{"type":"x"}]}),
                "disableCheck",
            ),
        ] {
            let e = list(v).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
