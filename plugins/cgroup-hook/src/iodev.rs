//! `io.max` and `io.weight` values: entry grammar, device naming (`MAJ:MIN`
//! or a path) and resolution of a path or partition to its whole disk through
//! sysfs (`/sys/dev/block`), as the kernel only throttles whole disks.

use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::ValueError;
use crate::knob::parse_weight;
use crate::quantity::{self, Limit};

/// A block device as written: `MAJ:MIN` or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevRef {
    Num(u32, u32),
    Path(String),
}

impl DevRef {
    fn parse(s: &str) -> Result<DevRef, ValueError> {
        if s.starts_with('/') {
            return Ok(DevRef::Path(s.into()));
        }
        let num = s
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        num.map(|(a, b)| DevRef::Num(a, b))
            .ok_or(ValueError::Syntax {
                what: "device",
                input: s.into(),
                hint: "expected MAJ:MIN or an absolute path",
            })
    }
}

impl fmt::Display for DevRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DevRef::Num(a, b) => write!(f, "{a}:{b}"),
            DevRef::Path(p) => f.write_str(p),
        }
    }
}

/// The four `io.max` keys, in kernel order.
pub const IO_KEYS: [&str; 4] = ["rbps", "wbps", "riops", "wiops"];

/// One `io.max` entry; `None` leaves that key as the kernel has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoMaxEntry {
    pub dev: DevRef,
    pub limits: [Option<Limit>; 4],
}

/// An `io.max` value: `<dev> key=value...` entries separated by `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoMax(pub Vec<IoMaxEntry>);

fn parse_io_limit(key: &str, v: &str) -> Result<Limit, ValueError> {
    if key.ends_with("bps") {
        quantity::parse_bytes(v.strip_suffix("/s").unwrap_or(v))
    } else {
        quantity::parse_count(v)
    }
}

impl IoMax {
    pub fn parse(raw: &str) -> Result<IoMax, ValueError> {
        let mut out = Vec::new();
        for entry in raw.split([';', '\n']).filter(|e| !e.trim().is_empty()) {
            let mut words = entry.split_whitespace();
            let dev = DevRef::parse(words.next().unwrap_or_default())?;
            let mut limits = [None; 4];
            for w in words {
                let (k, v) = w.split_once('=').ok_or_else(|| ValueError::Syntax {
                    what: "io.max entry",
                    input: w.into(),
                    hint: "expected key=value with key rbps, wbps, riops or wiops",
                })?;
                let i = IO_KEYS.iter().position(|x| *x == k).ok_or_else(|| {
                    ValueError::Other(format!(
                        "unknown io.max key {k:?} (rbps, wbps, riops, wiops)"
                    ))
                })?;
                if limits[i].replace(parse_io_limit(k, v)?).is_some() {
                    return Err(ValueError::Other(format!(
                        "io.max key {k} given twice for {dev}"
                    )));
                }
            }
            if limits.iter().all(Option::is_none) {
                return Err(ValueError::Other(format!(
                    "io.max entry for {dev} sets no key"
                )));
            }
            out.push(IoMaxEntry { dev, limits });
        }
        if out.is_empty() {
            return Err(ValueError::Empty);
        }
        Ok(IoMax(out))
    }

    /// Resolves every device to its whole disk; duplicates are an error.
    pub fn resolve(&self, r: &Resolver) -> Result<IoMax, ValueError> {
        let mut out: Vec<IoMaxEntry> = Vec::new();
        for e in &self.0 {
            let dev = r.resolve(&e.dev)?;
            if out.iter().any(|o| o.dev == dev) {
                return Err(ValueError::Other(format!(
                    "device {dev} given twice in io.max"
                )));
            }
            out.push(IoMaxEntry {
                dev,
                limits: e.limits,
            });
        }
        Ok(IoMax(out))
    }
}

/// The kernel's `io.max` line for one device (keys not set are omitted).
pub fn io_max_line(e: &IoMaxEntry) -> String {
    let mut s = e.dev.to_string();
    for (k, l) in IO_KEYS.iter().zip(e.limits) {
        if let Some(l) = l {
            s.push_str(&format!(" {k}={}", l.kernel()));
        }
    }
    s
}

/// Current limits of `dev` in an `io.max` file (absent = all `max`).
pub fn io_max_current(content: &str, dev: &DevRef) -> [Limit; 4] {
    let mut cur = [Limit::Max; 4];
    let want = dev.to_string();
    for line in content.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some(want.as_str()) {
            continue;
        }
        for w in words {
            if let Some((k, v)) = w.split_once('=')
                && let (Some(i), Some(l)) =
                    (IO_KEYS.iter().position(|x| *x == k), Limit::from_kernel(v))
            {
                cur[i] = l;
            }
        }
    }
    cur
}

impl fmt::Display for IoMax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(io_max_line).collect();
        f.write_str(&lines.join("; "))
    }
}

/// An `io.weight` value: `W`, `default W` and `<dev> W` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoWeight {
    pub default: Option<u16>,
    pub devs: Vec<(DevRef, u16)>,
}

impl IoWeight {
    pub fn parse(raw: &str) -> Result<IoWeight, ValueError> {
        let mut w = IoWeight {
            default: None,
            devs: Vec::new(),
        };
        for entry in raw.split([';', '\n']).filter(|e| !e.trim().is_empty()) {
            let words: Vec<&str> = entry.split_whitespace().collect();
            match words.as_slice() {
                [v] | ["default", v] if w.default.is_none() => w.default = Some(parse_weight(v)?),
                [d, v] if *d != "default" => w.devs.push((DevRef::parse(d)?, parse_weight(v)?)),
                _ => {
                    return Err(ValueError::Syntax {
                        what: "io.weight entry",
                        input: entry.trim().into(),
                        hint: "expected W, default W or <device> W (one default)",
                    });
                }
            }
        }
        if w.default.is_none() && w.devs.is_empty() {
            return Err(ValueError::Empty);
        }
        Ok(w)
    }

    pub fn resolve(&self, r: &Resolver) -> Result<IoWeight, ValueError> {
        let mut devs: Vec<(DevRef, u16)> = Vec::new();
        for (d, v) in &self.devs {
            let d = r.resolve(d)?;
            if devs.iter().any(|(o, _)| *o == d) {
                return Err(ValueError::Other(format!(
                    "device {d} given twice in io.weight"
                )));
            }
            devs.push((d, *v));
        }
        Ok(IoWeight {
            default: self.default,
            devs,
        })
    }

    /// Kernel lines, one per write(2).
    pub fn lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .default
            .map(|d| format!("default {d}"))
            .into_iter()
            .collect();
        v.extend(self.devs.iter().map(|(d, w)| format!("{d} {w}")));
        v
    }

    pub fn max_weight(&self) -> u16 {
        self.devs
            .iter()
            .map(|d| d.1)
            .chain(self.default)
            .max()
            .unwrap_or(0)
    }
}

/// Current weight of `dev` (`None` = the default entry) in an `io.weight` file.
pub fn io_weight_current(content: &str, dev: Option<&DevRef>) -> Option<u16> {
    let default = content
        .lines()
        .find_map(|l| l.strip_prefix("default ")?.trim().parse().ok());
    let Some(dev) = dev else { return default };
    let want = dev.to_string();
    content
        .lines()
        .find_map(|l| l.strip_prefix(want.as_str())?.trim().parse().ok())
        .or(default)
}

impl fmt::Display for IoWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("; "))
    }
}

/// Resolves device names through a sysfs tree (normally `/sys`).
#[derive(Debug, Clone)]
pub struct Resolver {
    pub sys_root: PathBuf,
}

impl Resolver {
    /// The whole disk behind `dev`, as `DevRef::Num`.
    pub fn resolve(&self, dev: &DevRef) -> Result<DevRef, ValueError> {
        let (maj, min) = match dev {
            DevRef::Num(a, b) => (*a, *b),
            DevRef::Path(p) => path_dev(p)?,
        };
        if maj == 0 {
            return Err(ValueError::Other(format!(
                "{dev} is on an anonymous device 0:{min} (overlayfs, btrfs, tmpfs, 9p...) that io.max cannot throttle: name the disk (e.g. /dev/sda or MAJ:MIN)"
            )));
        }
        let node = self.sys_root.join(format!("dev/block/{maj}:{min}"));
        if !node.exists() {
            return Err(ValueError::Other(format!(
                "{dev}: no block device {maj}:{min} in sysfs"
            )));
        }
        if !node.join("partition").exists() {
            return Ok(DevRef::Num(maj, min));
        }
        let disk = std::fs::canonicalize(&node)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .and_then(|p| std::fs::read_to_string(p.join("dev")).ok())
            .and_then(|s| DevRef::parse(s.trim()).ok());
        disk.ok_or_else(|| {
            ValueError::Other(format!(
                "{dev}: cannot find the disk of partition {maj}:{min}"
            ))
        })
    }
}

/// MAJ:MIN of a block device node, or of the device holding a file.
fn path_dev(p: &str) -> Result<(u32, u32), ValueError> {
    let md = std::fs::metadata(p).map_err(|e| ValueError::Other(format!("{p}: {e}")))?;
    let id = if md.file_type().is_block_device() {
        md.rdev()
    } else {
        md.dev()
    };
    Ok((libc::major(id), libc::minor(id)))
}

#[cfg(test)]
#[path = "iodev_tests.rs"]
mod tests;
