//! Latency of fwkit's nftables calls (medians, in ms, process spawn
//! included). Refuses to run in the host's network namespace: run it as
//! `unshare -n target/.../examples/fastpath_bench [rounds]`.

use fwkit::{Backend, PortMapping, PortmapOpts, Protocol, spawn_count};
use ipnet::IpNet;
use std::time::Instant;

const NFT: Backend = Backend::Nftables;

fn in_private_netns() -> bool {
    // `unshare -n` execs us in a new namespace; our parent stays outside.
    let ino = |p: String| std::fs::read_link(p).ok();
    let parent = std::os::unix::process::parent_id();
    let me = ino("/proc/self/ns/net".into());
    let outer = ino(format!("/proc/{parent}/ns/net"));
    me.is_some() && outer.is_some() && me != outer
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn pm(port: u16) -> PortMapping {
    PortMapping {
        host_ip: None,
        host_port: port,
        container_port: 80,
        protocol: Protocol::Tcp,
    }
}

/// Median (ms) and spawned processes per call of `rounds` runs of `f(i)`.
fn measure(rounds: u32, mut f: impl FnMut(u32)) -> (f64, f64) {
    let before = spawn_count();
    let mut v: Vec<f64> = (0..rounds)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let procs = (spawn_count() - before) as f64 / f64::from(rounds);
    (v[v.len() / 2], procs)
}

fn report(what: &str, (ms, procs): (f64, f64)) {
    println!("{what:<52} {ms:>7.1} ms  {procs:>4.1} proc");
}

/// Existing mappings `from..to`, 100 per container (ports 20000..).
fn fill_portmaps(from: u16, to: u16) {
    let o = PortmapOpts::default();
    for c in from / 100..to.div_ceil(100) {
        let maps: Vec<_> = (c * 100..(c * 100 + 100).min(to))
            .filter(|i| *i >= from)
            .map(|i| pm(20000 + i))
            .collect();
        let ip = net(&format!("10.200.{}.{}/16", c / 250, c % 250 + 2));
        fwkit::portmap_add("n", &format!("fill{c}"), &[ip], &maps, &o, NFT).unwrap();
    }
}

fn bench_portmap(rounds: u32, existing: u16) {
    let o = PortmapOpts::default();
    let ip = |i: u32| net(&format!("10.100.{}.{}/16", i / 250, i % 250 + 2));
    let label = |s: &str| format!("portmap {s}, {existing} existing");
    let add = measure(rounds, |i| {
        let m = [pm(1000 + i as u16)];
        fwkit::portmap_add("n", &format!("p{i}"), &[ip(i)], &m, &o, NFT).unwrap();
    });
    report(&label("ADD"), add);
    let del = measure(rounds, |i| {
        fwkit::portmap_del("n", &format!("p{i}"), NFT).unwrap();
    });
    report(&label("DEL by id"), del);
    let spec = measure(rounds, |i| {
        let m = [PortMapping {
            host_ip: Some(std::net::Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8).into()),
            ..pm(1000)
        }];
        fwkit::portmap_add("n", &format!("s{i}"), &[ip(i)], &m, &o, NFT).unwrap();
    });
    report(&label("ADD, specific host IPs"), spec);
    let retry = measure(rounds, |i| {
        let m = [pm(5000 + i as u16)];
        fwkit::portmap_add("n", &format!("r{i}"), &[ip(i)], &m, &o, NFT).unwrap();
        fwkit::portmap_add("n", &format!("r{i}"), &[ip(i)], &m, &o, NFT).unwrap();
    });
    report(&label("ADD + the same ADD again"), retry);
    for i in 0..rounds {
        fwkit::portmap_del("n", &format!("s{i}"), NFT).unwrap();
        fwkit::portmap_del("n", &format!("r{i}"), NFT).unwrap();
    }
    known_portmap(rounds, existing, &o);
}

fn known_portmap(rounds: u32, existing: u16, o: &PortmapOpts) {
    let ip = |i: u32| net(&format!("10.100.{}.{}/16", i / 250, i % 250 + 2));
    for i in 0..rounds {
        let m = [pm(1000 + i as u16)];
        fwkit::portmap_add("n", &format!("k{i}"), &[ip(i)], &m, o, NFT).unwrap();
    }
    let del = measure(rounds, |i| {
        let m = [pm(1000 + i as u16)];
        fwkit::portmap_del_known("n", &format!("k{i}"), &[ip(i)], &m, o, NFT).unwrap();
    });
    report(&format!("portmap DEL known, {existing} existing"), del);
}

fn bench_masq(rounds: u32) {
    let ip = |i: u32| net(&format!("10.50.{}.{}/16", i / 250, i % 250 + 2));
    let first = measure(1, |_| {
        fwkit::masq_add("m", "first", "eth0", &[net("10.50.255.2/16")], NFT).unwrap()
    });
    report("masq ADD, first on node", first);
    let add = measure(rounds, |i| {
        fwkit::masq_add("m", &format!("c{i}"), "eth0", &[ip(i)], NFT).unwrap();
    });
    report("masq ADD, later", add);
    let half = rounds / 2;
    let del = measure(half, |i| {
        fwkit::masq_del("m", &format!("c{i}"), "eth0", None, NFT).unwrap();
    });
    report("masq DEL, IPs unknown", del);
    let del = measure(half, |i| {
        let i = i + half;
        fwkit::masq_del("m", &format!("c{i}"), "eth0", Some(&[ip(i)]), NFT).unwrap();
    });
    report("masq DEL, IPs known", del);
    reference_sweep(rounds);
}

fn reference_sweep(rounds: u32) {
    let del = measure(rounds, |i| {
        fwkit::masq_del_reference_iptables("m", &format!("c{i}")).unwrap();
    });
    report("masq_del_reference_iptables, nothing there", del);
    let ipt = Backend::Iptables(fwkit::Flavor::Nft);
    let ip = |i: u32| net(&format!("10.60.{}.{}/16", i / 250, i % 250 + 2));
    for i in 0..rounds {
        fwkit::masq_add("m", &format!("r{i}"), "eth0", &[ip(i)], ipt).unwrap();
    }
    let del = measure(rounds, |i| {
        fwkit::masq_del_reference_iptables("m", &format!("r{i}")).unwrap();
    });
    report("masq_del_reference_iptables, v4 iptables-nft chain", del);
}

/// The kernel floor the bridge DEL is compared with: `ip link del` of a veth.
fn veth_floor(rounds: u32) {
    let ip = |args: &str| {
        let argv: Vec<&str> = args.split(' ').collect();
        let ok = std::process::Command::new("ip").args(&argv).status();
        assert!(ok.is_ok_and(|s| s.success()), "ip {args}");
    };
    for i in 0..rounds {
        ip(&format!("link add va{i} type veth peer name vb{i}"));
    }
    let del = measure(rounds, |i| ip(&format!("link del va{i}")));
    report(
        "plain veth deletion (`ip link del`, for scale)",
        (del.0, 1.0),
    );
}

fn main() {
    if !in_private_netns() {
        eprintln!("refusing to run in the host network namespace; use `unshare -n`");
        std::process::exit(2);
    }
    let rounds = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    veth_floor(rounds);
    bench_masq(rounds);
    fill_portmaps(0, 1);
    bench_portmap(rounds, 1);
    fill_portmaps(1, 200);
    bench_portmap(rounds, 200);
    fill_portmaps(200, 2000);
    bench_portmap(rounds, 2000);
}
