//! CPU and memory-node lists in the kernel's syntax (`0-3,6`).

use std::collections::BTreeSet;
use std::fmt;

use crate::error::ValueError;

/// Largest CPU or node number accepted (a typo guard, not a kernel limit).
const MAX_ID: u32 = 8191;

/// A set of CPU or NUMA node numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuSet(pub BTreeSet<u32>);

impl CpuSet {
    /// Parses `0-3,6`; an empty string is the empty set (kernel: inherit).
    pub fn parse(raw: &str) -> Result<CpuSet, ValueError> {
        let bad = || ValueError::Syntax {
            what: "CPU/node list",
            input: raw.into(),
            hint: "expected e.g. 0-3,6",
        };
        let mut set = BTreeSet::new();
        for part in raw.trim().split(',').filter(|p| !p.trim().is_empty()) {
            let part = part.trim();
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: u32 = a.trim().parse().map_err(|_| bad())?;
            let b: u32 = b.trim().parse().map_err(|_| bad())?;
            if a > b || b > MAX_ID {
                return Err(bad());
            }
            set.extend(a..=b);
        }
        Ok(CpuSet(set))
    }

    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut it = self.0.iter().copied().peekable();
        while let Some(start) = it.next() {
            let mut end = start;
            while it.peek() == Some(&(end + 1)) {
                end += 1;
                it.next();
            }
            parts.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lists() {
        let s = CpuSet::parse("0-3, 6,8-9").unwrap();
        assert_eq!(s.to_string(), "0-3,6,8-9");
        assert!(CpuSet::parse("").unwrap().is_empty());
        assert!(CpuSet::parse("1").unwrap().is_subset(&s));
        assert!(!CpuSet::parse("4").unwrap().is_subset(&s));
        for bad in ["3-1", "a", "1-", "-1", "99999", "1;2"] {
            assert!(CpuSet::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(v in proptest::collection::btree_set(0u32..200, 0..40)) {
            let s = CpuSet(v);
            prop_assert_eq!(CpuSet::parse(&s.to_string()), Ok(s));
        }
    }
}
