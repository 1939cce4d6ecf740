//! Unit tests of the record store (in a temporary directory).

use super::*;

fn rec(cid: &str) -> Record {
    let m = Mapping {
        host_ip: None,
        host_port: 8080,
        container_port: 80,
        protocol: crate::mapping::Protocol::Tcp,
    };
    let opts = crate::config::Opts {
        snat: true,
        masq_all: false,
        mark_masq_bit: 13,
        external_set_mark_chain: None,
        conditions_v4: vec!["-s".into(), "192.0.2.0/24".into()],
        conditions_v6: Vec::new(),
    };
    let ips = ["10.0.0.2/24".parse().unwrap()];
    Record::new("net1", cid, "eth0", "nftables", &ips, &[m], &opts)
}

#[test]
fn write_read_remove_list() {
    let d = tempfile::tempdir().unwrap();
    let st = Store::new(d.path().join("portmap"));
    assert_eq!(st.read("net1", "c1", "eth0").unwrap(), None);
    st.write(&rec("c1")).unwrap();
    st.write(&rec("c2")).unwrap();
    st.write(&rec("c2")).unwrap();
    assert_eq!(st.read("net1", "c1", "eth0").unwrap(), Some(rec("c1")));
    let old = r#"{"format":1,"network":"net1","containerID":"c3","ifname":"eth0",
        "backend":"nftables","ips":[],"mappings":[]}"#;
    fs::write(st.path("net1", "c3", "eth0"), old).unwrap();
    assert_eq!(st.read("net1", "c3", "eth0").unwrap().unwrap().opts, None);
    st.remove("net1", "c3", "eth0").unwrap();
    let (all, errs) = st.list("net1");
    assert_eq!((all.len(), errs.len()), (2, 0));
    st.remove("net1", "c1", "eth0").unwrap();
    st.remove("net1", "c1", "eth0").unwrap();
    assert_eq!(st.read("net1", "c1", "eth0").unwrap(), None);
    let mode = fs::metadata(st.path("net1", "c2", "eth0")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    assert_eq!(st.list("other").0.len(), 0);
}

#[test]
fn symlinks_are_never_followed() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("elsewhere");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("secret"), "{}").unwrap();
    let root = d.path().join("root");
    fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink(&target, root.join("net1")).unwrap();
    let st = Store::new(&root);
    assert!(st.write(&rec("c1")).is_err());
    assert!(!target.join("c1:eth0").exists());
    fs::remove_file(root.join("net1")).unwrap();
    fs::create_dir(root.join("net1")).unwrap();
    std::os::unix::fs::symlink(target.join("secret"), st.path("net1", "c9", "eth0")).unwrap();
    let e = st.read("net1", "c9", "eth0").unwrap_err();
    assert_eq!(e.code(), 102, "{e}");
}

#[test]
fn corrupt_records_are_errors_not_panics() {
    let d = tempfile::tempdir().unwrap();
    let st = Store::new(d.path());
    fs::create_dir(d.path().join("net1")).unwrap();
    for body in ["", "{", "[]", "{\"format\":9}", "\u{0}\u{1}"] {
        fs::write(st.path("net1", "c1", "eth0"), body).unwrap();
        assert!(st.read("net1", "c1", "eth0").is_err(), "{body:?}");
    }
    let (ok, errs) = st.list("net1");
    assert_eq!((ok.len(), errs.len()), (0, 1));
}
