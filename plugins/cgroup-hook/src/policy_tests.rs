//! Policy parsing, allowlist and bounds; the shipped example must load.

use super::*;

#[test]
fn shipped_example_loads() {
    let text = include_str!("../examples/cgroup-policy.json");
    let p = Policy::parse(text).unwrap();
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.on_error, OnError::Reject);
    assert!(p.classes["core"].is_empty());
    assert_eq!(p.classes["non-core"][&Knob::MemoryMax], "1Gi");
    assert!(p.classes["non-core"][&Knob::IoMax].contains("wbps=1Mi"));
    assert_eq!(p.classes["debug"][&Knob::MemoryMax], "2Gi");
    assert_eq!(p.classes["debug"][&Knob::PidsMax], "1000");
}

#[test]
fn defaults_exclude_protections() {
    let p = Policy::parse("{}").unwrap();
    assert!(p.tighten_only);
    let v = Knob::MemoryLow.parse("1Gi").unwrap();
    let e = p.check(Knob::MemoryLow, &v).unwrap_err();
    assert!(e.contains("protection"), "{e}");
    assert!(
        p.check(Knob::MemoryMax, &Knob::MemoryMax.parse("1Gi").unwrap())
            .is_ok()
    );
}

#[test]
fn bounds_apply() {
    let p = Policy::parse(
        r#"{"bounds": {"memory.max": {"min": "64Mi", "max": "8Gi"}, "cpu.max": {"max": "2"}}}"#,
    )
    .unwrap();
    let m = |s: &str| Knob::MemoryMax.parse(s).unwrap();
    assert!(p.check(Knob::MemoryMax, &m("1Gi")).is_ok());
    assert!(p.check(Knob::MemoryMax, &m("64Mi")).is_ok());
    assert!(p.check(Knob::MemoryMax, &m("8Gi")).is_ok());
    assert!(
        p.check(Knob::MemoryMax, &m("1Mi"))
            .unwrap_err()
            .contains("minimum 67108864")
    );
    assert!(
        p.check(Knob::MemoryMax, &m("max"))
            .unwrap_err()
            .contains("maximum")
    );
    let c = |s: &str| Knob::CpuMax.parse(s).unwrap();
    assert!(p.check(Knob::CpuMax, &c("150%")).is_ok());
    assert!(p.check(Knob::CpuMax, &c("250%")).is_err());
}

#[test]
fn bad_policies() {
    for (text, want) in [
        (r#"{"mode": "loud"}"#, "unknown variant"),
        (r#"{"allowed_knobs": ["memory.mx"]}"#, "unknown knob"),
        (r#"{"bounds": {"cpuset.cpus": {"max": "0-3"}}}"#, "no order"),
        (r#"{"bounds": {"memory.max": {"max": "1GB"}}}"#, "ambiguous"),
        (
            r#"{"classes": {"x": {"memory.max": "lots"}}}"#,
            "classes.x.memory.max",
        ),
        (r#"{"surprise": 1}"#, "unknown field"),
        ("not json", "expected"),
    ] {
        let e = Policy::parse(text).unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn load_missing_files() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("none.json");
    assert!(
        Policy::load(Some(&p))
            .unwrap_err()
            .to_string()
            .contains("none.json")
    );
    std::fs::write(&p, r#"{"on_error": "warn"}"#).unwrap();
    assert_eq!(Policy::load(Some(&p)).unwrap().on_error, OnError::Warn);
}
