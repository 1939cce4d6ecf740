//! `ferrocni-crash`: crash injection. Each iteration ADDs the chain
//! bridge(+host-local) → portmap → firewall for a fresh pod inside a node
//! namespace and SIGKILLs one exec (or its process group) at a random
//! moment, then does what a runtime does next: DEL of the whole chain in
//! reverse (sometimes after the netns is gone, sometimes twice), then GC
//! with the surviving attachments. After every iteration the node must hold
//! no state of the pod and the two surviving pods must still work.
//!
//! ```text
//! ferrocni-crash [--iterations N] [--seed S]
//! ```
//! Exit status 1 when any leak, DEL failure or broken survivor was seen.

use std::time::{Duration, Instant};

use ferrocni_fuzz::net::chain::{self, Net, PLUGINS, Pod};
use ferrocni_fuzz::net::exec::Kill;
use ferrocni_fuzz::net::node::{Node, serve_pong};
use ferrocni_fuzz::net::probe;
use ferrocni_fuzz::rng::Rng;

#[derive(Debug, Default)]
struct Counts {
    iterations: u64,
    kills_sent: [u64; 3],
    kills_landed: [u64; 3],
    completed_adds: u64,
    add_errors: u64,
    del_errors: u64,
    gc_errors: u64,
    leaks: u64,
    survivor_failures: u64,
    del_after_netns_gone: u64,
    double_del: u64,
}

fn flag(name: &str) -> Option<u64> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1)?.parse().ok())
}

fn main() {
    let iterations = flag("--iterations").unwrap_or(200);
    let seed = flag("--seed").unwrap_or_else(|| std::process::id().into());
    let mut rng = Rng::new(seed);
    let node = Node::new("cr");
    let net = Net::new("crashnet", 1);
    let survivors = setup_survivors(&node, &net);
    let typical = typical_ms(&node, &net);
    println!("crash injection: {iterations} iterations, seed {seed}, typical ADD ms {typical:?}");
    let start = Instant::now();
    let mut c = Counts::default();
    for i in 0..iterations {
        iteration(i, &mut rng, &node, &net, &survivors, &typical, &mut c);
    }
    report(&c, start.elapsed());
    let bad = c.leaks + c.del_errors + c.survivor_failures + c.gc_errors + c.add_errors;
    std::process::exit(i32::from(bad > 0));
}

fn setup_survivors(node: &Node, net: &Net) -> Vec<Pod> {
    let mut out = Vec::new();
    for (n, port) in [("keep-a", 31001), ("keep-b", 31002)] {
        let mut p = Pod::new(n, "ck", port);
        let r = chain::add(node, net, &mut p, None);
        assert!(
            r.failed.is_none() && p.result.is_some(),
            "survivor ADD failed: {r:?}"
        );
        p.server = Some(serve_pong(p.ns.as_ref().expect("netns")));
        out.push(p);
    }
    let live: Vec<&Pod> = out.iter().collect();
    let bad = probe::pods_work(node, &live);
    assert!(
        bad.is_empty(),
        "survivors do not work before the run: {bad:?}"
    );
    out
}

/// Median duration of each plugin's ADD over a few clean runs.
fn typical_ms(node: &Node, net: &Net) -> [u128; 3] {
    let mut samples: [Vec<u128>; 3] = Default::default();
    for i in 0..5 {
        let mut p = Pod::new(&format!("warm-{i}"), "cw", 30500 + i);
        let r = chain::add(node, net, &mut p, None);
        for (k, ms) in r.took_ms.iter().enumerate() {
            samples[k].push(*ms);
        }
        chain::del(node, net, &p);
    }
    samples.map(|mut s| {
        s.sort();
        s.get(s.len() / 2).copied().unwrap_or(10)
    })
}

#[allow(clippy::too_many_arguments)]
fn iteration(
    i: u64,
    rng: &mut Rng,
    node: &Node,
    net: &Net,
    live: &[Pod],
    typical: &[u128; 3],
    c: &mut Counts,
) {
    c.iterations += 1;
    let mut pod = Pod::new(&format!("crash-{i:06}"), "cp", 32000 + (i % 2000) as u16);
    let victim = rng.below(4);
    let kill = (victim < 3).then(|| {
        c.kills_sent[victim] += 1;
        let after = chain::kill_delay(rng, typical[victim]);
        (
            victim,
            Kill {
                after,
                group: rng.one_in(2),
            },
        )
    });
    let added = chain::add(node, net, &mut pod, kill);
    if let Some(k) = added.killed {
        c.kills_landed[k] += 1;
    } else if let Some((plugin, out)) = &added.failed {
        c.add_errors += 1;
        println!("iteration {i}: {plugin} ADD failed: {out}");
    } else {
        c.completed_adds += 1;
        traffic(node, &pod);
    }
    runtime_cleanup(rng, node, net, &mut pod, c);
    let survivors: Vec<&Pod> = live.iter().collect();
    for e in chain::gc(node, net, &survivors) {
        c.gc_errors += 1;
        println!("iteration {i}: {e}");
    }
    verify(i, node, net, &pod, &survivors, c);
}

/// Some traffic so the pod has conntrack entries that DEL must flush.
fn traffic(node: &Node, pod: &Pod) {
    if let Some(ip) = &pod.ip {
        node.ping(ip);
    }
    let port = pod.host_port;
    ferrocni_fuzz::net::exec::in_netns(&node.outside.path(), move || {
        if let Ok(s) = std::net::UdpSocket::bind("0.0.0.0:0") {
            let _ = s.send_to(b"x", (ferrocni_fuzz::net::node::NODE_IP, port));
        }
    });
}

/// DEL as a runtime would: sometimes after the netns is gone, sometimes twice.
fn runtime_cleanup(rng: &mut Rng, node: &Node, net: &Net, pod: &mut Pod, c: &mut Counts) {
    let mode = rng.below(4);
    if mode == 0 {
        pod.ns.take();
        c.del_after_netns_gone += 1;
    }
    let mut errs = chain::del(node, net, pod);
    if mode == 1 || mode == 2 {
        if mode == 2 {
            pod.ns.take();
        }
        c.double_del += 1;
        errs.extend(chain::del(node, net, pod));
    }
    pod.ns.take();
    for e in errs {
        c.del_errors += 1;
        println!("{}: {e}", pod.id);
    }
}

fn verify(i: u64, node: &Node, net: &Net, pod: &Pod, live: &[&Pod], c: &mut Counts) {
    let mut leaks = probe::pod_leftovers(node, net, &pod.id, pod.ip.as_deref());
    leaks.extend(probe::net_leftovers(node, net, live));
    if !leaks.is_empty() {
        c.leaks += leaks.len() as u64;
        println!("iteration {i} ({}): LEAK\n  {}", pod.id, leaks.join("\n  "));
        chain::del(node, net, pod);
    }
    let broken = probe::pods_work(node, live);
    if !broken.is_empty() {
        c.survivor_failures += broken.len() as u64;
        println!("iteration {i}: {}", broken.join("; "));
    }
}

fn report(c: &Counts, took: Duration) {
    println!("crash injection summary ({:.1} s):", took.as_secs_f64());
    println!("  iterations            {}", c.iterations);
    for (k, p) in PLUGINS.iter().enumerate() {
        println!(
            "  kills of {p:<9}     sent {:>5}, landed mid-exec {:>5}",
            c.kills_sent[k], c.kills_landed[k]
        );
    }
    println!("  chain ADDs completed  {}", c.completed_adds);
    println!("  DEL after netns gone  {}", c.del_after_netns_gone);
    println!("  double DELs           {}", c.double_del);
    println!("  ADD errors (no kill)  {}", c.add_errors);
    println!("  DEL errors            {}", c.del_errors);
    println!("  GC errors             {}", c.gc_errors);
    println!("  leaks found           {}", c.leaks);
    println!("  survivor failures     {}", c.survivor_failures);
    for l in chain::timings() {
        println!("  {l}");
    }
}
