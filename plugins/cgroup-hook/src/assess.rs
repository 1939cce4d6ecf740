//! Per-knob comparison of a wanted value with a cgroup file's current
//! content: is it looser (tighten-only), already satisfied (no write), which
//! lines to write (one per write(2)) and which lines undo them.

use crate::cpuset::CpuSet;
use crate::iodev::{self, DevRef, IO_KEYS};
use crate::knob::{Knob, Value};
use crate::quantity::{CpuMax, Limit};

/// The outcome of comparing a wanted value with the current one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assessment {
    /// Why the wanted value is looser than the current one, if it is.
    pub looser: Option<String>,
    /// Lines to write; empty when already satisfied.
    pub lines: Vec<String>,
    /// Lines restoring the current state, in write order.
    pub undo: Vec<String>,
}

/// Kernel page size (memory files read back rounded down to it).
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(p).ok().filter(|p| *p > 0).unwrap_or(4096)
}

fn round_page(l: Limit) -> Limit {
    match l {
        Limit::Value(v) => Limit::Value(v / page_size() * page_size()),
        Limit::Max => Limit::Max,
    }
}

fn unparsable(knob: Knob, cur: &str) -> String {
    format!("cannot parse current {} {:?}", knob.file(), cur.trim())
}

/// Compares `want` with `cur` (the file's content). `effective` is the
/// cgroup's `cpuset.*.effective`, used when a cpuset file is empty.
pub fn assess(
    knob: Knob,
    want: &Value,
    cur: &str,
    effective: Option<&CpuSet>,
) -> Result<Assessment, String> {
    let single = |looser: bool, differs: bool, line: String| Assessment {
        looser: looser.then(|| format!("looser than the current {} {}", knob.file(), cur.trim())),
        lines: if differs { vec![line] } else { vec![] },
        undo: vec![if cur.trim().is_empty() {
            "\n".into()
        } else {
            cur.trim().into()
        }],
    };
    Ok(match want {
        Value::Bytes(l) | Value::Count(l) => {
            let c = Limit::from_kernel(cur).ok_or_else(|| unparsable(knob, cur))?;
            let w = if matches!(want, Value::Bytes(_)) {
                round_page(*l)
            } else {
                *l
            };
            single(w > c, w != c, w.kernel())
        }
        Value::Bool(b) => {
            let c = match cur.trim() {
                "1" => true,
                "0" => false,
                _ => return Err(unparsable(knob, cur)),
            };
            single(
                knob == Knob::CpuIdle && c && !b,
                c != *b,
                u8::from(*b).to_string(),
            )
        }
        Value::Cpu(w) => {
            let c = CpuMax::from_kernel(cur).ok_or_else(|| unparsable(knob, cur))?;
            single(!w.at_most(&c), *w != c, w.kernel())
        }
        Value::Weight(w) => {
            let c: u16 = cur.trim().parse().map_err(|_| unparsable(knob, cur))?;
            single(*w > c, *w != c, w.to_string())
        }
        Value::CpuSet(w) => {
            let c = CpuSet::parse(cur).map_err(|_| unparsable(knob, cur))?;
            let bound = if c.is_empty() {
                effective.cloned().unwrap_or_default()
            } else {
                c.clone()
            };
            let looser = !bound.is_empty() && !w.is_subset(&bound);
            single(looser, *w != c, w.to_string())
        }
        Value::IoMax(m) => assess_io_max(m, cur),
        Value::IoWeight(w) => assess_io_weight(w, cur),
    })
}

fn assess_io_max(m: &iodev::IoMax, cur: &str) -> Assessment {
    let mut a = Assessment::default();
    for e in &m.0 {
        let c = iodev::io_max_current(cur, &e.dev);
        let mut differs = false;
        for (i, w) in e.limits.iter().enumerate() {
            let Some(w) = w else { continue };
            if *w > c[i] && a.looser.is_none() {
                a.looser = Some(format!(
                    "looser than the current io.max {} {}={}",
                    e.dev,
                    IO_KEYS[i],
                    c[i].kernel()
                ));
            }
            differs |= *w != c[i];
        }
        if differs {
            a.lines.push(iodev::io_max_line(e));
            let old = iodev::IoMaxEntry {
                dev: e.dev.clone(),
                limits: c.map(Some),
            };
            a.undo.push(iodev::io_max_line(&old));
        }
    }
    a
}

fn assess_io_weight(w: &iodev::IoWeight, cur: &str) -> Assessment {
    let mut a = Assessment::default();
    let mut check = |dev: Option<&DevRef>, want: u16, line: String| {
        let c = iodev::io_weight_current(cur, dev);
        if c.is_some_and(|c| want > c) && a.looser.is_none() {
            let name = dev.map_or("default".to_string(), |d| d.to_string());
            a.looser = Some(format!(
                "looser than the current io.weight {name} {}",
                c.unwrap_or(0)
            ));
        }
        if c != Some(want) {
            a.lines.push(line);
            let has_override = dev.is_some_and(|d| {
                cur.lines()
                    .any(|l| l.split_whitespace().next() == Some(&d.to_string()))
            });
            a.undo.push(match (dev, c) {
                (Some(d), Some(c)) if has_override => format!("{d} {c}"),
                (Some(d), _) => format!("{d} default"),
                (None, c) => format!("default {}", c.unwrap_or(100)),
            });
        }
    };
    if let Some(d) = w.default {
        check(None, d, format!("default {d}"));
    }
    for (dev, v) in &w.devs {
        check(Some(dev), *v, format!("{dev} {v}"));
    }
    a
}

#[cfg(test)]
#[path = "assess_tests.rs"]
mod tests;
