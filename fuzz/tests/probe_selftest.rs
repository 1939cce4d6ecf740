//! The leak probe used by crash injection and the soak must see leaks: a
//! pod whose DEL never ran shows up in every category it checks, and the
//! same pod after DEL shows up in none — on both rule layouts.

use ferrocni_fuzz::net::chain::{self, Net, Pod};
use ferrocni_fuzz::net::node::{Node, serve_pong};
use ferrocni_fuzz::net::probe;

#[test]
fn the_probe_sees_a_pod_that_was_never_deleted_nftables() {
    selftest("ps", Net::new("probenet", 11));
}

#[test]
fn the_probe_sees_a_pod_that_was_never_deleted_iptables() {
    selftest("pi", Net::new("probeipt", 12).iptables());
}

fn selftest(tag: &str, net: Net) {
    let node = Node::new(tag);
    let mut pod = Pod::new("probe-pod", &format!("{tag}p"), 31900);
    let r = chain::add(&node, &net, &mut pod, None);
    assert!(r.failed.is_none(), "{r:?}");
    let _server = serve_pong(pod.ns.as_ref().unwrap());
    assert!(
        probe::pods_work(&node, &[&pod]).is_empty(),
        "the pod does not work"
    );
    node.ping(pod.ip.as_deref().unwrap());
    let leaks = probe::pod_leftovers(&node, &net, &pod.id, pod.ip.as_deref()).join("\n");
    for what in [
        "reservation",
        "netfilter still names probe-pod",
        "conntrack",
        "portmap record",
    ] {
        assert!(leaks.contains(what), "probe missed the {what}: {leaks}");
    }
    let net_leaks = probe::net_leftovers(&node, &net, &[]).join("\n");
    assert!(net_leaks.contains("ports for 0 live pods"), "{net_leaks}");
    assert!(net_leaks.contains("reservations"), "{net_leaks}");
    let errs = chain::del(&node, &net, &pod);
    assert!(errs.is_empty(), "{errs:?}");
    let leaks = probe::pod_leftovers(&node, &net, &pod.id, pod.ip.as_deref());
    assert!(leaks.is_empty(), "after DEL: {leaks:?}");
    assert!(probe::net_leftovers(&node, &net, &[]).is_empty());
    assert!(
        !probe::pods_work(&node, &[&pod]).is_empty(),
        "a deleted pod still answers"
    );
}
