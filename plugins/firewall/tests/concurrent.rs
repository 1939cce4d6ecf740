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

#[test]
fn hundred_attachments_concurrently_policy_holds_nothing_left() {
    let node = Node::new("fwc");
    let nets = nets();
    let (web, db, log) = (
        Pod::add(&node, &nets[0]),
        Pod::add(&node, &nets[1]),
        Pod::add(&node, &nets[2]),
    );
    let _ld = Listener::start(&db.ns, &["tcp/5432", "tcp/5433"]);
    let _ll = Listener::start(&log.ns, &["tcp/5140"]);
    let sandbox = TestNetns::new("fwq");
    let path = sandbox.path().display().to_string();
    let synth: Vec<Synth> = (0..100)
        .map(|i| Synth {
            net: i % 3,
            id: new_id("c"),
            ip: format!("10.8{}.0.{}", 1 + i % 3, 100 + i),
        })
        .collect();
    let run = |verb: &str, with_prev: bool, s: &Synth| {
        let net = &nets[s.net];
        let conf = net.fw_conf(with_prev.then(|| prev(net, &s.ip, &path)).as_ref());
        let netns = if with_prev {
            path.as_str()
        } else {
            "/run/netns/fcni-gone"
        };
        let out = net.fw_call(&node, verb, &s.id, netns).config(&conf).run();
        assert!(
            out.success(),
            "{verb} {}: {} {}",
            s.id,
            out.stdout,
            out.stderr
        );
    };
    let phase = |verb: &str| {
        let done = AtomicBool::new(false);
        std::thread::scope(|sc| {
            let workers: Vec<_> = synth
                .chunks(10)
                .map(|chunk| {
                    let run = &run;
                    sc.spawn(move || {
                        for (i, s) in chunk.iter().enumerate() {
                            run(verb, verb == "ADD" || i % 2 == 0, s);
                        }
                    })
                })
                .collect();
            let watcher = sc.spawn(|| watch(&web, &db, &log, &done));
            for w in workers {
                w.join().expect("worker");
            }
            done.store(true, Ordering::Relaxed);
            watcher.join().expect("policy held throughout")
        })
    };
    let rounds = phase("ADD");
    let ours = node.ours();
    for s in &synth {
        assert!(
            ours.contains(&format!("{} comment \"{} eth0", s.ip, s.id)),
            "{} missing",
            s.ip
        );
    }
    for s in synth.iter().step_by(7) {
        let net = &nets[s.net];
        let conf = net.fw_conf(Some(&prev(net, &s.ip, &path)));
        assert!(
            net.fw_call(&node, "CHECK", &s.id, &path)
                .config(&conf)
                .run()
                .success()
        );
    }
    phase("DEL");
    let ours = node.ours();
    for s in &synth {
        assert!(!ours.contains(&s.ip), "{} left behind", s.ip);
    }
    assert!(
        reach(&web.ns, "tcp", &db.ip, 5432, 2.0),
        "real pods still served"
    );
    eprintln!("policy probed {rounds} rounds during ADD");
    for p in [web, db, log] {
        p.del(&node);
    }
    assert_eq!(node.ours(), "", "nothing left");
    assert!(!node.iptables_filter().contains("CNI-"));
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
