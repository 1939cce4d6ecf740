//! Annotation key grammar under the `ferrocni.dev` domain and selection of
//! the keys that apply to one container:
//! `<knob>.ferrocni.dev/<ctr>`, `<knob>.ferrocni.dev/POD`, bare
//! `<knob>.ferrocni.dev`, `class.ferrocni.dev[/<ctr>|/POD]`, `mode.ferrocni.dev`.

use std::collections::BTreeMap;

use crate::knob::Knob;
use crate::text::Esc;

/// Our annotation domain.
pub const DOMAIN: &str = "ferrocni.dev";

/// Whom a key targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// No `/name`: Podman-style, applies to the container it is set on.
    Bare,
    /// `/POD`: every app container of the pod.
    Pod,
    /// `/<container-name>`.
    Container(String),
}

/// What a key sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Knob(Knob),
    Class,
    Mode,
}

/// A parsed key under our domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kind: Kind,
    pub target: Target,
}

/// True when `key` is under our domain (whether or not it is valid).
pub fn is_ours(key: &str) -> bool {
    let prefix = key.split('/').next().unwrap_or_default();
    prefix == DOMAIN || prefix.ends_with(&format!(".{DOMAIN}"))
}

/// Parses a key under our domain; `Ok(None)` for foreign keys.
pub fn parse_key(key: &str) -> Result<Option<Key>, String> {
    if !is_ours(key) {
        return Ok(None);
    }
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (p, Some(n)),
        None => (key, None),
    };
    let stem = prefix
        .strip_suffix(DOMAIN)
        .unwrap_or_default()
        .trim_end_matches('.');
    let kind = match stem {
        "class" => Kind::Class,
        "mode" => Kind::Mode,
        _ => Kind::Knob(Knob::from_file(stem).ok_or_else(|| unknown_knob(stem))?),
    };
    let target = match name {
        None => Target::Bare,
        Some("POD") => Target::Pod,
        Some(n) if is_dns_label(n) => Target::Container(n.into()),
        Some(n) => {
            return Err(format!(
                "{n:?} is not a container name (a DNS label) or POD"
            ));
        }
    };
    if kind == Kind::Mode && target != Target::Bare {
        return Err(format!("mode.{DOMAIN} takes no /<container> suffix"));
    }
    Ok(Some(Key { kind, target }))
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn unknown_knob(stem: &str) -> String {
    if stem.is_empty() {
        return format!("unknown key under {DOMAIN}: expected <knob>.{DOMAIN}[/<container>|/POD]");
    }
    let names = Knob::ALL.iter().map(|k| k.file()).chain(["class", "mode"]);
    let best = names.map(|n| (levenshtein(stem, n), n)).min();
    match best {
        Some((d, n)) if d <= 3 => format!("unknown knob {}; did you mean {n}?", Esc(stem)),
        _ => format!("unknown knob {}", Esc(stem)),
    }
}

/// Edit distance, for "did you mean".
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// One annotation that applies, with its key and raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub key: String,
    pub value: String,
}

/// The annotations that apply to one container, after precedence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Per knob: container key > POD key > bare key.
    pub knobs: BTreeMap<Knob, Applied>,
    /// Classes in precedence order: container's class, then POD (or bare) class.
    pub classes: Vec<Applied>,
    pub mode: Option<Applied>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.knobs.is_empty() && self.classes.is_empty() && self.mode.is_none()
    }
}

fn rank(t: &Target, container: Option<&str>) -> Option<u8> {
    match t {
        Target::Container(n) if Some(n.as_str()) == container => Some(0),
        Target::Container(_) => None,
        Target::Pod => Some(1),
        Target::Bare => Some(2),
    }
}

/// A key under our domain that does not parse, and why.
pub type KeyError = (Applied, String);

/// Selects what applies to `container`. Every key under our domain is parsed,
/// so a typo anywhere is reported; values are not parsed here.
pub fn select(
    annotations: &BTreeMap<String, String>,
    container: Option<&str>,
) -> (Selection, Vec<KeyError>) {
    let mut errors = Vec::new();
    let mut best: BTreeMap<Knob, (u8, Applied)> = BTreeMap::new();
    let mut classes: Vec<(u8, Applied)> = Vec::new();
    let mut sel = Selection::default();
    for (k, v) in annotations {
        let applied = Applied {
            key: k.clone(),
            value: v.clone(),
        };
        let key = match parse_key(k) {
            Ok(Some(key)) => key,
            Ok(None) => continue,
            Err(e) => {
                errors.push((applied, e));
                continue;
            }
        };
        let Some(r) = rank(&key.target, container) else {
            continue;
        };
        match key.kind {
            Kind::Mode => sel.mode = Some(applied),
            Kind::Class => classes.push((r, applied)),
            Kind::Knob(knob) => {
                if best.get(&knob).is_none_or(|(br, _)| r < *br) {
                    best.insert(knob, (r, applied));
                }
            }
        }
    }
    classes.sort_by_key(|c| c.0);
    // a bare class.ferrocni.dev counts as the POD's class
    classes.dedup_by_key(|c| c.0.min(1));
    sel.classes = classes.into_iter().map(|c| c.1).collect();
    sel.knobs = best.into_iter().map(|(k, (_, a))| (k, a)).collect();
    (sel, errors)
}

#[cfg(test)]
#[path = "annotations_tests.rs"]
mod tests;
