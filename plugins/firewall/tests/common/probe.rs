//! Listeners in pods and one-shot connection probes (python3, stdlib only).

use integration::TestNetns;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

pub const PYTHON: &str = "/usr/bin/python3";

const SERVER: &str = r#"
import socket, sys, threading
def sock(kind):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s
def tcp(p):
    s = sock(socket.SOCK_STREAM); s.bind(("::", p)); s.listen(128)
    while True:
        c, _ = s.accept()
        try: c.sendall(b"ok")
        finally: c.close()
def udp(p):
    s = sock(socket.SOCK_DGRAM); s.bind(("::", p))
    while True:
        d, a = s.recvfrom(64); s.sendto(b"ok", a)
for spec in sys.argv[1:]:
    proto, port = spec.split("/")
    threading.Thread(target=tcp if proto == "tcp" else udp, args=(int(port),), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"#;

const CLIENT: &str = r#"
import socket, sys
proto, host, port, t = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
try:
    if proto == "tcp":
        s = socket.create_connection((host, port), timeout=t)
    else:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(t)
        s.sendto(b"x", (host, port))
    s.settimeout(t)
    sys.exit(0 if s.recv(2) == b"ok" else 1)
except Exception:
    sys.exit(1)
"#;

/// A listener process in a netns; killed on drop.
pub struct Listener {
    child: Child,
}

impl Listener {
    /// Listens on every `proto/port` (e.g. `tcp/5432`, `udp/53`) in `ns`.
    pub fn start(ns: &TestNetns, specs: &[&str]) -> Listener {
        let mut argv = vec![PYTHON, "-c", SERVER];
        argv.extend_from_slice(specs);
        let mut child = ns
            .command(&argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn listener");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("read");
        assert_eq!(line.trim(), "ready", "listener did not start");
        Listener { child }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Does `proto` to `host:port` from `ns` get an answer within `secs`?
pub fn reach(ns: &TestNetns, proto: &str, host: &str, port: u16, secs: f32) -> bool {
    let port = port.to_string();
    let t = secs.to_string();
    let argv = [PYTHON, "-c", CLIENT, proto, host, &port, &t];
    ns.command(&argv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Allowed paths answer quickly; refused ones are given this long.
pub const REFUSED_WAIT: f32 = 0.6;

/// Asserts reachability (`want`) with a message naming the path.
pub fn expect(ns: &TestNetns, proto: &str, host: &str, port: u16, want: bool, what: &str) {
    let secs = if want { 3.0 } else { REFUSED_WAIT };
    let got = reach(ns, proto, host, port, secs);
    assert_eq!(
        got,
        want,
        "{what}: {proto} {host}:{port} expected {}",
        if want { "open" } else { "refused" }
    );
}

/// One expected path: `(from, proto, to, port, open?, what)`.
pub type Path<'a> = (&'a TestNetns, &'a str, &'a str, u16, bool, &'a str);

/// Asserts every path of a table.
pub fn expect_all(paths: &[Path]) {
    for (ns, proto, host, port, want, what) in paths {
        expect(ns, proto, host, *port, *want, what);
    }
}

/// Runs `argv` in the namespace, ignoring the outcome.
pub fn sh(ns: &TestNetns, argv: &[&str]) {
    let _ = ns
        .command(argv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
