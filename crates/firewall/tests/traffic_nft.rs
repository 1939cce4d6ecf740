//! A real connection through the nftables hostport maps: node -> node
//! address:hostport -> DNAT -> pod, and pod -> node:hostport -> itself
//! (hairpin, masqueraded).

mod common;

use common::{in_ns, net};
use fwkit::{Backend, PortMapping, PortmapOpts, Protocol, portmap_add, portmap_del};
use integration::TestNetns;
use std::process::{Child, Stdio};

/// A one-shot TCP server in `ns` that answers with the peer address.
fn serve(ns: &TestNetns, port: u16) -> Child {
    let code = format!(
        "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('0.0.0.0',{port}));s.listen(4);print('ready',flush=True)\n\
         for _ in range(2):\n c,a=s.accept();c.sendall(a[0].encode());c.close()\n"
    );
    let mut c = ns
        .command(&["python3", "-c", &code])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    c
}

fn fetch(ns: &TestNetns, addr: &str, port: u16) -> String {
    let code = format!(
        "import socket\ns=socket.create_connection(('{addr}',{port}),timeout=3)\nprint(s.recv(100).decode())"
    );
    ns.exec_ok(&["python3", "-c", &code]).trim().to_string()
}

fn sh(ns: &TestNetns, cmd: &str) {
    ns.exec_ok(&["sh", "-c", cmd]);
}

#[test]
fn dnat_and_hairpin_through_maps() {
    let node = TestNetns::new("tn");
    let pod = TestNetns::new("tp");
    let veth = format!("vt{}", std::process::id() % 100000);
    sh(
        &node,
        &format!(
            "ip link add {veth} type veth peer name eth0 netns {}",
            pod.name()
        ),
    );
    sh(
        &node,
        &format!("ip addr add 10.77.0.1/24 dev {veth} && ip link set {veth} up"),
    );
    sh(&node, "ip addr add 192.0.2.1/32 dev lo");
    sh(
        &node,
        &format!("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.{veth}.route_localnet=0"),
    );
    sh(
        &pod,
        "ip addr add 10.77.0.2/24 dev eth0 && ip link set eth0 up && ip route add default via 10.77.0.1",
    );
    let m = PortMapping {
        host_ip: None,
        host_port: 8080,
        container_port: 80,
        protocol: Protocol::Tcp,
    };
    let ips = [net("10.77.0.2/24")];
    let o = PortmapOpts::default();
    in_ns(&node, || {
        portmap_add("n", "c", &ips, &[m], &o, Backend::Nftables)
    })
    .unwrap();
    let mut server = serve(&pod, 80);
    // Node-local client to a node address: OUTPUT hook, no masquerade.
    assert_eq!(fetch(&node, "192.0.2.1", 8080), "192.0.2.1");
    // The pod to its own host port: hairpin, masqueraded to the gateway.
    assert_eq!(fetch(&pod, "192.0.2.1", 8080), "10.77.0.1");
    server.wait().unwrap();
    in_ns(&node, || portmap_del("n", "c", Backend::Nftables)).unwrap();
    let out = node
        .command(&[
            "python3",
            "-c",
            "import socket;socket.create_connection(('192.0.2.1',8080),timeout=1)",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "mapping still active after DEL");
}
