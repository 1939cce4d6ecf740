//! The fuzzing loop of one worker: pick a corpus entry, mutate, run it under
//! the guards, classify, minimise new findings, save them.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::guard;
use crate::mutate::mutate;
use crate::rng::Rng;
use crate::targets::Target;

/// Heap an input may use on top of what was live before it.
pub const PER_INPUT_MEM: usize = 256 << 20;
const MAX_CORPUS: usize = 4096;

/// One broken invariant.
#[derive(Debug, Clone)]
pub struct Finding {
    /// `panic`, `invariant`, `memory`, `hang` or `abort`.
    pub kind: String,
    pub message: String,
    pub input: Vec<u8>,
}

impl Finding {
    /// What identifies the bug across inputs: a panic's location, else the
    /// message with numbers and quoted parts blurred.
    pub fn signature(&self) -> String {
        signature(&self.kind, &self.message)
    }
}

/// See [`Finding::signature`]: for a panic its location, else the message
/// up to its first `": "` (targets put the variable part after it), with
/// digit runs blurred.
pub fn signature(kind: &str, message: &str) -> String {
    if let Some(rest) = message.strip_prefix("panic at ") {
        let loc = rest.split(": ").next().unwrap_or(rest);
        return format!("{kind} {loc}");
    }
    let head = message.split(": ").next().unwrap_or(message);
    let mut s = String::new();
    for c in head.chars().take(80) {
        if c.is_ascii_digit() {
            if !s.ends_with('#') {
                s.push('#');
            }
        } else if !c.is_control() {
            s.push(c);
        }
    }
    format!("{kind} {s}")
}

/// Runs one input under the guards; `Some` when it broke an invariant.
pub fn run_one(t: &Target, input: &[u8]) -> Option<(String, String)> {
    guard::mirror(input);
    let base = guard::reset_peak();
    guard::running(true);
    let r = catch_unwind(AssertUnwindSafe(|| (t.run)(input)));
    guard::running(false);
    let used = guard::peak().saturating_sub(base);
    match r {
        Err(_) => Some(("panic".into(), guard::last_panic())),
        Ok(Err(msg)) => Some(("invariant".into(), msg)),
        Ok(Ok(())) if used > PER_INPUT_MEM => Some((
            "memory".into(),
            format!(
                "input of {} bytes used {} MiB of heap",
                input.len(),
                used >> 20
            ),
        )),
        Ok(Ok(())) => None,
    }
}

/// Shrinks `input` while it keeps failing with the same signature.
pub fn minimise(t: &Target, input: &[u8], sig: &str, budget: Duration) -> Vec<u8> {
    let start = Instant::now();
    let mut best = input.to_vec();
    let mut chunk = best.len() / 2;
    while chunk >= 1 && start.elapsed() < budget {
        let mut i = 0;
        let mut shrunk = false;
        while i < best.len() && start.elapsed() < budget {
            let mut cand = best.clone();
            cand.drain(i..(i + chunk).min(best.len()));
            let same = run_one(t, &cand).is_some_and(|(k, m)| signature(&k, &m) == sig);
            if same {
                best = cand;
                shrunk = true;
            } else {
                i += chunk;
            }
        }
        if !shrunk {
            chunk /= 2;
        }
    }
    best
}

/// What a worker did.
#[derive(Debug, Default)]
pub struct Stats {
    pub execs: u64,
    pub findings: Vec<Finding>,
    pub corpus: usize,
}

/// Fuzzes `t` until `deadline`, reporting each new finding through `found`.
pub fn fuzz(
    t: &Target,
    mut corpus: Vec<Vec<u8>>,
    seed: u64,
    deadline: Instant,
    found: &mut dyn FnMut(&Finding),
) -> Stats {
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let mut seen = BTreeSet::new();
    let pool = corpus.clone();
    let mut check = |input: Vec<u8>, stats: &mut Stats| -> bool {
        stats.execs += 1;
        let Some((kind, message)) = run_one(t, &input) else {
            return true;
        };
        let sig = signature(&kind, &message);
        if seen.insert(sig.clone()) {
            let input = minimise(t, &input, &sig, Duration::from_secs(3));
            let f = Finding {
                kind,
                message,
                input,
            };
            found(&f);
            stats.findings.push(f);
        }
        false
    };
    for s in corpus.clone() {
        check(s, &mut stats);
    }
    while Instant::now() < deadline {
        let base = rng.pick(&corpus).clone();
        let input = mutate(&mut rng, &base, &pool, guard::MAX_INPUT);
        let ok = check(input.clone(), &mut stats);
        if ok && input != base && rng.one_in(20) {
            if corpus.len() < MAX_CORPUS {
                corpus.push(input);
            } else if pool.len() < MAX_CORPUS {
                let i = pool.len() + rng.below(MAX_CORPUS - pool.len());
                corpus[i] = input;
            }
        }
    }
    stats.corpus = corpus.len();
    stats
}

/// Saves a finding as `<dir>/<target>/<hash>.bin` plus a `.txt` with the
/// signature (first line) and the message.
pub fn save(dir: &Path, target: &str, f: &Finding) -> std::io::Result<std::path::PathBuf> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d)?;
    let sig = f.signature();
    let h = sig.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    let bin = d.join(format!("{}-{h:016x}.bin", f.kind));
    std::fs::write(&bin, &f.input)?;
    std::fs::write(bin.with_extension("txt"), format!("{sig}\n{}\n", f.message))?;
    Ok(bin)
}

/// Signatures of the known open bugs (first line of each `.txt` under `dir`).
pub fn known_signatures(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(t.path()).into_iter().flatten().flatten() {
            if f.path().extension().is_some_and(|e| e == "txt")
                && let Ok(text) = std::fs::read_to_string(f.path())
            {
                out.insert(text.lines().next().unwrap_or_default().to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_blur_numbers_and_details_but_keep_panic_sites() {
        assert_eq!(
            signature("invariant", "code 100: bad \"x1\" at 42"),
            signature("invariant", "code 101: bad \"yy\" at 7")
        );
        assert_eq!(
            signature("panic", "panic at src/a.rs:10: overflow 5"),
            "panic src/a.rs:10"
        );
        assert_ne!(
            signature("panic", "panic at a:1: x"),
            signature("panic", "panic at a:2: x")
        );
    }
}
