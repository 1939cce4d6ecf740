//! Test helpers: run library calls inside a test network namespace.
#![allow(dead_code)]

use integration::TestNetns;
use std::fs::File;
use std::os::fd::AsRawFd;

/// Runs `f` on a fresh thread that has `setns`'ed into `ns`; every process
/// the library spawns from there inherits that namespace.
pub fn in_ns<T: Send>(ns: &TestNetns, f: impl FnOnce() -> T + Send) -> T {
    let path = ns.path();
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            let file = File::open(&path).expect("open netns");
            // SAFETY: plain syscall on a valid fd; affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        });
        match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// `nft list ruleset` inside `ns`.
pub fn ruleset(ns: &TestNetns) -> String {
    ns.exec_ok(&["nft", "list", "ruleset"])
}

/// `<tool>-save -t nat` inside `ns` (e.g. `iptables-nft`).
pub fn nat(ns: &TestNetns, tool: &str) -> String {
    ns.exec_ok(&[&format!("{tool}-save"), "-t", "nat"])
}

/// `-A` lines of a save dump (no counters/timestamps).
pub fn rules(save: &str) -> Vec<String> {
    save.lines()
        .filter(|l| l.starts_with("-A ") || l.starts_with(':'))
        .map(str::to_string)
        .collect()
}

pub fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap()
}
