//! The small part of `nft -j list …` output fwkit and the plugins need:
//! set/map elements (key, value and comment in nft text syntax, so they
//! can be fed back into `delete element`), chains, and rule handles with
//! comments ([`parse_table`]); chains with their hooks and policies
//! ([`chains`]). Errors are [`Error::Parse`] with `what` = `nft -j output`.

use crate::exec::read;
use crate::{Error, Result};
use serde_json::Value;

/// One set or map element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elem {
    pub key: String,
    /// Map value (`goto <chain>`, `10.0.0.2 . 80`), `None` for sets.
    pub value: Option<String>,
    pub comment: Option<String>,
}

/// One rule: its chain, handle and comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    pub handle: u64,
    pub comment: Option<String>,
}

/// A listed table.
#[derive(Debug, Default, Clone)]
pub struct Table {
    pub sets: Vec<(String, Vec<Elem>)>,
    pub chains: Vec<String>,
    pub rules: Vec<Rule>,
}

impl Table {
    /// Elements of a set or map (empty when absent).
    pub fn elems(&self, name: &str) -> &[Elem] {
        self.sets
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.as_slice())
            .unwrap_or(&[])
    }

    /// Whether the table has chain `name`.
    pub fn has_chain(&self, name: &str) -> bool {
        self.chains.iter().any(|c| c == name)
    }
}

/// Lists `<family> <name>`; `None` when the table does not exist.
pub(crate) fn list_table(family: &str, name: &str) -> Result<Option<Table>> {
    match read(&["nft", "-j", "list", "table", family, name]) {
        Ok(text) => parse_table(&text).map(Some),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn perr(detail: impl Into<String>) -> Error {
    Error::Parse {
        what: "nft -j output",
        detail: detail.into(),
    }
}

/// The items of the top-level `nftables` array.
fn items(text: &str) -> Result<Vec<Value>> {
    let mut v: Value = serde_json::from_str(text).map_err(|e| perr(e.to_string()))?;
    match v.get_mut("nftables").map(Value::take) {
        Some(Value::Array(a)) => Ok(a),
        _ => Err(perr("no nftables array")),
    }
}

/// Parses the JSON of `nft -j list table`.
pub fn parse_table(text: &str) -> Result<Table> {
    let mut t = Table::default();
    for item in &items(text)? {
        if let Some(s) = item.get("set").or_else(|| item.get("map")) {
            let name = s["name"].as_str().unwrap_or_default().to_string();
            let elems = s["elem"]
                .as_array()
                .map(|a| a.iter().map(parse_elem).collect());
            t.sets.push((name, elems.unwrap_or_default()));
        } else if let Some(c) = item.get("chain") {
            t.chains
                .push(c["name"].as_str().unwrap_or_default().to_string());
        } else if let Some(r) = item.get("rule") {
            t.rules.push(Rule {
                chain: r["chain"].as_str().unwrap_or_default().to_string(),
                handle: r["handle"].as_u64().unwrap_or_default(),
                comment: r["comment"].as_str().map(str::to_string),
            });
        }
    }
    Ok(t)
}

/// One chain of `nft -j list chains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfo {
    pub family: String,
    pub table: String,
    pub name: String,
    /// Base chains only: the hook and the policy.
    pub hook: Option<String>,
    pub policy: Option<String>,
}

/// Parses the JSON of `nft -j list chains`.
pub fn chains(text: &str) -> Result<Vec<ChainInfo>> {
    let mut out = Vec::new();
    for item in items(text)? {
        let Some(c) = item.get("chain") else { continue };
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        let o = |k: &str| c[k].as_str().map(str::to_string);
        out.push(ChainInfo {
            family: s("family"),
            table: s("table"),
            name: s("name"),
            hook: o("hook"),
            policy: o("policy"),
        });
    }
    Ok(out)
}

/// A set element is `key` or `{"elem": {...}}`; a map element is `[key, value]`.
fn parse_elem(v: &Value) -> Elem {
    let (k, value) = match v.as_array() {
        Some(pair) if pair.len() == 2 => (&pair[0], Some(render(&pair[1]))),
        _ => (v, None),
    };
    match k.get("elem") {
        Some(e) => Elem {
            key: render(&e["val"]),
            value,
            comment: e["comment"].as_str().map(str::to_string),
        },
        None => Elem {
            key: render(k),
            value,
            comment: None,
        },
    }
}

/// Renders a JSON expression back to nft text syntax.
pub(crate) fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(render).collect::<Vec<_>>().join(", "),
        Value::Object(o) => {
            if let Some(c) = o.get("concat").and_then(Value::as_array) {
                return c.iter().map(render).collect::<Vec<_>>().join(" . ");
            }
            if let Some(p) = o.get("prefix") {
                return format!("{}/{}", render(&p["addr"]), render(&p["len"]));
            }
            if let Some(r) = o.get("range").and_then(Value::as_array) {
                return r.iter().map(render).collect::<Vec<_>>().join("-");
            }
            match o.iter().next() {
                Some((verdict, Value::Object(t))) if t.contains_key("target") => {
                    format!("{verdict} {}", render(&t["target"]))
                }
                Some((k, _)) => k.clone(),
                None => String::new(),
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
 {"table": {"family": "inet", "name": "fx", "handle": 1}},
 {"map": {"family": "inet", "name": "pm4_ip", "table": "fx", "map": "ipv4_addr . inet_service",
   "elem": [[{"elem": {"val": {"concat": ["tcp", "10.0.0.1", 8080]}, "comment": "abc"}}, {"concat": ["10.88.0.2", 80]}]]}},
 {"map": {"family": "inet", "name": "m4", "table": "fx", "map": "verdict",
   "elem": [[{"elem": {"val": "10.88.0.2", "comment": "abc eth0"}}, {"goto": {"target": "c1"}}], ["10.88.0.3", {"accept": null}]]}},
 {"set": {"family": "inet", "name": "h4", "table": "fx", "elem": [{"elem": {"val": {"concat": ["tcp", 53, {"prefix": {"addr": "0.0.0.0", "len": 0}}]}, "comment": "x"}}, "1.2.3.4"]}},
 {"chain": {"family": "inet", "table": "fx", "name": "c1", "handle": 2}},
 {"rule": {"family": "inet", "table": "fx", "chain": "c1", "handle": 12, "comment": "hello", "expr": []}}]}"#;

    #[test]
    fn parses_elements_chains_rules() {
        let t = parse_table(LISTED).unwrap();
        let pm = t.elems("pm4_ip");
        assert_eq!(pm[0].key, "tcp . 10.0.0.1 . 8080");
        assert_eq!(pm[0].value.as_deref(), Some("10.88.0.2 . 80"));
        assert_eq!(pm[0].comment.as_deref(), Some("abc"));
        let m = t.elems("m4");
        assert_eq!(m[0].value.as_deref(), Some("goto c1"));
        assert_eq!(m[1].key, "10.88.0.3");
        assert_eq!(m[1].value.as_deref(), Some("accept"));
        assert_eq!(t.elems("h4")[0].key, "tcp . 53 . 0.0.0.0/0");
        assert_eq!(t.elems("h4")[1].key, "1.2.3.4");
        assert!(t.elems("nope").is_empty());
        assert_eq!(t.chains, vec!["c1"]);
        assert_eq!(t.rules[0].handle, 12);
        assert_eq!(t.rules[0].comment.as_deref(), Some("hello"));
        assert!(parse_table("not json").is_err());
        assert!(parse_table("[]").is_err());
        assert!(t.has_chain("c1") && !t.has_chain("c2"));
    }

    #[test]
    fn lists_chains() {
        let text = r#"{"nftables": [
 {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
 {"chain": {"family": "ip6", "table": "filter", "name": "FORWARD", "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
 {"chain": {"family": "ip", "table": "filter", "name": "CNI-FORWARD"}}]}"#;
        let c = chains(text).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].policy.as_deref(), Some("drop"));
        assert_eq!(c[1].family, "ip6");
        assert_eq!(c[2].hook, None);
    }
}
