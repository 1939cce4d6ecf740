//! Conntrack cleanup in namespaces of our own: entries of the addresses go
//! (original or reply, source or destination, both families), unrelated
//! entries stay, a netns where conntrack never ran is an empty table, the
//! delete is idempotent, and the kernel-filtered dump stays cheap with
//! 10,000 unrelated entries. Checked with the `conntrack` binary too.

mod common;

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::{Ns, own_netns_id};
use netkit::conntrack::{Conntrack, DumpFilter, Entry, UDP};
use netkit::{run_in, sysctl};

const POD4: &str = "10.77.0.5";
const POD6: &str = "fd77::5";
const OTHER4: &str = "10.77.0.6";
const OTHER6: &str = "fd77::6";
const FAR4: &str = "10.77.9.9";
const FAR6: &str = "fd77::9";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A netns with conntrack running (an nft `ct state` rule on output) and
/// the test addresses on `lo`.
fn tracked_ns(tag: &str) -> Ns {
    let n = Ns::new(tag);
    for a in [POD4, OTHER4, FAR4] {
        n.ip(&["addr", "add", &format!("{a}/32"), "dev", "lo"]);
    }
    for a in [POD6, OTHER6, FAR6] {
        n.ip(&["addr", "add", &format!("{a}/128"), "dev", "lo", "nodad"]);
    }
    for cmd in [
        "add table inet fcnict",
        "add chain inet fcnict out { type filter hook output priority 0; }",
        "add rule inet fcnict out ct state new counter",
    ] {
        let mut argv = vec!["nft"];
        argv.extend(cmd.split(' '));
        n.netns.exec_ok(&argv);
    }
    sysctl::write_in(&n.file, "net.netfilter.nf_conntrack_udp_timeout", "300").unwrap();
    n
}

/// One UDP datagram per destination port from `from` to `to` (inside `n`).
fn udp(n: &Ns, from: &str, to: &str, ports: std::ops::Range<u16>) {
    let (from, to) = (ip(from), ip(to));
    run_in(&n.file, move || {
        let s = UdpSocket::bind(SocketAddr::new(from, 0)).unwrap();
        for p in ports {
            s.send_to(b"x", SocketAddr::new(to, p)).unwrap();
        }
    })
    .unwrap();
}

/// A TCP connection from `from` to `to`:5432, opened and closed.
fn tcp(n: &Ns, from: &str, to: &str) {
    let (from, to) = (ip(from), ip(to));
    run_in(&n.file, move || {
        let l = TcpListener::bind(SocketAddr::new(to, 5432)).unwrap();
        let c = std::net::TcpStream::connect(SocketAddr::new(to, 5432)).unwrap();
        let _ = (from, l.accept().unwrap(), TcpStream::peer_addr(&c));
    })
    .unwrap();
}

/// Inserts an entry with the `conntrack` binary (NAT-like tuples).
fn insert(n: &Ns, args: &str) {
    let mut argv = vec!["conntrack", "-I", "-t", "300", "-u", "ASSURED"];
    argv.extend(args.split(' '));
    n.netns.exec_ok(&argv);
}

/// The pod's flows (every field position) and unrelated ones.
fn populate(n: &Ns) {
    udp(n, POD4, FAR4, 7000..7002); // original source
    udp(n, FAR4, POD4, 7000..7002); // original destination
    udp(n, POD6, FAR6, 7000..7002);
    udp(n, FAR6, POD6, 7000..7002);
    tcp(n, OTHER4, POD4);
    // DNAT to the pod: only the reply source is the pod.
    insert(
        n,
        "-p tcp -s 192.0.2.9 -d 198.51.100.1 --sport 1000 --dport 80 -r 10.77.0.5 -q 192.0.2.9 --reply-port-src 80 --reply-port-dst 1000 --state ESTABLISHED",
    );
    // SNAT to the pod address: only the reply destination is the pod.
    insert(
        n,
        "-p udp -s 192.0.2.10 -d 198.51.100.2 --sport 1001 --dport 53 -r 198.51.100.2 -q 10.77.0.5 --reply-port-src 53 --reply-port-dst 1001",
    );
    // Unrelated.
    udp(n, OTHER4, FAR4, 7000..7003);
    udp(n, OTHER6, FAR6, 7000..7003);
    tcp(n, OTHER4, FAR4);
    insert(
        n,
        "-p tcp -s 192.0.2.9 -d 198.51.100.1 --sport 1002 --dport 80 -r 10.77.0.6 -q 192.0.2.9 --reply-port-src 80 --reply-port-dst 1002 --state ESTABLISHED",
    );
}

/// `conntrack -L` of both families, as text.
fn listed(n: &Ns) -> String {
    let v4 = n.netns.exec_ok(&["conntrack", "-L", "-f", "ipv4"]);
    let v6 = n.netns.exec_ok(&["conntrack", "-L", "-f", "ipv6"]);
    v4 + &v6
}

fn mentions_pod(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("=10.77.0.5 ") || l.contains("=fd77::5 "))
        .collect()
}

fn orig_tuples(v: &[Entry]) -> Vec<String> {
    let mut s: Vec<String> = v.iter().map(|e| format!("{:?}", e.orig)).collect();
    s.sort();
    s
}

fn deletes_every_entry_of_the_addresses(mode: DumpFilter) {
    let own = own_netns_id();
    let n = tracked_ns(&format!("ct{}", format!("{mode:?}").to_lowercase()));
    populate(&n);
    let pods = [ip(POD4), ip(POD6)];
    assert_eq!(mentions_pod(&listed(&n)).len(), 11, "{}", listed(&n));
    let mut ct = Conntrack::open_in(&n.file).unwrap();
    ct.set_dump_filter(mode);
    let before = ct.list().unwrap();
    assert!(ct.count().unwrap() >= before.len(), "count below the dump");
    let (pod, unrelated): (Vec<Entry>, Vec<Entry>) =
        before.into_iter().partition(|e| e.touches(&pods));
    assert_eq!(pod.len(), 11, "{pod:#?}");
    assert!(unrelated.len() >= 8, "{unrelated:#?}");
    assert_eq!(ct.delete_by_addr(&pods).unwrap(), 11);
    assert!(
        ct.kernel_filter_ok(),
        "{mode:?}: CTA_FILTER rejected or ignored"
    );
    let text = listed(&n);
    assert!(mentions_pod(&text).is_empty(), "left:\n{text}");
    assert_eq!(orig_tuples(&ct.list().unwrap()), orig_tuples(&unrelated));
    assert_eq!(ct.delete_by_addr(&pods).unwrap(), 0, "not idempotent");
    assert_eq!(own_netns_id(), own, "the test's own netns changed");
}

#[test]
fn delete_by_addr_with_kernel_filter() {
    deletes_every_entry_of_the_addresses(DumpFilter::Kernel);
}

#[test]
fn delete_by_addr_auto() {
    deletes_every_entry_of_the_addresses(DumpFilter::Auto);
}

#[test]
fn delete_by_addr_filtering_in_user_space() {
    deletes_every_entry_of_the_addresses(DumpFilter::User);
}

#[test]
fn delete_udp_dport_removes_only_udp_to_those_ports() {
    for mode in [DumpFilter::Auto, DumpFilter::Kernel] {
        let n = tracked_ns("ctp");
        udp(&n, OTHER4, FAR4, 7000..7003);
        udp(&n, OTHER6, FAR6, 7000..7003);
        tcp(&n, OTHER4, FAR4);
        let mut ct = Conntrack::open_in(&n.file).unwrap();
        ct.set_dump_filter(mode);
        assert_eq!(ct.delete_udp_dport(&[7000, 7002]).unwrap(), 4, "{mode:?}");
        assert!(
            ct.kernel_filter_ok(),
            "{mode:?}: CTA_FILTER rejected or ignored"
        );
        let left = ct.list().unwrap();
        let udp_ports: Vec<_> = left
            .iter()
            .filter(|e| e.orig.proto == UDP)
            .map(|e| e.orig.dport)
            .collect();
        assert_eq!(udp_ports, [Some(7001), Some(7001)], "{mode:?}: {left:#?}");
        assert!(left.iter().any(|e| e.orig.dport == Some(5432)), "TCP lost");
        assert_eq!(ct.delete_udp_dport(&[7000, 7002]).unwrap(), 0);
    }
}

#[test]
fn a_netns_where_conntrack_never_ran_is_an_empty_table() {
    let n = Ns::new("ctnone");
    let mut ct = Conntrack::open_in(&n.file).unwrap();
    assert!(ct.list().unwrap().is_empty());
    assert_eq!(ct.delete_by_addr(&[ip(POD4), ip(POD6)]).unwrap(), 0);
    assert_eq!(ct.delete_udp_dport(&[53]).unwrap(), 0);
    assert_eq!(ct.delete_by_addr(&[]).unwrap(), 0);
    assert_eq!(ct.count().unwrap(), 0);
    ct.set_dump_filter(DumpFilter::Kernel);
    assert_eq!(ct.delete_by_addr(&[ip(POD4)]).unwrap(), 0);
    assert!(
        ct.kernel_filter_ok(),
        "an empty table must not disable CTA_FILTER"
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time of the calling thread (user + system: the kernel's dump work
/// runs in our `recv`), which unlike wall time ignores the machine's load.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and out-pointer.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) },
        0
    );
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// 10,000 unrelated entries: every mode finds exactly the pod's entries;
/// prints the median wall and CPU cost of each (`--nocapture`).
#[test]
fn ten_thousand_unrelated_entries() {
    let n = tracked_ns("ct10k");
    let time = |mode: DumpFilter| {
        let (mut wall, mut cpu) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            udp(&n, POD4, FAR4, 7000..7003);
            tcp(&n, OTHER4, POD4);
            let mut ct = Conntrack::open_in(&n.file).unwrap();
            ct.set_dump_filter(mode);
            let (t, c) = (Instant::now(), thread_cpu());
            let deleted = ct.delete_by_addr(&[ip(POD4), ip(POD6)]).unwrap();
            wall.push(t.elapsed());
            cpu.push(thread_cpu() - c);
            assert_eq!(deleted, 4, "{mode:?}");
        }
        format!(
            "{mode:?} {:.1?} wall / {:.1?} CPU",
            median(wall),
            median(cpu)
        )
    };
    let modes = [DumpFilter::Kernel, DumpFilter::User, DumpFilter::Auto];
    let small = modes.map(time);
    udp(&n, OTHER4, FAR4, 10_000..20_000);
    let big = modes.map(time);
    let mut ct = Conntrack::open_in(&n.file).unwrap();
    let all = ct.list().unwrap();
    assert!(all.len() >= 10_000, "only {} entries", all.len());
    assert!(!all.iter().any(|e| e.touches(&[ip(POD4)])));
    eprintln!(
        "conntrack delete_by_addr(v4 + v6 address), median of 7:\n  4 entries: {small:?}\n  {} entries: {big:?}",
        all.len()
    );
}
