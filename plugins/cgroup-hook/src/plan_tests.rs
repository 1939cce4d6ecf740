//! Plan + apply against the in-memory fake cgroup: idempotency, tighten-only,
//! cross-checks, controllers, and no partial writes on kernel errors.

use super::*;
use crate::apply::apply;
use crate::testfs::FakeCgroup;

fn req(knob: Knob, raw: &str) -> Request {
    let key = format!("{}.ferrocni.dev/web", knob.file());
    Request {
        knob,
        value: knob.parse(raw).unwrap(),
        source: Source::Annotation {
            key,
            raw: raw.into(),
        },
    }
}

fn class_req(knob: Knob, raw: &str) -> Request {
    let source = Source::Class {
        class: "non-core".into(),
        via: "class.ferrocni.dev/POD".into(),
        raw: raw.into(),
    };
    Request {
        knob,
        value: knob.parse(raw).unwrap(),
        source,
    }
}

fn resolver() -> Resolver {
    Resolver {
        sys_root: "/nonexistent".into(),
    }
}

#[test]
fn writes_then_second_run_is_a_no_op() {
    let fs = FakeCgroup::new();
    let reqs = [
        req(Knob::MemoryMax, "1Gi"),
        req(Knob::CpuMax, "50%"),
        req(Knob::PidsMax, "100"),
        req(Knob::CpusetCpus, "1-2"),
    ];
    let p = plan(&reqs, &fs, &resolver(), true);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    let applied = apply(&fs, &p.writes).unwrap();
    assert_eq!(applied.len(), 4);
    assert_eq!(fs.get("memory.max"), "1073741824\n");
    assert_eq!(fs.get("cpu.max"), "50000 100000\n");
    assert_eq!(fs.get("pids.max"), "100\n");
    assert_eq!(fs.get("cpuset.cpus"), "1-2\n");
    let n = fs.writes.borrow().len();
    let p = plan(&reqs, &fs, &resolver(), true);
    assert!(p.writes.iter().all(|w| w.change.lines.is_empty()));
    assert!(apply(&fs, &p.writes).unwrap().is_empty());
    assert_eq!(fs.writes.borrow().len(), n, "second run wrote");
}

#[test]
fn tighten_only_rejects_annotations_and_skips_classes() {
    let fs = FakeCgroup::new();
    fs.set("memory.max", "536870912");
    let p = plan(&[req(Knob::MemoryMax, "1Gi")], &fs, &resolver(), true);
    assert_eq!(p.problems.len(), 1);
    assert!(p.problems[0].line().contains("annotation memory.max.ferrocni.dev/web=\"1Gi\": looser than the current memory.max 536870912"), "{}", p.problems[0].line());
    assert!(p.writes.is_empty());
    let p = plan(&[class_req(Knob::MemoryMax, "1Gi")], &fs, &resolver(), true);
    assert!(p.problems.is_empty() && p.writes.is_empty());
    assert!(p.notes[0].contains("class non-core"), "{:?}", p.notes);
    // tighten_only off: allowed
    let p = plan(&[req(Knob::MemoryMax, "1Gi")], &fs, &resolver(), false);
    assert!(p.problems.is_empty() && p.writes.len() == 1);
}

#[test]
fn cross_checks() {
    let fs = FakeCgroup::new();
    let p = plan(
        &[req(Knob::MemoryHigh, "2Gi"), req(Knob::MemoryMax, "1Gi")],
        &fs,
        &resolver(),
        true,
    );
    assert_eq!(p.problems.len(), 1);
    assert!(
        p.problems[0]
            .reason
            .contains("memory.high 2147483648 would exceed memory.max 1073741824")
    );
    assert!(p.writes.iter().all(|w| w.knob != Knob::MemoryHigh));
    fs.set("memory.max", "1073741824");
    let p = plan(&[req(Knob::MemoryHigh, "2Gi")], &fs, &resolver(), true);
    assert_eq!(p.problems.len(), 1, "current memory.max counts");
    let p = plan(&[req(Knob::MemoryMax, "512Mi")], &fs, &resolver(), true);
    assert!(p.problems.is_empty(), "memory.high max is fine");
    let p = plan(
        &[req(Knob::CpuIdle, "1"), req(Knob::CpuWeight, "50")],
        &fs,
        &resolver(),
        true,
    );
    assert_eq!(p.problems.len(), 1);
    assert!(
        p.problems[0].line().contains(
            "cpu.weight.ferrocni.dev/web=\"50\": cpu.weight has no effect with cpu.idle=1"
        )
    );
    assert_eq!(p.writes.len(), 1, "cpu.idle alone is still planned");
    let p = plan(&[req(Knob::CpusetCpus, "2-5")], &fs, &resolver(), true);
    assert!(
        p.problems[0]
            .reason
            .contains("parent's cpuset.cpus.effective 0-3")
    );
}

#[test]
fn missing_controllers_and_files() {
    let mut fs = FakeCgroup::new();
    fs.parent
        .insert("cgroup.subtree_control".into(), "cpu memory pids\n".into());
    let p = plan(&[req(Knob::IoMax, "8:0 wbps=1Mi")], &fs, &resolver(), true);
    assert!(
        p.problems[0].reason.contains(
            "controller io not enabled for /fake/cg (parent cgroup.subtree_control lacks +io)"
        ),
        "{}",
        p.problems[0].reason
    );
    fs.files.borrow_mut().remove("memory.swap.max");
    let p = plan(&[req(Knob::MemorySwapMax, "0")], &fs, &resolver(), true);
    assert!(p.problems[0].reason.contains("cannot read memory.swap.max"));
}

#[test]
fn kernel_error_undoes_earlier_writes() {
    let fs = FakeCgroup::new();
    fs.fail.borrow_mut().insert("pids.max".into(), libc::EBUSY);
    let reqs = [
        req(Knob::MemoryMax, "1Gi"),
        req(Knob::CpuMax, "50%"),
        req(Knob::PidsMax, "100"),
    ];
    let p = plan(&reqs, &fs, &resolver(), true);
    let e = apply(&fs, &p.writes).unwrap_err();
    assert!(
        e.contains("writing pids.max \"100\"") && e.contains("undone"),
        "{e}"
    );
    assert_eq!(fs.get("memory.max"), "max\n");
    assert_eq!(fs.get("cpu.max"), "max 100000\n");
}

/// sysfs with whole disks 8:0 and 8:16.
fn disks() -> (tempfile::TempDir, Resolver) {
    let t = tempfile::tempdir().unwrap();
    for d in ["8:0", "8:16"] {
        std::fs::create_dir_all(t.path().join("dev/block").join(d)).unwrap();
    }
    let r = Resolver {
        sys_root: t.path().into(),
    };
    (t, r)
}

#[test]
fn io_max_merges_and_undoes_per_device() {
    let (_t, resolver) = disks();
    let resolver = || resolver.clone();
    let fs = FakeCgroup::new();
    fs.set("io.max", "8:0 rbps=max wbps=max riops=500 wiops=max");
    let p = plan(
        &[req(Knob::IoMax, "8:0 wbps=1Mi; 8:16 wiops=10")],
        &fs,
        &resolver(),
        true,
    );
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    apply(&fs, &p.writes).unwrap();
    assert_eq!(
        fs.get("io.max"),
        "8:0 rbps=max wbps=1048576 riops=500 wiops=max\n8:16 rbps=max wbps=max riops=max wiops=10\n"
    );
    // a later knob fails: io.max is restored
    let fs = FakeCgroup::new();
    fs.fail.borrow_mut().insert("pids.max".into(), libc::EINVAL);
    let p = plan(
        &[req(Knob::IoMax, "8:0 wbps=1Mi"), req(Knob::PidsMax, "10")],
        &fs,
        &resolver(),
        true,
    );
    assert!(apply(&fs, &p.writes).is_err());
    assert_eq!(fs.get("io.max"), "");
}

#[test]
fn every_kernel_errno_is_reported_and_undone() {
    let (_t, r) = disks();
    for errno in [
        libc::EINVAL,
        libc::ENODEV,
        libc::EBUSY,
        libc::EACCES,
        libc::ENOENT,
        libc::ENOSPC,
    ] {
        let fs = FakeCgroup::new();
        // the second io.max line fails: the first one must be undone too
        fs.fail.borrow_mut().insert("io.max:8:16".into(), errno);
        let reqs = [
            req(Knob::MemoryMax, "1Gi"),
            req(Knob::IoMax, "8:0 wbps=1Mi; 8:16 wbps=2Mi"),
        ];
        let p = plan(&reqs, &fs, &r, true);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let e = apply(&fs, &p.writes).unwrap_err();
        let want = std::io::Error::from_raw_os_error(errno).to_string();
        assert!(
            e.contains("writing io.max \"8:16 wbps=2097152\"")
                && e.contains(&want)
                && e.contains("undone"),
            "{e}"
        );
        assert_eq!(fs.get("memory.max"), "max\n", "errno {errno}");
        assert_eq!(fs.get("io.max"), "", "errno {errno}");
    }
}

#[test]
fn verify_catches_a_kernel_that_ignores_writes() {
    let fs = FakeCgroup::new();
    let p = plan(&[req(Knob::CpuWeight, "50")], &fs, &resolver(), true);
    // simulate a kernel clamping the value
    fs.fail.borrow_mut().clear();
    let mut w = p.writes.clone();
    w[0].change.lines = vec!["60".into()];
    let e = apply(&fs, &w).unwrap_err();
    assert!(e.contains("verify: cpu.weight reads \"60\""), "{e}");
    assert_eq!(fs.get("cpu.weight"), "100\n");
}
