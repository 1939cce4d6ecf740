//! Delegation: run another plugin (an IPAM plugin) found on `CNI_PATH` with
//! the same environment and the same stdin, overriding only `CNI_COMMAND`.
//!
//! SPEC: the delegate's error code is passed through unchanged. Like libcni we
//! retry the exec a few times on `ETXTBSY` (a binary being replaced).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};

use crate::env::Command;
use crate::error::{CniError, code};
use crate::result::CniResult;

/// Finds `plugin_type` in the `CNI_PATH` directories.
pub fn find(plugin_type: &str, path: &[PathBuf]) -> Result<PathBuf, CniError> {
    if plugin_type.is_empty() || plugin_type.contains('/') || plugin_type.starts_with('.') {
        return Err(CniError::invalid_config(format!(
            "plugin type {plugin_type:?} is not a plugin name"
        )));
    }
    if path.is_empty() {
        return Err(CniError::invalid_env(format!(
            "CNI_PATH is empty: cannot find plugin {plugin_type:?}"
        )));
    }
    path.iter()
        .map(|dir| dir.join(plugin_type))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let dirs: Vec<String> = path.iter().map(|p| p.display().to_string()).collect();
            CniError::new(
                code::DELEGATE,
                format!(
                    "failed to find plugin {plugin_type:?} in CNI_PATH [{}]",
                    dirs.join(":")
                ),
            )
        })
}

/// Runs the delegate with `verb` and returns its stdout (empty for non-ADD).
pub fn exec(plugin: &Path, verb: Command, stdin: &[u8]) -> Result<Vec<u8>, CniError> {
    let mut attempt = 0;
    let mut child = loop {
        let spawned = Proc::new(plugin)
            .env("CNI_COMMAND", verb.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        match spawned {
            Ok(c) => break c,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < 5 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(10 << attempt));
            }
            Err(e) => {
                return Err(CniError::new(
                    code::DELEGATE,
                    format!("failed to run {}: {e}", plugin.display()),
                ));
            }
        }
    };
    if let Some(mut input) = child.stdin.take() {
        // A delegate that exits without reading stdin gives EPIPE: not our error.
        let _ = input.write_all(stdin);
    }
    let out = child.wait_with_output().map_err(|e| {
        CniError::new(
            code::DELEGATE,
            format!("waiting for {}: {e}", plugin.display()),
        )
    })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    Err(delegate_error(plugin, &out.stdout, out.status))
}

fn delegate_error(plugin: &Path, stdout: &[u8], status: std::process::ExitStatus) -> CniError {
    if let Ok(e) = serde_json::from_slice::<CniError>(stdout) {
        return e;
    }
    let text = String::from_utf8_lossy(stdout);
    CniError::new(
        code::DELEGATE,
        format!(
            "{} failed ({status}) without a CNI error: {}",
            plugin.display(),
            text.trim()
        ),
    )
}

/// Delegated ADD: returns the IPAM result.
pub fn add(plugin_type: &str, path: &[PathBuf], stdin: &[u8]) -> Result<CniResult, CniError> {
    let plugin = find(plugin_type, path)?;
    let out = exec(&plugin, Command::Add, stdin)?;
    let v: serde_json::Value = serde_json::from_slice(&out).map_err(|e| {
        CniError::decode(format!(
            "{plugin_type} printed a result that is not JSON: {e}"
        ))
    })?;
    CniResult::from_value(&v)
}

/// Delegated DEL, CHECK, STATUS or GC.
pub fn run(
    plugin_type: &str,
    verb: Command,
    path: &[PathBuf],
    stdin: &[u8],
) -> Result<(), CniError> {
    let plugin = find(plugin_type, path)?;
    exec(&plugin, verb, stdin).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_cannot_be_paths() {
        for bad in ["../x", "/bin/sh", ".hidden", ""] {
            assert_eq!(
                find(bad, &[PathBuf::from("/bin")]).unwrap_err().code,
                7,
                "{bad}"
            );
        }
    }

    #[test]
    fn missing_plugin_is_named() {
        let e = find("no-such-plugin-x", &[PathBuf::from("/nonexistent")]).unwrap_err();
        assert!(e.msg.contains("no-such-plugin-x"));
        assert_eq!(e.code, code::DELEGATE);
    }

    #[test]
    fn delegate_error_code_is_passed_through() {
        let dir = std::env::temp_dir().join(format!("cni-deleg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("fake-ipam");
        std::fs::write(
            &script,
            "#!/bin/sh\ncat >/dev/null\necho '{\"code\":11,\"msg\":\"busy\"}'\nexit 1\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = add("fake-ipam", std::slice::from_ref(&dir), b"{}").unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((e.code, e.msg.as_str()), (11, "busy"));
    }
}
