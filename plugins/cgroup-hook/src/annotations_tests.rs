//! Key grammar, typos and precedence.

use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn key_forms() {
    let k = |s: &str| parse_key(s).unwrap().unwrap();
    assert_eq!(
        k("memory.max.ferrocni.dev/web").kind,
        Kind::Knob(Knob::MemoryMax)
    );
    assert_eq!(
        k("memory.max.ferrocni.dev/web").target,
        Target::Container("web".into())
    );
    assert_eq!(k("io.max.ferrocni.dev/POD").target, Target::Pod);
    assert_eq!(k("pids.max.ferrocni.dev").target, Target::Bare);
    assert_eq!(k("class.ferrocni.dev/POD").kind, Kind::Class);
    assert_eq!(k("mode.ferrocni.dev").kind, Kind::Mode);
    assert_eq!(parse_key("io.kubernetes.pod.name"), Ok(None));
    assert_eq!(parse_key("memory.max.ferrocni.devx/a"), Ok(None));
    assert_eq!(parse_key("notferrocni.dev/a"), Ok(None));
}

#[test]
fn bad_keys() {
    let e = |s: &str| parse_key(s).unwrap_err();
    assert_eq!(
        e("memroy.max.ferrocni.dev/web"),
        "unknown knob memroy.max; did you mean memory.max?"
    );
    assert_eq!(
        e("cpu.wieght.ferrocni.dev"),
        "unknown knob cpu.wieght; did you mean cpu.weight?"
    );
    assert!(e("ferrocni.dev/web").contains("unknown key"));
    assert!(e("memory.max.ferrocni.dev/Web").contains("not a container name"));
    assert!(e("memory.max.ferrocni.dev/a.b").contains("not a container name"));
    assert!(e("mode.ferrocni.dev/web").contains("no /<container>"));
    assert!(e("totally-unrelated.ferrocni.dev").starts_with("unknown knob totally-unrelated"));
    assert!(!e("totally-unrelated.ferrocni.dev").contains("did you mean"));
}

#[test]
fn precedence_container_pod_bare() {
    let a = map(&[
        ("memory.max.ferrocni.dev", "3Gi"),
        ("memory.max.ferrocni.dev/POD", "2Gi"),
        ("memory.max.ferrocni.dev/web", "1Gi"),
        ("memory.max.ferrocni.dev/db", "9Gi"),
        ("pids.max.ferrocni.dev/POD", "100"),
        ("cpu.max.ferrocni.dev", "50%"),
        ("other.example.com/x", "y"),
    ]);
    let s = select(&a, Some("web")).0;
    assert_eq!(s.knobs[&Knob::MemoryMax].value, "1Gi");
    assert_eq!(s.knobs[&Knob::PidsMax].value, "100");
    assert_eq!(s.knobs[&Knob::CpuMax].value, "50%");
    let s = select(&a, Some("side")).0;
    assert_eq!(s.knobs[&Knob::MemoryMax].value, "2Gi");
    let s = select(&a, None).0;
    assert_eq!(s.knobs[&Knob::MemoryMax].value, "2Gi");
    assert_eq!(s.knobs.len(), 3);
}

#[test]
fn classes_and_mode() {
    let a = map(&[
        ("class.ferrocni.dev/POD", "non-core"),
        ("class.ferrocni.dev/web", "debug"),
        ("class.ferrocni.dev", "core"),
        ("mode.ferrocni.dev", "dry-run"),
    ]);
    let s = select(&a, Some("web")).0;
    let names: Vec<&str> = s.classes.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(names, ["debug", "non-core"]);
    assert_eq!(s.mode.unwrap().value, "dry-run");
    let s = select(&a, Some("db")).0;
    let names: Vec<&str> = s.classes.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(names, ["non-core"]);
    assert!(select(&map(&[]), Some("x")).0.is_empty());
}

#[test]
fn a_typo_for_another_container_still_fails() {
    let a = map(&[("memory.mx.ferrocni.dev/db", "1Gi")]);
    let (sel, errors) = select(&a, Some("web"));
    assert!(sel.is_empty());
    let (applied, e) = &errors[0];
    assert_eq!(applied.key, "memory.mx.ferrocni.dev/db");
    assert!(e.contains("did you mean memory.max"), "{e}");
}

#[test]
fn levenshtein_distances() {
    assert_eq!(levenshtein("memroy.max", "memory.max"), 2);
    assert_eq!(levenshtein("", "abc"), 3);
    assert_eq!(levenshtein("pids.max", "pids.max"), 0);
}
