//! Unit tests of the result cache (in a temporary directory).

use super::*;
use serde_json::json;

#[test]
fn base64_matches_the_standard_vectors() {
    for (plain, enc) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(b64::encode(plain.as_bytes()), enc);
        assert_eq!(b64::decode(enc).unwrap(), plain.as_bytes());
    }
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(b64::decode(&b64::encode(&all)).unwrap(), all);
    assert!(b64::decode("Zm9v!").is_err());
}

fn entry() -> Entry {
    Entry {
        kind: KIND.into(),
        container_id: "c1".into(),
        config: br#"{"name":"n"}"#.to_vec(),
        if_name: "eth0".into(),
        network_name: "n".into(),
        netns: "/run/netns/x".into(),
        cni_args: vec![["K".into(), "V".into()]],
        capability_args: json!({"portMappings":[]}).as_object().unwrap().clone(),
        result: Some(json!({"cniVersion":"1.0.0"})),
    }
}

#[test]
fn field_names_are_libcnis() {
    let v = serde_json::to_value(entry()).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "capabilityArgs",
            "cniArgs",
            "config",
            "containerId",
            "ifName",
            "kind",
            "netns",
            "networkName",
            "result"
        ]
    );
    assert_eq!(v["config"], "eyJuYW1lIjoibiJ9");
    assert_eq!(v["cniArgs"], json!([["K", "V"]]));
    let bare = Entry {
        netns: String::new(),
        cni_args: vec![],
        capability_args: Map::new(),
        result: None,
        ..entry()
    };
    let v = serde_json::to_value(bare).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 5, "{v}");
}

#[test]
fn write_read_list_remove() {
    let dir = std::env::temp_dir().join(format!("ferrocni-cache-{}", std::process::id()));
    let file = write(&dir, &entry()).unwrap();
    assert_eq!(file, dir.join("results/n-c1-eth0"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(read(&file).unwrap(), Some(entry()));
    std::fs::write(dir.join("results/junk"), "nope").unwrap();
    assert_eq!(list(&dir, "n").unwrap(), vec![entry()]);
    assert!(list(&dir, "other").unwrap().is_empty());
    std::fs::write(&file, r#"{"cniVersion":"0.4.0","ips":[]}"#).unwrap();
    let old = read(&file).unwrap().unwrap();
    assert_eq!(
        (
            old.kind.as_str(),
            old.result.unwrap()["cniVersion"].as_str()
        ),
        ("", Some("0.4.0"))
    );
    assert!(
        list(&dir, "n").unwrap().is_empty(),
        "legacy entries are not attachments"
    );
    std::fs::write(&file, r#"{"kind":"cniCacheV9"}"#).unwrap();
    assert!(read(&file).is_err());
    remove(&file).unwrap();
    remove(&file).unwrap();
    assert_eq!(read(&file).unwrap(), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn symlinks_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let file = write(dir.path(), &entry()).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    assert!(read(&file).is_err(), "read followed the entry symlink");
    write(dir.path(), &entry()).unwrap();
    assert!(!file.is_symlink());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(read(&file).unwrap(), Some(entry()));
    let names: Vec<_> = std::fs::read_dir(dir.path().join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary files left: {names:?}");
}

#[test]
fn overlong_names_are_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let fits = "a".repeat(NAME_MAX - "n--eth0".len());
    assert_eq!(
        path(dir.path(), "n", &fits, "eth0"),
        dir.path().join(format!("results/n-{fits}-eth0"))
    );
    for len in [fits.len() + 1, 5000] {
        let long = Entry {
            container_id: "b".repeat(len),
            ..entry()
        };
        let file = write(dir.path(), &long).unwrap();
        let name = file.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.starts_with("ferrocni-sha256-") && name.len() == 80,
            "{name}"
        );
        assert_eq!(file, path(dir.path(), "n", &long.container_id, "eth0"));
        assert_eq!(read(&file).unwrap(), Some(long.clone()));
        assert_eq!(list(dir.path(), "n").unwrap(), vec![long]);
        remove(&file).unwrap();
    }
}
