//! report/freeze against the in-memory fake cgroup.

use super::*;
use crate::testfs::FakeCgroup;

fn filled() -> FakeCgroup {
    let fs = FakeCgroup::new();
    fs.set("memory.current", "1048576");
    fs.set("memory.peak", "2097152");
    fs.set(
        "memory.events",
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0",
    );
    fs.set("cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 200000");
    fs.set(
        "io.stat",
        "254:0 rbytes=0 wbytes=3145728 rios=0 wios=48 dbytes=0 dios=0",
    );
    fs.set("io.max", "254:0 rbps=max wbps=1048576 riops=max wiops=max");
    fs.set("pids.current", "3");
    fs.set("cgroup.events", "populated 1\nfrozen 0");
    fs
}

#[test]
fn snapshot_and_table() {
    let fs = filled();
    let s = snapshot(&fs, Path::new("/nonexistent"));
    assert_eq!(s["memory"]["current"], 1048576);
    assert_eq!(s["memory"]["events"]["oom_kill"], 1);
    assert_eq!(s["cpu"]["stat"]["nr_throttled"], 4);
    assert_eq!(s["io"][0]["wbytes"], 3145728);
    assert_eq!(
        s["io"][0]["max"],
        "rbps=max wbps=1048576 riops=max wiops=max"
    );
    assert_eq!(s["pids"]["max"], "max");
    assert_eq!(s["pids"]["peak"], Json::Null);
    assert_eq!(s["frozen"], false);
    let t = table(&s);
    assert!(t.contains("current 1.0 MiB  peak 2.0 MiB  max max"), "{t}");
    assert!(t.contains("usage 1.500 s"), "{t}");
    assert!(t.contains("periods 10  throttled 4  for 0.200 s"), "{t}");
    assert!(t.contains("written 3.0 MiB"), "{t}");
    assert!(t.contains("oom_kill 1"), "{t}");
}

#[test]
fn freeze_waits_for_events() {
    let fs = filled();
    // the fake never reports frozen: times out
    let e = freeze(&fs, true, Duration::from_millis(50))
        .unwrap_err()
        .to_string();
    assert!(e.contains("timed out"), "{e}");
    assert_eq!(fs.get("cgroup.freeze"), "1\n");
    fs.set("cgroup.events", "populated 1\nfrozen 1");
    freeze(&fs, true, Duration::from_millis(50)).unwrap();
    fs.files.borrow_mut().remove("cgroup.events");
    assert!(freeze(&fs, false, Duration::from_millis(50)).is_err());
}
