//! Runtimes run ADD/DEL of different containers in parallel: 24 pods
//! ADDed at once (each its own host port, half of them on one contested
//! port pair to make the kernel arbitrate), then DELed at once, on both
//! backends. Every non-contested ADD succeeds, exactly one of each contested
//! pair wins (the other gets 105), and nothing is left afterwards.

mod common;

use common::*;
use serde_json::{Value, json};

const PODS: usize = 24;

fn run(backend: &str) {
    let n = Node::new(&format!("k{}", &backend[..1]));
    let pods: Vec<Pod> = (0..PODS)
        .map(|i| {
            Pod::fake(
                &format!("par-{backend}-{i}"),
                &format!("10.88.1.{}/16", i + 2),
            )
        })
        .collect();
    // Pods 2k and 2k+1 for k < 4 both want port 7100+k; the rest are alone.
    let port = |i: usize| if i < 8 { 7100 + i / 2 } else { 7200 + i };
    let codes: Vec<Option<i32>> = std::thread::scope(|s| {
        let handles: Vec<_> = pods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let maps = json!([{"hostPort": port(i), "containerPort": 80, "protocol": "tcp"}]);
                let conf = n.conf(Some(backend), maps, Some(p));
                let n = &n;
                s.spawn(move || {
                    let out = n.call(&ours(), "ADD", &p.cid, &p.path(), &conf);
                    assert!(out.success() || out.error_code() == 105, "{}", out.stdout);
                    out.code
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for k in 0..4 {
        let won = [codes[2 * k], codes[2 * k + 1]]
            .iter()
            .filter(|c| **c == Some(0))
            .count();
        assert_eq!(won, 1, "{backend}: port {} had {won} winners", 7100 + k);
    }
    assert!(
        codes[8..].iter().all(|c| *c == Some(0)),
        "{backend}: {codes:?}"
    );
    std::thread::scope(|s| {
        for p in &pods {
            let conf = n.conf(Some(backend), Value::Null, None);
            let n = &n;
            s.spawn(move || {
                let out = n.call(&ours(), "DEL", &p.cid, "", &conf);
                assert!(out.success(), "{}", out.stdout);
            });
        }
    });
    let fw = n.firewall();
    assert!(!fw.contains("par-"), "{backend} left:\n{fw}");
}

#[test]
fn parallel_add_del_nftables() {
    run("nftables");
}

#[test]
fn parallel_add_del_iptables() {
    run("iptables");
}
