//! ferrocni-fuzz: reliability tooling for ferrocni, outside the main workspace.
//!
//! * [`targets`]: one fuzz target per grammar that takes outside input;
//! * [`mutate`], [`engine`], [`guard`], [`supervise`]: a seeded, time-bounded,
//!   coverage-less mutation fuzzer on the stable toolchain, with a supervisor
//!   process that survives aborts and hangs of its workers;
//! * [`check`]: the invariants every rejection must meet;
//! * [`net`]: node namespaces, the bridge → portmap → firewall chain by
//!   direct (killable) plugin execs, and the per-pod state probe, used by
//!   the hostile-input tests (`tests/`), crash injection and the soak
//!   (`src/bin/`).

pub mod check;
pub mod engine;
pub mod guard;
pub mod mutate;
pub mod net;
pub mod rng;
pub mod seeds;
pub mod supervise;
pub mod targets;
