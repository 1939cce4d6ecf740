//! One plugin exec inside a node namespace, with the option of killing it
//! (SIGKILL) after a delay — the plugin alone, or its whole process group
//! (delegated IPAM included) — and of running a closure in a namespace.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a call ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code, `None` when killed.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub killed: bool,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or(serde_json::Value::Null)
    }
}

/// When and what to kill.
#[derive(Debug, Clone, Copy)]
pub struct Kill {
    pub after: Duration,
    /// Also kill the delegated children (the process group).
    pub group: bool,
}

/// Runs `plugin` with `env` and `stdin` inside the netns at `node`.
pub fn run(
    plugin: &Path,
    env: &[(String, String)],
    stdin: &[u8],
    node: &Path,
    kill: Option<Kill>,
) -> Outcome {
    run_args(plugin, &[], env, stdin, node, kill)
}

/// [`run`] with command-line arguments.
pub fn run_args(
    plugin: &Path,
    args: &[&str],
    env: &[(String, String)],
    stdin: &[u8],
    node: &Path,
    kill: Option<Kill>,
) -> Outcome {
    let ns = std::fs::File::open(node).expect("open node netns");
    let mut cmd = Command::new(plugin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setns and setpgid are async-signal-safe; the fd outlives spawn.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 || libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn plugin");
    let pid = child.id() as i32;
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let sent = kill.is_some_and(|k| {
        let target = if k.group { -pid } else { pid };
        kill_at(&mut child, start + k.after, target)
    });
    let out = child.wait_with_output().expect("wait plugin");
    let _ = writer.join();
    // a death by a signal we did not send is a crash, reported as a failure
    let killed = sent && out.status.code().is_none();
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !sent && out.status.code().is_none() {
        use std::os::unix::process::ExitStatusExt;
        stderr.push_str(&format!("\n[died of signal {:?}]", out.status.signal()));
    }
    wait_group_gone(pid, Duration::from_secs(10));
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr,
        killed,
        elapsed: start.elapsed(),
    }
}

/// Sends SIGKILL to `target` at `when` unless the child has exited (and
/// been reaped: a pid is never signalled after it could have been reused).
/// True when the signal was sent.
fn kill_at(child: &mut std::process::Child, when: Instant, target: i32) -> bool {
    loop {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return false;
        }
        let now = Instant::now();
        if now >= when {
            // SAFETY: the child is not reaped yet, so the pid is still ours.
            unsafe { libc::kill(target, libc::SIGKILL) };
            return true;
        }
        std::thread::sleep((when - now).min(Duration::from_micros(100)));
    }
}

/// Waits until no process is left in group `pgid` (orphaned delegates of a
/// killed plugin finish on their own, as they would on a node).
pub fn wait_group_gone(pgid: i32, limit: Duration) -> bool {
    let start = Instant::now();
    // SAFETY: signal 0 only checks for existence.
    while unsafe { libc::kill(-pgid, 0) } == 0 {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// Runs `f` on a thread that has entered the netns at `ns`.
pub fn in_netns<T: Send + 'static>(ns: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(ns).expect("open netns");
    std::thread::spawn(move || {
        // SAFETY: changes only this thread's network namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            panic!("setns: {}", std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .expect("netns thread")
}
