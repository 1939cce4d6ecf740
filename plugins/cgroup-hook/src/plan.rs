//! Phase one, against the target cgroup, before anything is written:
//! controller availability, device resolution, tighten-only, cross-checks
//! (`memory.high <= memory.max`, `memory.low <= memory.high`, cpuset within
//! the parent's effective set). The result is the list of writes, or problems.

use std::collections::BTreeMap;

use crate::assess::{Assessment, assess};
use crate::cgfs::CgroupFiles;
use crate::cpuset::CpuSet;
use crate::iodev::Resolver;
use crate::knob::{Knob, Value};
use crate::quantity::Limit;
use crate::text::Esc;

/// Where a wanted value comes from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Annotation {
        key: String,
        raw: String,
    },
    Class {
        class: String,
        via: String,
        raw: String,
    },
}

impl Source {
    /// `annotation K="V"` or `class NAME (via KEY) knob="V"`.
    pub fn describe(&self, knob: Knob) -> String {
        match self {
            Source::Annotation { key, raw } => format!("annotation {}={raw:?}", Esc(key)),
            Source::Class { class, via, raw } => {
                format!(
                    "class {} ({}) {}={raw:?}",
                    Esc(class),
                    Esc(via),
                    knob.file()
                )
            }
        }
    }

    pub fn is_class(&self) -> bool {
        matches!(self, Source::Class { .. })
    }
}

/// A parsed wanted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub knob: Knob,
    pub value: Value,
    pub source: Source,
}

/// A value that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub knob: Knob,
    pub source: Source,
    pub reason: String,
}

impl Problem {
    pub fn line(&self) -> String {
        format!("{}: {}", self.source.describe(self.knob), Esc(&self.reason))
    }
}

/// One file to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub knob: Knob,
    /// Resolved value (devices as MAJ:MIN), for verification.
    pub value: Value,
    pub old: String,
    pub change: Assessment,
}

/// Phase one's result.
#[derive(Debug, Default)]
pub struct Plan {
    pub writes: Vec<Write>,
    /// Class values skipped because the cgroup is already tighter, etc.
    pub notes: Vec<String>,
    pub problems: Vec<Problem>,
}

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// Checks the knob's controller is available to the cgroup.
fn controller_ok(
    knob: Knob,
    controllers: &[&str],
    parent_subtree: &[&str],
    path: &str,
) -> Result<(), String> {
    let c = knob.controller();
    if !parent_subtree.contains(&c) {
        return Err(format!(
            "controller {c} not enabled for {path} (parent cgroup.subtree_control lacks +{c})"
        ));
    }
    if !controllers.contains(&c) {
        return Err(format!(
            "controller {c} not available in {path} (cgroup.controllers)"
        ));
    }
    Ok(())
}

fn resolve(v: &Value, r: &Resolver) -> Result<Value, String> {
    Ok(match v {
        Value::IoMax(m) => Value::IoMax(m.resolve(r).map_err(|e| e.to_string())?),
        Value::IoWeight(w) => Value::IoWeight(w.resolve(r).map_err(|e| e.to_string())?),
        other => other.clone(),
    })
}

/// Plans one request: `Ok(Err(why))` when it is looser than the cgroup.
fn plan_one(
    req: &Request,
    fs: &dyn CgroupFiles,
    r: &Resolver,
    tighten_only: bool,
) -> Result<Result<Write, String>, String> {
    let file = req.knob.file();
    let value = resolve(&req.value, r)?;
    let old = fs
        .read(file)
        .map_err(|e| format!("cannot read {file}: {e}"))?;
    let effective = match req.knob {
        Knob::CpusetCpus | Knob::CpusetMems => {
            let eff = fs
                .read_parent(&format!("{file}.effective"))
                .map_err(|e| format!("cannot read parent {file}.effective: {e}"))?;
            let eff = CpuSet::parse(&eff).map_err(|e| e.to_string())?;
            if let Value::CpuSet(w) = &value
                && !eff.is_empty()
                && !w.is_subset(&eff)
            {
                return Err(format!(
                    "{w} is not within the parent's {file}.effective {eff}"
                ));
            }
            Some(eff)
        }
        _ => None,
    };
    let change = assess(req.knob, &value, &old, effective.as_ref())?;
    if let Some(why) = change
        .looser
        .clone()
        .filter(|_| tighten_only && !req.knob.is_protection())
    {
        return Ok(Err(why));
    }
    Ok(Ok(Write {
        knob: req.knob,
        value,
        old,
        change,
    }))
}

/// Phase one: plans every request. Nothing is written.
pub fn plan(reqs: &[Request], fs: &dyn CgroupFiles, r: &Resolver, tighten_only: bool) -> Plan {
    let mut p = Plan::default();
    let path = fs.path().display().to_string();
    let controllers = fs.read("cgroup.controllers").unwrap_or_default();
    let subtree = fs.read_parent("cgroup.subtree_control").unwrap_or_default();
    let (controllers, subtree) = (words(&controllers), words(&subtree));
    for req in reqs {
        let problem = |reason: String| Problem {
            knob: req.knob,
            source: req.source.clone(),
            reason,
        };
        if let Err(e) = controller_ok(req.knob, &controllers, &subtree, &path) {
            p.problems.push(problem(e));
            continue;
        }
        match plan_one(req, fs, r, tighten_only) {
            Ok(Ok(w)) => p.writes.push(w),
            Ok(Err(why)) if req.source.is_class() => p.notes.push(format!(
                "skipped {}: the cgroup is already tighter ({})",
                req.source.describe(req.knob),
                Esc(why)
            )),
            Ok(Err(why)) => p.problems.push(problem(why)),
            Err(e) => p.problems.push(problem(e)),
        }
    }
    cross_check(reqs, &mut p, fs);
    p
}

/// Final value of a memory knob: planned, else current.
fn final_bytes(p: &Plan, fs: &dyn CgroupFiles, knob: Knob) -> Option<Limit> {
    let planned = p
        .writes
        .iter()
        .find(|w| w.knob == knob)
        .and_then(|w| match w.value {
            Value::Bytes(l) => Some(l),
            _ => None,
        });
    planned.or_else(|| {
        fs.read(knob.file())
            .ok()
            .and_then(|s| Limit::from_kernel(&s))
    })
}

fn cross_check(reqs: &[Request], p: &mut Plan, fs: &dyn CgroupFiles) {
    let pairs = [
        (Knob::MemoryHigh, Knob::MemoryMax),
        (Knob::MemoryLow, Knob::MemoryHigh),
        (Knob::MemoryMin, Knob::MemoryMax),
    ];
    let by_knob: BTreeMap<Knob, &Request> = reqs.iter().map(|r| (r.knob, r)).collect();
    for (lo, hi) in pairs {
        // only a requested lower knob is checked: current values are the runtime's
        let Some(req) = by_knob.get(&lo) else {
            continue;
        };
        let (Some(a), Some(b)) = (final_bytes(p, fs, lo), final_bytes(p, fs, hi)) else {
            continue;
        };
        if a <= b || a == Limit::Max {
            continue;
        }
        if p.problems.iter().any(|x| x.knob == req.knob) {
            continue;
        }
        p.problems.push(Problem {
            knob: req.knob,
            source: req.source.clone(),
            reason: format!(
                "{} {} would exceed {} {}",
                lo.file(),
                a.kernel(),
                hi.file(),
                b.kernel()
            ),
        });
    }
    // the kernel reads cpu.weight as 0 while cpu.idle is 1 (and resets it on 0)
    let idle = by_knob
        .get(&Knob::CpuIdle)
        .is_some_and(|r| r.value == Value::Bool(true));
    if let (true, Some(w)) = (idle, by_knob.get(&Knob::CpuWeight)) {
        p.problems.push(Problem {
            knob: Knob::CpuWeight,
            source: w.source.clone(),
            reason: "cpu.weight has no effect with cpu.idle=1".into(),
        });
    }
    let bad: Vec<Knob> = p.problems.iter().map(|x| x.knob).collect();
    p.writes.retain(|w| !bad.contains(&w.knob));
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
