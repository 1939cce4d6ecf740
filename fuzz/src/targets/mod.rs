//! The fuzz targets: one per grammar that takes outside input. Each `run`
//! returns `Err` for a broken invariant; panics are caught by the engine.

pub mod cgroup;
pub mod cli;
pub mod hostlocal;
pub mod plugins;
pub mod protocol;
pub mod selftest;
pub mod verbs;

use crate::check::Verdict;

/// One fuzz target.
pub struct Target {
    pub name: &'static str,
    /// What it checks, for `--list`.
    pub about: &'static str,
    /// Hand-written seeds (files from the repo are added by [`crate::seeds`]).
    pub seeds: fn() -> Vec<Vec<u8>>,
    pub run: fn(&[u8]) -> Verdict,
}

/// Every target, in run order.
pub fn all() -> Vec<Target> {
    let mut v = protocol::targets();
    v.extend(plugins::targets());
    v.extend(hostlocal::targets());
    v.extend(cgroup::targets());
    v.extend(cli::targets());
    v.extend(verbs::targets());
    v
}

/// The target called `name` (including the `selftest_*` ones).
pub fn by_name(name: &str) -> Option<Target> {
    all()
        .into_iter()
        .find(|t| t.name == name)
        .or_else(|| selftest::by_name(name))
}

/// Splits `K=V` lines before a blank line from the body (the stdin).
/// Without a blank line the whole input is the body.
pub fn split_env(input: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let Some(at) = input.windows(2).position(|w| w == b"\n\n") else {
        return (Vec::new(), input);
    };
    let head = String::from_utf8_lossy(&input[..at]);
    let env = head
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (env, &input[at + 2..])
}

/// Joins env pairs and a body the way [`split_env`] reads them.
pub fn join_env(env: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = env
        .iter()
        .flat_map(|(k, v)| format!("{k}={v}\n").into_bytes())
        .collect();
    out.extend_from_slice(b"\n");
    out.extend_from_slice(body);
    out
}
