//! ipMasq DEL on nftables through guarded groups (see [`crate::nft_guard`]).
//!
//! Per address of the attachment:
//!
//! ```text
//! delete element inet ferrocni own4 { 10.88.0.2 . <token(cid ifname net)> }   # guard
//! delete element inet ferrocni masq4 { 10.88.0.2 }
//! ```
//! plus one probe, `create table inet cni_plugins_masquerade` followed by
//! `delete table …`, which fails with `File exists` exactly when the
//! reference plugins' nftables ipMasq table exists (otherwise it is a
//! no-op inside the same transaction). Only then is that table read and
//! the reference rule of the attachment deleted.
//!
//! With the addresses known this is one `nft -f -` and no read. Without
//! them our table is read once to find the attachment's addresses (its
//! elements carry the identity comment); the deletes are still guarded, so
//! an address re-stamped by another container's ADD after the read is left
//! alone.

use crate::names::nft_ident;
use crate::nft_guard::{Group, run, token};
use crate::nft_json::{Table, list_table};
use crate::nft_masq::{TABLE, guard_name, map_name, ref_del};
use crate::{Family, Result};
use ipnet::IpNet;
use std::net::IpAddr;

/// The reference plugins' nftables ipMasq table.
const REF_TABLE: &str = "inet cni_plugins_masquerade";

/// One group per address, then the reference-table probe (last). An
/// address with `guarded == false` (an element listed with our comment but
/// without a guard, from a layout before guards) is deleted unguarded.
pub(crate) fn groups(ident: &str, addrs: &[(IpAddr, bool)]) -> Vec<Group> {
    let t = format!("inet {TABLE}");
    let tok = token(ident);
    let mut out: Vec<Group> = addrs
        .iter()
        .map(|(a, guarded)| {
            let f = Family::of(a);
            let (g, m) = (guard_name(f), map_name(f));
            let del = format!("delete element {t} {m} {{ {a} }}");
            match guarded {
                true => Group::new(
                    format!("delete element {t} {g} {{ {a} . {tok} }}"),
                    vec![del],
                ),
                false => Group::new(del, Vec::new()),
            }
        })
        .collect();
    out.push(Group::probe(
        format!("create table {REF_TABLE}"),
        vec![format!("delete table {REF_TABLE}")],
    ));
    out
}

/// Addresses of the attachment `ident` in a listing of our table, and
/// whether it has a guard there (guards first, then address elements).
fn addrs_of(table: &Table, ident: &str) -> Vec<(IpAddr, bool)> {
    let mut out: Vec<(IpAddr, bool)> = Vec::new();
    for f in Family::ALL {
        for (m, guarded) in [(guard_name(f), true), (map_name(f), false)] {
            for e in table.elems(&m) {
                let key = e.key.split(" . ").next().unwrap_or_default();
                let ours = e.comment.as_deref() == Some(ident);
                if let (true, Ok(a)) = (ours, key.parse())
                    && !out.iter().any(|(b, _)| *b == a)
                {
                    out.push((a, guarded));
                }
            }
        }
    }
    out
}

/// DEL of one attachment. `known`: the addresses it was ADDed with (no
/// read); `None`: found by reading our table once.
pub(crate) fn del(net: &str, cid: &str, ifname: &str, known: Option<&[IpNet]>) -> Result<()> {
    let ident = nft_ident(&[cid, ifname, net]);
    let addrs: Vec<(IpAddr, bool)> = match known {
        Some(ips) if !ips.is_empty() => ips.iter().map(|ip| (ip.addr(), true)).collect(),
        _ => match list_table("inet", TABLE)? {
            Some(table) => addrs_of(&table, &ident),
            None => Vec::new(),
        },
    };
    let groups = groups(&ident, &addrs);
    let probe = groups.len() - 1;
    match run(groups)? {
        Some(failed) if !failed.contains(&probe) => Ok(()),
        Some(_) => ref_del(net, cid, ifname),
        // Our table kept changing: the comment-based DEL, then the reference.
        None => crate::nft_masq::del(net, cid, ifname).and_then(|()| ref_del(net, cid, ifname)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nft_json::parse_table;

    #[test]
    fn groups_golden_and_addresses_from_listing() {
        let a: IpAddr = "10.88.0.2".parse().unwrap();
        let g = groups("c eth0 n", &[(a, true), (a, false)]);
        let tok = token("c eth0 n");
        assert_eq!(
            g[0].guard,
            format!("delete element inet ferrocni own4 {{ 10.88.0.2 . {tok} }}")
        );
        assert_eq!(
            g[0].lines,
            vec!["delete element inet ferrocni masq4 { 10.88.0.2 }"]
        );
        assert_eq!(
            g[1].guard,
            "delete element inet ferrocni masq4 { 10.88.0.2 }"
        );
        assert!(g[1].lines.is_empty());
        assert!(g[2].probe && g[2].guard == "create table inet cni_plugins_masquerade");
        let listed = r#"{"nftables": [
 {"map": {"family": "inet", "name": "masq4", "table": "ferrocni", "map": "verdict",
   "elem": [[{"elem": {"val": "10.1.0.2", "comment": "c eth0 n"}}, {"goto": {"target": "x"}}],
            [{"elem": {"val": "10.1.0.3", "comment": "d eth0 n"}}, {"goto": {"target": "x"}}]]}},
 {"set": {"family": "inet", "name": "own6", "table": "ferrocni",
   "elem": [{"elem": {"val": {"concat": ["fd00::2", "::1"]}, "comment": "c eth0 n"}}]}}]}"#;
        let t = parse_table(listed).unwrap();
        let want: Vec<(IpAddr, bool)> = vec![
            ("10.1.0.2".parse().unwrap(), false),
            ("fd00::2".parse().unwrap(), true),
        ];
        assert_eq!(addrs_of(&t, "c eth0 n"), want);
    }
}
