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
