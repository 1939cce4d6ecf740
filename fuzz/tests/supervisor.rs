//! The fuzzer can fail: each kind of misbehaviour is caught, saved with the
//! input that caused it, and makes the run exit 1 (`selftest_*` targets).

use std::process::Command;

fn fuzz(target: &str, out: &std::path::Path) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_ferrocni-fuzz"))
        .args(["--seconds", "2", "--jobs", "1", "--seed", "1", "--out"])
        .arg(out)
        .arg(target)
        .output()
        .expect("run ferrocni-fuzz");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn every_kind_of_failure_is_caught_and_saved() {
    let out = ferrocni_fuzz::net::Scratch::new("sup");
    for (target, kind) in [
        ("selftest_panic", "NEW: panic"),
        ("selftest_invariant", "NEW: invariant selftest invariant"),
        ("selftest_hang", "NEW: hang"),
        ("selftest_abort", "NEW: abort"),
        ("selftest_memory", "NEW: memory"),
        ("selftest_cap", "NEW: memory"),
    ] {
        let (code, text) = fuzz(target, out.path());
        assert_eq!(code, 1, "{target}: {text}");
        assert!(text.contains(kind), "{target}: no {kind:?} in\n{text}");
        let saved = out.path().join("crashes").join(target);
        let n = std::fs::read_dir(&saved).map(|d| d.count()).unwrap_or(0);
        assert!(n >= 2, "{target}: nothing saved in {}", saved.display());
    }
}

#[test]
fn a_clean_target_exits_0() {
    let out = ferrocni_fuzz::net::Scratch::new("sup0");
    let (code, text) = fuzz("cni_args", out.path());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 new finding"), "{text}");
}
