//! Read-only netfilter commands (writes go through `fwkit::Batch`) and
//! the lock that serialises this plugin's read-modify-write updates.

use crate::error::{FwError, Result};
use std::fs::File;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `argv` once with `input` on stdin and returns its stdout (for an
/// `nft -f -` batch that ends with `list` commands).
pub fn run_with_output(argv: &[&str], input: &str) -> Result<String> {
    let cmd = argv.join(" ");
    let err = |msg: String| FwError::Exec {
        cmd: cmd.clone(),
        msg,
    };
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(e.to_string()))?;
    if let Some(mut pipe) = child.stdin.take() {
        // A tool that exits early closes the pipe; its stderr says why.
        let _ = pipe.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(err(format!("{}: {stderr}", out.status)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `argv` and returns its stdout; `Ok(None)` when it failed because
/// the object does not exist (`nft list table` of a missing table).
pub fn read(argv: &[&str]) -> Result<Option<String>> {
    let cmd = argv.join(" ");
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| FwError::Exec {
            cmd: cmd.clone(),
            msg: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.contains("No such file or directory") {
        return Ok(None);
    }
    Err(FwError::Exec {
        cmd,
        msg: format!("{}: {stderr}", out.status),
    })
}

/// Where the lock lives. Shared by every network namespace on the host:
/// updates are short, and one lock keeps DEL's "was this the network's last
/// pod?" decision from racing a concurrent ADD.
pub const LOCK_PATH: &str = "/run/ferrocni/firewall.lock";

/// Holds the exclusive lock until dropped.
pub struct Lock {
    _file: File,
}

/// Takes the exclusive lock (blocking).
pub fn lock() -> Result<Lock> {
    let err = |source| FwError::Lock {
        path: LOCK_PATH.to_string(),
        source,
    };
    if let Some(dir) = std::path::Path::new(LOCK_PATH).parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_PATH)
        .map_err(err)?;
    file.lock().map_err(err)?;
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_reports_and_tolerates_missing() {
        assert_eq!(read(&["echo", "hi"]).unwrap().as_deref(), Some("hi\n"));
        let missing = read(&["sh", "-c", "echo 'No such file or directory' >&2; exit 1"]);
        assert_eq!(missing.unwrap(), None);
        let e = read(&["sh", "-c", "echo boom >&2; exit 2"]).unwrap_err();
        assert!(e.to_string().contains("boom"), "{e}");
        assert!(read(&["/nonexistent-ferrocni"]).is_err());
        assert_eq!(run_with_output(&["cat"], "x\n").unwrap(), "x\n");
        let e = run_with_output(&["sh", "-c", "cat >/dev/null; echo nope >&2; exit 1"], "x");
        assert!(e.unwrap_err().to_string().contains("nope"));
    }
}
