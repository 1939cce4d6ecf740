//! Subcommand dispatch: `hook` (default), `validate`, `report`, `freeze`,
//! `thaw`, `hooks-config`. Every failure is one `cgroup-hook: ...` line on
//! stderr and a non-zero exit; nothing here panics.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::args::Args;
use crate::error::{Error, Result};
use crate::hook::{self, Opts};
use crate::policy::{self, Policy};
use crate::quantity;
use crate::report;
use crate::text::Esc;

const USAGE: &str = "\
usage: cgroup-hook [hook] [--policy FILE] [--dry-run] [-v] [--log FILE]   < OCI state JSON
       cgroup-hook validate [--policy FILE] [--container NAME] [--file FILE]... [-a KEY=VALUE]...
       cgroup-hook report <cgroup path|pid|container id> [--json]
       cgroup-hook freeze|thaw <cgroup path|pid|container id> [--timeout 5s]
       cgroup-hook hooks-config [--path BIN] [--policy FILE] [--timeout SECONDS] [--stage createRuntime|prestart] [--format hooks.d|containerd]
Applies cgroup v2 limits from *.ferrocni.dev annotations (see docs/cgroup-hook.md).
";

fn out(s: &str) {
    let _ = std::io::stdout().write_all(s.as_bytes());
}

fn opts(a: &Args) -> Opts {
    let d = Opts::default();
    Opts {
        policy: a.value("--policy").map(PathBuf::from),
        dry_run: a.has("--dry-run"),
        verbose: a.has("--verbose"),
        log: a.value("--log").map(PathBuf::from),
        proc_root: a.value("--proc-root").map_or(d.proc_root, PathBuf::from),
        cgroup_root: a.value("--cgroup-root").map(PathBuf::from),
        sys_root: a.value("--sys-root").map_or(d.sys_root, PathBuf::from),
    }
}

/// Runs the command line; returns the exit code.
pub fn main(argv: &[String]) -> i32 {
    match run(argv) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "cgroup-hook: {}", Esc(&e));
            if matches!(e, Error::Usage(_)) { 2 } else { 1 }
        }
    }
}

fn one_target(a: &Args) -> Result<&str> {
    match a.positional.as_slice() {
        [t] => Ok(t),
        _ => Err(Error::Usage(format!(
            "{} takes one target: a cgroup path, pid or container id",
            a.command
        ))),
    }
}

fn run(argv: &[String]) -> Result<i32> {
    let a = Args::parse(argv)?;
    if a.has("--help") || a.command == "help" {
        out(USAGE);
        return Ok(0);
    }
    let o = opts(&a);
    match a.command.as_str() {
        "version" => out(&format!("cgroup-hook {}\n", env!("CARGO_PKG_VERSION"))),
        "hook" => {
            a.only(&["--dry-run", "--stage"])?;
            if !a.positional.is_empty() {
                return Err(Error::Usage(format!(
                    "unexpected argument {:?}",
                    a.positional[0]
                )));
            }
            let mut input = String::new();
            std::io::stdin()
                .take(1 << 20)
                .read_to_string(&mut input)
                .map_err(|e| Error::State(e.to_string()))?;
            hook::run(&o, &input)?;
        }
        "validate" => {
            a.only(&["--annotation", "--file", "--container", "--dry-run"])?;
            return validate(&a);
        }
        "report" => report_cmd(&a, &o)?,
        "freeze" | "thaw" => freeze_cmd(&a, &o)?,
        "hooks-config" => {
            a.only(&["--path", "--timeout", "--stage", "--format"])?;
            out(&hooks_config(&a)?);
        }
        other => return Err(Error::Usage(format!("unknown command {other}"))),
    }
    Ok(0)
}

fn report_cmd(a: &Args, o: &Opts) -> Result<()> {
    a.only(&["--json"])?;
    let dir = report::open_target(o, one_target(a)?)?;
    let snap = report::snapshot(&dir, &o.sys_root);
    if a.has("--json") {
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&snap).unwrap_or_default()
        ));
    } else {
        out(&report::table(&snap));
    }
    Ok(())
}

fn freeze_cmd(a: &Args, o: &Opts) -> Result<()> {
    a.only(&["--timeout"])?;
    let t = a.value("--timeout").unwrap_or("5s");
    let t = if t.bytes().all(|b| b.is_ascii_digit()) {
        format!("{t}s")
    } else {
        t.to_string()
    };
    let us =
        quantity::parse_duration_us(&t).map_err(|e| Error::Usage(format!("--timeout: {e}")))?;
    let dir = report::open_target(o, one_target(a)?)?;
    let freeze = a.command == "freeze";
    report::freeze(&dir, freeze, Duration::from_micros(us))?;
    let done = if freeze { "frozen" } else { "thawed" };
    out(&format!(
        "{done} {}\n",
        crate::cgfs::CgroupFiles::path(&dir).display()
    ));
    Ok(())
}

/// Reads annotations from `--file` (JSON map, a manifest with
/// `metadata.annotations`, or `key=value` lines) and `-a key=value`.
fn gather(a: &Args) -> Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    for f in a.all("--file") {
        let text = if f == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Error::io("stdin", e))?;
            s
        } else {
            std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?
        };
        m.extend(parse_annotation_file(&text).map_err(|e| Error::Usage(format!("{f}: {e}")))?);
    }
    for kv in a.all("--annotation") {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--annotation {kv:?}: expected KEY=VALUE")))?;
        m.insert(k.trim().to_string(), v.to_string());
    }
    Ok(m)
}

/// Parses an annotations file.
pub fn parse_annotation_file(text: &str) -> std::result::Result<BTreeMap<String, String>, String> {
    if text.trim_start().starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let obj = v
            .pointer("/metadata/annotations")
            .or(Some(&v))
            .and_then(|o| o.as_object())
            .ok_or("expected a JSON object")?;
        return obj
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    v.as_str()
                        .ok_or(format!("{}: value is not a string", crate::text::Esc(k)))?
                        .to_string(),
                ))
            })
            .collect();
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or(format!("{l:?}: expected KEY=VALUE"))
        })
        .collect()
}

/// `validate`: every container named in the annotations (plus the POD
/// default) is checked against the policy. Devices are not resolved.
fn validate(a: &Args) -> Result<i32> {
    let policy = Policy::load(a.value("--policy").map(std::path::Path::new))?;
    let ann = gather(a)?;
    let mut targets: Vec<Option<String>> = match a.value("--container") {
        Some(c) => vec![Some(c.to_string())],
        None => ann
            .keys()
            .filter_map(|k| {
                k.split_once('/')
                    .filter(|(p, n)| crate::annotations::is_ours(p) && *n != "POD")
                    .map(|(_, n)| Some(n.to_string()))
            })
            .collect(),
    };
    targets.sort();
    targets.dedup();
    targets.push(None);
    let mut problems: Vec<String> = Vec::new();
    let mut report = String::new();
    for t in &targets {
        let b = crate::requests::build(&ann, t.as_deref(), &policy, policy.mode);
        for p in b.problems {
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        let name = t.as_deref().unwrap_or("(other containers)");
        let set: Vec<String> = b
            .requests
            .iter()
            .map(|r| format!("{}={}", r.knob.file(), r.value.describe()))
            .collect();
        let set = if set.is_empty() {
            "no limits".into()
        } else {
            set.join(" ")
        };
        report.push_str(&format!("{}\n", Esc(format_args!("{name}: {set}"))));
    }
    if problems.is_empty() {
        out(&report);
        return Ok(0);
    }
    for p in &problems {
        let _ = writeln!(std::io::stderr(), "cgroup-hook: {}", Esc(p));
    }
    Ok(1)
}

fn hooks_config(a: &Args) -> Result<String> {
    let path = match a.value("--path") {
        Some(p) => p.to_string(),
        None => std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/usr/local/bin/cgroup-hook".into()),
    };
    let timeout: u64 = a
        .value("--timeout")
        .unwrap_or("5")
        .parse()
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| Error::Usage("--timeout: seconds > 0".into()))?;
    let stage = a.value("--stage").unwrap_or("createRuntime");
    if !["createRuntime", "prestart"].contains(&stage) {
        return Err(Error::Usage(format!(
            "--stage {stage}: use createRuntime (or prestart for old runtimes)"
        )));
    }
    let policy = a.value("--policy").unwrap_or(policy::DEFAULT_PATH);
    let hook =
        json!({ "path": path, "args": ["cgroup-hook", "--policy", policy], "timeout": timeout });
    let doc = match a.value("--format").unwrap_or("hooks.d") {
        "hooks.d" => json!({
            "version": "1.0.0",
            "hook": hook,
            "when": { "annotations": { "^([a-z0-9.]+\\.)?ferrocni\\.dev(/.*)?$": ".*" } },
            "stages": [stage],
        }),
        "containerd" => json!({ "hooks": { stage: [hook] } }),
        f => {
            return Err(Error::Usage(format!(
                "--format {f}: use hooks.d or containerd"
            )));
        }
    };
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    ))
}
