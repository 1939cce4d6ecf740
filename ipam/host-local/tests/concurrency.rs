//! Many plugin processes at once on one network: never one address twice,
//! never a lost release.

mod common;

use std::collections::HashSet;

use common::*;
use integration::TestNetns;

const N: usize = 200;

/// Runs `f(i)` for 0..N on N threads at once and collects the results.
fn all_at_once<T: Send>(f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = std::sync::Barrier::new(N);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..N)
            .map(|i| {
                let (f, b) = (&f, &barrier);
                s.spawn(move || {
                    b.wait();
                    f(i)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn two_hundred_concurrent_adds_then_dels_dual_stack() {
    let ns = TestNetns::new("hlc");
    let dir = tmpdir();
    let conf = dual(dir.path());
    let t = std::time::Instant::now();
    let results = all_at_once(|i| add(OURS, &format!("ctr-{i:03}"), &ns.path(), &conf));
    let add_time = t.elapsed();
    let mut v4 = HashSet::new();
    let mut v6 = HashSet::new();
    for out in &results {
        let ips = ips_of(out);
        assert_eq!(ips.len(), 2, "{}", out.stdout);
        assert!(v4.insert(ips[0].clone()), "v4 {} handed out twice", ips[0]);
        assert!(v6.insert(ips[1].clone()), "v6 {} handed out twice", ips[1]);
    }
    assert_eq!((v4.len(), v6.len()), (N, N));
    let files = reservations(dir.path());
    assert_eq!(files.len(), 2 * N, "one file per address");
    for (i, out) in results.iter().enumerate() {
        for ip in ips_of(out) {
            assert_eq!(files[&ip], format!("ctr-{i:03}\r\neth0"));
        }
    }
    let t = std::time::Instant::now();
    let dels = all_at_once(|i| del(OURS, &format!("ctr-{i:03}"), &conf));
    let del_time = t.elapsed();
    for d in &dels {
        assert!(d.success(), "{} {}", d.stdout, d.stderr);
    }
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    eprintln!("200 concurrent ADDs: {add_time:?}, 200 concurrent DELs: {del_time:?}");
}

#[test]
fn concurrent_adds_of_one_attachment_converge_on_one_address() {
    let ns = TestNetns::new("hlr");
    let dir = tmpdir();
    let conf = dual(dir.path());
    let outs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| add(OURS, "same", &ns.path(), &conf)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = ips_of(&outs[0]);
    for o in &outs {
        assert_eq!(ips_of(o), first, "retried ADD returns the same addresses");
    }
    assert_eq!(reservations(dir.path()).len(), 2);
}
