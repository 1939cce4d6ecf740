//! Network-side reliability tooling: a node namespace with an uplink to an
//! "outside" namespace ([`node`]), the bridge(+host-local) → portmap →
//! firewall chain run by direct plugin execs that can be SIGKILLed
//! ([`chain`]), and the probe of per-pod state left in a node ([`probe`]).
//! Every plugin call runs inside a namespace created here.

pub mod chain;
pub mod cli;
pub mod exec;
pub mod node;
pub mod probe;
pub mod tally;

/// A scratch directory removed on drop.
#[derive(Debug)]
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("ferrocni-rel-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
