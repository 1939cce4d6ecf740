//! Number grammars shared by the knobs: Kubernetes byte quantities (`512Mi`,
//! `1G`, `max`), counts (`1000`, `1k`), CPU amounts (`50%`, `500m`, `1.5`,
//! optional `@<period>`), durations (`10ms`) and `0|1|true|false`.

use crate::error::ValueError;

/// A kernel limit: a number or `max` (no limit). `Max` sorts above every value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Limit {
    Value(u64),
    Max,
}

impl Limit {
    /// Kernel text form: the number or `max`.
    pub fn kernel(&self) -> String {
        match self {
            Limit::Value(v) => v.to_string(),
            Limit::Max => "max".into(),
        }
    }

    /// Parses a kernel file's `max` or integer.
    pub fn from_kernel(s: &str) -> Option<Limit> {
        match s.trim() {
            "max" => Some(Limit::Max),
            t => t.parse().ok().map(Limit::Value),
        }
    }
}

/// A decimal number as `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy)]
struct Decimal {
    mantissa: u128,
    scale: u32,
}

/// Splits `s` into a leading unsigned decimal and the rest.
fn split_number(s: &str) -> Option<(Decimal, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(end);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() || frac.contains('.') || (num.contains('.') && frac.is_empty()) {
        return None;
    }
    if int.len() + frac.len() > 30 {
        return None;
    }
    let mantissa: u128 = format!("{int}{frac}").parse().ok()?;
    Some((
        Decimal {
            mantissa,
            scale: frac.len() as u32,
        },
        rest,
    ))
}

/// `value * mult`, rounded up to an integer.
fn scale_up(d: Decimal, mult: u128, input: &str) -> Result<u64, ValueError> {
    let div = 10u128.pow(d.scale);
    let v = d
        .mantissa
        .checked_mul(mult)
        .map(|p| p.div_ceil(div))
        .ok_or_else(|| ValueError::Overflow {
            input: input.into(),
        })?;
    u64::try_from(v).map_err(|_| ValueError::Overflow {
        input: input.into(),
    })
}

/// Multiplier of a Kubernetes quantity suffix; `None` if unknown.
fn suffix_mult(suffix: &str) -> Option<u128> {
    let bin = |p: u32| Some(1u128 << (10 * p));
    let dec = |p: u32| Some(1000u128.pow(p));
    match suffix {
        "" => Some(1),
        "Ki" | "KiB" => bin(1),
        "Mi" | "MiB" => bin(2),
        "Gi" | "GiB" => bin(3),
        "Ti" | "TiB" => bin(4),
        "Pi" | "PiB" => bin(5),
        "Ei" | "EiB" => bin(6),
        "k" => dec(1),
        "M" => dec(2),
        "G" => dec(3),
        "T" => dec(4),
        "P" => dec(5),
        "E" => dec(6),
        _ => None,
    }
}

/// The error for an unknown suffix, with a hint when it looks like a unit.
fn suffix_error(input: &str, num: &str, suffix: &str) -> ValueError {
    let letter = suffix.chars().next().map(|c| c.to_ascii_uppercase());
    let rest = suffix.get(1..).unwrap_or("");
    let unitish = matches!(rest, "" | "B" | "b" | "iB" | "ib" | "I");
    match letter {
        Some(l @ ('K' | 'M' | 'G' | 'T' | 'P' | 'E')) if unitish => {
            let dec = if l == 'K' { 'k' } else { l };
            ValueError::Ambiguous {
                input: input.into(),
                binary: format!("{num}{l}i"),
                decimal: format!("{num}{dec}"),
            }
        }
        _ => ValueError::Quantity {
            input: input.into(),
        },
    }
}

/// Parses a byte quantity without `max`: `512Mi`, `1G`, `1.5Gi`, `4096`.
pub fn parse_quantity(input: &str) -> Result<u64, ValueError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(ValueError::Empty);
    }
    let (d, suffix) = split_number(s).ok_or_else(|| ValueError::Quantity {
        input: input.into(),
    })?;
    let num = &s[..s.len() - suffix.len()];
    let mult = suffix_mult(suffix).ok_or_else(|| suffix_error(input, num, suffix))?;
    scale_up(d, mult, input)
}

/// Parses bytes or `max`.
pub fn parse_bytes(input: &str) -> Result<Limit, ValueError> {
    match input.trim() {
        "max" => Ok(Limit::Max),
        _ => parse_quantity(input).map(Limit::Value),
    }
}

/// Parses a count or `max`: `1000`, `1k` (decimal suffixes only).
pub fn parse_count(input: &str) -> Result<Limit, ValueError> {
    let s = input.trim();
    if s == "max" {
        return Ok(Limit::Max);
    }
    let bad = || ValueError::Syntax {
        what: "count",
        input: input.into(),
        hint: "expected an integer such as 1000 or 1k, or max",
    };
    let (d, suffix) = split_number(s).ok_or_else(bad)?;
    let mult = match suffix {
        "" => 1,
        "k" => 1000,
        "M" => 1_000_000,
        _ => return Err(bad()),
    };
    let v = scale_up(d, mult, input)?;
    if d.scale > 0 && (d.mantissa * mult) % 10u128.pow(d.scale) != 0 {
        return Err(bad());
    }
    Ok(Limit::Value(v))
}

/// Parses `0|1|true|false`.
pub fn parse_bool(input: &str) -> Result<bool, ValueError> {
    match input.trim() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(ValueError::Syntax {
            what: "boolean",
            input: input.into(),
            hint: "expected 0, 1, true or false",
        }),
    }
}

/// Parses a duration into microseconds: `100ms`, `1s`, `50000us`, bare = us.
pub fn parse_duration_us(input: &str) -> Result<u64, ValueError> {
    let bad = || ValueError::Syntax {
        what: "duration",
        input: input.into(),
        hint: "expected e.g. 100ms, 1s or 50000us",
    };
    let (d, suffix) = split_number(input.trim()).ok_or_else(bad)?;
    let mult = match suffix {
        "" | "us" => 1,
        "ms" => 1000,
        "s" => 1_000_000,
        _ => return Err(bad()),
    };
    scale_up(d, mult, input)
}

/// Kernel bounds of `cpu.max` (kernel/sched/core.c).
pub const CPU_PERIOD_MIN_US: u64 = 1_000;
pub const CPU_PERIOD_MAX_US: u64 = 1_000_000;
pub const CPU_QUOTA_MIN_US: u64 = 1_000;
pub const CPU_PERIOD_DEFAULT_US: u64 = 100_000;

/// A `cpu.max` setting: quota (`None` = max) per period, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMax {
    pub quota_us: Option<u64>,
    pub period_us: u64,
}

impl CpuMax {
    /// Kernel text form `quota period`.
    pub fn kernel(&self) -> String {
        match self.quota_us {
            Some(q) => format!("{q} {}", self.period_us),
            None => format!("max {}", self.period_us),
        }
    }

    /// Parses the kernel's `cpu.max` content.
    pub fn from_kernel(s: &str) -> Option<CpuMax> {
        let mut it = s.split_whitespace();
        let quota_us = match it.next()? {
            "max" => None,
            q => Some(q.parse().ok()?),
        };
        let period_us = it
            .next()
            .map_or(Some(CPU_PERIOD_DEFAULT_US), |p| p.parse().ok())?;
        Some(CpuMax {
            quota_us,
            period_us,
        })
    }

    /// True when `self` allows at most as much CPU time as `other`.
    pub fn at_most(&self, other: &CpuMax) -> bool {
        match (self.quota_us, other.quota_us) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => {
                u128::from(a) * u128::from(other.period_us)
                    <= u128::from(b) * u128::from(self.period_us)
            }
        }
    }
}

/// Parses `max`, `50%`, `500m`, `1.5`, each with an optional `@<period>`.
pub fn parse_cpu_max(input: &str) -> Result<CpuMax, ValueError> {
    let s = input.trim();
    let (amount, period) = match s.split_once('@') {
        Some((a, p)) => (a.trim(), parse_duration_us(p)?),
        None => (s, CPU_PERIOD_DEFAULT_US),
    };
    if !(CPU_PERIOD_MIN_US..=CPU_PERIOD_MAX_US).contains(&period) {
        return Err(ValueError::Range {
            what: "cpu.max period",
            value: format!("{period}us"),
            min: "1ms".into(),
            max: "1s".into(),
        });
    }
    if amount == "max" {
        return Ok(CpuMax {
            quota_us: None,
            period_us: period,
        });
    }
    let bad = || ValueError::Syntax {
        what: "CPU amount",
        input: input.into(),
        hint: "expected e.g. 50%, 500m, 1.5 or max, optionally @10ms",
    };
    let (d, suffix) = split_number(amount).ok_or_else(bad)?;
    let per_cpu_div: u128 = match suffix {
        "" => 1,
        "%" => 100,
        "m" => 1000,
        _ => return Err(bad()),
    };
    let div = 10u128.pow(d.scale) * per_cpu_div;
    let quota = d
        .mantissa
        .checked_mul(u128::from(period))
        .map(|p| p.div_ceil(div))
        .and_then(|q| u64::try_from(q).ok())
        .ok_or_else(|| ValueError::Overflow {
            input: input.into(),
        })?;
    if quota < CPU_QUOTA_MIN_US {
        return Err(ValueError::Other(format!(
            "{input:?} gives a quota of {quota}us per {period}us period, below the kernel minimum of 1ms (raise the amount or the period)"
        )));
    }
    Ok(CpuMax {
        quota_us: Some(quota),
        period_us: period,
    })
}

/// Formats bytes for humans: `1.5 GiB`, `512 B`.
pub fn human_bytes(v: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if v < 1024 {
        return format!("{v} B");
    }
    let mut f = v as f64;
    let mut unit = "B";
    for u in UNITS {
        if f < 1024.0 {
            break;
        }
        f /= 1024.0;
        unit = u;
    }
    format!("{f:.1} {unit}")
}

#[cfg(test)]
#[path = "quantity_tests.rs"]
mod tests;
