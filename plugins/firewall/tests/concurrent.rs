//! 100 attachments across 3 networks ADDed and DELed concurrently while
//! probes check that the policy holds throughout; nothing left afterwards.
//! The heavy variant with 100 real pods is `#[ignore]`d (`make soak`).

mod common;

use common::probe::{Listener, expect, reach};
use common::{Net, Node, Pod, new_id};
use integration::TestNetns;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};

fn nets() -> Vec<Net> {
    vec![
        Net::new("cweb", "fwcw0", "10.81.0.0/24", json!({})),
        Net::new(
            "cdb",
            "fwcd0",
            "10.82.0.0/24",
            json!({"ingressPolicy": "same-bridge",
                   "allow": [{"from": "10.81.0.0/24", "ports": ["tcp/5432"]}]}),
        ),
        Net::new(
            "clog",
            "fwcl0",
            "10.83.0.0/24",
            json!({"ingressPolicy": "same-bridge"}),
        ),
    ]
}

/// A prevResult as the bridge plugin would return it.
fn prev(net: &Net, ip: &str, sandbox: &str) -> Value {
    json!({"cniVersion": "1.0.0",
           "interfaces": [{"name": net.bridge}, {"name": "vethsynth"}, {"name": "eth0", "sandbox": sandbox}],
           "ips": [{"address": format!("{ip}/24"), "interface": 2}]})
}

/// Probes the policy between the real pods until `done`; at least once.
fn watch(web: &Pod, db: &Pod, log: &Pod, done: &AtomicBool) -> usize {
    let mut rounds = 0;
    loop {
        expect(&web.ns, "tcp", &db.ip, 5432, true, "web -> db allowed");
        expect(&web.ns, "tcp", &db.ip, 5433, false, "web -> db other port");
        expect(&log.ns, "tcp", &db.ip, 5432, false, "log -> db");
        expect(&db.ns, "tcp", &log.ip, 5140, false, "db -> log");
        rounds += 1;
        if done.load(Ordering::Relaxed) {
            return rounds;
        }
    }
}

struct Synth {
    net: usize,
    id: String,
    ip: String,
}

/// The node with one real pod per network and 100 synthetic attachments
/// (prevResults naming the real bridges) sharing one sandbox netns.
struct World {
    node: Node,
    nets: Vec<Net>,
    pods: [Pod; 3],
    synth: Vec<Synth>,
    sandbox: TestNetns,
}

impl World {
    fn new() -> World {
        let node = Node::new("fwc");
        let nets = nets();
        let pods = [0, 1, 2].map(|i| Pod::add(&node, &nets[i]));
        let synth = (0..100)
            .map(|i| Synth {
                net: i % 3,
                id: new_id("c"),
                ip: format!("10.8{}.0.{}", 1 + i % 3, 100 + i),
            })
            .collect();
        World {
            node,
            nets,
            pods,
            synth,
            sandbox: TestNetns::new("fwq"),
        }
    }

    fn path(&self) -> String {
        self.sandbox.path().display().to_string()
    }

    /// One call for a synthetic attachment; DEL without prevResult and with
    /// a gone netns when `with_prev` is false.
    fn call(&self, verb: &str, with_prev: bool, s: &Synth) -> integration::CniOutput {
        let net = &self.nets[s.net];
        let path = self.path();
        let conf = net.fw_conf(with_prev.then(|| prev(net, &s.ip, &path)).as_ref());
        let netns = if with_prev {
            path.as_str()
        } else {
            "/run/netns/fcni-gone"
        };
        net.fw_call(&self.node, verb, &s.id, netns)
            .config(&conf)
            .run()
    }

    /// `verb` for every synthetic attachment from 10 threads while the real
    /// pods' policy is probed; returns the probe rounds.
    fn phase(&self, verb: &str) -> usize {
        let done = AtomicBool::new(false);
        std::thread::scope(|sc| {
            let workers: Vec<_> = self
                .synth
                .chunks(10)
                .map(|chunk| {
                    sc.spawn(move || {
                        for (i, s) in chunk.iter().enumerate() {
                            let out = self.call(verb, verb == "ADD" || i % 2 == 0, s);
                            assert!(out.success(), "{verb} {}: {}", s.id, out.stdout);
                        }
                    })
                })
                .collect();
            let [web, db, log] = &self.pods;
            let watcher = sc.spawn(|| watch(web, db, log, &done));
            for w in workers {
                w.join().expect("worker");
            }
            done.store(true, Ordering::Relaxed);
            watcher.join().expect("policy held throughout")
        })
    }
}

#[test]
fn hundred_attachments_concurrently_policy_holds_nothing_left() {
    let w = World::new();
    let _ld = Listener::start(&w.pods[1].ns, &["tcp/5432", "tcp/5433"]);
    let _ll = Listener::start(&w.pods[2].ns, &["tcp/5140"]);
    let rounds = w.phase("ADD");
    let ours = w.node.ours();
    for s in &w.synth {
        let elem = format!("{} comment \"{} eth0", s.ip, s.id);
        assert!(ours.contains(&elem), "{} missing", s.ip);
    }
    for s in w.synth.iter().step_by(7) {
        assert!(w.call("CHECK", true, s).success(), "CHECK {}", s.id);
    }
    w.phase("DEL");
    let ours = w.node.ours();
    for s in &w.synth {
        assert!(!ours.contains(&s.ip), "{} left behind", s.ip);
    }
    let [web, db, log] = w.pods;
    assert!(
        reach(&web.ns, "tcp", &db.ip, 5432, 2.0),
        "real pods still served"
    );
    eprintln!("policy probed {rounds} rounds during ADD");
    for p in [web, db, log] {
        p.del(&w.node);
    }
    assert_eq!(w.node.ours(), "", "nothing left");
    assert!(!w.node.iptables_filter().contains("CNI-"));
}

/// `n` real pods (reference bridge + host-local + our firewall) across
/// three networks, ADDed and DELed from 8 threads, `cycles` times.
fn real_pods(n: usize, cycles: usize) {
    let node = Node::new("fwr");
    let nets = nets();
    for _ in 0..cycles {
        let pods: Vec<Pod> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..8)
                .map(|t| {
                    let (node, nets) = (&node, &nets);
                    sc.spawn(move || {
                        (0..n)
                            .filter(|i| i % 8 == t)
                            .map(|i| Pod::add(node, &nets[i % 3]))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let by = |n: &str| pods.iter().filter(|p| p.net.name == n).collect::<Vec<_>>();
        let (webs, dbs, logs) = (by("cweb"), by("cdb"), by("clog"));
        let listener = Listener::start(&dbs[0].ns, &["tcp/5432", "tcp/5433"]);
        expect(&webs[5].ns, "tcp", &dbs[0].ip, 5432, true, "web -> db");
        expect(
            &webs[6].ns,
            "tcp",
            &dbs[0].ip,
            5433,
            false,
            "web -> db other port",
        );
        expect(&logs[3].ns, "tcp", &dbs[0].ip, 5432, false, "log -> db");
        expect(&dbs[7].ns, "tcp", &dbs[0].ip, 5433, true, "db -> db");
        for p in &pods {
            assert!(p.check(&node).success(), "CHECK {}", p.id);
        }
        drop(listener);
        let mut buckets: Vec<Vec<Pod>> = (0..8).map(|_| Vec::new()).collect();
        for (i, p) in pods.into_iter().enumerate() {
            buckets[i % 8].push(p);
        }
        std::thread::scope(|sc| {
            for b in buckets {
                let node = &node;
                sc.spawn(move || b.into_iter().for_each(|p| p.del(node)));
            }
        });
        assert_eq!(node.ours(), "", "nothing left");
        assert!(!node.iptables_filter().contains("CNI-"));
    }
}

#[test]
fn hundred_real_pods_concurrently_nothing_left() {
    real_pods(100, 1);
}

/// The heavy version: 200 pods, three rounds (`make soak`).
#[test]
#[ignore]
fn soak_real_pods_repeated() {
    real_pods(200, 3);
}
