//! Mutations: byte-level (flips, insertions, deletions, splices, interesting
//! values) and JSON-structural (type swaps, huge numbers, deep nesting, long
//! strings, unicode, key-case changes, grafts from other seeds).

use serde_json::{Map, Value};

use crate::rng::Rng;

const INTERESTING: &[&str] = &[
    "0",
    "-1",
    "1e309",
    "-0",
    "18446744073709551616",
    "4294967296",
    "65536",
    "65535",
    "2147483648",
    "-9223372036854775809",
    "1.5",
    "NaN",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "\"..\"",
    "\"../../etc\"",
    "\"a/b\"",
    "\"\\u0000\"",
    "\"\\n\"",
    "\"é\u{202e}\"",
    "\"0.0.0.0/0\"",
    "\"::/0\"",
    "\"10.0.0.1/33\"",
    "\"ffff::1/129\"",
    "\"max\"",
    "\"1Ei\"",
    "\"99999999999Ti\"",
];

/// One mutated copy of `input`; `pool` provides material for splices and grafts.
pub fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let structural = rng.below(3) != 0;
        let parsed = if structural {
            serde_json::from_slice::<Value>(&out).ok()
        } else {
            None
        };
        out = match parsed {
            Some(mut v) => {
                mutate_json(rng, &mut v, pool);
                serde_json::to_vec(&v).unwrap_or(out)
            }
            None => mutate_bytes(rng, out, pool),
        };
    }
    out.truncate(max_len);
    out
}

/// A byte-level mutation.
pub fn mutate_bytes(rng: &mut Rng, mut b: Vec<u8>, pool: &[Vec<u8>]) -> Vec<u8> {
    let pos = |rng: &mut Rng, b: &Vec<u8>| rng.below(b.len() + 1);
    match rng.below(8) {
        0 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] ^= 1 << rng.below(8);
        }
        1 if !b.is_empty() => {
            let i = rng.below(b.len());
            b[i] = *rng.pick(b"\"{}[],:\\/.-=;\n\r\t\0\x7f\xff0119aZ ");
        }
        2 if !b.is_empty() => {
            let start = rng.below(b.len());
            let len = 1 + rng.below((b.len() - start).min(16));
            b.drain(start..start + len);
        }
        3 => {
            let i = pos(rng, &b);
            let v = rng.pick(INTERESTING).as_bytes().to_vec();
            b.splice(i..i, v);
        }
        4 if !pool.is_empty() => {
            let other = rng.pick(pool);
            let (s, e) = span(rng, other.len());
            let i = pos(rng, &b);
            b.splice(i..i, other[s..e].iter().copied());
        }
        5 if !b.is_empty() => {
            let (s, e) = span(rng, b.len());
            let chunk = b[s..e].to_vec();
            let i = pos(rng, &b);
            let times = 1 + rng.below(8);
            for _ in 0..times {
                b.splice(i..i, chunk.iter().copied());
            }
        }
        6 => {
            let i = pos(rng, &b);
            b.truncate(i);
        }
        _ => {
            let i = pos(rng, &b);
            let c = rng.pick(&["é", "\u{10FFFF}", "\u{FEFF}", "\u{0}", "ß", "İ", "\u{202E}"]);
            b.splice(i..i, c.bytes());
        }
    }
    b
}

fn span(rng: &mut Rng, len: usize) -> (usize, usize) {
    if len == 0 {
        return (0, 0);
    }
    let s = rng.below(len);
    (s, s + 1 + rng.below((len - s).min(64)))
}

/// Mutates one randomly chosen node of `v` in place.
pub fn mutate_json(rng: &mut Rng, v: &mut Value, pool: &[Vec<u8>]) {
    let n = count(v);
    let target = rng.below(n);
    let mut seen = 0;
    if let Some(node) = nth(v, target, &mut seen) {
        replace_node(rng, node, pool);
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(m) => m.values().map(count).sum(),
        _ => 0,
    }
}

fn nth<'a>(v: &'a mut Value, target: usize, seen: &mut usize) -> Option<&'a mut Value> {
    if *seen == target {
        return Some(v);
    }
    *seen += 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|c| nth(c, target, seen)),
        Value::Object(m) => m.values_mut().find_map(|c| nth(c, target, seen)),
        _ => None,
    }
}

fn replace_node(rng: &mut Rng, node: &mut Value, pool: &[Vec<u8>]) {
    match rng.below(12) {
        0 => *node = swap_type(rng, node),
        1 => *node = huge_number(rng),
        2 => *node = nest(rng, node.clone()),
        3 => *node = Value::String(long_string(rng)),
        4 => *node = Value::String(weird_string(rng)),
        5 => mutate_keys(rng, node),
        6 => *node = graft(rng, pool).unwrap_or(Value::Null),
        7 => {
            if let Value::Array(a) = node
                && !a.is_empty()
            {
                let dup = a[rng.below(a.len())].clone();
                let times = 1 + rng.below(64);
                a.extend(std::iter::repeat_n(dup, times));
            }
        }
        8 => match node {
            Value::Object(m) if !m.is_empty() => {
                let k = m
                    .keys()
                    .nth(rng.below(m.len()))
                    .cloned()
                    .unwrap_or_default();
                m.remove(&k);
            }
            Value::Array(a) if !a.is_empty() => {
                a.remove(rng.below(a.len()));
            }
            _ => *node = Value::Null,
        },
        9 => {
            if let Value::String(s) = node {
                let v = mutate_bytes(rng, s.clone().into_bytes(), pool);
                *s = String::from_utf8_lossy(&v).into_owned();
            }
        }
        10 => {
            if let Value::Object(m) = node {
                let k = weird_key(rng);
                m.insert(k, graft(rng, pool).unwrap_or(Value::Bool(true)));
            }
        }
        _ => {
            *node =
                serde_json::from_str::<Value>(rng.pick::<&str>(INTERESTING)).unwrap_or(Value::Null)
        }
    }
}

fn swap_type(rng: &mut Rng, node: &Value) -> Value {
    let text = match node {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match rng.below(6) {
        0 => Value::String(text),
        1 => serde_json::from_str(&text).unwrap_or(Value::Null),
        2 => Value::Array(vec![node.clone()]),
        3 => Value::Object(Map::from_iter([(text, node.clone())])),
        4 => Value::Bool(text.len().is_multiple_of(2)),
        _ => Value::from(text.len() as i64 - 1),
    }
}

fn huge_number(rng: &mut Rng) -> Value {
    let text = *rng.pick(&[
        "18446744073709551615",
        "-9223372036854775808",
        "1e308",
        "4294967295",
        "4294967296",
        "65536",
        "256",
        "-1",
        "0.5",
        "123456789012345678901234567890",
    ]);
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn nest(rng: &mut Rng, inner: Value) -> Value {
    let depth = 1 + rng.below(200);
    (0..depth).fold(inner, |acc, i| {
        if i % 2 == 0 {
            Value::Array(vec![acc])
        } else {
            Value::Object(Map::from_iter([("a".to_string(), acc)]))
        }
    })
}

fn long_string(rng: &mut Rng) -> String {
    let unit = *rng.pick(&["a", "../", "é", "%", "\n", "-", "0", "/", "'\"", "max "]);
    unit.repeat(1 + rng.below(70_000))
}

/// Path traversal, quoting, rule-text and control-character material.
pub fn weird_string(rng: &mut Rng) -> String {
    rng.pick(&[
        "..",
        "../../../../tmp/x",
        "a/b",
        "a\nb",
        "a\"b",
        "a'b",
        "a;b",
        "a b",
        "\u{0}",
        "comment \"x\" accept",
        "x\" ; flush ruleset ; \"",
        "-j ACCEPT",
        "$(reboot)",
        "\u{202E}gnp.exe",
        "İstanbul",
        "ǅ",
        "\t",
        "",
        " ",
        "0",
        "-",
        ".",
        "a.",
        "a..b",
        "1.2.3.4",
        "::",
        "ff:ff:ff:ff:ff:ff",
        "eth0",
        "lo",
        "max",
        "10M",
        "0x10",
        "1e3",
        "-0",
        "+1",
        "1_000",
        "1Ki",
        "1KiB",
        "9223372036854775807",
        "8:0 rbps=1",
        "0-3,5",
        "3-1",
        "0-4294967295",
        "/sys/fs/cgroup",
        "../..",
        "POD",
        "a/POD",
    ])
    .to_string()
}

fn weird_key(rng: &mut Rng) -> String {
    rng.pick(&[
        "HostPort",
        "hostPort",
        "HOSTPORT",
        "ContainerPort",
        "Protocol",
        "HostIP",
        "hostIP",
        "portMappings",
        "ips",
        "ipRanges",
        "prevResult",
        "runtimeConfig",
        "ipam",
        "dataDir",
        "DataDir",
        "ranges",
        "subnet",
        "args",
        "cni",
        "capabilities",
        "bridge",
        "mtu",
        "cniVersion",
        "name",
        "type",
        "backend",
        "recordDir",
        "annotations",
        "bundle",
        "pid",
    ])
    .to_string()
}

fn mutate_keys(rng: &mut Rng, node: &mut Value) {
    if let Value::Object(m) = node {
        let entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
        for (k, v) in entries {
            let k = match rng.below(4) {
                0 => k.to_uppercase(),
                1 => {
                    let mut c = k.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default()
                }
                2 => k.to_lowercase(),
                _ => k,
            };
            m.insert(k, v);
        }
    }
}

fn graft(rng: &mut Rng, pool: &[Vec<u8>]) -> Option<Value> {
    let v: Value = serde_json::from_slice(rng.pick::<Vec<u8>>(pool)).ok()?;
    let n = count(&v);
    let mut v = v;
    let mut seen = 0;
    nth(&mut v, rng.below(n), &mut seen).map(|x| x.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_change_inputs_and_respect_max_len() {
        let mut rng = Rng::new(1);
        let seed = br#"{"a":[1,2,{"b":"c"}],"d":true}"#.to_vec();
        let pool = vec![seed.clone()];
        let mut changed = 0;
        for _ in 0..500 {
            let m = mutate(&mut rng, &seed, &pool, 4096);
            assert!(m.len() <= 4096);
            changed += usize::from(m != seed);
        }
        assert!(
            changed > 400,
            "only {changed} of 500 mutations changed the input"
        );
    }
}
