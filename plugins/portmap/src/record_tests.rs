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

#[test]
fn sha256_matches_the_standard_vectors() {
    let hex = |d: &[u8]| {
        sha256(d)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}

#[test]
fn long_ids_get_hashed_names_and_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let st = Store::new(d.path());
    let fits = "a".repeat(MAX_PLAIN - ":eth0".len());
    assert_eq!(file_name(&fits, "eth0"), format!("{fits}:eth0"));
    for len in [MAX_PLAIN, 300, 5000] {
        let cid = "b".repeat(len);
        let name = file_name(&cid, "eth0");
        assert!(name.starts_with("h-") && name.len() == 66, "{name}");
        assert_eq!(st.read("net1", &cid, "eth0").unwrap(), None);
        st.write(&rec(&cid)).unwrap();
        assert!(d.path().join("net1").join(&name).is_file());
        assert_eq!(st.read("net1", &cid, "eth0").unwrap(), Some(rec(&cid)));
        let (all, errs) = st.list("net1");
        assert_eq!((all, errs.len()), (vec![rec(&cid)], 0));
        st.remove("net1", &cid, "eth0").unwrap();
        st.remove("net1", &cid, "eth0").unwrap();
        assert_eq!(fs::read_dir(d.path().join("net1")).unwrap().count(), 0);
    }
    // A record under another attachment's name is not that attachment's.
    st.write(&rec("c1")).unwrap();
    let cid = "b".repeat(300);
    fs::rename(st.path("net1", "c1", "eth0"), st.path("net1", &cid, "eth0")).unwrap();
    assert!(st.read("net1", &cid, "eth0").is_err());
}

#[test]
fn plain_names_of_older_builds_are_still_found() {
    let d = tempfile::tempdir().unwrap();
    let st = Store::new(d.path());
    let cid = "c".repeat(240);
    st.write(&rec("x")).unwrap();
    let old = d.path().join("net1").join(format!("{cid}:eth0"));
    fs::rename(st.path("net1", "x", "eth0"), &old).unwrap();
    let mut r = rec("x");
    r.container_id = cid.clone();
    fs::write(&old, serde_json::to_vec(&r).unwrap()).unwrap();
    assert_eq!(st.read("net1", &cid, "eth0").unwrap(), Some(r.clone()));
    st.write(&r).unwrap();
    assert!(
        !old.exists(),
        "rewriting moves the record to the hashed name"
    );
    assert_eq!(st.read("net1", &cid, "eth0").unwrap(), Some(r.clone()));
    fs::rename(st.path("net1", &cid, "eth0"), &old).unwrap();
    st.remove("net1", &cid, "eth0").unwrap();
    assert!(!old.exists());
    let long_net = "n".repeat(300);
    assert_eq!(st.read(&long_net, "c1", "eth0").unwrap(), None);
    st.remove(&long_net, "c1", "eth0").unwrap();
}

#[test]
fn del_and_gc_remove_temp_files_left_by_a_killed_writer() {
    let dir = std::env::temp_dir().join(format!("pmrec-tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let st = Store::new(&dir);
    let net = dir.join("net1");
    fs::create_dir_all(&net).unwrap();
    let mine = net.join(".cid1:eth0.tmp4242");
    let other = net.join(".cid2:eth0.tmp4242");
    fs::write(&mine, b"{").unwrap();
    fs::write(&other, b"{").unwrap();
    st.remove("net1", "cid1", "eth0").unwrap();
    assert!(!mine.exists(), "DEL removes its own leftover temp file");
    assert!(other.exists(), "and nobody else's");
    st.sweep_temp("net1", ".").unwrap();
    assert!(!other.exists(), "GC removes them all");
    fs::remove_dir_all(&dir).unwrap();
}
