//! `ferrocni-soak`: concurrency soak. Worker threads run ADD, DEL and CHECK
//! of the bridge(+host-local) → portmap → firewall chain in parallel across
//! three networks of one node namespace, while a checker verifies, over and
//! over: no duplicate IP, every live pod's address reserved to it, every
//! live pod reachable (ping) and its host port answering; and each DEL is
//! followed by a check that the deleted pod left nothing behind. At the end
//! every network must hold exactly the live pods; then all are deleted, GC
//! runs, and the node must be clean. The third network uses the reference
//! iptables layout, so nftables and iptables-restore batches race too.
//!
//! ```text
//! ferrocni-soak [--seconds N] [--workers W] [--seed S]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrocni_fuzz::net::chain::{self, Net, Pod};
use ferrocni_fuzz::net::node::{Node, serve_pong};
use ferrocni_fuzz::net::probe;
use ferrocni_fuzz::rng::Rng;

const NETS: usize = 3;
const MAX_PODS_PER_NET: usize = 5;

type Shared = Arc<Mutex<Pod>>;

#[derive(Default)]
struct Counts {
    adds: AtomicU64,
    add_errors: AtomicU64,
    dels: AtomicU64,
    del_errors: AtomicU64,
    checks: AtomicU64,
    check_errors: AtomicU64,
    rounds: AtomicU64,
    violations: AtomicU64,
}

struct Soak {
    node: Node,
    nets: Vec<Net>,
    live: Mutex<Vec<BTreeMap<String, Shared>>>,
    next_id: AtomicU64,
    next_port: AtomicU16,
    c: Counts,
    stop: AtomicBool,
}

fn flag(name: &str) -> Option<u64> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1)?.parse().ok())
}

fn main() {
    let seconds = flag("--seconds").unwrap_or(30);
    let workers = flag("--workers").unwrap_or(4);
    let seed = flag("--seed").unwrap_or_else(|| std::process::id().into());
    let s = Soak {
        node: Node::new("sk"),
        nets: (0..NETS).map(net).collect(),
        live: Mutex::new(vec![BTreeMap::new(); NETS]),
        next_id: AtomicU64::new(0),
        next_port: AtomicU16::new(33000),
        c: Counts::default(),
        stop: AtomicBool::new(false),
    };
    println!("concurrency soak: {seconds} s, {workers} workers, {NETS} networks, seed {seed}");
    let start = Instant::now();
    std::thread::scope(|sc| {
        for w in 0..workers {
            let s = &s;
            sc.spawn(move || worker(s, Rng::new(seed + w), start + Duration::from_secs(seconds)));
        }
        sc.spawn(|| checker(&s));
        std::thread::sleep(Duration::from_secs(seconds));
        s.stop.store(true, Ordering::Relaxed);
    });
    finish(&s);
    report(&s, start.elapsed());
    let c = &s.c;
    let bad = [&c.add_errors, &c.del_errors, &c.check_errors, &c.violations];
    let failed = bad.iter().any(|x| x.load(Ordering::Relaxed) > 0);
    // Drop the node and the pods' namespaces before exiting (exit skips drops).
    drop(s);
    std::process::exit(i32::from(failed));
}

/// Networks 0 and 1 on nftables; network 2 on the reference iptables layout.
fn net(i: usize) -> Net {
    let n = Net::new(&format!("soaknet{i}"), 20 + i as u8);
    if i == 2 { n.iptables() } else { n }
}

fn violation(s: &Soak, msg: String) {
    s.c.violations.fetch_add(1, Ordering::Relaxed);
    println!("VIOLATION: {msg}");
}

fn worker(s: &Soak, mut rng: Rng, deadline: Instant) {
    while Instant::now() < deadline {
        let n = rng.below(NETS);
        let count = s.live.lock().unwrap()[n].len();
        match rng.below(10) {
            0..=3 if count < MAX_PODS_PER_NET => add(s, n),
            0..=5 if count > 0 => del(s, n, &mut rng),
            _ if count > 0 => check(s, n, &mut rng),
            _ => add(s, n),
        }
    }
}

fn add(s: &Soak, n: usize) {
    let i = s.next_id.fetch_add(1, Ordering::Relaxed);
    let port = s.next_port.fetch_add(1, Ordering::Relaxed);
    let mut pod = Pod::new(&format!("soak-{i:07}"), "sp", port);
    let r = chain::add(&s.node, &s.nets[n], &mut pod, None);
    s.c.adds.fetch_add(1, Ordering::Relaxed);
    if let Some((plugin, out)) = r.failed {
        s.c.add_errors.fetch_add(1, Ordering::Relaxed);
        println!("{} {plugin} ADD failed: {out}", pod.id);
        chain::del(&s.node, &s.nets[n], &pod);
        return;
    }
    pod.server = Some(serve_pong(pod.ns.as_ref().expect("netns")));
    let id = pod.id.clone();
    s.live.lock().unwrap()[n].insert(id, Arc::new(Mutex::new(pod)));
}

fn pick(s: &Soak, n: usize, rng: &mut Rng, take: bool) -> Option<Shared> {
    let mut live = s.live.lock().unwrap();
    let ids: Vec<String> = live[n].keys().cloned().collect();
    let id = ids.get(rng.below(ids.len().max(1)))?.clone();
    if take {
        live[n].remove(&id)
    } else {
        live[n].get(&id).cloned()
    }
}

fn del(s: &Soak, n: usize, rng: &mut Rng) {
    let Some(pod) = pick(s, n, rng, true) else {
        return;
    };
    let mut pod = pod.lock().unwrap();
    let errs = chain::del(&s.node, &s.nets[n], &pod);
    s.c.dels.fetch_add(1, Ordering::Relaxed);
    for e in &errs {
        s.c.del_errors.fetch_add(1, Ordering::Relaxed);
        println!("{e}");
    }
    pod.server.take();
    pod.ns.take();
    let net = &s.nets[n];
    let reused = probe::reservations(net)
        .iter()
        .any(|(ip, _)| Some(ip.to_string()) == pod.ip);
    let ip = if reused { None } else { pod.ip.as_deref() };
    for leak in probe::pod_leftovers(&s.node, net, &pod.id, ip) {
        violation(s, format!("deleted pod {} left: {leak}", pod.id));
    }
}

fn check(s: &Soak, n: usize, rng: &mut Rng) {
    let Some(pod) = pick(s, n, rng, false) else {
        return;
    };
    let pod = pod.lock().unwrap();
    if pod.ns.is_none() {
        return;
    }
    s.c.checks.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = chain::check(&s.node, &s.nets[n], &pod) {
        s.c.check_errors.fetch_add(1, Ordering::Relaxed);
        println!("{e}");
    }
}

/// One pass over every live pod of every network.
fn checker(s: &Soak) {
    while !s.stop.load(Ordering::Relaxed) {
        let snapshot: Vec<Vec<Shared>> = s
            .live
            .lock()
            .unwrap()
            .iter()
            .map(|m| m.values().cloned().collect())
            .collect();
        for (n, pods) in snapshot.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for p in pods {
                let p = p.lock().unwrap();
                if p.ns.is_none() {
                    continue;
                }
                let ip = p.ip.clone().unwrap_or_default();
                if !seen.insert(ip.clone()) {
                    violation(s, format!("duplicate IP {ip} in {}", s.nets[n].name));
                }
                let owner = probe::reservations(&s.nets[n])
                    .into_iter()
                    .find(|(a, _)| a.to_string() == ip);
                if !owner.is_some_and(|(_, o)| o.contains(&p.id)) {
                    violation(s, format!("{} ({ip}) is not reserved to it", p.id));
                }
                for bad in probe::pods_work(&s.node, &[&p]) {
                    violation(s, bad);
                }
            }
        }
        s.c.rounds.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Live pods match each network; then everything is deleted and GCed.
fn finish(s: &Soak) {
    let live: Vec<Vec<Shared>> = s
        .live
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.values().cloned().collect())
        .collect();
    for (n, pods) in live.iter().enumerate() {
        let guards: Vec<_> = pods.iter().map(|p| p.lock().unwrap()).collect();
        let refs: Vec<&Pod> = guards.iter().map(|g| &**g).collect();
        for leak in probe::net_leftovers(&s.node, &s.nets[n], &refs) {
            violation(s, format!("at the end: {leak}"));
        }
        for p in &refs {
            for e in chain::del(&s.node, &s.nets[n], p) {
                violation(s, format!("final {e}"));
            }
        }
        for e in chain::gc(&s.node, &s.nets[n], &[]) {
            violation(s, format!("final {e}"));
        }
        drop(guards);
        let (leaks, _) = probe::settled(Duration::from_secs(3), || {
            probe::net_leftovers(&s.node, &s.nets[n], &[])
        });
        for leak in leaks {
            violation(s, format!("after the final DEL + GC: {leak}"));
        }
    }
}

fn report(s: &Soak, took: Duration) {
    let c = &s.c;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!("concurrency soak summary ({:.1} s):", took.as_secs_f64());
    println!(
        "  chain ADDs   {:>7} ({} failed)",
        g(&c.adds),
        g(&c.add_errors)
    );
    println!(
        "  chain DELs   {:>7} ({} failed)",
        g(&c.dels),
        g(&c.del_errors)
    );
    println!(
        "  chain CHECKs {:>7} ({} failed)",
        g(&c.checks),
        g(&c.check_errors)
    );
    println!("  checker rounds over all live pods {}", g(&c.rounds));
    println!("  invariant violations {}", g(&c.violations));
    for l in chain::timings() {
        println!("  {l}");
    }
}
