//! A node: a network namespace where every plugin runs, with an uplink veth
//! `up0` (192.0.2.1/24) to an "outside" namespace (192.0.2.2) that reaches
//! pods only through their host ports; pods are further namespaces running
//! a tiny TCP server so "still works" can be checked end to end.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use integration::TestNetns;

/// The node's address on the uplink (host ports are reached here).
pub const NODE_IP: &str = "192.0.2.1";
/// The port every pod listens on (the portmap `containerPort`).
pub const POD_PORT: u16 = 8080;

/// A node and its outside peer.
pub struct Node {
    pub ns: TestNetns,
    pub outside: TestNetns,
    /// Where the plugin binaries are (`CNI_PATH`).
    pub bin: PathBuf,
}

impl Node {
    pub fn new(tag: &str) -> Node {
        let ns = TestNetns::new(&format!("{tag}n"));
        let outside = TestNetns::new(&format!("{tag}o"));
        let peer = outside.name().to_string();
        ns.exec_ok(&[
            "ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0", "netns", &peer,
        ]);
        ns.exec_ok(&["ip", "addr", "add", "192.0.2.1/24", "dev", "up0"]);
        ns.exec_ok(&["ip", "link", "set", "up0", "up"]);
        outside.exec_ok(&["ip", "addr", "add", "192.0.2.2/24", "dev", "up0"]);
        outside.exec_ok(&["ip", "link", "set", "up0", "up"]);
        Node {
            ns,
            outside,
            bin: integration::bin_dir(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.ns.path()
    }

    /// stdout of `argv` in the node (empty when it fails).
    pub fn read(&self, argv: &[&str]) -> String {
        String::from_utf8_lossy(&self.ns.exec(argv).stdout).into_owned()
    }

    /// Connects from the outside namespace to `NODE_IP:port`; true when the
    /// pod behind it answered.
    pub fn host_port_answers(&self, port: u16) -> bool {
        let addr: SocketAddr = format!("{NODE_IP}:{port}").parse().expect("addr");
        super::exec::in_netns(&self.outside.path(), move || talk(addr))
    }

    /// Pings `ip` from the node.
    pub fn ping(&self, ip: &str) -> bool {
        self.ns
            .exec(&["ping", "-c1", "-W1", "-q", ip])
            .status
            .success()
    }
}

fn talk(addr: SocketAddr) -> bool {
    for _ in 0..3 {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(700)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let mut buf = [0u8; 4];
            if s.read_exact(&mut buf).is_ok() && &buf == b"pong" {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A server on `0.0.0.0:POD_PORT` inside a pod that answers "pong" to
/// every connection; dropping it stops the thread and closes the socket.
pub struct Pong {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Pong {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a [`Pong`] server inside `pod`.
pub fn serve_pong(pod: &TestNetns) -> Pong {
    use std::sync::atomic::{AtomicBool, Ordering};
    let file = std::fs::File::open(pod.path()).expect("open pod netns");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        // SAFETY: changes only this thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        let l = (rc == 0)
            .then(|| TcpListener::bind(("0.0.0.0", POD_PORT)).ok())
            .flatten();
        let l = l.filter(|l| l.set_nonblocking(true).is_ok());
        let _ = tx.send(l.is_some());
        let Some(l) = l else { return };
        while !flag.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((mut c, _)) => {
                    let _ = c.write_all(b"pong");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    assert!(rx.recv().unwrap_or(false), "pod server did not start");
    Pong {
        stop,
        thread: Some(thread),
    }
}
