//! ferrocni-fuzz: reliability tooling for ferrocni, outside the main workspace.
//!
//! * [`targets`]: one fuzz target per grammar that takes outside input;
//! * [`mutate`], [`engine`], [`guard`], [`supervise`]: a seeded, time-bounded,
//!   coverage-less mutation fuzzer on the stable toolchain, with a supervisor
//!   process that survives aborts and hangs of its workers;
//! * [`check`]: the invariants every rejection must meet;
//! * the network tests (hostile input, crash injection, soak) live in
//!   `tests/` and `src/bin/`, on the `integration` harness.

pub mod check;
pub mod engine;
pub mod guard;
pub mod mutate;
pub mod rng;
pub mod seeds;
pub mod supervise;
pub mod targets;
