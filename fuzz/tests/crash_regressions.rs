//! Leaks found by crash injection, reduced to deterministic reproductions.
//! A crash mid-ADD means the runtime never cached a result, so its DEL
//! carries no prevResult; everything must still go.

use ferrocni_fuzz::net::chain::{self, Net, Pod};
use ferrocni_fuzz::net::node::Node;
use ferrocni_fuzz::net::probe;

/// ADD of the whole chain, then DEL (and GC) as after a crash: no prevResult.
fn add_then_uncached_del(tag: &str, net: &Net) -> Vec<String> {
    add_then_uncached_del_on(Node::new(tag), tag, net)
}

fn add_then_uncached_del_on(node: Node, tag: &str, net: &Net) -> Vec<String> {
    let mut pod = Pod::new(&format!("{tag}-pod"), &format!("{tag}p"), 31950);
    let r = chain::add(&node, net, &mut pod, None);
    assert!(r.failed.is_none(), "{r:?}");
    pod.result = None;
    let errs = chain::del(&node, net, &pod);
    assert!(errs.is_empty(), "{errs:?}");
    pod.ns.take();
    let gc = chain::gc(&node, net, &[]);
    assert!(gc.is_empty(), "{gc:?}");
    let mut leaks = probe::pod_leftovers(&node, net, &pod.id, pod.ip.as_deref());
    leaks.extend(probe::net_leftovers(&node, net, &[]));
    leaks
}

#[test]
fn uncached_del_leaves_nothing_nftables() {
    let leaks = add_then_uncached_del("un", &Net::new("uncnft", 13));
    assert!(leaks.is_empty(), "{leaks:?}");
}

#[test]
fn uncached_del_leaves_nothing_iptables() {
    let leaks = add_then_uncached_del("ui", &Net::new("uncipt", 14).iptables());
    assert!(leaks.is_empty(), "{leaks:?}");
}

/// With the node's iptables FORWARD policy at DROP (Docker does that), the
/// nftables firewall also writes per-IP `CNI-FORWARD` accepts into iptables
/// (compat); after a complete ADD an uncached DEL still removes them (it
/// finds the address in the nft elements). A firewall killed between the
/// two writes is another story: see RELIABILITY.md, bug 10.
#[test]
fn uncached_del_leaves_nothing_nftables_with_iptables_forward_drop() {
    let node = Node::new("ud");
    node.ns.exec_ok(&["iptables", "-P", "FORWARD", "DROP"]);
    let leaks = add_then_uncached_del_on(node, "ud", &Net::new("uncdrop", 15));
    assert!(leaks.is_empty(), "{leaks:?}");
}

/// portmap writes its record as `.<id>:<ifname>.tmp<pid>` and renames it
/// into place; killed in between, the temp file stays. The runtime's DEL
/// (and GC) must sweep it. Reproduced here by leaving such a file behind,
/// as the kill does.
#[test]
fn a_killed_portmaps_temp_record_is_swept_by_del() {
    let node = Node::new("ut");
    let net = Net::new("unctmp", 16);
    let mut pod = Pod::new("ut-pod", "utp", 31960);
    let r = chain::add(&node, &net, &mut pod, None);
    assert!(r.failed.is_none(), "{r:?}");
    let dir = net.record_dir().join(&net.name);
    std::fs::write(dir.join(".ut-pod:eth0.tmp4242"), "{").unwrap();
    pod.result = None;
    assert!(chain::del(&node, &net, &pod).is_empty());
    pod.ns.take();
    assert!(chain::gc(&node, &net, &[]).is_empty());
    let leaks = probe::pod_leftovers(&node, &net, &pod.id, pod.ip.as_deref());
    assert!(leaks.is_empty(), "{leaks:?}");
}
