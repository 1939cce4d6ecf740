//! The OCI container state read on stdin, parsed leniently (runc, crun and
//! youki differ: status, extra keys), completed from the bundle's
//! `config.json` (annotations, `linux.cgroupsPath`), and the Kubernetes
//! identity found in annotations (container name, pod, sandbox or not).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value as Json;

use crate::annotations;
use crate::error::{Error, Result};
use crate::text::Esc;

/// What the hook knows about the container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    pub pid: Option<i32>,
    pub bundle: Option<PathBuf>,
    pub annotations: BTreeMap<String, String>,
    pub cgroups_path: Option<String>,
}

fn string_map(v: Option<&Json>) -> BTreeMap<String, String> {
    v.and_then(Json::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses the state JSON; `config.json` is read from the bundle when present.
pub fn load(state_json: &str) -> Result<Container> {
    let v: Json = serde_json::from_str(state_json).map_err(|e| Error::State(e.to_string()))?;
    if !v.is_object() {
        return Err(Error::State("not a JSON object".into()));
    }
    let pid = match v.get("pid") {
        None | Some(Json::Null) => None,
        Some(p) => Some(
            p.as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| Error::State(format!("bad pid {p}")))?,
        ),
    };
    let mut c = Container {
        id: v
            .get("id")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string(),
        pid,
        bundle: v
            .get("bundle")
            .and_then(Json::as_str)
            .filter(|b| !b.is_empty())
            .map(PathBuf::from),
        annotations: string_map(v.get("annotations")),
        cgroups_path: None,
    };
    if let Some(b) = &c.bundle {
        let path = b.join("config.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => merge_config(&mut c, &text)
                .map_err(|e| Error::State(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    merge_crio_blob(&mut c);
    Ok(c)
}

/// Adds `config.json` annotations missing from the state, and cgroupsPath.
fn merge_config(c: &mut Container, text: &str) -> std::result::Result<(), String> {
    let v: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (k, val) in string_map(v.get("annotations")) {
        c.annotations.entry(k).or_insert(val);
    }
    c.cgroups_path = v
        .pointer("/linux/cgroupsPath")
        .and_then(Json::as_str)
        .map(String::from);
    Ok(())
}

/// CRI-O also carries the Kubernetes annotations as a JSON blob; take our
/// domain's keys from it when they are not set directly.
fn merge_crio_blob(c: &mut Container) {
    let Some(blob) = c.annotations.get("io.kubernetes.cri-o.Annotations") else {
        return;
    };
    let Ok(v) = serde_json::from_str::<Json>(blob) else {
        return;
    };
    for (k, val) in string_map(Some(&v)) {
        if annotations::is_ours(&k) {
            c.annotations.entry(k).or_insert(val);
        }
    }
}

impl Container {
    fn get(&self, keys: &[&str]) -> Option<&str> {
        keys.iter()
            .find_map(|k| self.annotations.get(*k))
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// True for the pod sandbox (pause) container.
    pub fn is_sandbox(&self) -> bool {
        self.get(&[
            "io.kubernetes.cri.container-type",
            "io.kubernetes.cri-o.ContainerType",
        ]) == Some("sandbox")
    }

    /// The Kubernetes container name, if any.
    pub fn name(&self) -> Option<&str> {
        self.get(&[
            "io.kubernetes.cri.container-name",
            "io.kubernetes.container.name",
        ])
    }

    /// `namespace/name` of the pod, if known.
    pub fn pod(&self) -> Option<String> {
        let name = self.get(&["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"])?;
        let ns = self.get(&[
            "io.kubernetes.cri.sandbox-namespace",
            "io.kubernetes.pod.namespace",
        ]);
        Some(ns.map_or(name.to_string(), |ns| format!("{ns}/{name}")))
    }

    /// Message prefix: `pod ns/name container web` or `container <id>`.
    pub fn context(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.pod() {
            parts.push(format!("pod {}", Esc(p)));
        }
        match (self.name(), self.id.is_empty()) {
            (Some(n), _) => parts.push(format!("container {}", Esc(n))),
            (None, false) => parts.push(format!("container {}", Esc(&self.id))),
            (None, true) => {}
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_and_crun_states() {
        let runc = r#"{"ociVersion":"1.2.0","id":"abc","status":"creating","pid":42,"bundle":"","annotations":{"io.kubernetes.cri.container-name":"web","io.kubernetes.cri.sandbox-name":"p","io.kubernetes.cri.sandbox-namespace":"ns","x":1}}"#;
        let c = load(runc).unwrap();
        assert_eq!(
            (c.id.as_str(), c.pid, c.name()),
            ("abc", Some(42), Some("web"))
        );
        assert_eq!(c.context(), "pod ns/p container web");
        assert!(!c.annotations.contains_key("x"));
        let crun = r#"{"ociVersion":"1.0","id":"def","status":"created","pid":7,"root":"/run/crun/def","bundle":"/nonexistent/b"}"#;
        let c = load(crun).unwrap();
        assert_eq!((c.pid, c.context()), (Some(7), "container def".to_string()));
    }

    #[test]
    fn bundle_config_completes_the_state() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("config.json"),
            r#"{"annotations":{"io.kubernetes.cri-o.ContainerType":"sandbox","a":"config"},"linux":{"cgroupsPath":"s.slice:crio:abc"}}"#,
        )
        .unwrap();
        let st = format!(
            r#"{{"id":"x","pid":1,"bundle":"{}","annotations":{{"a":"state"}}}}"#,
            t.path().display()
        );
        let c = load(&st).unwrap();
        assert!(c.is_sandbox());
        assert_eq!(c.annotations["a"], "state");
        assert_eq!(c.cgroups_path.as_deref(), Some("s.slice:crio:abc"));
        std::fs::write(t.path().join("config.json"), "{").unwrap();
        assert!(load(&st).unwrap_err().to_string().contains("config.json"));
    }

    #[test]
    fn crio_blob_and_bad_input() {
        let st = r#"{"id":"x","pid":3,"annotations":{"io.kubernetes.cri-o.Annotations":"{\"memory.max.ferrocni.dev/POD\":\"1Gi\",\"other\":\"y\"}"}}"#;
        let c = load(st).unwrap();
        assert_eq!(c.annotations["memory.max.ferrocni.dev/POD"], "1Gi");
        assert!(!c.annotations.contains_key("other"));
        for bad in ["", "[]", "{\"pid\":-1}", "{\"pid\":\"x\"}", "nope"] {
            assert!(load(bad).is_err(), "{bad}");
        }
        assert_eq!(load("{}").unwrap().pid, None);
    }
}
