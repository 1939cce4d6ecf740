//! Replays the inputs the fuzzer found. `regressions/<target>/*.bin` must
//! pass (fixed bugs and edge cases that must stay handled);
//! `regressions-open/<target>/*.bin` are known open bugs (none at the
//! moment): once the owning crate is fixed, move the files over.

use std::path::{Path, PathBuf};

use ferrocni_fuzz::{engine, guard, targets};

fn inputs(dir: &str) -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    for t in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let target = t.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(t.path()).into_iter().flatten().flatten() {
            if f.path().extension().is_some_and(|e| e == "bin") {
                out.push((target.clone(), f.path()));
            }
        }
    }
    out.sort();
    out
}

/// Failures, one line each.
fn replay(dir: &str) -> (usize, Vec<String>) {
    guard::install_panic_hook();
    let all = inputs(dir);
    let mut bad = Vec::new();
    for (target, path) in &all {
        let t = targets::by_name(target).unwrap_or_else(|| panic!("no target {target}"));
        let input = std::fs::read(path).expect("read input");
        if let Some((kind, msg)) = engine::run_one(&t, &input) {
            let msg: String = msg.chars().take(300).collect();
            bad.push(format!("{}: {kind}: {msg}", path.display()));
        }
    }
    (all.len(), bad)
}

#[test]
fn fixed_regressions_stay_fixed() {
    let (n, bad) = replay("regressions");
    assert!(n > 0, "no regression inputs found");
    assert!(
        bad.is_empty(),
        "regressions failing again:\n{}",
        bad.join("\n")
    );
}

/// Open findings are listed so they are not forgotten; an input there that
/// passes today belongs in `regressions/`.
#[test]
fn open_findings_still_fail_until_moved() {
    let (n, bad) = replay("regressions-open");
    assert_eq!(
        bad.len(),
        n,
        "open findings that pass now: move them to fuzz/regressions/"
    );
}
