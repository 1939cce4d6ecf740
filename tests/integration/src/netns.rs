//! Named network namespaces owned by a test: created with `ip netns add`,
//! removed on drop (also while a test unwinds from a panic), and swept at the
//! next start when a killed test process left them behind.
//!
//! Every name is `fcni-<pid>-<tag>-<n>` so a sweep can tell whose process is gone.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

const PREFIX: &str = "fcni-";
static COUNTER: AtomicU32 = AtomicU32::new(0);
static SWEEP: Once = Once::new();

/// A network namespace made for one test. Dropping it deletes it (and with it
/// every interface inside it).
#[derive(Debug)]
pub struct TestNetns {
    name: String,
}

impl TestNetns {
    /// Creates `fcni-<pid>-<tag>-<n>`. `tag` must be short: the whole name is
    /// also used to derive interface names by some tests.
    pub fn new(tag: &str) -> TestNetns {
        SWEEP.call_once(sweep_dead);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{tag}-{n}", std::process::id());
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = TestNetns { name };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`: what goes into `CNI_NETNS`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// A `Command` that runs `argv` inside this namespace (`ip netns exec`).
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        c
    }

    /// Runs `argv` inside the namespace and returns its output, whatever the status.
    pub fn exec(&self, argv: &[&str]) -> Output {
        self.command(argv).output().expect("spawn ip netns exec")
    }

    /// Runs `argv` inside the namespace; panics with its stderr when it fails.
    pub fn exec_ok(&self, argv: &[&str]) -> String {
        run_ok(&mut self.command(argv))
    }

    /// Deletes the namespace now (a pod whose sandbox is gone before DEL).
    pub fn delete(self) {
        drop(self)
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Runs a command and returns stdout; panics with stderr on failure.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes namespaces left by test processes that no longer exist
/// (a SIGKILLed run cannot drop its guards).
fn sweep_dead() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}
