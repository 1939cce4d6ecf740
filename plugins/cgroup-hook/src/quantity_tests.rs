//! Table and property tests of the number grammars.

use super::*;
use proptest::prelude::*;

#[test]
fn quantities() {
    let cases = [
        ("512Mi", 512 << 20),
        ("1G", 1_000_000_000),
        ("1.5Gi", 1_610_612_736),
        ("1Gi", 1 << 30),
        ("1GiB", 1 << 30),
        ("4096", 4096),
        ("1k", 1000),
        ("1Ki", 1024),
        ("0.5Ki", 512),
        ("0.1Ki", 103),
        ("2Ei", 2 << 60),
    ];
    for (s, want) in cases {
        assert_eq!(parse_quantity(s), Ok(want), "{s}");
    }
    assert_eq!(parse_bytes("max"), Ok(Limit::Max));
    assert_eq!(parse_bytes(" 1Mi "), Ok(Limit::Value(1 << 20)));
}

#[test]
fn ambiguous_units_get_a_hint() {
    for (s, bin, dec) in [
        ("1MB", "1Mi", "1M"),
        ("1.5Gb", "1.5Gi", "1.5G"),
        ("1K", "1Ki", "1k"),
        ("2kB", "2Ki", "2k"),
        ("3g", "3Gi", "3G"),
    ] {
        let e = parse_quantity(s).unwrap_err();
        assert_eq!(
            e,
            ValueError::Ambiguous {
                input: s.into(),
                binary: bin.into(),
                decimal: dec.into()
            }
        );
        assert!(e.to_string().contains("ambiguous"), "{e}");
    }
}

#[test]
fn bad_quantities() {
    for s in [
        "", "Mi", "1.Mi", ".5Mi", "1..5", "-1", "1e3", "1 Mi", "500m", "1Zi", "1.2.3",
    ] {
        assert!(parse_quantity(s).is_err(), "{s:?} accepted");
    }
    assert!(matches!(
        parse_quantity("17Ei"),
        Err(ValueError::Overflow { .. })
    ));
}

#[test]
fn counts_and_bools() {
    assert_eq!(parse_count("1000"), Ok(Limit::Value(1000)));
    assert_eq!(parse_count("1k"), Ok(Limit::Value(1000)));
    assert_eq!(parse_count("1.5k"), Ok(Limit::Value(1500)));
    assert_eq!(parse_count("max"), Ok(Limit::Max));
    for s in ["1.5", "1Ki", "-3", "x", ""] {
        assert!(parse_count(s).is_err(), "{s:?}");
    }
    assert_eq!(parse_bool("true"), Ok(true));
    assert_eq!(parse_bool("0"), Ok(false));
    assert!(parse_bool("yes").is_err());
}

#[test]
fn cpu_amounts() {
    let q = |s: &str| parse_cpu_max(s).map(|c| c.kernel());
    assert_eq!(q("50%"), Ok("50000 100000".into()));
    assert_eq!(q("250%"), Ok("250000 100000".into()));
    assert_eq!(q("500m"), Ok("50000 100000".into()));
    assert_eq!(q("1.5"), Ok("150000 100000".into()));
    assert_eq!(q("2"), Ok("200000 100000".into()));
    assert_eq!(q("max"), Ok("max 100000".into()));
    assert_eq!(q("50%@10ms"), Ok("5000 10000".into()));
    assert_eq!(q("max@1s"), Ok("max 1000000".into()));
    assert!(q("50%@2s").unwrap_err().to_string().contains("period"));
    assert!(
        q("1%@10ms")
            .unwrap_err()
            .to_string()
            .contains("minimum of 1ms")
    );
    for s in ["", "50", "abc", "5x", "50%@", "50%@10min"] {
        if s == "50" {
            continue; // 50 CPUs is valid
        }
        assert!(q(s).is_err(), "{s:?}");
    }
}

#[test]
fn cpu_max_order() {
    let a = CpuMax::from_kernel("50000 100000").unwrap();
    let b = CpuMax::from_kernel("5000 10000").unwrap();
    let c = CpuMax::from_kernel("max 100000").unwrap();
    assert!(a.at_most(&b) && b.at_most(&a));
    assert!(a.at_most(&c) && !c.at_most(&a));
    assert!(CpuMax::from_kernel("max").is_some());
    assert!(CpuMax::from_kernel("x 1").is_none());
}

#[test]
fn durations_and_human() {
    assert_eq!(parse_duration_us("10ms"), Ok(10_000));
    assert_eq!(parse_duration_us("1s"), Ok(1_000_000));
    assert_eq!(parse_duration_us("250"), Ok(250));
    assert!(parse_duration_us("1h").is_err());
    assert_eq!(human_bytes(512), "512 B");
    assert_eq!(human_bytes(1536 << 20), "1.5 GiB");
}

const BIN: [(&str, u32); 6] = [
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];
const DEC: [(&str, u32); 6] = [("k", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5), ("E", 6)];

proptest! {
    #[test]
    fn binary_round_trip(n in 0u64..1024, i in 0usize..6) {
        let (suffix, p) = BIN[i];
        let want = u128::from(n) << (10 * p);
        let got = parse_quantity(&format!("{n}{suffix}"));
        match u64::try_from(want) {
            Ok(w) => prop_assert_eq!(got, Ok(w)),
            Err(_) => prop_assert!(got.is_err()),
        }
    }

    #[test]
    fn decimal_round_trip(n in 0u64..1000, i in 0usize..6) {
        let (suffix, p) = DEC[i];
        let want = u128::from(n) * 1000u128.pow(p);
        let got = parse_quantity(&format!("{n}{suffix}"));
        match u64::try_from(want) {
            Ok(w) => prop_assert_eq!(got, Ok(w)),
            Err(_) => {
                let overflow = matches!(got, Err(ValueError::Overflow { .. }));
                prop_assert!(overflow);
            }
        }
    }

    #[test]
    fn plain_integers_round_trip(n in any::<u64>()) {
        prop_assert_eq!(parse_quantity(&n.to_string()), Ok(n));
        prop_assert_eq!(parse_bytes(&n.to_string()), Ok(Limit::Value(n)));
    }

    #[test]
    fn fractions_round_up(int in 0u64..1000, frac in 0u64..1000) {
        let s = format!("{int}.{frac:03}Mi");
        let exact = (u128::from(int) * 1000 + u128::from(frac)) << 20;
        let want = exact.div_ceil(1000) as u64;
        prop_assert_eq!(parse_quantity(&s), Ok(want));
    }

    #[test]
    fn never_panics(s in "\\PC{0,24}") {
        let _ = parse_quantity(&s);
        let _ = parse_count(&s);
        let _ = parse_cpu_max(&s);
        let _ = parse_duration_us(&s);
    }

    #[test]
    fn percent_equals_millicores(p in 1u64..2000) {
        let a = parse_cpu_max(&format!("{p}%")).unwrap();
        let b = parse_cpu_max(&format!("{}m", p * 10)).unwrap();
        prop_assert_eq!(a, b);
        prop_assert_eq!(a.quota_us, Some(p * 1000));
    }
}
