//! The node policy file (JSON, default `/etc/ferrocni/cgroup-policy.json`):
//! default mode, `on_error`, tighten-only, allowed knobs, per-knob bounds and
//! workload classes. Loaded and fully checked before any annotation is used.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::knob::{Knob, Value};

/// Default policy path.
pub const DEFAULT_PATH: &str = "/etc/ferrocni/cgroup-policy.json";

/// Whether limits are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Enforce,
    DryRun,
}

/// What a bad value does to the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Fail the container (non-zero exit), nothing written.
    Reject,
    /// Warn, skip the bad knob, apply the rest.
    Warn,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoundsFile {
    min: Option<String>,
    max: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    comment: Option<serde_json::Value>,
    mode: Option<Mode>,
    on_error: Option<OnError>,
    tighten_only: Option<bool>,
    allowed_knobs: Option<Vec<String>>,
    #[serde(default)]
    bounds: BTreeMap<String, BoundsFile>,
    #[serde(default)]
    classes: BTreeMap<String, BTreeMap<String, String>>,
}

/// Inclusive bounds of a scalar knob.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bounds {
    pub min: Option<Value>,
    pub max: Option<Value>,
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub on_error: OnError,
    pub tighten_only: bool,
    /// Knobs annotations may set (classes may set any knob).
    pub allowed: Vec<Knob>,
    pub bounds: BTreeMap<Knob, Bounds>,
    /// Class name -> knob -> raw value (same grammar as annotations).
    pub classes: BTreeMap<String, BTreeMap<Knob, String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode: Mode::Enforce,
            on_error: OnError::Reject,
            tighten_only: true,
            allowed: Knob::ALL
                .into_iter()
                .filter(|k| !k.is_protection())
                .collect(),
            bounds: BTreeMap::new(),
            classes: BTreeMap::new(),
        }
    }
}

fn knob(name: &str, ctx: &str) -> std::result::Result<Knob, String> {
    Knob::from_file(name).ok_or_else(|| format!("{ctx}: unknown knob {name:?}"))
}

impl Policy {
    /// Loads `path`; a missing file at the default path means the built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Policy> {
        let p: PathBuf = path.map_or_else(|| DEFAULT_PATH.into(), Into::into);
        match std::fs::read_to_string(&p) {
            Ok(text) => Policy::parse(&text).map_err(|msg| Error::Policy { path: p, msg }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.is_none() => {
                Ok(Policy::default())
            }
            Err(e) => Err(Error::io(p, e)),
        }
    }

    /// Parses and checks policy JSON.
    pub fn parse(text: &str) -> std::result::Result<Policy, String> {
        let f: PolicyFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let _ = f.comment;
        let mut p = Policy::default();
        p.mode = f.mode.unwrap_or(p.mode);
        p.on_error = f.on_error.unwrap_or(p.on_error);
        p.tighten_only = f.tighten_only.unwrap_or(true);
        if let Some(list) = f.allowed_knobs {
            p.allowed = list
                .iter()
                .map(|n| knob(n, "allowed_knobs"))
                .collect::<std::result::Result<_, _>>()?;
        }
        for (name, b) in f.bounds {
            let k = knob(&name, "bounds")?;
            let parse = |s: &Option<String>| -> std::result::Result<Option<Value>, String> {
                let Some(s) = s else { return Ok(None) };
                let v = k.parse(s).map_err(|e| format!("bounds.{name}: {e}"))?;
                let probe = v.at_most(&v);
                probe.map(|_| Some(v)).ok_or_else(|| {
                    format!("bounds.{name}: {name} has no order, bounds do not apply")
                })
            };
            p.bounds.insert(
                k,
                Bounds {
                    min: parse(&b.min)?,
                    max: parse(&b.max)?,
                },
            );
        }
        for (class, knobs) in f.classes {
            let mut m = BTreeMap::new();
            for (name, raw) in knobs {
                let ctx = format!("classes.{class}");
                let k = knob(&name, &ctx)?;
                k.parse(&raw).map_err(|e| format!("{ctx}.{name}: {e}"))?;
                m.insert(k, raw);
            }
            p.classes.insert(class, m);
        }
        Ok(p)
    }

    /// Checks an annotation value against the allowlist and bounds.
    pub fn check(&self, knob: Knob, v: &Value) -> std::result::Result<(), String> {
        if !self.allowed.contains(&knob) {
            let why = if knob.is_protection() {
                " (a protection: the node policy must allowlist it)"
            } else {
                ""
            };
            return Err(format!(
                "{} is not allowed by the node policy{why}",
                knob.file()
            ));
        }
        let Some(b) = self.bounds.get(&knob) else {
            return Ok(());
        };
        if let Some(min) = &b.min
            && v.at_most(min) == Some(true)
            && min.at_most(v) != Some(true)
        {
            return Err(format!("below the node minimum {}", min.describe()));
        }
        if let Some(max) = &b.max
            && v.at_most(max) == Some(false)
        {
            return Err(format!("above the node maximum {}", max.describe()));
        }
        Ok(())
    }

    /// Names of classes, for "did you mean".
    pub fn class_names(&self) -> impl Iterator<Item = &str> {
        self.classes.keys().map(String::as_str)
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
