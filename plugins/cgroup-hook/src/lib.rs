//! cgroup-hook: an OCI runtime hook that applies cgroup v2 limits from
//! `*.ferrocni.dev` annotations, plus `validate`, `report`, `freeze`/`thaw`
//! and `hooks-config` subcommands. `main.rs` only calls [`cli::main`].

pub mod annotations;
pub mod apply;
pub mod args;
pub mod assess;
pub mod cgfs;
pub mod cli;
pub mod cpuset;
pub mod error;
pub mod hook;
pub mod iodev;
pub mod knob;
pub mod locate;
pub mod plan;
pub mod policy;
pub mod quantity;
pub mod report;
pub mod requests;
pub mod state;
#[cfg(test)]
pub mod testfs;
pub mod text;
