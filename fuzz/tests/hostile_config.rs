//! Configuration that points plugins at hostile files: host-local's
//! `resolvConf` naming an endless file (`/dev/zero`) or a FIFO nobody
//! writes must end in a coded error, promptly and in bounded memory.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrocni_fuzz::net::Scratch;
use serde_json::json;

/// Runs host-local ADD with `resolv`; `None` when it was still running
/// after `limit` (then killed).
fn add_with_resolv(root: &Scratch, resolv: &str, limit: Duration) -> Option<(i32, String)> {
    let conf = json!({"cniVersion": "1.0.0", "name": "rz", "type": "host-local",
        "ipam": {"type": "host-local", "dataDir": root.path().join("ipam"),
            "subnet": "10.88.0.0/24", "resolvConf": resolv}});
    let mut child = Command::new(integration::bin_dir().join("host-local"))
        .envs([
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "rz"),
            ("CNI_NETNS", "/proc/self/ns/net"),
            ("CNI_NETNS_OVERRIDE", "1"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/nonexistent"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn host-local");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.to_string().as_bytes())
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            return Some((
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn a_missing_resolv_conf_is_a_coded_error() {
    let root = Scratch::new("rmiss");
    let (code, out) = add_with_resolv(&root, "/nonexistent/resolv.conf", Duration::from_secs(10))
        .expect("host-local hung");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("\"code\":7") && out.contains("resolvConf"),
        "{out}"
    );
}

#[test]
fn an_endless_or_blocking_resolv_conf_fails_promptly() {
    let root = Scratch::new("rzero");
    let fifo = root.path().join("fifo");
    let c = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: c is a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for resolv in ["/dev/zero", fifo.to_str().unwrap()] {
        let r = add_with_resolv(&root, resolv, Duration::from_secs(3));
        let (code, out) =
            r.unwrap_or_else(|| panic!("host-local still reading {resolv} after 3 s"));
        assert_eq!(code, 1, "{resolv}: {out}");
        assert!(out.contains("\"code\":7"), "{resolv}: {out}");
    }
}
