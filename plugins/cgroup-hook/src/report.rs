//! `report` (live usage of a cgroup: memory, CPU, IO, pids, as a table or
//! JSON) and `freeze`/`thaw` (write `cgroup.freeze`, wait for `frozen` in
//! `cgroup.events`). Targets are a cgroup path, a pid or a container id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json, json};

use crate::cgfs::{CgroupDir, CgroupFiles};
use crate::error::{Error, Result};
use crate::hook::{Opts, locate_pid};
use crate::locate;
use crate::quantity::human_bytes;
use crate::text::Esc;

fn mount_point(opts: &Opts) -> std::result::Result<(PathBuf, bool), String> {
    if let Some(r) = &opts.cgroup_root {
        return Ok((r.clone(), false));
    }
    let mi = opts.proc_root.join("self/mountinfo");
    let text = std::fs::read_to_string(&mi).map_err(|e| format!("{}: {e}", mi.display()))?;
    Ok((
        locate::find_unified(&locate::parse_mountinfo(&text))?.point,
        true,
    ))
}

/// Opens the cgroup named by `target`: a pid, a path (absolute under the
/// cgroup2 mount, or relative to it) or a container id.
pub fn open_target(opts: &Opts, target: &str) -> Result<CgroupDir> {
    let (root, rel, check) = if !target.is_empty() && target.bytes().all(|b| b.is_ascii_digit()) {
        let pid = target
            .parse()
            .map_err(|_| Error::Usage(format!("bad pid {target}")))?;
        locate_pid(opts, pid).map_err(Error::Cgroup)?
    } else {
        let (root, check) = mount_point(opts).map_err(Error::Cgroup)?;
        let p = Path::new(target);
        let rel = if p.is_absolute() {
            p.strip_prefix(&root)
                .map_err(|_| {
                    Error::Cgroup(format!(
                        "{target} is not under the cgroup2 mount {}",
                        root.display()
                    ))
                })?
                .to_path_buf()
        } else if root.join(p).is_dir() {
            p.to_path_buf()
        } else {
            let found = locate::find_by_id(&root, target, 8);
            match found.as_slice() {
                [one] => one
                    .strip_prefix(&root)
                    .map(Path::to_path_buf)
                    .map_err(|_| Error::Cgroup("bad match".into()))?,
                [] => {
                    return Err(Error::Cgroup(format!(
                        "no cgroup path, pid or container id matches {target:?}"
                    )));
                }
                many => {
                    return Err(Error::Cgroup(format!(
                        "{target:?} matches {} cgroups; give a longer id or a path",
                        many.len()
                    )));
                }
            }
        };
        (root, rel, check)
    };
    CgroupDir::open(&root, &rel, check)
        .map_err(|e| Error::Cgroup(format!("{}: {e}", root.join(&rel).display())))
}

fn keyed(text: &str) -> Map<String, Json> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((
                k.to_string(),
                v.trim()
                    .parse::<u64>()
                    .map_or(Json::from(v.trim()), Json::from),
            ))
        })
        .collect()
}

fn num(fs: &dyn CgroupFiles, f: &str) -> Json {
    fs.read(f)
        .ok()
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_or(Json::from(s.trim()), Json::from)
        })
        .unwrap_or(Json::Null)
}

fn dev_name(sys: &Path, dev: &str) -> Option<String> {
    let text = std::fs::read_to_string(sys.join(format!("dev/block/{dev}/uevent"))).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .map(String::from)
}

/// Collects the live figures of a cgroup as JSON.
pub fn snapshot(fs: &dyn CgroupFiles, sys: &Path) -> Json {
    let io_max = fs.read("io.max").unwrap_or_default();
    let io: Vec<Json> = fs
        .read("io.stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (dev, rest) = l.split_once(' ')?;
            let mut o = keyed(
                &rest
                    .split_whitespace()
                    .map(|w| w.replacen('=', " ", 1))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            o.insert("device".into(), dev.into());
            o.insert(
                "name".into(),
                dev_name(sys, dev).map_or(Json::Null, Json::from),
            );
            let lim = io_max
                .lines()
                .find(|m| m.split_whitespace().next() == Some(dev));
            o.insert(
                "max".into(),
                lim.map_or(Json::Null, |m| {
                    Json::from(m.split_once(' ').map_or("", |x| x.1))
                }),
            );
            Some(Json::Object(o))
        })
        .collect();
    json!({
        "cgroup": fs.path().display().to_string(),
        "memory": {
            "current": num(fs, "memory.current"), "peak": num(fs, "memory.peak"),
            "max": num(fs, "memory.max"), "high": num(fs, "memory.high"),
            "swap_current": num(fs, "memory.swap.current"),
            "events": fs.read("memory.events").map(|t| Json::Object(keyed(&t))).unwrap_or(Json::Null),
        },
        "cpu": {
            "stat": fs.read("cpu.stat").map(|t| Json::Object(keyed(&t))).unwrap_or(Json::Null),
            "max": fs.read("cpu.max").map(|s| Json::from(s.trim())).unwrap_or(Json::Null),
        },
        "io": io,
        "pids": { "current": num(fs, "pids.current"), "peak": num(fs, "pids.peak"), "max": num(fs, "pids.max") },
        "frozen": fs.read("cgroup.events").ok().map(|t| keyed(&t).get("frozen") == Some(&Json::from(1u64))),
    })
}

fn bytes(v: &Json) -> String {
    v.as_u64()
        .map_or_else(|| v.as_str().unwrap_or("-").to_string(), human_bytes)
}

fn secs(v: Option<&Json>) -> String {
    v.and_then(Json::as_u64)
        .map_or("-".into(), |us| format!("{:.3} s", us as f64 / 1e6))
}

fn events(v: &Json) -> String {
    v.as_object().map_or("-".into(), |o| {
        o.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join("  ")
    })
}

fn io_rows(io: &Json) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for d in io.as_array().into_iter().flatten() {
        let name = d["name"]
            .as_str()
            .map_or(String::new(), |n| format!("{n} "));
        let lim = d["max"]
            .as_str()
            .map_or(String::new(), |l| format!("  max {l}"));
        rows.push((
            format!("io {name}({})", d["device"].as_str().unwrap_or("?")),
            format!(
                "read {}  written {}  rios {}  wios {}{lim}",
                bytes(&d["rbytes"]),
                bytes(&d["wbytes"]),
                d["rios"],
                d["wios"]
            ),
        ));
    }
    rows
}

/// Renders a snapshot as a table.
pub fn table(s: &Json) -> String {
    let m = &s["memory"];
    let st = &s["cpu"]["stat"];
    let mut rows: Vec<(String, String)> = vec![
        ("cgroup".into(), s["cgroup"].as_str().unwrap_or("-").into()),
        (
            "memory".into(),
            format!(
                "current {}  peak {}  max {}  high {}",
                bytes(&m["current"]),
                bytes(&m["peak"]),
                bytes(&m["max"]),
                bytes(&m["high"])
            ),
        ),
        ("memory.events".into(), events(&m["events"])),
        (
            "cpu".into(),
            format!(
                "usage {}  user {}  system {}  max {}",
                secs(st.get("usage_usec")),
                secs(st.get("user_usec")),
                secs(st.get("system_usec")),
                s["cpu"]["max"].as_str().unwrap_or("-")
            ),
        ),
    ];
    if let Some(n) = st.get("nr_periods") {
        rows.push((
            "cpu throttling".into(),
            format!(
                "periods {n}  throttled {}  for {}",
                st["nr_throttled"],
                secs(st.get("throttled_usec"))
            ),
        ));
    }
    rows.extend(io_rows(&s["io"]));
    let p = &s["pids"];
    rows.push((
        "pids".into(),
        format!(
            "current {}  peak {}  max {}",
            p["current"],
            p["peak"],
            p["max"].as_u64().map_or_else(
                || p["max"].as_str().unwrap_or("-").to_string(),
                |v| v.to_string()
            )
        ),
    ));
    rows.push(("frozen".into(), s["frozen"].to_string()));
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{}\n", Esc(format_args!("{k:<w$}  {v}"))))
        .collect()
}

/// Freezes (`true`) or thaws a cgroup and waits for `cgroup.events`.
pub fn freeze(fs: &dyn CgroupFiles, frozen: bool, timeout: Duration) -> Result<()> {
    let want = u8::from(frozen);
    fs.write("cgroup.freeze", &want.to_string())
        .map_err(|e| Error::Cgroup(format!("{}/cgroup.freeze: {e}", fs.path().display())))?;
    let start = Instant::now();
    loop {
        let ev = fs
            .read("cgroup.events")
            .map_err(|e| Error::Cgroup(format!("{}/cgroup.events: {e}", fs.path().display())))?;
        let map: BTreeMap<&str, &str> = ev.lines().filter_map(|l| l.split_once(' ')).collect();
        if map.get("frozen").map(|s| s.trim()) == Some(&want.to_string()) {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(Error::Cgroup(format!(
                "{}: timed out after {:?} waiting for frozen {want} in cgroup.events",
                fs.path().display(),
                timeout
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
