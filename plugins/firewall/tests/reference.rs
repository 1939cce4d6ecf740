//! `same-bridge` with every network opted in, side by side with the
//! reference `/usr/lib/cni/firewall` (iptables): the same connectivity from
//! our nftables layout, and the same `filter` table from our iptables mode.

mod common;

use common::probe::{Listener, reach};
use common::{EXT_IP, NODE_IP, Net, Node, Pod};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Which {
    Reference,
    OursIptables,
    OursNftables,
}

fn nets(which: Which) -> Vec<Net> {
    let fw = match which {
        Which::Reference | Which::OursIptables => {
            json!({"backend": "iptables", "ingressPolicy": "same-bridge"})
        }
        Which::OursNftables => json!({"ingressPolicy": "same-bridge"}),
    };
    let nets = vec![
        Net::new("ra", "fwra0", "10.61.0.0/24", fw.clone()),
        Net::new("rb", "fwrb0", "10.62.0.0/24", fw.clone()),
        Net::new("rc", "fwrc0", "10.63.0.0/24", fw),
    ];
    if which == Which::Reference {
        nets.into_iter().map(Net::reference).collect()
    } else {
        nets
    }
}

/// Pods a1, a2 on network A, b1 on B, c1 on C; every ordered pair plus the
/// outside, all probed on tcp/7000. Returns the matrix and the filter table.
fn run(which: Which) -> (Vec<(String, bool)>, String) {
    let node = Node::new("fwr");
    node.ext
        .exec_ok(&["ip", "route", "add", "10.0.0.0/8", "via", NODE_IP]);
    let nets = nets(which);
    let pods = [
        ("a1", Pod::add(&node, &nets[0])),
        ("a2", Pod::add(&node, &nets[0])),
        ("b1", Pod::add(&node, &nets[1])),
        ("c1", Pod::add(&node, &nets[2])),
    ];
    let _ls: Vec<Listener> = pods
        .iter()
        .map(|(_, p)| Listener::start(&p.ns, &["tcp/7000"]))
        .collect();
    let _lx = Listener::start(&node.ext, &["tcp/7000"]);
    let mut matrix = Vec::new();
    for (from, src) in &pods {
        for (to, dst) in &pods {
            if from != to {
                matrix.push((
                    format!("{from}->{to}"),
                    reach(&src.ns, "tcp", &dst.ip, 7000, 0.6),
                ));
            }
        }
        matrix.push((
            format!("{from}->ext"),
            reach(&src.ns, "tcp", EXT_IP, 7000, 2.0),
        ));
        matrix.push((
            format!("ext->{from}"),
            reach(&node.ext, "tcp", &src.ip, 7000, 2.0),
        ));
    }
    let filter = node.iptables_filter();
    for (_, p) in pods {
        p.del(&node);
    }
    (matrix, filter)
}

#[test]
fn same_bridge_matches_reference_side_by_side() {
    let (reference, ref_filter) = run(Which::Reference);
    let on = |k: &str| reference.iter().find(|(n, _)| n == k).unwrap().1;
    // The reference's own behaviour, so the comparison is not vacuous.
    assert!(on("a1->a2") && on("a2->a1"), "{reference:?}");
    assert!(
        !on("a1->b1") && !on("b1->c1") && !on("c1->a2"),
        "{reference:?}"
    );
    assert!(on("a1->ext") && on("ext->b1"), "{reference:?}");
    let (nft, _) = run(Which::OursNftables);
    assert_eq!(nft, reference, "nftables layout vs reference");
    let (ipt, ipt_filter) = run(Which::OursIptables);
    assert_eq!(ipt, reference, "iptables layout vs reference");
    assert_eq!(ipt_filter, ref_filter, "filter table, ours vs reference");
}
