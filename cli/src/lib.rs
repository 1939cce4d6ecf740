//! `ferrocni`: a cnitool-compatible runner for CNI plugins (ADD, CHECK, DEL,
//! GC, STATUS over configuration lists, with libcni's result cache), plus
//! `netns` helpers for trying plugins by hand.

pub mod args;
pub mod cache;
pub mod cli;
pub mod conf;
pub mod error;
pub mod invoke;
pub mod netns;
pub mod ops;
pub mod runtime;

pub use error::CliError;

/// Writes a line to stdout; a closed stdout (`ferrocni add ... | head`) is
/// not worth a panic, so write errors are ignored (cnitool ignores them too).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Writes a diagnostic line to stderr, ignoring write errors.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
