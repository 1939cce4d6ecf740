//! FORWARD accept rules when the node's iptables FORWARD policy is DROP
//! (as Docker leaves it). An accept in our own nft table cannot override a
//! drop in another table, so with the nftables backend the reference's
//! `CNI-FORWARD` accepts are also written into iptables' FORWARD, with one
//! `iptables-restore` per affected family.

use crate::error::Result;
use crate::exec::read;
use crate::ipt;
use crate::iptsave;
use crate::nftjson::{ChainInfo, chains};
use fwkit::{Family, Flavor};
use std::net::IpAddr;

/// Where iptables holds a filter table: `(flavor, family)`, with its
/// FORWARD policy DROP (`drop_only`) or with a `CNI-FORWARD` chain.
fn filter_tables(list: &[ChainInfo], drop_only: bool) -> Result<Vec<(Flavor, Family)>> {
    let mut out = Vec::new();
    for c in list.iter().filter(|c| c.table == "filter") {
        let fam = match c.family.as_str() {
            "ip" => Family::V4,
            "ip6" => Family::V6,
            _ => continue,
        };
        let hit = if drop_only {
            c.name == "FORWARD" && c.policy.as_deref() == Some("drop")
        } else {
            c.name == ipt::PRIV
        };
        if hit && !out.contains(&(Flavor::Nft, fam)) {
            out.push((Flavor::Nft, fam));
        }
    }
    for (fam, names) in [
        (Family::V4, "/proc/net/ip_tables_names"),
        (Family::V6, "/proc/net/ip6_tables_names"),
    ] {
        let legacy = std::fs::read_to_string(names).unwrap_or_default();
        if !legacy.lines().any(|l| l == "filter") {
            continue;
        }
        let f = iptsave::load(Flavor::Legacy, fam)?;
        let hit = if drop_only {
            f.policy(ipt::FORWARD) == Some("DROP")
        } else {
            f.has_chain(ipt::PRIV)
        };
        if hit {
            out.push((Flavor::Legacy, fam));
        }
    }
    Ok(out)
}

fn nft_chains() -> Result<Vec<ChainInfo>> {
    match read(&["nft", "-j", "list", "chains"])? {
        Some(text) => chains(&text),
        None => Ok(Vec::new()),
    }
}

/// The iptables families whose FORWARD policy is DROP.
pub fn drop_targets() -> Result<Vec<(Flavor, Family)>> {
    filter_tables(&nft_chains()?, true)
}

/// The same from the text of `list chains ip` / `list chains ip6` (the
/// tail of the ADD batch) for iptables-nft, plus iptables-legacy.
pub fn drop_targets_from_listing(text: &str) -> Result<Vec<(Flavor, Family)>> {
    let mut out: Vec<(Flavor, Family)> = drop_families(text)
        .into_iter()
        .map(|f| (Flavor::Nft, f))
        .collect();
    let legacy = filter_tables(&[], true)?;
    out.extend(legacy);
    Ok(out)
}

/// Families whose `filter` table's `FORWARD` base chain has policy drop,
/// from nft's text listing of chains.
pub fn drop_families(text: &str) -> Vec<Family> {
    let (mut fam, mut chain, mut out) = (None, "", Vec::new());
    for line in text.lines().map(str::trim) {
        if let Some(t) = line.strip_prefix("table ") {
            fam = match t.trim_end_matches('{').trim() {
                "ip filter" => Some(Family::V4),
                "ip6 filter" => Some(Family::V6),
                _ => None,
            };
            chain = "";
        } else if let Some(c) = line.strip_prefix("chain ") {
            chain = c.trim_end_matches('{').trim();
        } else if chain == ipt::FORWARD
            && line.contains("hook forward")
            && line.contains("policy drop;")
        {
            out.extend(fam.filter(|f| !out.contains(f)));
        }
    }
    out
}

/// ADD: the reference accepts for `ips` wherever FORWARD drops.
pub fn add_accepts(targets: &[(Flavor, Family)], admin: &str, ips: &[IpAddr]) -> Result<()> {
    for (flavor, fam) in targets {
        let mine = ipt::of_family(ips, *fam);
        if mine.is_empty() {
            continue;
        }
        let f = iptsave::load(*flavor, *fam)?;
        ipt::apply(*flavor, *fam, &ipt::add_lines(&f, admin, &mine, None))?;
    }
    Ok(())
}

/// CHECK: the accepts are there wherever FORWARD drops.
pub fn check_accepts(admin: &str, ips: &[IpAddr]) -> Result<()> {
    for (flavor, fam) in drop_targets()? {
        let mine = ipt::of_family(ips, fam);
        if mine.is_empty() {
            continue;
        }
        let f = iptsave::load(flavor, fam)?;
        for (chain, spec) in ipt::expected(admin, &mine, None) {
            if !f.has(chain, &spec) {
                return Err(crate::error::FwError::Missing(format!(
                    "{}: -A {chain} {spec}",
                    iptsave::prog(flavor, fam, "save")
                )));
            }
        }
    }
    Ok(())
}

/// DEL/GC: removes the accepts for `ips` wherever a `CNI-FORWARD` exists.
pub fn del_accepts(ips: &[IpAddr]) -> Result<()> {
    if ips.is_empty() {
        return Ok(());
    }
    for (flavor, fam) in filter_tables(&nft_chains()?, false)? {
        let mine = ipt::of_family(ips, fam);
        if mine.is_empty() {
            continue;
        }
        let f = iptsave::load(flavor, fam)?;
        ipt::apply(flavor, fam, &ipt::del_lines(&f, &mine))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_policy_from_listing() {
        let text = "table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\ntable ip6 filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy accept;\n\t}\n}\ntable ip other {\n\tchain FORWARD {\n\t\ttype filter hook forward priority 0; policy drop;\n\t}\n}\n";
        assert_eq!(drop_families(text), vec![Family::V4]);
        assert!(drop_families("").is_empty());
    }
}
