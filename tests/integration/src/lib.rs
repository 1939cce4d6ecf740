//! Test harness for ferrocni: namespaces a test owns, and plugin calls run
//! inside a "node" namespace — never in the host's own network namespace.

pub mod call;
pub mod netns;
pub mod trace;

pub use call::{CniCall, CniOutput, bin_dir};
pub use netns::{TestNetns, run_ok};
