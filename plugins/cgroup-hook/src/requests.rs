//! From annotations to typed requests for one container: key selection and
//! precedence (container > POD > bare > container's class > POD's class),
//! value parsing, the policy's allowlist and bounds, and the effective mode
//! (`mode.ferrocni.dev` may only weaken the node's mode). Shared by the hook
//! and `validate`.

use std::collections::BTreeMap;

use crate::annotations::{self, Applied, DOMAIN, Selection, levenshtein};
use crate::plan::{Request, Source};
use crate::policy::{Mode, Policy};
use crate::text::Esc;

/// Requests for one container, with everything wrong with them.
#[derive(Debug, Default)]
pub struct Built {
    pub requests: Vec<Request>,
    /// One line each: `annotation K="V": reason`.
    pub problems: Vec<String>,
    pub notes: Vec<String>,
    pub mode: Option<Mode>,
    /// True when any of our annotations applies (even `class: core`).
    pub any: bool,
}

fn unknown_class(name: &str, policy: &Policy) -> String {
    let best = policy
        .class_names()
        .map(|n| (levenshtein(name, n), n))
        .min();
    match best {
        Some((d, n)) if d <= 3 => format!("unknown class {name:?}; did you mean {}?", Esc(n)),
        Some(_) => format!(
            "unknown class {name:?} (node classes: {})",
            Esc(policy.class_names().collect::<Vec<_>>().join(", "))
        ),
        None => format!("unknown class {name:?}: the node policy defines no classes"),
    }
}

/// Builds the requests for `container` under `policy` (node mode `node_mode`).
pub fn build(
    ann: &BTreeMap<String, String>,
    container: Option<&str>,
    policy: &Policy,
    node_mode: Mode,
) -> Built {
    let (sel, key_errors) = annotations::select(ann, container);
    let mut b = Built {
        any: !sel.is_empty() || !key_errors.is_empty(),
        mode: Some(node_mode),
        ..Default::default()
    };
    for (a, e) in key_errors {
        b.problems
            .push(format!("annotation {}={:?}: {e}", Esc(&a.key), a.value));
    }
    if let Some(m) = &sel.mode {
        apply_mode(&mut b, m, node_mode);
    }
    for (knob, a) in &sel.knobs {
        let source = Source::Annotation {
            key: a.key.clone(),
            raw: a.value.clone(),
        };
        let checked = knob
            .parse(&a.value)
            .map_err(|e| e.to_string())
            .and_then(|v| policy.check(*knob, &v).map(|()| v));
        match checked {
            Ok(value) => b.requests.push(Request {
                knob: *knob,
                value,
                source,
            }),
            Err(e) => b.problems.push(format!("{}: {e}", source.describe(*knob))),
        }
    }
    for c in &sel.classes {
        add_class(&mut b, &sel, c, policy);
    }
    b
}

/// `mode.ferrocni.dev`: may only weaken the node's mode.
fn apply_mode(b: &mut Built, m: &Applied, node_mode: Mode) {
    match (m.value.trim(), node_mode) {
        ("dry-run", _) => b.mode = Some(Mode::DryRun),
        ("enforce", Mode::Enforce) => {}
        ("enforce", Mode::DryRun) => b.notes.push(format!(
            "mode.{DOMAIN}=enforce ignored: a pod cannot strengthen the node's dry-run mode"
        )),
        (v, _) => b.problems.push(format!(
            "annotation {}={v:?}: expected enforce or dry-run",
            Esc(&m.key)
        )),
    }
}

/// Adds a class's knobs that no annotation or earlier class set.
fn add_class(b: &mut Built, sel: &Selection, c: &Applied, policy: &Policy) {
    let Some(knobs) = policy.classes.get(c.value.trim()) else {
        b.problems.push(format!(
            "annotation {}={:?}: {}",
            Esc(&c.key),
            c.value,
            unknown_class(c.value.trim(), policy)
        ));
        return;
    };
    for (knob, raw) in knobs {
        if sel.knobs.contains_key(knob) || b.requests.iter().any(|r| r.knob == *knob) {
            continue;
        }
        let source = Source::Class {
            class: c.value.trim().into(),
            via: c.key.clone(),
            raw: raw.clone(),
        };
        match knob.parse(raw) {
            Ok(value) => b.requests.push(Request {
                knob: *knob,
                value,
                source,
            }),
            Err(e) => b.problems.push(format!("{}: {e}", source.describe(*knob))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knob::Knob;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn policy() -> Policy {
        Policy::parse(include_str!("../examples/cgroup-policy.json")).unwrap()
    }

    #[test]
    fn annotation_beats_container_class_beats_pod_class() {
        let a = ann(&[
            ("class.ferrocni.dev/POD", "non-core"),
            ("class.ferrocni.dev/web", "debug"),
            ("pids.max.ferrocni.dev/web", "50"),
        ]);
        let b = build(&a, Some("web"), &policy(), Mode::Enforce);
        assert!(b.problems.is_empty(), "{:?}", b.problems);
        let get = |k: Knob| b.requests.iter().find(|r| r.knob == k).unwrap();
        assert_eq!(get(Knob::PidsMax).value.describe(), "50");
        assert!(!get(Knob::PidsMax).source.is_class());
        assert_eq!(
            get(Knob::MemoryMax).source.describe(Knob::MemoryMax),
            "class debug (class.ferrocni.dev/web) memory.max=\"2Gi\""
        );
        assert!(
            get(Knob::IoMax)
                .source
                .describe(Knob::IoMax)
                .starts_with("class non-core")
        );
        assert_eq!(b.requests.len(), 3);
    }

    #[test]
    fn problems_are_one_line_each() {
        let a = ann(&[
            ("memory.max.ferrocni.dev/web", "1.5Gb"),
            ("memory.low.ferrocni.dev/web", "1Gi"),
            ("pids.max.ferrocni.dev/web", "4"),
            ("class.ferrocni.dev/web", "noncore"),
            ("memroy.high.ferrocni.dev/POD", "1Gi"),
        ]);
        let b = build(&a, Some("web"), &policy(), Mode::Enforce);
        let all = b.problems.join("\n");
        assert!(all.contains("annotation memory.max.ferrocni.dev/web=\"1.5Gb\": \"1.5Gb\" is ambiguous: use 1.5Gi"), "{all}");
        assert!(
            all.contains("memory.low is not allowed by the node policy (a protection"),
            "{all}"
        );
        assert!(
            all.contains("pids.max.ferrocni.dev/web=\"4\": below the node minimum 16"),
            "{all}"
        );
        assert!(
            all.contains("unknown class \"noncore\"; did you mean non-core?"),
            "{all}"
        );
        assert!(all.contains("did you mean memory.high?"), "{all}");
        assert_eq!(b.problems.len(), 5);
    }

    #[test]
    fn mode_only_weakens() {
        let p = policy();
        let b = build(
            &ann(&[("mode.ferrocni.dev", "dry-run")]),
            None,
            &p,
            Mode::Enforce,
        );
        assert_eq!(b.mode, Some(Mode::DryRun));
        let b = build(
            &ann(&[("mode.ferrocni.dev", "enforce")]),
            None,
            &p,
            Mode::DryRun,
        );
        assert_eq!(b.mode, Some(Mode::DryRun));
        assert!(b.notes[0].contains("cannot strengthen"));
        let b = build(
            &ann(&[("mode.ferrocni.dev", "loud")]),
            None,
            &p,
            Mode::Enforce,
        );
        assert_eq!(b.problems.len(), 1);
        let b = build(
            &ann(&[("class.ferrocni.dev/POD", "core")]),
            Some("x"),
            &p,
            Mode::Enforce,
        );
        assert!(b.any && b.requests.is_empty() && b.problems.is_empty());
        assert!(!build(&ann(&[("a", "b")]), None, &p, Mode::Enforce).any);
    }
}
