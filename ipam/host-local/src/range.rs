//! Address ranges and range sets with the reference's semantics: defaults,
//! validation, membership, overlap, capacity and the round-robin iterator.
//!
//! Addresses are handled as `u128` plus a family flag so IPv4 and IPv6 share
//! one implementation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The numeric value of an address.
pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address of value `v` in the given family (IPv4 keeps the low 32 bits).
pub fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

/// IPv4-mapped IPv6 addresses become IPv4, like the reference's canonicalisation.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// One range as written in the configuration (all keys optional but `subnet`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSpec {
    pub subnet: Option<IpNet>,
    pub range_start: Option<IpAddr>,
    pub range_end: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
}

/// A validated range: `start..=end` inside `subnet`; `gateway` is never handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub subnet: IpNet,
    pub start: IpAddr,
    pub end: IpAddr,
    pub gateway: IpAddr,
}

impl Range {
    /// SPEC (reference range.go): host bits zero, at least 4 addresses, gateway
    /// default network+1 and inside the subnet, start default network+1, end
    /// default broadcast−1 (IPv4) or the last address (IPv6), start ≤ end.
    pub fn canonicalize(spec: &RangeSpec) -> Result<Range, String> {
        let subnet = spec.subnet.ok_or("subnet is required")?;
        let subnet = match (subnet.addr().to_canonical(), subnet) {
            (IpAddr::V4(a), IpNet::V6(n)) if n.prefix_len() >= 96 => {
                IpNet::new(IpAddr::V4(a), n.prefix_len() - 96).map_err(|e| e.to_string())?
            }
            _ => subnet,
        };
        if subnet.prefix_len() + 2 > subnet.max_prefix_len() {
            return Err(format!("Network {subnet} too small to allocate from"));
        }
        if subnet.trunc() != subnet {
            return Err(format!(
                "Network has host bits set. For a subnet mask of length {} the network address is {}",
                subnet.prefix_len(),
                subnet.network()
            ));
        }
        let v4 = subnet.addr().is_ipv4();
        let net = to_u128(subnet.network());
        let first = from_u128(net + 1, v4);
        let gateway = match spec.gateway.map(canonical) {
            None => first,
            Some(g) if subnet.contains(&g) => g,
            Some(g) => return Err(format!("gateway {g} not in network {subnet}")),
        };
        let mut r = Range {
            subnet,
            start: first,
            end: last_ip(&subnet),
            gateway,
        };
        if let Some(s) = spec.range_start.map(canonical) {
            r.check_in_subnet(s)?;
            r.start = s;
        }
        if let Some(e) = spec.range_end.map(canonical) {
            r.check_in_subnet(e)?;
            if to_u128(e) < to_u128(r.start) {
                return Err(format!(
                    "{e} is in network {subnet} but before start {}",
                    r.start
                ));
            }
            r.end = e;
        }
        Ok(r)
    }

    fn check_in_subnet(&self, ip: IpAddr) -> Result<(), String> {
        if ip.is_ipv4() != self.subnet.addr().is_ipv4() {
            return Err(format!(
                "IP {ip} is not the same protocol as subnet {}",
                self.subnet
            ));
        }
        if !self.subnet.contains(&ip) {
            return Err(format!("{ip} not in network {}", self.subnet));
        }
        Ok(())
    }

    pub fn is_v4(&self) -> bool {
        self.subnet.addr().is_ipv4()
    }

    /// Same family, inside the subnet and within `start..=end`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.is_v4()
            && self.subnet.contains(&ip)
            && (to_u128(self.start)..=to_u128(self.end)).contains(&to_u128(ip))
    }

    /// The reference's overlap test: same family and either contains an end of the other.
    pub fn overlaps(&self, o: &Range) -> bool {
        self.is_v4() == o.is_v4()
            && (self.contains(o.start)
                || self.contains(o.end)
                || o.contains(self.start)
                || o.contains(self.end))
    }

    /// How many addresses the iterator can hand out (the gateway is skipped).
    pub fn capacity(&self) -> u128 {
        let size = (to_u128(self.end) - to_u128(self.start)).saturating_add(1);
        size - u128::from(self.contains(self.gateway))
    }

    /// `address/prefix` of the subnet for an address of this range.
    pub fn with_prefix(&self, ip: IpAddr) -> IpNet {
        IpNet::new(ip, self.subnet.prefix_len()).unwrap_or(self.subnet)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

fn last_ip(subnet: &IpNet) -> IpAddr {
    let b = to_u128(subnet.broadcast());
    from_u128(
        if subnet.addr().is_ipv4() { b - 1 } else { b },
        subnet.addr().is_ipv4(),
    )
}

/// A pool of disjoint ranges of one family; one address is allocated per set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet(pub Vec<Range>);

impl RangeSet {
    /// Validates every range, then the set: one family, no overlaps.
    pub fn canonicalize(specs: &[RangeSpec]) -> Result<RangeSet, String> {
        if specs.is_empty() {
            return Err("empty range set".into());
        }
        let ranges = specs
            .iter()
            .map(Range::canonicalize)
            .collect::<Result<Vec<_>, _>>()?;
        if ranges.iter().any(|r| r.is_v4() != ranges[0].is_v4()) {
            return Err("mixed address families".into());
        }
        for (i, a) in ranges.iter().enumerate() {
            if let Some(b) = ranges[i + 1..].iter().find(|b| a.overlaps(b)) {
                return Err(format!("subnets {a} and {b} overlap"));
            }
        }
        Ok(RangeSet(ranges))
    }

    pub fn is_v4(&self) -> bool {
        self.0[0].is_v4()
    }

    /// The range holding `ip`, if any.
    pub fn range_for(&self, ip: IpAddr) -> Option<&Range> {
        self.0.iter().find(|r| r.contains(ip))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.range_for(ip).is_some()
    }

    pub fn overlaps(&self, o: &RangeSet) -> bool {
        self.0.iter().any(|a| o.0.iter().any(|b| a.overlaps(b)))
    }

    pub fn capacity(&self) -> u128 {
        self.0
            .iter()
            .fold(0u128, |n, r| n.saturating_add(r.capacity()))
    }

    /// Candidates in the reference's order: after `last` when it lies in the
    /// set (round-robin), else from the first range's start; wraps across
    /// ranges and stops after one full cycle; skips each range's gateway.
    pub fn iter_from(&self, last: Option<IpAddr>) -> RangeIter<'_> {
        let mut it = RangeIter {
            set: &self.0,
            idx: 0,
            cur: None,
            start: None,
            done: false,
        };
        if let Some(l) = last.map(canonical)
            && let Some(i) = self.0.iter().position(|r| r.contains(l))
        {
            it.idx = i;
            it.cur = Some(to_u128(l));
        }
        it
    }
}

impl fmt::Display for RangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(Range::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// The round-robin iterator over a [`RangeSet`]; yields addresses.
#[derive(Debug, Clone)]
pub struct RangeIter<'a> {
    set: &'a [Range],
    idx: usize,
    cur: Option<u128>,
    start: Option<u128>,
    done: bool,
}

impl Iterator for RangeIter<'_> {
    type Item = IpAddr;

    fn next(&mut self) -> Option<IpAddr> {
        while !self.done {
            let r = &self.set[self.idx];
            let next = match self.cur {
                None => {
                    let s = to_u128(r.start);
                    self.start = Some(s);
                    s
                }
                Some(c) => {
                    let n = if c == to_u128(r.end) {
                        self.idx = (self.idx + 1) % self.set.len();
                        to_u128(self.set[self.idx].start)
                    } else {
                        c + 1
                    };
                    match self.start {
                        None => self.start = Some(n),
                        Some(s) if s == n => self.done = true,
                        Some(_) => {}
                    }
                    n
                }
            };
            self.cur = Some(next);
            let r = &self.set[self.idx];
            let ip = from_u128(next, r.is_v4());
            if !self.done && ip != r.gateway {
                return Some(ip);
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "range_tests.rs"]
mod tests;
