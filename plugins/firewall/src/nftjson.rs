//! The part of `nft -j list …` output this plugin reads — set and map
//! elements with their comments, chain names, base-chain policies — parsed
//! by fwkit's [`fwkit::nft_json`]; parse errors become [`FwError::Parse`].

use crate::error::{FwError, Result};

pub use fwkit::nft_json::{ChainInfo, Elem, Table};

fn perr(e: fwkit::Error) -> FwError {
    match e {
        fwkit::Error::Parse { what, detail } => FwError::Parse(format!("{what}: {detail}")),
        other => FwError::Kit(other),
    }
}

/// Parses `nft -j list table …`.
pub fn parse_table(text: &str) -> Result<Table> {
    fwkit::nft_json::parse_table(text).map_err(perr)
}

/// Parses `nft -j list chains`.
pub fn chains(text: &str) -> Result<Vec<ChainInfo>> {
    fwkit::nft_json::chains(text).map_err(perr)
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
}
