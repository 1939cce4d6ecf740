//! io.max / io.weight grammar and device resolution against a fake sysfs.

use super::*;
use std::fs;

/// sysfs with disk sda (8:0) and its partition sda1 (8:1).
fn fake_sys() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let disk = t.path().join("devices/pci0/block/sda");
    fs::create_dir_all(disk.join("sda1")).unwrap();
    fs::write(disk.join("dev"), "8:0\n").unwrap();
    fs::write(disk.join("sda1/dev"), "8:1\n").unwrap();
    fs::write(disk.join("sda1/partition"), "1\n").unwrap();
    fs::create_dir_all(t.path().join("dev/block")).unwrap();
    std::os::unix::fs::symlink(&disk, t.path().join("dev/block/8:0")).unwrap();
    std::os::unix::fs::symlink(disk.join("sda1"), t.path().join("dev/block/8:1")).unwrap();
    t
}

#[test]
fn io_max_grammar() {
    let m = IoMax::parse("/dev/vda wbps=1Mi; 8:16 riops=500 rbps=2M/s wiops=max").unwrap();
    assert_eq!(m.0.len(), 2);
    assert_eq!(m.0[0].dev, DevRef::Path("/dev/vda".into()));
    assert_eq!(m.0[0].limits[1], Some(Limit::Value(1 << 20)));
    assert_eq!(
        io_max_line(&m.0[1]),
        "8:16 rbps=2000000 riops=500 wiops=max"
    );
    for bad in [
        "",
        "8:0",
        "8:0 wbps",
        "8:0 xbps=1",
        "sda wbps=1Mi",
        "8:0 wbps=1MB",
        "8:0 wbps=1 wbps=2",
        "8:0 riops=1.5",
    ] {
        assert!(IoMax::parse(bad).is_err(), "{bad:?}");
    }
    assert!(
        IoMax::parse("8:0 wbps=1MB")
            .unwrap_err()
            .to_string()
            .contains("1Mi")
    );
}

#[test]
fn io_max_current_reads_kernel_lines() {
    let c = "254:0 rbps=max wbps=1048576 riops=max wiops=1000\n8:0 rbps=1 wbps=max riops=max wiops=max\n";
    let cur = io_max_current(c, &DevRef::Num(254, 0));
    assert_eq!(
        cur,
        [
            Limit::Max,
            Limit::Value(1 << 20),
            Limit::Max,
            Limit::Value(1000)
        ]
    );
    assert_eq!(io_max_current(c, &DevRef::Num(9, 9)), [Limit::Max; 4]);
}

#[test]
fn io_weight_grammar() {
    let w = IoWeight::parse("50; 8:0 200").unwrap();
    assert_eq!(w.lines(), vec!["default 50", "8:0 200"]);
    assert_eq!(w.max_weight(), 200);
    assert_eq!(IoWeight::parse("default 10").unwrap().default, Some(10));
    for bad in ["", "0", "default", "1; 2", "8:0", "8:0 20000", "a b c"] {
        assert!(IoWeight::parse(bad).is_err(), "{bad:?}");
    }
    let c = "default 100\n8:0 300\n8:16 50\n";
    assert_eq!(io_weight_current(c, None), Some(100));
    assert_eq!(io_weight_current(c, Some(&DevRef::Num(8, 0))), Some(300));
    assert_eq!(io_weight_current(c, Some(&DevRef::Num(8, 1))), Some(100));
}

#[test]
fn partitions_resolve_to_their_disk() {
    let t = fake_sys();
    let r = Resolver {
        sys_root: t.path().into(),
    };
    assert_eq!(r.resolve(&DevRef::Num(8, 1)), Ok(DevRef::Num(8, 0)));
    assert_eq!(r.resolve(&DevRef::Num(8, 0)), Ok(DevRef::Num(8, 0)));
    let e = r.resolve(&DevRef::Num(8, 5)).unwrap_err().to_string();
    assert!(e.contains("no block device 8:5"), "{e}");
    let m = IoMax::parse("8:1 wbps=1Mi; 8:0 rbps=1Mi").unwrap();
    assert!(m.resolve(&r).unwrap_err().to_string().contains("twice"));
    let w = IoWeight::parse("8:1 20").unwrap().resolve(&r).unwrap();
    assert_eq!(w.lines(), vec!["8:0 20"]);
}

#[test]
fn anonymous_devices_are_refused() {
    let r = Resolver {
        sys_root: "/nonexistent".into(),
    };
    let e = r.resolve(&DevRef::Num(0, 42)).unwrap_err().to_string();
    assert!(e.contains("anonymous device"), "{e}");
    let e = r
        .resolve(&DevRef::Path("/no/such/path".into()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/no/such/path"), "{e}");
    // /proc is always an anonymous (procfs) device
    let e = r
        .resolve(&DevRef::Path("/proc".into()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("anonymous device"), "{e}");
}
