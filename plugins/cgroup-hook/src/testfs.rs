//! An in-memory cgroup for tests: kernel-like keyed files (`io.max`,
//! `io.weight` merge per device), page rounding of memory files, and
//! injected write errors. Test-only.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::cgfs::CgroupFiles;

/// A fake cgroup and its parent.
#[derive(Debug, Default)]
pub struct FakeCgroup {
    pub files: RefCell<BTreeMap<String, String>>,
    pub parent: BTreeMap<String, String>,
    /// `file` or `file:line-prefix` -> errno returned by matching writes.
    pub fail: RefCell<BTreeMap<String, i32>>,
    pub writes: RefCell<Vec<(String, String)>>,
    path: PathBuf,
}

impl FakeCgroup {
    /// A child cgroup with kernel defaults and all five controllers.
    pub fn new() -> FakeCgroup {
        let ctl = "cpuset cpu io memory pids";
        let mut files = BTreeMap::new();
        for (k, v) in [
            ("cgroup.controllers", ctl),
            ("memory.max", "max"),
            ("memory.high", "max"),
            ("memory.low", "0"),
            ("memory.min", "0"),
            ("memory.swap.max", "max"),
            ("memory.oom.group", "0"),
            ("cpu.max", "max 100000"),
            ("cpu.weight", "100"),
            ("cpu.idle", "0"),
            ("io.max", ""),
            ("io.weight", "default 100"),
            ("pids.max", "max"),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("cgroup.freeze", "0"),
        ] {
            files.insert(k.to_string(), format!("{v}\n"));
        }
        let parent = [
            ("cgroup.subtree_control", ctl),
            ("cpuset.cpus.effective", "0-3"),
            ("cpuset.mems.effective", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), format!("{v}\n")))
        .collect();
        FakeCgroup {
            files: RefCell::new(files),
            parent,
            path: "/fake/cg".into(),
            ..Default::default()
        }
    }

    pub fn set(&self, name: &str, v: &str) {
        self.files
            .borrow_mut()
            .insert(name.into(), format!("{v}\n"));
    }

    pub fn get(&self, name: &str) -> String {
        self.files.borrow().get(name).cloned().unwrap_or_default()
    }

    fn merge_keyed(old: &str, line: &str) -> String {
        let dev = line.split_whitespace().next().unwrap_or_default();
        let mut out: Vec<String> = Vec::new();
        let mut merged = false;
        for l in old.lines() {
            if l.split_whitespace().next() == Some(dev) {
                let mut keys: BTreeMap<&str, &str> = l
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|w| w.split_once('='))
                    .collect();
                keys.extend(
                    line.split_whitespace()
                        .skip(1)
                        .filter_map(|w| w.split_once('=')),
                );
                let order = ["rbps", "wbps", "riops", "wiops"];
                let kv: Vec<String> = order
                    .iter()
                    .map(|k| format!("{k}={}", keys.get(k).unwrap_or(&"max")))
                    .collect();
                out.push(format!("{dev} {}", kv.join(" ")));
                merged = true;
            } else {
                out.push(l.into());
            }
        }
        if !merged {
            let keys: BTreeMap<&str, &str> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|w| w.split_once('='))
                .collect();
            let kv: Vec<String> = ["rbps", "wbps", "riops", "wiops"]
                .iter()
                .map(|k| format!("{k}={}", keys.get(k).unwrap_or(&"max")))
                .collect();
            out.push(format!("{dev} {}", kv.join(" ")));
        }
        out.retain(|l| !l.split_whitespace().skip(1).all(|w| w.ends_with("=max")));
        out.iter().map(|l| format!("{l}\n")).collect()
    }
}

impl CgroupFiles for FakeCgroup {
    fn read(&self, name: &str) -> io::Result<String> {
        self.files
            .borrow()
            .get(name)
            .cloned()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn write(&self, name: &str, data: &str) -> io::Result<()> {
        self.writes.borrow_mut().push((name.into(), data.into()));
        let fails = self.fail.borrow();
        let hit = fails.iter().find(|(k, _)| match k.split_once(':') {
            Some((f, prefix))
                if !f.contains(' ') && f.contains('.') && !prefix.is_empty() && f == name =>
            {
                data.starts_with(prefix)
            }
            _ => k.as_str() == name,
        });
        if let Some((_, e)) = hit {
            return Err(io::Error::from_raw_os_error(*e));
        }
        drop(fails);
        let old = self.read(name)?;
        let new = match name {
            "io.max" => FakeCgroup::merge_keyed(&old, data),
            "io.weight" => {
                let dev = data.split_whitespace().next().unwrap_or_default();
                let mut lines: Vec<String> = old
                    .lines()
                    .filter(|l| l.split_whitespace().next() != Some(dev))
                    .map(String::from)
                    .collect();
                if !data.ends_with(" default") {
                    lines.push(data.into());
                }
                lines.iter().map(|l| format!("{l}\n")).collect()
            }
            n if n.starts_with("memory.") && data.trim() != "max" => {
                let v: u64 = data
                    .trim()
                    .parse()
                    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                let p = crate::assess::page_size();
                format!("{}\n", v / p * p)
            }
            _ => format!("{}\n", data.trim()),
        };
        self.files.borrow_mut().insert(name.into(), new);
        Ok(())
    }

    fn read_parent(&self, name: &str) -> io::Result<String> {
        self.parent
            .get(name)
            .cloned()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn path(&self) -> &Path {
        &self.path
    }
}
