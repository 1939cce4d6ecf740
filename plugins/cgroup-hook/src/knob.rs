//! The knobs (cgroup v2 interface files) the hook may set, and parsing of
//! their values into typed [`Value`]s. The grammar of each knob is documented
//! in `docs/cgroup-hook.md`.

use crate::cpuset::CpuSet;
use crate::error::ValueError;
use crate::iodev::{IoMax, IoWeight};
use crate::quantity::{self, CpuMax, Limit};

/// A settable cgroup v2 file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Knob {
    MemoryMax,
    MemoryHigh,
    MemoryLow,
    MemoryMin,
    MemorySwapMax,
    MemoryOomGroup,
    CpuMax,
    CpuWeight,
    CpuIdle,
    IoMax,
    IoWeight,
    PidsMax,
    CpusetCpus,
    CpusetMems,
}

impl Knob {
    /// Every knob, in write order.
    pub const ALL: [Knob; 14] = [
        Knob::CpusetCpus,
        Knob::CpusetMems,
        Knob::MemoryMin,
        Knob::MemoryLow,
        Knob::MemoryHigh,
        Knob::MemoryMax,
        Knob::MemorySwapMax,
        Knob::MemoryOomGroup,
        Knob::CpuMax,
        Knob::CpuWeight,
        Knob::CpuIdle,
        Knob::IoMax,
        Knob::IoWeight,
        Knob::PidsMax,
    ];

    /// The kernel file name, also the knob's annotation prefix.
    pub fn file(self) -> &'static str {
        match self {
            Knob::MemoryMax => "memory.max",
            Knob::MemoryHigh => "memory.high",
            Knob::MemoryLow => "memory.low",
            Knob::MemoryMin => "memory.min",
            Knob::MemorySwapMax => "memory.swap.max",
            Knob::MemoryOomGroup => "memory.oom.group",
            Knob::CpuMax => "cpu.max",
            Knob::CpuWeight => "cpu.weight",
            Knob::CpuIdle => "cpu.idle",
            Knob::IoMax => "io.max",
            Knob::IoWeight => "io.weight",
            Knob::PidsMax => "pids.max",
            Knob::CpusetCpus => "cpuset.cpus",
            Knob::CpusetMems => "cpuset.mems",
        }
    }

    /// Looks a knob up by file name.
    pub fn from_file(name: &str) -> Option<Knob> {
        Knob::ALL.into_iter().find(|k| k.file() == name)
    }

    /// The controller that provides the file.
    pub fn controller(self) -> &'static str {
        let f = self.file();
        &f[..f.find('.').unwrap_or(f.len())]
    }

    /// Protections can starve neighbours: only allowed when the policy lists them.
    pub fn is_protection(self) -> bool {
        matches!(self, Knob::MemoryLow | Knob::MemoryMin)
    }

    /// Parses a value for this knob (devices stay unresolved).
    pub fn parse(self, raw: &str) -> Result<Value, ValueError> {
        if raw.trim().is_empty() {
            return Err(ValueError::Empty);
        }
        Ok(match self {
            Knob::MemoryMax
            | Knob::MemoryHigh
            | Knob::MemoryLow
            | Knob::MemoryMin
            | Knob::MemorySwapMax => Value::Bytes(quantity::parse_bytes(raw)?),
            Knob::MemoryOomGroup | Knob::CpuIdle => Value::Bool(quantity::parse_bool(raw)?),
            Knob::CpuMax => Value::Cpu(quantity::parse_cpu_max(raw)?),
            Knob::CpuWeight => Value::Weight(parse_weight(raw)?),
            Knob::PidsMax => Value::Count(quantity::parse_count(raw)?),
            Knob::IoMax => Value::IoMax(IoMax::parse(raw)?),
            Knob::IoWeight => Value::IoWeight(IoWeight::parse(raw)?),
            Knob::CpusetCpus | Knob::CpusetMems => Value::CpuSet(CpuSet::parse(raw)?),
        })
    }
}

/// Parses a weight in the kernel's range 1..10000.
pub fn parse_weight(raw: &str) -> Result<u16, ValueError> {
    let s = raw.trim();
    match s.parse::<u16>() {
        Ok(w @ 1..=10000) => Ok(w),
        Ok(_) => Err(ValueError::Range {
            what: "weight",
            value: s.into(),
            min: "1".into(),
            max: "10000".into(),
        }),
        Err(_) => Err(ValueError::Syntax {
            what: "weight",
            input: raw.into(),
            hint: "expected an integer 1..10000",
        }),
    }
}

/// A parsed knob value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bytes(Limit),
    Count(Limit),
    Bool(bool),
    Cpu(CpuMax),
    Weight(u16),
    CpuSet(CpuSet),
    IoMax(IoMax),
    IoWeight(IoWeight),
}

impl Value {
    /// True when `self` is at most `other` on a scalar scale; `None` when the
    /// two are not comparable that way (lists, devices, booleans).
    pub fn at_most(&self, other: &Value) -> Option<bool> {
        match (self, other) {
            (Value::Bytes(a), Value::Bytes(b)) | (Value::Count(a), Value::Count(b)) => Some(a <= b),
            (Value::Weight(a), Value::Weight(b)) => Some(a <= b),
            (Value::Cpu(a), Value::Cpu(b)) => Some(a.at_most(b)),
            (Value::IoWeight(a), Value::IoWeight(b)) => Some(a.max_weight() <= b.max_weight()),
            _ => None,
        }
    }

    /// Short text for messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Bytes(l) | Value::Count(l) => l.kernel(),
            Value::Bool(b) => u8::from(*b).to_string(),
            Value::Cpu(c) => c.kernel(),
            Value::Weight(w) => w.to_string(),
            Value::CpuSet(s) => s.to_string(),
            Value::IoMax(m) => m.to_string(),
            Value::IoWeight(w) => w.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in Knob::ALL {
            assert_eq!(Knob::from_file(k.file()), Some(k));
        }
        assert_eq!(Knob::MemorySwapMax.controller(), "memory");
        assert_eq!(Knob::CpusetMems.controller(), "cpuset");
        assert_eq!(Knob::from_file("memory.peak"), None);
    }

    #[test]
    fn parses_by_knob() {
        assert_eq!(
            Knob::MemoryMax.parse("1Gi"),
            Ok(Value::Bytes(Limit::Value(1 << 30)))
        );
        assert_eq!(
            Knob::PidsMax.parse("1k"),
            Ok(Value::Count(Limit::Value(1000)))
        );
        assert_eq!(Knob::CpuIdle.parse("true"), Ok(Value::Bool(true)));
        assert_eq!(Knob::CpuWeight.parse("100"), Ok(Value::Weight(100)));
        assert!(Knob::CpuWeight.parse("0").is_err());
        assert!(Knob::CpuWeight.parse("10001").is_err());
        assert!(Knob::MemoryHigh.parse("  ").is_err());
        assert!(Knob::PidsMax.parse("1Ki").is_err());
    }

    #[test]
    fn scalar_order() {
        let a = Knob::MemoryMax.parse("1Gi").unwrap();
        let b = Knob::MemoryMax.parse("max").unwrap();
        assert_eq!(a.at_most(&b), Some(true));
        assert_eq!(b.at_most(&a), Some(false));
        let c = Knob::CpuMax.parse("50%").unwrap();
        let d = Knob::CpuMax.parse("1").unwrap();
        assert_eq!(c.at_most(&d), Some(true));
        assert_eq!(a.at_most(&c), None);
    }
}
