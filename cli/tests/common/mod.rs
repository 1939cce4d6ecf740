//! Shared helpers for the CLI's end-to-end tests: run the `ferrocni` binary
//! (optionally inside a node netns), and "recorder" plugins that log every
//! call so tests can see exactly what a plugin received.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use integration::TestNetns;
use serde_json::Value;

/// What `ferrocni` printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "ferrocni failed: {self:?}");
        self
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// Runs `ferrocni args...` with exactly `env` (plus PATH), inside `node` when given.
pub fn ferrocni(args: &[&str], env: &[(&str, &str)], node: Option<&TestNetns>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrocni"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    if let Some(node) = node {
        let file = std::fs::File::open(node.path()).expect("open node netns");
        // SAFETY: setns is async-signal-safe; `file` outlives the spawn.
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
    let out = cmd.output().expect("spawn ferrocni");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One logged plugin call.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub plugin: String,
    pub verb: String,
    pub container_id: String,
    pub netns: String,
    pub ifname: String,
    pub args: String,
    /// `$FERROCNI_PASSTHROUGH` as the plugin saw it (env passthrough).
    pub passthrough: String,
    pub stdin: Value,
}

const RECORDER: &str = r#"#!/bin/sh
d=$(dirname "$0"); n=$(basename "$0")
i=$(cat "$d/calls.log" 2>/dev/null | wc -l)
cat > "$d/$i.stdin"
printf '%s|%s|%s|%s|%s|%s|%s\n' "$n" "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$FERROCNI_PASSTHROUGH" >> "$d/calls.log"
if [ -f "$d/$n.fail.$CNI_COMMAND" ]; then cat "$d/$n.fail.$CNI_COMMAND"; exit 1; fi
if [ "$CNI_COMMAND" = ADD ]; then cat "$d/$n.result"; fi
exit 0
"#;

/// A directory of recorder plugins plus a config dir and a cache dir.
pub struct Lab {
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn new() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("ferrocni-lab")
            .tempdir()
            .unwrap();
        for sub in ["bin", "net.d", "cache"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Lab { dir }
    }
    pub fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
    pub fn confdir(&self) -> PathBuf {
        self.dir.path().join("net.d")
    }
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
    /// Adds recorder plugin `name` that prints `result` on ADD.
    pub fn recorder(&self, name: &str, result: &Value) {
        let p = self.bin().join(name);
        std::fs::write(&p, RECORDER).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            self.bin().join(format!("{name}.result")),
            result.to_string(),
        )
        .unwrap();
    }
    /// Makes recorder `name` fail `verb` with `error` on stdout.
    pub fn fail(&self, name: &str, verb: &str, error: &Value) {
        let f = self.bin().join(format!("{name}.fail.{verb}"));
        std::fs::write(f, error.to_string()).unwrap();
    }
    /// Writes a config file into the config dir.
    pub fn conf(&self, file: &str, v: &Value) -> PathBuf {
        let p = self.confdir().join(file);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    }
    /// Every call logged so far, in order.
    pub fn calls(&self) -> Vec<Logged> {
        let log = std::fs::read_to_string(self.bin().join("calls.log")).unwrap_or_default();
        log.lines()
            .enumerate()
            .map(|(i, line)| {
                let f: Vec<&str> = line.split('|').collect();
                let raw = std::fs::read(self.bin().join(format!("{i}.stdin"))).unwrap();
                Logged {
                    plugin: f[0].into(),
                    verb: f[1].into(),
                    container_id: f[2].into(),
                    netns: f[3].into(),
                    ifname: f[4].into(),
                    args: f[5].into(),
                    passthrough: f[6].into(),
                    stdin: serde_json::from_slice(&raw).unwrap_or(Value::Null),
                }
            })
            .collect()
    }
    /// Forgets the calls logged so far.
    pub fn clear(&self) {
        let _ = std::fs::remove_file(self.bin().join("calls.log"));
    }
    /// The base environment: NETCONFPATH and CNI_PATH pointing into the lab.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("NETCONFPATH".into(), self.confdir().display().to_string()),
            ("CNI_PATH".into(), self.bin().display().to_string()),
        ]
    }
    /// Runs ferrocni with the lab env, `--cache-dir`, and `extra` env.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let cache = self.cache().display().to_string();
        let mut argv = vec!["--cache-dir", cache.as_str()];
        argv.extend_from_slice(args);
        let base = self.env();
        let mut env: Vec<(&str, &str)> =
            base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(extra);
        ferrocni(&argv, &env, None)
    }
    /// The cache file of an attachment.
    pub fn cache_file(&self, net: &str, id: &str, ifname: &str) -> PathBuf {
        self.cache()
            .join("results")
            .join(format!("{net}-{id}-{ifname}"))
    }
}

/// Reads a JSON file.
pub fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// Decodes base64 with coreutils' `base64 -d` (an independent implementation).
pub fn unbase64(s: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn base64");
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "base64 -d rejected {s:?}");
    out.stdout
}
