use super::*;
use std::os::unix::fs::PermissionsExt;

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fwrec-unit-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

#[test]
fn write_read_remove_roundtrip() {
    let root = tmp("rt");
    let st = Store::new(&root);
    let rec = Record::new("net1", "cid1", "eth0", &["10.1.0.2".parse().unwrap()]);
    assert_eq!(st.read("net1", "cid1", "eth0").unwrap(), None);
    st.write(&rec).unwrap();
    let p = st.path("net1", "cid1", "eth0");
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(st.read("net1", "cid1", "eth0").unwrap(), Some(rec.clone()));
    let tmp = root.join("net1").join(".cid1:eth0.tmp4242");
    let other = root.join("net1").join(".cid2:eth0.tmp4242");
    fs::write(&tmp, b"{").unwrap();
    fs::write(&other, b"{").unwrap();
    let (recs, errs) = st.list("net1");
    assert_eq!(recs, vec![rec], "temp files are not records");
    assert!(errs.is_empty(), "{errs:?}");
    st.remove("net1", "cid1", "eth0").unwrap();
    assert!(!tmp.exists(), "a killed writer's temp file goes with DEL");
    assert!(other.exists(), "another attachment's stays");
    st.sweep_temp("net1").unwrap();
    assert!(!other.exists(), "GC sweeps them all");
    st.remove("net1", "cid1", "eth0").unwrap();
    assert_eq!(st.read("net1", "cid1", "eth0").unwrap(), None);
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn corrupt_and_symlinks_are_coded_errors() {
    let root = tmp("bad");
    let st = Store::new(&root);
    st.write(&Record::new("n", "c", "eth0", &[])).unwrap();
    fs::write(st.path("n", "c", "eth0"), b"{not json").unwrap();
    let e = st.read("n", "c", "eth0").unwrap_err();
    assert!(matches!(e, FwError::RecordCorrupt { .. }), "{e}");
    assert_eq!(cni::CniError::from(e).code, cni::code::STORAGE);
    let (recs, errs) = st.list("n");
    assert!(recs.is_empty() && errs.len() == 1);
    // a symlinked record file is not followed
    let target = root.join("target");
    fs::write(&target, b"x").unwrap();
    fs::remove_file(st.path("n", "c", "eth0")).unwrap();
    std::os::unix::fs::symlink(&target, st.path("n", "c", "eth0")).unwrap();
    assert!(st.read("n", "c", "eth0").is_err());
    // a symlinked network directory neither
    let elsewhere = root.join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("m")).unwrap();
    assert!(st.write(&Record::new("m", "c", "eth0", &[])).is_err());
    assert!(st.read("m", "c", "eth0").is_err());
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_overlong_container_id_gets_a_hashed_file_name_and_round_trips() {
    let root = tmp("long");
    let st = Store::new(&root);
    let cid = "a".repeat(300);
    let rec = Record::new("net1", &cid, "eth0", &["10.1.0.3".parse().unwrap()]);
    st.write(&rec).unwrap();
    let name = st.path("net1", &cid, "eth0");
    let name = name.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("h-") && name.len() == 66, "{name}");
    assert_eq!(st.read("net1", &cid, "eth0").unwrap(), Some(rec.clone()));
    assert_eq!(st.list("net1").0, vec![rec]);
    st.remove("net1", &cid, "eth0").unwrap();
    assert_eq!(st.read("net1", &cid, "eth0").unwrap(), None);
    assert_eq!(file_name("c", "eth0"), "c:eth0", "short names stay plain");
    fs::remove_dir_all(&root).unwrap();
}
