//! The counts of a crash-injection run (`ferrocni-crash`) and its summary.

use std::time::Duration;

use super::chain::{self, PLUGINS};

/// What a crash-injection run did and found.
#[derive(Debug, Default)]
pub struct Counts {
    pub iterations: u64,
    pub kills_sent: [u64; 3],
    pub kills_landed: [u64; 3],
    pub completed_adds: u64,
    pub add_errors: u64,
    pub del_errors: u64,
    pub gc_errors: u64,
    pub leaks: u64,
    pub survivor_failures: u64,
    pub del_after_netns_gone: u64,
    pub double_del: u64,
    pub via_cli: u64,
    pub cli_kills_landed: u64,
    /// Leftovers that went away within the settling time (netns teardown).
    pub settled: u64,
    /// Leaks of known open bugs (see `is_known`).
    pub known_leaks: u64,
    /// What this iteration did (printed with a leak).
    pub scenario: String,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.iterations += o.iterations;
        for k in 0..3 {
            self.kills_sent[k] += o.kills_sent[k];
            self.kills_landed[k] += o.kills_landed[k];
        }
        self.completed_adds += o.completed_adds;
        self.add_errors += o.add_errors;
        self.del_errors += o.del_errors;
        self.gc_errors += o.gc_errors;
        self.leaks += o.leaks;
        self.survivor_failures += o.survivor_failures;
        self.del_after_netns_gone += o.del_after_netns_gone;
        self.double_del += o.double_del;
        self.via_cli += o.via_cli;
        self.cli_kills_landed += o.cli_kills_landed;
        self.settled += o.settled;
        self.known_leaks += o.known_leaks;
    }
}

/// Prints the summary, with per-plugin call timings.
pub fn report(c: &Counts, took: Duration) {
    println!("crash injection summary ({:.1} s):", took.as_secs_f64());
    println!("  iterations            {}", c.iterations);
    for (k, p) in PLUGINS.iter().enumerate() {
        println!(
            "  kills of {p:<9}     sent {:>5}, landed mid-exec {:>5}",
            c.kills_sent[k], c.kills_landed[k]
        );
    }
    println!(
        "  through ferrocni CLI  {} (killed mid-ADD {})",
        c.via_cli, c.cli_kills_landed
    );
    println!("  chain ADDs completed  {}", c.completed_adds);
    println!("  DEL after netns gone  {}", c.del_after_netns_gone);
    println!("  double DELs           {}", c.double_del);
    println!("  ADD errors (no kill)  {}", c.add_errors);
    println!("  DEL errors            {}", c.del_errors);
    println!("  GC errors             {}", c.gc_errors);
    println!("  leaks found           {}", c.leaks);
    println!("  known open-bug leaks  {}", c.known_leaks);
    println!("  settled (async netns teardown) {}", c.settled);
    println!("  survivor failures     {}", c.survivor_failures);
    for l in chain::timings() {
        println!("  {l}");
    }
}
