//! Running the batch tools: one process per batch, text on stdin, stderr in
//! the error. A process counter lets tests prove the "one exec" promise.

use crate::{Error, Result};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

static SPAWNS: AtomicU64 = AtomicU64::new(0);

/// Number of processes fwkit has started in this process (for tests and
/// measurements).
pub fn spawn_count() -> u64 {
    SPAWNS.load(Ordering::Relaxed)
}

/// A text batch for `nft -f -` or `iptables-restore --noflush`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    text: String,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Appends one line (a newline is added).
    pub fn line(&mut self, line: impl AsRef<str>) -> &mut Batch {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
        self
    }

    /// Appends every line of another batch.
    pub fn extend(&mut self, other: &Batch) -> &mut Batch {
        self.text.push_str(&other.text);
        self
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The batch text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Runs `argv` once with the batch on stdin.
    pub fn run(&self, argv: &[&str]) -> Result<()> {
        run(argv, Some(self.text.as_bytes())).map(|_| ())
    }
}

/// Runs a read-only command and returns its stdout.
pub(crate) fn read(argv: &[&str]) -> Result<String> {
    run(argv, None)
}

fn run(argv: &[&str], stdin: Option<&[u8]>) -> Result<String> {
    let cmd = argv.join(" ");
    SPAWNS.fetch_add(1, Ordering::Relaxed);
    let spawn_err = |source| Error::Spawn {
        cmd: cmd.clone(),
        source,
    };
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        // A tool that exits early closes the pipe; its stderr says why.
        let _ = pipe.write_all(input);
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if !out.status.success() {
        return Err(Error::Command {
            cmd,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_builds_lines_and_reports_stderr() {
        let mut b = Batch::new();
        assert!(b.is_empty());
        b.line("a").line("b");
        assert_eq!(b.text(), "a\nb\n");
        b.run(&["cat"]).unwrap();
        let err = b.run(&["sh", "-c", "cat >/dev/null; echo boom >&2; exit 3"]);
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains("boom") && msg.contains('3'), "{msg}");
        assert!(matches!(
            read(&["/nonexistent-fwkit"]),
            Err(Error::Spawn { .. })
        ));
    }
}
