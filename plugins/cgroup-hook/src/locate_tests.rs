//! mountinfo, /proc/<pid>/cgroup and cgroupsPath cross-checks.

use super::*;

const UNIFIED: &str = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
";
const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup ro shared:4 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw shared:5 - cgroup2 cgroup2 rw,nsdelegate
33 30 0:29 / /sys/fs/cgroup/memory rw shared:7 - cgroup cgroup rw,memory
";

#[test]
fn finds_unified_mount() {
    let m = find_unified(&parse_mountinfo(UNIFIED)).unwrap();
    assert_eq!(m.point, PathBuf::from("/sys/fs/cgroup"));
    let e = find_unified(&parse_mountinfo(HYBRID)).unwrap_err();
    assert!(
        e.contains("hybrid") && e.contains("/sys/fs/cgroup/unified"),
        "{e}"
    );
    let e = find_unified(&parse_mountinfo(HYBRID.lines().last().unwrap())).unwrap_err();
    assert!(e.contains("v1 only"), "{e}");
    assert!(find_unified(&[]).unwrap_err().contains("no cgroup2"));
    // a named v1 hierarchy (no controllers) next to cgroup2 is still unified
    let named = format!(
        "{UNIFIED}40 25 0:40 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    );
    assert!(find_unified(&parse_mountinfo(&named)).is_ok());
}

#[test]
fn escapes_and_garbage() {
    let m = parse_mountinfo("1 2 0:3 / /a\\040b rw - cgroup2 x rw\ngarbage\n\n");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].point, PathBuf::from("/a b"));
}

#[test]
fn proc_cgroup_lines() {
    assert_eq!(
        unified_path("0::/kubepods.slice/x.scope\n"),
        Some("/kubepods.slice/x.scope")
    );
    assert_eq!(unified_path("12:memory:/a\n0::/b\n"), Some("/b"));
    assert_eq!(unified_path("12:memory:/a\n"), None);
    let m = Mount {
        root: "/".into(),
        point: "/sys/fs/cgroup".into(),
        fstype: "cgroup2".into(),
        options: String::new(),
    };
    assert_eq!(relative_to_mount(&m, "/a/b"), Some(PathBuf::from("a/b")));
    assert_eq!(relative_to_mount(&m, "/"), Some(PathBuf::from("")));
    let nested = Mount {
        root: "/pod".into(),
        ..m
    };
    assert_eq!(
        relative_to_mount(&nested, "/pod/ctr"),
        Some(PathBuf::from("ctr"))
    );
    assert_eq!(relative_to_mount(&nested, "/podx/ctr"), None);
}

#[test]
fn slices_expand() {
    assert_eq!(
        expand_slice("kubepods-burstable-pod1.slice").unwrap(),
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice"
    );
    assert_eq!(expand_slice("-.slice").unwrap(), "");
    assert_eq!(expand_slice("a--b.slice"), None);
    assert_eq!(expand_slice("nope"), None);
}

#[test]
fn cgroups_path_cross_check() {
    let a = Path::new(
        "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/crio-abc.scope",
    );
    assert_eq!(
        cross_check(a, "kubepods-besteffort-pod1.slice:crio:abc"),
        None
    );
    assert!(cross_check(a, "kubepods-besteffort-pod1.slice:crio:zzz").is_some());
    let crun = a.join("container");
    assert_eq!(
        cross_check(&crun, "kubepods-besteffort-pod1.slice:crio:abc"),
        None
    );
    assert_eq!(
        cross_check(
            Path::new("kubepods/besteffort/pod1/abc"),
            "/kubepods/besteffort/pod1/abc"
        ),
        None
    );
    assert_eq!(
        cross_check(
            Path::new("kubepods/pod1/abc/container"),
            "/kubepods/pod1/abc"
        ),
        None
    );
    assert!(cross_check(Path::new("other/abc"), "/kubepods/pod1/abc").is_some());
    assert_eq!(
        cross_check(Path::new("user.slice/runc/abc"), "runc/abc"),
        None
    );
    assert!(cross_check(Path::new("user.slice/runc/abc"), "runc/xyz").is_some());
}

#[test]
fn find_by_container_id() {
    let t = tempfile::tempdir().unwrap();
    let p = t
        .path()
        .join("kubepods.slice/pod1.slice/cri-containerd-abc123.scope");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::create_dir_all(
        t.path()
            .join("kubepods.slice/pod1.slice/cri-containerd-def.scope"),
    )
    .unwrap();
    assert_eq!(find_by_id(t.path(), "abc123", 6), vec![p]);
    assert!(find_by_id(t.path(), "zzz", 6).is_empty());
}
