//! The part of `nft -j list …` output this plugin reads: set and map
//! elements with their comments, chain names, and base-chain policies.

use crate::error::{FwError, Result};
use serde_json::Value;

/// One set or map element, rendered in nft text syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elem {
    pub key: String,
    /// Map value (`goto fw-…`), `None` for sets.
    pub value: Option<String>,
    pub comment: Option<String>,
}

/// A listed table.
#[derive(Debug, Default, Clone)]
pub struct Table {
    pub sets: Vec<(String, Vec<Elem>)>,
    pub chains: Vec<String>,
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

    pub fn has_chain(&self, name: &str) -> bool {
        self.chains.iter().any(|c| c == name)
    }
}

fn items(text: &str) -> Result<Vec<Value>> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| FwError::Parse(format!("nft -j output: {e}")))?;
    match v.get("nftables") {
        Some(Value::Array(a)) => Ok(a.clone()),
        _ => Err(FwError::Parse("nft -j output: no nftables array".into())),
    }
}

/// Parses `nft -j list table …`.
pub fn parse_table(text: &str) -> Result<Table> {
    let mut t = Table::default();
    for item in items(text)? {
        if let Some(s) = item.get("set").or_else(|| item.get("map")) {
            let name = s["name"].as_str().unwrap_or_default().to_string();
            let elems = s["elem"]
                .as_array()
                .map(|a| a.iter().map(parse_elem).collect())
                .unwrap_or_default();
            t.sets.push((name, elems));
        } else if let Some(c) = item.get("chain") {
            t.chains
                .push(c["name"].as_str().unwrap_or_default().to_string());
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

/// Parses `nft -j list chains`.
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

/// A set element is `key` or `{"elem": {...}}`; a map element `[key, value]`.
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

/// Renders the expressions we store back to nft text.
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => match o.iter().next() {
            Some((verdict, Value::Object(t))) if t.contains_key("target") => {
                format!("{verdict} {}", render(&t["target"]))
            }
            Some((k, _)) => k.clone(),
            None => String::new(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listing() {
        let text = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
 {"table": {"family": "inet", "name": "t", "handle": 6}},
 {"map": {"family": "inet", "name": "ingress", "table": "t", "type": "ifname", "map": "verdict",
   "elem": [[{"elem": {"val": "br1", "comment": "n1"}}, {"goto": {"target": "c1"}}]]}},
 {"set": {"family": "inet", "name": "pods4", "table": "t", "type": "ipv4_addr",
   "elem": [{"elem": {"val": "10.1.0.2", "comment": "cid eth0 n1"}}, "10.1.0.3"]}},
 {"chain": {"family": "inet", "table": "t", "name": "c1", "handle": 1}}]}"#;
        let t = parse_table(text).unwrap();
        assert_eq!(t.elems("ingress")[0].value.as_deref(), Some("goto c1"));
        assert_eq!(t.elems("ingress")[0].key, "br1");
        assert_eq!(t.elems("pods4")[0].comment.as_deref(), Some("cid eth0 n1"));
        assert_eq!(t.elems("pods4")[1].key, "10.1.0.3");
        assert!(t.elems("nope").is_empty());
        assert!(t.has_chain("c1") && !t.has_chain("c2"));
        assert!(parse_table("[]").is_err());
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
