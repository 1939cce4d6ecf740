//! `ferrocni-crash`: crash injection. Each iteration ADDs the chain
//! bridge(+host-local) → portmap → firewall for a fresh pod inside a node
//! namespace and SIGKILLs one exec (or its process group) at a random
//! moment, then does what a runtime does next: DEL of the whole chain in
//! reverse (sometimes after the netns is gone, sometimes twice), then GC
//! with the surviving attachments. A third of the iterations go through the
//! `ferrocni` CLI instead (killed with or without the plugin it runs), so
//! the result cache is covered too. After every iteration the node must
//! hold no state of the pod and the two surviving pods must still work.
//!
//! ```text
//! ferrocni-crash [--iterations N] [--nodes K] [--seed S]
//! ```
//! The iterations are shared by K nodes run in parallel (default 3): node
//! 0 uses the nftables backends, node 1 the reference iptables layout for
//! all three plugins, node 2 iptables for masquerade and portmap with the
//! nftables firewall (which then also writes iptables compat accepts).

use std::time::{Duration, Instant};

use ferrocni_fuzz::net::chain::{self, Net, PLUGINS, Pod};
use ferrocni_fuzz::net::cli;
use ferrocni_fuzz::net::exec::Kill;
use ferrocni_fuzz::net::node::{Node, serve_pong};
use ferrocni_fuzz::net::probe;
use ferrocni_fuzz::net::tally::{Counts, report};
use ferrocni_fuzz::rng::Rng;

fn flag(name: &str) -> Option<u64> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1)?.parse().ok())
}

fn main() {
    let iterations = flag("--iterations").unwrap_or(200);
    let nodes = flag("--nodes").unwrap_or(3).max(1);
    let seed = flag("--seed").unwrap_or_else(|| std::process::id().into());
    println!("crash injection: {iterations} iterations on {nodes} node(s), seed {seed}");
    let start = Instant::now();
    let total = std::sync::Mutex::new(Counts::default());
    std::thread::scope(|s| {
        for k in 0..nodes {
            let share = iterations / nodes + u64::from(k < iterations % nodes);
            let total = &total;
            s.spawn(move || {
                let c = run_node(k, share, seed.wrapping_add(k));
                total.lock().unwrap_or_else(|p| p.into_inner()).add(&c);
            });
        }
    });
    let c = total.into_inner().unwrap_or_else(|p| p.into_inner());
    report(&c, start.elapsed());
    let bad = c.leaks + c.del_errors + c.survivor_failures + c.gc_errors + c.add_errors;
    std::process::exit(i32::from(bad > 0));
}

/// One node; its rule layout depends on `k` (see the module doc).
fn run_node(k: u64, iterations: u64, seed: u64) -> Counts {
    let mut rng = Rng::new(seed);
    let node = Node::new(&format!("cr{k}"));
    let net = Net::new(&format!("crash{k}"), 1 + k as u8);
    let net = match k % 3 {
        0 => net,
        1 => net.iptables(),
        _ => net.iptables_but_firewall(),
    };
    let survivors = setup_survivors(&node, &net);
    let typical = typical_ms(&node, &net);
    println!(
        "node {k} (masq/portmap {}, firewall {}): typical ADD ms {typical:?}",
        net.backend, net.firewall_backend
    );
    let mut c = Counts::default();
    for i in 0..iterations {
        iteration(
            k * 1_000_000 + i,
            &mut rng,
            &node,
            &net,
            &survivors,
            &typical,
            &mut c,
        );
    }
    c
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
    c.scenario.clear();
    let mut pod = Pod::new(&format!("crash-{i:08}"), "cp", 32000 + (i % 2000) as u16);
    let via_cli = rng.one_in(3);
    if via_cli {
        cli_add(i, rng, node, net, &mut pod, typical, c);
    } else {
        direct_add(i, rng, node, net, &mut pod, typical, c);
    }
    runtime_cleanup(rng, node, net, &mut pod, via_cli, c);
    let survivors: Vec<&Pod> = live.iter().collect();
    let gc_errs = if via_cli {
        cli::gc(node, net, &survivors).err().into_iter().collect()
    } else {
        chain::gc(node, net, &survivors)
    };
    for e in gc_errs {
        c.gc_errors += 1;
        println!("iteration {i}: {e}");
    }
    verify(i, node, net, &pod, &survivors, c);
}

/// The chain by direct execs, one of them killed (or none, 1 in 4).
fn direct_add(
    i: u64,
    rng: &mut Rng,
    node: &Node,
    net: &Net,
    pod: &mut Pod,
    typical: &[u128; 3],
    c: &mut Counts,
) {
    let victim = rng.below(4);
    let kill = (victim < 3).then(|| {
        c.kills_sent[victim] += 1;
        let after = chain::kill_delay(rng, typical[victim]);
        let group = rng.one_in(2);
        c.scenario = format!("kill {} (group {group}) after {after:?}; ", PLUGINS[victim]);
        (victim, Kill { after, group })
    });
    let added = chain::add(node, net, pod, kill);
    if let Some(k) = added.killed {
        c.kills_landed[k] += 1;
    } else if let Some((plugin, out)) = &added.failed {
        c.add_errors += 1;
        println!("iteration {i}: {plugin} ADD failed: {out}");
    } else {
        c.completed_adds += 1;
        traffic(node, pod);
    }
}

/// The chain through `ferrocni add`, the CLI (and the plugin it runs, half
/// the time) killed at a random moment of the whole ADD.
fn cli_add(
    i: u64,
    rng: &mut Rng,
    node: &Node,
    net: &Net,
    pod: &mut Pod,
    typical: &[u128; 3],
    c: &mut Counts,
) {
    c.via_cli += 1;
    let after = chain::kill_delay(rng, 2 * typical.iter().sum::<u128>() + 10);
    let group = rng.one_in(2);
    c.scenario = format!("ferrocni add killed (group {group}) after {after:?}; ");
    let out = cli::add(node, net, pod, Some(Kill { after, group }));
    if out.killed {
        c.cli_kills_landed += 1;
    } else if !out.ok() {
        c.add_errors += 1;
        println!(
            "iteration {i}: ferrocni add failed: {} {}",
            out.stdout, out.stderr
        );
    } else {
        c.completed_adds += 1;
        traffic(node, pod);
    }
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
fn runtime_cleanup(
    rng: &mut Rng,
    node: &Node,
    net: &Net,
    pod: &mut Pod,
    via_cli: bool,
    c: &mut Counts,
) {
    let del = |pod: &Pod| -> Vec<String> {
        if via_cli {
            cli::del(node, net, pod).err().into_iter().collect()
        } else {
            chain::del(node, net, pod)
        }
    };
    if pod.ip.is_none() {
        // killed mid-ADD: the address host-local handed out, if any
        pod.ip = probe::reservations(net)
            .into_iter()
            .find(|(_, owner)| owner.contains(&pod.id))
            .map(|(ip, _)| ip.to_string());
    }
    let mode = rng.below(4);
    let what = ["netns gone, DEL", "DEL", "DEL, DEL", "DEL, netns gone, DEL"][mode];
    c.scenario.push_str(&format!(
        "ADD {}; {what}",
        if pod.result.is_some() {
            "completed"
        } else {
            "cut short"
        }
    ));
    if mode == 0 {
        pod.ns.take();
        c.del_after_netns_gone += 1;
    }
    let mut errs = del(pod);
    if mode == 1 || mode == 2 {
        if mode == 2 {
            pod.ns.take();
        }
        c.double_del += 1;
        errs.extend(del(pod));
    }
    pod.ns.take();
    for e in errs {
        c.del_errors += 1;
        println!("{}: {e}", pod.id);
    }
}

/// Leaks of open bugs that have an ignored regression test: reported and
/// counted, but they do not fail the run. Remove a pattern with its fix.
fn is_known(_leak: &str) -> bool {
    // No open leak is known. (The portmap temp-record leak is fixed:
    // crash_regressions.rs::a_killed_portmaps_temp_record_is_swept_by_del.)
    false
}

fn verify(i: u64, node: &Node, net: &Net, pod: &Pod, live: &[&Pod], c: &mut Counts) {
    let entry = cli::cache_entry(net, pod);
    let (leaks, transient) = probe::settled(Duration::from_secs(3), || {
        let mut leaks = probe::pod_leftovers(node, net, &pod.id, pod.ip.as_deref());
        leaks.extend(probe::net_leftovers(node, net, live));
        if entry.exists() {
            leaks.push(format!("CLI cache entry {} left", entry.display()));
        }
        leaks
    });
    c.settled += u64::from(transient);
    let (known, leaks): (Vec<String>, Vec<String>) = leaks.into_iter().partition(|l| is_known(l));
    if !known.is_empty() {
        c.known_leaks += known.len() as u64;
        println!(
            "iteration {i} ({}): known open bug after [{}]\n  {}",
            pod.id,
            c.scenario,
            known.join("\n  ")
        );
    }
    if !leaks.is_empty() {
        c.leaks += leaks.len() as u64;
        println!(
            "iteration {i} ({}): LEAK after [{}]\n  {}",
            pod.id,
            c.scenario,
            leaks.join("\n  ")
        );
        chain::del(node, net, pod);
    }
    let broken = probe::pods_work(node, live);
    if !broken.is_empty() {
        c.survivor_failures += broken.len() as u64;
        println!("iteration {i}: {}", broken.join("; "));
    }
}
