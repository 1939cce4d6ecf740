//! Finding cgroups: the unified cgroup2 mount from `mountinfo`, a process's
//! cgroup from `/proc/<pid>/cgroup` (`0::` line), the `linux.cgroupsPath`
//! cross-check (cgroupfs and systemd `slice:prefix:name` forms, crun's
//! `/container` sub-cgroup), and container-id lookup for `report`.

use std::path::{Path, PathBuf};

/// One mount of interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub root: String,
    pub point: PathBuf,
    pub fstype: String,
    /// Superblock options (for v1: the controllers, or `name=...`).
    pub options: String,
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|o| b[i] == b'\\' && o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(o) => {
                out.push((o[0] - b'0') * 64 + (o[1] - b'0') * 8 + (o[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/mountinfo`, skipping malformed lines.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let f: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some(Mount {
                root: unescape(f.get(3)?),
                point: PathBuf::from(unescape(f.get(4)?)),
                fstype: post.first()?.to_string(),
                options: post.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// v1 controllers that, when mounted, are unavailable to cgroup2.
const V1_CONTROLLERS: [&str; 8] = [
    "cpu", "cpuacct", "cpuset", "memory", "blkio", "io", "pids", "hugetlb",
];

/// The unified hierarchy, or why there is none. A v1 mount counts only if
/// it binds a controller (a named `name=systemd` hierarchy does not).
pub fn find_unified(mounts: &[Mount]) -> Result<Mount, String> {
    let binds = |m: &Mount| m.options.split(',').any(|o| V1_CONTROLLERS.contains(&o));
    let v1: Vec<&Mount> = mounts
        .iter()
        .filter(|m| m.fstype == "cgroup" && binds(m))
        .collect();
    let v2 = mounts.iter().find(|m| m.fstype == "cgroup2");
    match (v2, v1.first()) {
        (Some(m), None) => Ok(m.clone()),
        (Some(m), Some(v)) => Err(format!(
            "host has no unified cgroup v2 hierarchy (hybrid: cgroup2 at {} but v1 controllers mounted, e.g. {})",
            m.point.display(),
            v.point.display()
        )),
        (None, Some(_)) => Err("host has no unified cgroup v2 hierarchy (cgroup v1 only)".into()),
        (None, None) => Err("no cgroup2 filesystem mounted".into()),
    }
}

/// The `0::` path of a `/proc/<pid>/cgroup` file.
pub fn unified_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The cgroup path relative to the mount, from a `0::` path: strips the
/// mount's root (bind-mounted or namespaced trees) and the leading `/`.
pub fn relative_to_mount(mount: &Mount, path: &str) -> Option<PathBuf> {
    let root = mount.root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(PathBuf::from(rest.trim_start_matches('/')))
}

/// Expands a systemd slice: `a-b-c.slice` -> `a.slice/a-b.slice/a-b-c.slice`.
pub fn expand_slice(slice: &str) -> Option<String> {
    let name = slice.strip_suffix(".slice")?;
    if name == "-" || name.is_empty() {
        return Some(String::new());
    }
    let mut out = Vec::new();
    let mut acc = String::new();
    for part in name.split('-') {
        if part.is_empty() {
            return None;
        }
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(part);
        out.push(format!("{acc}.slice"));
    }
    Some(out.join("/"))
}

/// Compares the cgroup found through /proc with `linux.cgroupsPath`;
/// returns a description of the mismatch, if any.
pub fn cross_check(actual: &Path, cgroups_path: &str) -> Option<String> {
    let actual = actual.to_string_lossy();
    let actual = actual.trim_matches('/');
    let expected = match cgroups_path.split(':').collect::<Vec<_>>().as_slice() {
        [slice, prefix, name] if !cgroups_path.starts_with('/') => {
            let slice = if slice.is_empty() {
                "system.slice"
            } else {
                slice
            };
            let unit = if name.ends_with(".slice") {
                name.to_string()
            } else {
                format!("{prefix}-{name}.scope")
            };
            let base = expand_slice(slice).unwrap_or_default();
            let unit_path = if name.ends_with(".slice") {
                expand_slice(name).unwrap_or(unit)
            } else {
                unit
            };
            return check_suffix(
                actual,
                &unit_path,
                !base.is_empty() && actual.starts_with(&base),
            );
        }
        _ => cgroups_path.trim_matches('/').to_string(),
    };
    if cgroups_path.starts_with('/') {
        let ok = actual == expected || actual.strip_prefix(&expected) == Some("/container");
        return (!ok)
            .then(|| format!("cgroup {actual} differs from linux.cgroupsPath {cgroups_path}"));
    }
    check_suffix(actual, &expected, true)
}

fn check_suffix(actual: &str, unit: &str, base_ok: bool) -> Option<String> {
    let a = actual.strip_suffix("/container").unwrap_or(actual);
    let ok = base_ok || !unit.contains('/');
    (!(ok && (a == unit || a.ends_with(&format!("/{unit}")))))
        .then(|| format!("cgroup {actual} does not match linux.cgroupsPath (expected .../{unit})"))
}

/// Finds cgroups under `root` whose directory name contains `id`
/// (`<id>`, `crio-<id>.scope`, `cri-containerd-<id>.scope`, `libpod-<id>.scope`).
pub fn find_by_id(root: &Path, id: &str, max_depth: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().contains(id) {
                found.push(p.clone());
            } else if depth < max_depth {
                stack.push((p, depth + 1));
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
#[path = "locate_tests.rs"]
mod tests;
