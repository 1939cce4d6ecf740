//! One plugin invocation the way a runtime makes it: env, stdin, and the
//! process placed in the node namespace before `exec` (setns in `pre_exec`).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::netns::TestNetns;

/// Where the plugin binaries under test live: `$FERROCNI_BIN_DIR`, else the
/// workspace's `target/debug`.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FERROCNI_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = here
        .parent()
        .and_then(|p| p.parent())
        .expect("workspace root");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("debug")
}

/// A CNI call under construction.
#[derive(Debug, Clone)]
pub struct CniCall {
    pub plugin: PathBuf,
    pub env: Vec<(String, String)>,
    pub stdin: Vec<u8>,
    pub node: Option<String>,
}

/// What the plugin printed and how it exited.
#[derive(Debug)]
pub struct CniOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CniOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
    /// stdout parsed as JSON; panics with both streams when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?} stderr: {}",
                self.stdout, self.stderr
            )
        })
    }
    /// The CNI error code printed on stdout.
    pub fn error_code(&self) -> u64 {
        let v = self.json();
        v["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("no code in {v}"))
    }
}

impl CniCall {
    /// A call of `plugin` (a path, or a name looked up in [`bin_dir`]) with `CNI_COMMAND=verb`.
    pub fn new(plugin: &str, verb: &str) -> CniCall {
        let path = if plugin.contains('/') {
            PathBuf::from(plugin)
        } else {
            bin_dir().join(plugin)
        };
        let cni_path = path
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        CniCall {
            plugin: path,
            env: vec![
                ("CNI_COMMAND".into(), verb.into()),
                ("CNI_PATH".into(), cni_path),
            ],
            stdin: Vec::new(),
            node: None,
        }
    }

    /// Sets (or replaces) one environment variable.
    pub fn env(mut self, key: &str, value: &str) -> CniCall {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable from the call.
    pub fn unset(mut self, key: &str) -> CniCall {
        self.env.retain(|(k, _)| k != key);
        self
    }

    /// The usual triple: container id, netns path and ifname.
    pub fn pod(self, id: &str, netns: &str, ifname: &str) -> CniCall {
        self.env("CNI_CONTAINERID", id)
            .env("CNI_NETNS", netns)
            .env("CNI_IFNAME", ifname)
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> CniCall {
        self.stdin = bytes.into();
        self
    }

    pub fn config(self, v: &serde_json::Value) -> CniCall {
        self.stdin(v.to_string())
    }

    /// Runs the plugin inside `node` instead of the test's own namespace.
    pub fn in_node(mut self, node: &TestNetns) -> CniCall {
        self.node = Some(node.path().display().to_string());
        self
    }

    pub fn run(&self) -> CniOutput {
        let mut cmd = Command::new(&self.plugin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(node) = &self.node {
            let file = std::fs::File::open(node).expect("open node netns");
            // SAFETY: setns is async-signal-safe; the fd stays open in the parent
            // until spawn returns.
            unsafe {
                cmd.pre_exec(move || {
                    use std::os::fd::AsRawFd;
                    if libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.plugin.display()));
        let mut stdin = child.stdin.take().expect("stdin");
        let input = self.stdin.clone();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait plugin");
        let _ = writer.join();
        CniOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
