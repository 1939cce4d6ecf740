//! Running one plugin: a process per call, the request configuration on
//! stdin, and the environment libcni's `invoke.Args.AsEnv` gives: the caller's
//! environment with `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`,
//! `CNI_ARGS`, `CNI_IFNAME` and `CNI_PATH` always set (empty for GC and
//! STATUS). The exec is retried on `ETXTBSY` like libcni. stderr passes
//! through; on failure stdout is read as a CNI error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cni::{CniError, Command as Verb, Version};

use crate::error::CliError;
use crate::runtime::RuntimeConf;

/// One plugin call.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub verb: Verb,
    /// The plugin's `type`.
    pub plugin_type: &'a str,
    pub stdin: Vec<u8>,
    /// `None` for GC and STATUS (every per-attachment variable empty).
    pub rt: Option<&'a RuntimeConf>,
    pub version: Version,
}

/// Finds and runs a plugin; returns its stdout on success.
pub fn run(call: &Call, cni_path: &[PathBuf]) -> Result<Vec<u8>, CliError> {
    let fail = |err: CniError| CliError::Plugin {
        plugin: call.plugin_type.to_string(),
        verb: call.verb.as_str(),
        version: call.version.as_str().into(),
        err,
    };
    let plugin = cni::delegate::find(call.plugin_type, cni_path).map_err(fail)?;
    let mut cmd = Command::new(&plugin);
    let (id, netns, ifname, args) = match call.rt {
        Some(rt) => (
            rt.container_id.as_str(),
            rt.netns.as_str(),
            rt.ifname.as_str(),
            rt.args_string(),
        ),
        None => ("", "", "", String::new()),
    };
    cmd.env("CNI_COMMAND", call.verb.as_str())
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", netns)
        .env("CNI_ARGS", args)
        .env("CNI_IFNAME", ifname)
        .env("CNI_PATH", join_path(cni_path))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = spawn_retrying(&mut cmd, &plugin).map_err(fail)?;
    let mut input = child.stdin.take();
    let data = call.stdin.clone();
    let writer = std::thread::spawn(move || {
        if let Some(w) = input.as_mut() {
            // A plugin that exits without reading stdin gives EPIPE: its exit
            // status tells what happened.
            let _ = w.write_all(&data);
        }
    });
    let out = child.wait_with_output().map_err(|e| {
        fail(CniError::new(
            cni::code::DELEGATE,
            format!("waiting for {}: {e}", plugin.display()),
        ))
    })?;
    let _ = writer.join();
    if out.status.success() {
        return Ok(out.stdout);
    }
    Err(fail(plugin_error(&plugin, &out.stdout, out.status)))
}

fn join_path(path: &[PathBuf]) -> String {
    let parts: Vec<String> = path.iter().map(|p| p.display().to_string()).collect();
    parts.join(":")
}

/// Spawns, retrying a few times while the binary is busy (being replaced).
fn spawn_retrying(cmd: &mut Command, plugin: &Path) -> Result<Child, CniError> {
    let mut attempt = 0u32;
    loop {
        match cmd.spawn() {
            Ok(c) => return Ok(c),
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < 5 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)));
            }
            Err(e) => {
                return Err(CniError::new(
                    cni::code::DELEGATE,
                    format!("failed to run {}: {e}", plugin.display()),
                ));
            }
        }
    }
}

/// The plugin's CNI error from stdout, or one describing the bare failure.
fn plugin_error(plugin: &Path, stdout: &[u8], status: std::process::ExitStatus) -> CniError {
    if let Ok(e) = serde_json::from_slice::<CniError>(stdout) {
        return e;
    }
    let text = String::from_utf8_lossy(stdout);
    CniError::new(
        cni::code::DELEGATE,
        format!(
            "{} failed ({status}) without a CNI error on stdout: {:?}",
            plugin.display(),
            text.trim()
        ),
    )
}

/// Parses an ADD's stdout as a result, in any supported version.
pub fn parse_result(
    plugin_type: &str,
    version: Version,
    stdout: &[u8],
) -> Result<cni::CniResult, CliError> {
    let bad = |msg: String| CliError::Plugin {
        plugin: plugin_type.into(),
        verb: "ADD",
        version: version.as_str().into(),
        err: CniError::decode(msg),
    };
    let v: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| bad(format!("printed a result that is not JSON: {e}")))?;
    cni::CniResult::from_value(&v).map_err(|e| bad(e.msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn call<'a>(verb: Verb, t: &'a str, rt: Option<&'a RuntimeConf>) -> Call<'a> {
        Call {
            verb,
            plugin_type: t,
            stdin: b"{\"x\":1}".to_vec(),
            rt,
            version: Version::V1_0_0,
        }
    }

    #[test]
    fn env_stdin_and_errors() {
        let dir = std::env::temp_dir().join(format!("ferrocni-invoke-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        script(
            &dir,
            "echoenv",
            "cat; echo \" $CNI_COMMAND|$CNI_CONTAINERID|$CNI_NETNS|$CNI_IFNAME|$CNI_ARGS|$CNI_PATH\"",
        );
        script(
            &dir,
            "failing",
            "echo '{\"code\":11,\"msg\":\"later\"}'; exit 1",
        );
        script(&dir, "silent", "exit 3");
        let path = vec![dir.clone()];
        let rt = RuntimeConf {
            container_id: "c".into(),
            netns: "/n".into(),
            ifname: "e".into(),
            args: vec![["A".into(), "1".into()]],
            ..RuntimeConf::default()
        };
        let out = run(&call(Verb::Add, "echoenv", Some(&rt)), &path).unwrap();
        let want = format!("{{\"x\":1}} ADD|c|/n|e|A=1|{}\n", dir.display());
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let out = run(&call(Verb::Gc, "echoenv", None), &path).unwrap();
        assert!(String::from_utf8(out).unwrap().contains(" GC|||||"));
        let e = run(&call(Verb::Del, "failing", Some(&rt)), &path).unwrap_err();
        assert_eq!(e.plugin_json().len(), 1);
        assert!(e.plugin_json()[0].contains("\"code\":11"));
        let e = run(&call(Verb::Del, "silent", Some(&rt)), &path).unwrap_err();
        assert!(e.to_string().contains("without a CNI error"), "{e}");
        let e = run(&call(Verb::Del, "absent", Some(&rt)), &path).unwrap_err();
        assert!(e.to_string().contains("absent"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_busy_binary_is_retried() {
        let dir = std::env::temp_dir().join(format!("ferrocni-etxtbsy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("busy");
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(b"#!/bin/sh\necho '{}'\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Held open for writing, the file cannot be executed (ETXTBSY) until closed.
        let closer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(120));
            drop(f);
        });
        let out = run(&call(Verb::Add, "busy", None), std::slice::from_ref(&dir));
        closer.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(out.unwrap(), b"{}\n");
    }
}
