//! Per-pod state left in a node, and whether the pods that should work do.
//! Every check returns human-readable leak lines; empty means clean.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::chain::{Net, Pod};
use super::node::Node;

/// True when `text` mentions `ip` as a whole address (not a prefix of another).
pub fn mentions_ip(text: &str, ip: &str) -> bool {
    text.match_indices(ip).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + ip.len()..].chars().next();
        let edge =
            |c: Option<char>| c.is_none_or(|c| !(c.is_ascii_hexdigit() || c == '.' || c == ':'));
        edge(before) && edge(after)
    })
}

/// host-local reservations of `net`: address -> file content.
pub fn reservations(net: &Net) -> Vec<(IpAddr, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(net.reservations_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Ok(ip) = name.parse::<IpAddr>() {
            out.push((ip, std::fs::read_to_string(e.path()).unwrap_or_default()));
        }
    }
    out.sort();
    out
}

/// The node's netfilter state as text (nft ruleset + iptables-save).
pub fn rules(node: &Node) -> String {
    let mut t = node.read(&["nft", "list", "ruleset"]);
    t.push_str(&node.read(&["iptables-save"]));
    t
}

/// What the node still holds for a pod that is gone.
pub fn pod_leftovers(node: &Node, net: &Net, id: &str, ip: Option<&str>) -> Vec<String> {
    let mut leaks = Vec::new();
    for (addr, owner) in reservations(net) {
        if owner.contains(id) {
            leaks.push(format!("host-local reservation {addr} still held by {id}"));
        }
    }
    let rules = rules(node);
    if rules.contains(id) {
        let line = rules.lines().find(|l| l.contains(id)).unwrap_or_default();
        leaks.push(format!("netfilter still names {id}: {}", line.trim()));
    }
    if let Some(ip) = ip {
        if let Some(l) = rules.lines().find(|l| mentions_ip(l, ip)) {
            leaks.push(format!(
                "netfilter still names {ip} (of {id}): {}",
                l.trim()
            ));
        }
        let ct = super::exec::in_netns(&node.path(), || {
            std::fs::read_to_string("/proc/thread-self/net/nf_conntrack").unwrap_or_default()
        });
        let pat = |k: &str| format!("{k}={ip} ");
        if let Some(l) = ct
            .lines()
            .find(|l| l.contains(&pat("src")) || l.contains(&pat("dst")))
        {
            leaks.push(format!("conntrack entry of {ip} (of {id}): {}", l.trim()));
        }
    }
    for (what, dir) in [
        ("portmap", net.record_dir()),
        ("firewall", net.dir.path().join("firewall")),
    ] {
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else if e.file_name().to_string_lossy().contains(id)
                    || std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(id))
                {
                    leaks.push(format!(
                        "{what} record of {id} left: {}",
                        e.path().display()
                    ));
                }
            }
        }
    }
    leaks
}

/// Network-wide invariants with `live` the pods that must exist: one bridge
/// port each, no bridge address but the gateway, reservations = their IPs.
pub fn net_leftovers(node: &Node, net: &Net, live: &[&Pod]) -> Vec<String> {
    let mut leaks = Vec::new();
    let ports = node.read(&["ip", "-o", "link", "show", "master", &net.bridge]);
    let n = ports.lines().count();
    if n != live.len() {
        leaks.push(format!(
            "{} has {n} ports for {} live pods: {}",
            net.bridge,
            live.len(),
            ports.trim()
        ));
    }
    let addrs = node.read(&["ip", "-o", "addr", "show", "dev", &net.bridge]);
    for l in addrs.lines() {
        let a = l
            .split_whitespace()
            .skip_while(|w| *w != "inet" && *w != "inet6")
            .nth(1)
            .unwrap_or("");
        if !(a.starts_with(&format!("{}/", net.gateway())) || a.starts_with("fe80:")) {
            leaks.push(format!("extra address on {}: {a}", net.bridge));
        }
    }
    let held: BTreeSet<String> = reservations(net)
        .into_iter()
        .map(|(ip, _)| ip.to_string())
        .collect();
    let want: BTreeSet<String> = live.iter().filter_map(|p| p.ip.clone()).collect();
    if held != want {
        leaks.push(format!("reservations {held:?} but live pods hold {want:?}"));
    }
    leaks
}

/// Runs `check` until it comes back clean or `limit` passes. The kernel
/// tears a deleted namespace down asynchronously (its veth ends, and so a
/// bridge port, go a moment later), so a leak must persist to count.
/// Returns the last leaks and whether an earlier round had any.
pub fn settled(limit: std::time::Duration, check: impl Fn() -> Vec<String>) -> (Vec<String>, bool) {
    let start = std::time::Instant::now();
    let mut leaks = check();
    let transient = !leaks.is_empty();
    while !leaks.is_empty() && start.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(100));
        leaks = check();
    }
    let clean = leaks.is_empty();
    (leaks, transient && clean)
}

/// Every live pod answers ping from the node and on its host port.
pub fn pods_work(node: &Node, live: &[&Pod]) -> Vec<String> {
    let mut bad = Vec::new();
    for p in live {
        let Some(ip) = &p.ip else { continue };
        if !node.ping(ip) {
            bad.push(format!("live pod {} ({ip}) does not answer ping", p.id));
        }
        if !node.host_port_answers(p.host_port) {
            bad.push(format!(
                "live pod {} does not answer on host port {}",
                p.id, p.host_port
            ));
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_mentions_respect_boundaries() {
        assert!(mentions_ip("ip daddr 10.60.0.5 accept", "10.60.0.5"));
        assert!(mentions_ip("dst=10.60.0.5", "10.60.0.5"));
        assert!(!mentions_ip("ip daddr 10.60.0.55 accept", "10.60.0.5"));
        assert!(!mentions_ip("110.60.0.5", "10.60.0.5"));
    }
}
