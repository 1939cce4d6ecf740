//! The supervisor: runs each target in a worker process (restarting it after
//! an abort, a hang or the memory cap, keeping the input that did it), a few
//! targets at a time, and sums up what was found.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::{Finding, known_signatures, save, signature};
use crate::guard::{self, HANG_EXIT};

/// One target's totals.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub target: String,
    pub execs: u64,
    pub restarts: u32,
    /// (signature, saved file, known open bug?)
    pub findings: Vec<(String, PathBuf, bool)>,
}

/// Options of a supervised run.
#[derive(Debug, Clone)]
pub struct RunOpts {
    pub seconds: u64,
    pub jobs: usize,
    pub seed: u64,
    pub out: PathBuf,
    /// Known open bugs (`fuzz/regressions-open`): found again, not new.
    pub known: PathBuf,
}

/// Fuzzes `targets` with `opts.jobs` workers at a time.
pub fn run_all(targets: &[String], opts: &RunOpts) -> Vec<Report> {
    let queue = Mutex::new(targets.to_vec());
    let reports = Mutex::new(Vec::new());
    let known = known_signatures(&opts.known);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| {
                loop {
                    let Some(t) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
                        break;
                    };
                    let r = run_target(&t, opts, &known);
                    reports.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                }
            });
        }
    });
    let mut r = reports.into_inner().unwrap_or_else(|p| p.into_inner());
    r.sort_by(|a, b| a.target.cmp(&b.target));
    r
}

fn run_target(target: &str, opts: &RunOpts, known: &BTreeSet<String>) -> Report {
    let deadline = Instant::now() + Duration::from_secs(opts.seconds);
    let mut rep = Report {
        target: target.into(),
        ..Report::default()
    };
    let mirror = opts.out.join(format!("{target}.current"));
    let mut seed = opts.seed;
    while Instant::now() + Duration::from_millis(300) < deadline {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        let ok = run_worker(target, left, seed, opts, &mirror, known, &mut rep);
        if ok {
            break;
        }
        rep.restarts += 1;
        seed = seed.wrapping_add(0x1000_0001);
    }
    rep
}

/// One worker process; false when it died (the finding is recorded).
fn run_worker(
    target: &str,
    seconds: u64,
    seed: u64,
    opts: &RunOpts,
    mirror: &Path,
    known: &BTreeSet<String>,
    rep: &mut Report,
) -> bool {
    let exe = std::env::current_exe().expect("current exe");
    let log = std::fs::File::create(opts.out.join(format!("{target}.log"))).ok();
    let mut child = match Command::new(exe)
        .args(["worker", target, &seconds.to_string(), &seed.to_string()])
        .arg(&opts.out)
        .stdout(Stdio::piped())
        .stderr(log.map_or(Stdio::null(), Stdio::from))
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("spawn worker: {e}"),
    };
    let stdout = child.stdout.take().expect("stdout");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["finding", sig, path] => {
                rep.findings
                    .push((sig.to_string(), PathBuf::from(path), known.contains(*sig)))
            }
            ["stats", execs] => rep.execs += execs.parse::<u64>().unwrap_or(0),
            _ => {}
        }
    }
    let pid = child.id();
    let status = child.wait().expect("wait worker");
    remove_scratch(pid);
    if status.success() {
        return true;
    }
    record_death(target, status, mirror, opts, known, rep);
    false
}

/// Removes the worker's scratch directories (`/tmp/ferrocni-fuzz-*-<pid>`).
fn remove_scratch(pid: u32) {
    let suffix = format!("-{pid}");
    let tmp = std::env::temp_dir();
    for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("ferrocni-fuzz-") && name.ends_with(&suffix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn record_death(
    target: &str,
    status: std::process::ExitStatus,
    mirror: &Path,
    opts: &RunOpts,
    known: &BTreeSet<String>,
    rep: &mut Report,
) {
    use std::os::unix::process::ExitStatusExt;
    let (reason, input) = guard::read_mirror(mirror).unwrap_or((b'?', Vec::new()));
    let (kind, msg) = match (reason, status.code(), status.signal()) {
        (b'H', _, _) | (_, Some(HANG_EXIT), _) => {
            ("hang", "an input ran past the time limit".into())
        }
        (b'M', _, _) => (
            "memory",
            format!("heap cap of {} MiB reached", guard::HARD_CAP >> 20),
        ),
        (_, _, Some(sig)) => ("abort", format!("worker killed by signal {sig}")),
        (_, code, _) => ("abort", format!("worker exited with {code:?}")),
    };
    let f = Finding {
        kind: kind.into(),
        message: msg,
        input,
    };
    let sig = signature(&f.kind, &f.message);
    let path = save(&opts.out.join("crashes"), target, &f).unwrap_or_default();
    rep.findings.push((sig.clone(), path, known.contains(&sig)));
}

/// Prints the table and returns the number of new (not known) findings.
pub fn summarise(reports: &[Report], seconds: u64) -> usize {
    let mut new = 0;
    println!(
        "{:<18} {:>10} {:>8} {:>9} {:>6}",
        "target", "execs", "execs/s", "restarts", "bugs"
    );
    for r in reports {
        println!(
            "{:<18} {:>10} {:>8} {:>9} {:>6}",
            r.target,
            r.execs,
            r.execs / seconds.max(1),
            r.restarts,
            r.findings.len()
        );
        for (sig, path, known) in &r.findings {
            let tag = if *known { "known" } else { "NEW" };
            println!("    {tag}: {sig}  ({})", path.display());
            new += usize::from(!known);
        }
    }
    let total: u64 = reports.iter().map(|r| r.execs).sum();
    println!("total: {total} inputs, {new} new finding(s)");
    new
}
