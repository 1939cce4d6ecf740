//! Unit and property tests of ranges, range sets and the iterator.

use std::collections::HashSet;
use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn spec(subnet: &str, start: Option<&str>, end: Option<&str>, gw: Option<&str>) -> RangeSpec {
    RangeSpec {
        subnet: Some(subnet.parse().unwrap()),
        range_start: start.map(ip),
        range_end: end.map(ip),
        gateway: gw.map(ip),
    }
}

#[test]
fn defaults_match_the_reference() {
    let r = Range::canonicalize(&spec("10.0.0.0/24", None, None, None)).unwrap();
    assert_eq!(
        (r.start, r.end, r.gateway),
        (ip("10.0.0.1"), ip("10.0.0.254"), ip("10.0.0.1"))
    );
    let r6 = Range::canonicalize(&spec("fd00::/120", None, None, None)).unwrap();
    assert_eq!((r6.start, r6.end), (ip("fd00::1"), ip("fd00::ff")));
    assert_eq!(r.capacity(), 253);
    assert_eq!(r6.capacity(), 254);
}

#[test]
fn invalid_ranges_are_rejected_with_the_reference_wording() {
    let cases = [
        (spec("10.0.0.1/24", None, None, None), "host bits set"),
        (spec("10.0.0.0/31", None, None, None), "too small"),
        (spec("10.0.0.0/32", None, None, None), "too small"),
        (spec("fd00::/127", None, None, None), "too small"),
        (spec("fd00::/128", None, None, None), "too small"),
        (
            spec("10.0.0.0/24", Some("10.0.1.5"), None, None),
            "not in network",
        ),
        (
            spec("10.0.0.0/24", None, Some("10.0.1.5"), None),
            "not in network",
        ),
        (spec("10.0.0.0/24", None, None, Some("10.9.0.1")), "gateway"),
        (
            spec("10.0.0.0/24", Some("10.0.0.9"), Some("10.0.0.5"), None),
            "before start",
        ),
        (
            spec("10.0.0.0/24", Some("fd00::1"), None, None),
            "same protocol",
        ),
    ];
    for (s, want) in cases {
        let e = Range::canonicalize(&s).unwrap_err();
        assert!(e.contains(want), "{s:?}: {e}");
    }
    assert!(Range::canonicalize(&RangeSpec::default()).is_err());
}

#[test]
fn sets_reject_overlap_and_mixed_families() {
    let a = spec("10.0.0.0/24", None, None, None);
    let b = spec("10.0.0.0/25", None, None, None);
    let e = RangeSet::canonicalize(&[a.clone(), b]).unwrap_err();
    assert!(e.contains("overlap"), "{e}");
    let e = RangeSet::canonicalize(&[a.clone(), spec("fd00::/64", None, None, None)]).unwrap_err();
    assert!(e.contains("mixed"), "{e}");
    assert!(RangeSet::canonicalize(&[]).is_err());
    let split = [
        spec("10.0.0.0/24", None, Some("10.0.0.100"), None),
        spec("10.0.0.0/24", Some("10.0.0.101"), None, None),
    ];
    assert!(
        RangeSet::canonicalize(&split).is_ok(),
        "disjoint parts of one subnet"
    );
}

#[test]
fn iterates_round_robin_and_wraps_across_ranges() {
    let set = RangeSet::canonicalize(&[
        spec("10.0.0.0/29", None, None, None),
        spec("10.0.1.0/29", None, None, None),
    ])
    .unwrap();
    let fresh: Vec<String> = set.iter_from(None).map(|i| i.to_string()).collect();
    assert_eq!(
        fresh,
        [
            "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.1.2", "10.0.1.3",
            "10.0.1.4", "10.0.1.5", "10.0.1.6"
        ]
    );
    let after: Vec<String> = set
        .iter_from(Some(ip("10.0.1.5")))
        .map(|i| i.to_string())
        .collect();
    assert_eq!(after[..3], ["10.0.1.6", "10.0.0.2", "10.0.0.3"]);
    assert_eq!(
        after.last().unwrap(),
        "10.0.1.5",
        "last reserved comes last"
    );
    assert_eq!(after.len(), 10);
    let outside: Vec<IpAddr> = set.iter_from(Some(ip("192.168.0.1"))).collect();
    assert_eq!(
        outside[0],
        ip("10.0.0.2"),
        "a cursor outside the set restarts"
    );
}

#[test]
fn gateway_at_range_start_is_skipped() {
    let set = RangeSet::canonicalize(&[spec("10.0.0.0/30", None, None, None)]).unwrap();
    let all: Vec<IpAddr> = set.iter_from(None).collect();
    assert_eq!(all, vec![ip("10.0.0.2")]);
    let all: Vec<IpAddr> = set.iter_from(Some(ip("10.0.0.2"))).collect();
    assert_eq!(all, vec![ip("10.0.0.2")]);
    let only_gw = RangeSet::canonicalize(&[spec(
        "10.0.0.0/24",
        Some("10.0.0.1"),
        Some("10.0.0.1"),
        None,
    )])
    .unwrap();
    assert_eq!(only_gw.iter_from(None).count(), 0);
    assert_eq!(only_gw.capacity(), 0);
}

#[test]
fn display_is_start_dash_end() {
    let set = RangeSet::canonicalize(&[
        spec("10.0.0.0/24", None, None, None),
        spec("10.0.1.0/24", Some("10.0.1.10"), Some("10.0.1.20"), None),
    ])
    .unwrap();
    assert_eq!(set.to_string(), "10.0.0.1-10.0.0.254,10.0.1.10-10.0.1.20");
}

/// A random range set: up to three disjoint v4 or v6 ranges with random
/// bounds and gateways.
fn arb_set() -> impl Strategy<Value = RangeSet> {
    (
        any::<bool>(),
        26u8..=29,
        proptest::collection::vec((0u32..8, 0u32..8, 0u32..8), 1..=3),
    )
        .prop_map(|(v6, prefix, parts)| {
            let specs: Vec<RangeSpec> = parts
                .iter()
                .enumerate()
                .map(|(i, &(a, b, g))| {
                    let base: u128 = if v6 { 0xfd00 << 112 } else { 0x0a00_0000 };
                    let net = base + ((i as u128) << 8);
                    let n =
                        IpNet::new(from_u128(net, !v6), prefix + if v6 { 96 } else { 0 }).unwrap();
                    let last = to_u128(n.broadcast()) - u128::from(!v6);
                    let room = (1u128 << (32 - prefix)) - 2;
                    let lo = net + 1 + u128::from(a.min(b)) % room;
                    let hi = (last - u128::from(a.max(b) % 3)).max(lo);
                    RangeSpec {
                        subnet: Some(n),
                        range_start: Some(from_u128(lo, !v6)),
                        range_end: Some(from_u128(hi, !v6)),
                        gateway: Some(from_u128(net + 1 + u128::from(g) % room, !v6)),
                    }
                })
                .collect();
            RangeSet::canonicalize(&specs).unwrap()
        })
}

proptest! {
    /// From any cursor, one cycle visits every allocatable address exactly
    /// once, never a gateway, and the count equals the capacity.
    #[test]
    fn one_cycle_covers_the_set_exactly(set in arb_set(), cursor in 0u32..64, use_cursor in any::<bool>()) {
        let members: Vec<IpAddr> = set.0.iter()
            .flat_map(|r| (to_u128(r.start)..=to_u128(r.end)).map(move |v| (from_u128(v, r.is_v4()), r)))
            .filter(|(ip, r)| *ip != r.gateway)
            .map(|(ip, _)| ip)
            .collect();
        // (a set whose only address is its gateway has no members: no cursor then)
        let last = (use_cursor && !members.is_empty()).then(|| members[cursor as usize % members.len()]);
        let got: Vec<IpAddr> = set.iter_from(last).collect();
        let uniq: HashSet<IpAddr> = got.iter().copied().collect();
        prop_assert_eq!(uniq.len(), got.len(), "no address twice");
        prop_assert_eq!(uniq, members.iter().copied().collect::<HashSet<_>>());
        prop_assert_eq!(got.len() as u128, set.capacity());
        if let (Some(l), Some(first)) = (last, got.first()) {
            prop_assert_eq!(*got.last().unwrap(), l, "cursor is tried last");
            if got.len() > 1 {
                prop_assert_ne!(*first, l, "the cursor itself is not tried first");
            }
        }
        for ip in &got {
            prop_assert!(set.contains(*ip));
        }
    }

    /// `contains` agrees with the bounds for arbitrary addresses.
    #[test]
    fn contains_matches_bounds(set in arb_set(), probe in any::<u32>()) {
        let v4 = set.is_v4();
        let base: u128 = if v4 { 0x0a00_0000 } else { 0xfd00 << 112 };
        let ip = from_u128(base + u128::from(probe % 2048), v4);
        let inside = set.0.iter().any(|r| (to_u128(r.start)..=to_u128(r.end)).contains(&to_u128(ip)));
        prop_assert_eq!(set.contains(ip), inside);
    }
}
