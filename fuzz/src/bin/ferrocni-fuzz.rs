//! `ferrocni-fuzz`: the fuzzer's command line.
//!
//! ```text
//! ferrocni-fuzz [--seconds N] [--jobs J] [--seed S] [--out DIR] [TARGET...]
//! ferrocni-fuzz --list
//! ferrocni-fuzz replay TARGET FILE...
//! ferrocni-fuzz worker TARGET SECONDS SEED OUT   (internal)
//! ```
//! Exit status 1 when a run found a bug that is not a known open one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrocni_fuzz::engine::{self, save};
use ferrocni_fuzz::supervise::{RunOpts, run_all, summarise};
use ferrocni_fuzz::{guard, seeds, targets};

#[global_allocator]
static ALLOC: guard::Counting = guard::Counting;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match argv.first().map(String::as_str) {
        Some("worker") => worker(&argv[1..]),
        Some("replay") => replay(&argv[1..]),
        Some("--list") => {
            for t in targets::all() {
                println!("{:<18} {}", t.name, t.about);
            }
            0
        }
        _ => supervisor(&argv),
    };
    std::process::exit(code);
}

fn flag(argv: &[String], name: &str) -> Option<String> {
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1).cloned())
}

fn supervisor(argv: &[String]) -> i32 {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let opts = RunOpts {
        seconds: flag(argv, "--seconds")
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
        jobs: flag(argv, "--jobs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(2),
        seed: flag(argv, "--seed")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(time_seed),
        out: flag(argv, "--out").map_or_else(|| here.join("out"), PathBuf::from),
        known: here.join("regressions-open"),
    };
    let mut names: Vec<String> = Vec::new();
    let mut skip = false;
    for a in argv {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a.starts_with("--") {
            skip = true;
        } else {
            names.push(a.clone());
        }
    }
    if names.is_empty() {
        names = targets::all().iter().map(|t| t.name.to_string()).collect();
    }
    if let Some(bad) = names.iter().find(|n| targets::by_name(n).is_none()) {
        eprintln!("unknown target {bad}; see --list");
        return 2;
    }
    std::fs::create_dir_all(&opts.out).expect("out dir");
    println!(
        "fuzzing {} target(s) for {} s each, {} at a time, seed {}",
        names.len(),
        opts.seconds,
        opts.jobs,
        opts.seed
    );
    let reports = run_all(&names, &opts);
    i32::from(summarise(&reports, opts.seconds) > 0)
}

fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

fn worker(argv: &[String]) -> i32 {
    let [name, secs, seed, out] = argv else {
        eprintln!("usage: worker TARGET SECONDS SEED OUT");
        return 2;
    };
    // SAFETY: unshare affects only this (still single-threaded) process; any
    // kernel side effect of a target then lands in a throwaway namespace.
    unsafe { libc::unshare(libc::CLONE_NEWNET) };
    // What a delegated IPAM plugin (a real exec) inherits from the runtime.
    for (k, v) in [
        ("CNI_CONTAINERID", "fz"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_NETNS", "/proc/self/ns/net"),
        ("CNI_NETNS_OVERRIDE", "1"),
    ] {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var(k, v) };
    }
    let t = targets::by_name(name).expect("known target");
    let out = PathBuf::from(out);
    guard::map_mirror(&out.join(format!("{name}.current"))).expect("mirror file");
    guard::install_panic_hook();
    guard::start_watchdog(Duration::from_secs(5));
    let mut corpus = (t.seeds)();
    corpus.extend(seeds::repo_seeds(name));
    let deadline = Instant::now() + Duration::from_secs(secs.parse().unwrap_or(10));
    let crashes = out.join("crashes");
    let stats = engine::fuzz(&t, corpus, seed.parse().unwrap_or(1), deadline, &mut |f| {
        let path = save(&crashes, name, f).unwrap_or_default();
        println!("finding\t{}\t{}", f.signature(), path.display());
    });
    println!("stats\t{}", stats.execs);
    0
}

fn replay(argv: &[String]) -> i32 {
    let Some((name, files)) = argv.split_first() else {
        eprintln!("usage: replay TARGET FILE...");
        return 2;
    };
    let t = targets::by_name(name).expect("known target");
    guard::install_panic_hook();
    let mut bad = 0;
    for f in files {
        let input = std::fs::read(f).expect("read input");
        match engine::run_one(&t, &input) {
            None => println!("{f}: ok"),
            Some((kind, msg)) => {
                bad += 1;
                println!("{f}: {kind}: {msg}");
            }
        }
    }
    i32::from(bad > 0)
}
