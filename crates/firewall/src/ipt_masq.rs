//! ipMasq on iptables, exactly the reference layout (table `nat`):
//!
//! ```text
//! :CNI-<24 hex> - [0:0]
//! -A CNI-<hash> -d <subnet> -m comment --comment "name: \"<net>\" id: \"<cid>\"" -j ACCEPT
//! -A CNI-<hash> ! -d 224.0.0.0/4 -m comment --comment "…" -j MASQUERADE
//! -A POSTROUTING -s <ip>/32 -m comment --comment "…" -j CNI-<hash>
//! ```
//! Every call is one `iptables-save -t nat` plus at most one
//! `iptables-restore --noflush` per family.

use crate::exec::Batch;
use crate::ipt_save::{SaveTable, restore_nat, save_nat};
use crate::names::{ipmasq_chain, ipt_quote, reference_comment};
use crate::{Error, Family, Flavor, Result};
use ipnet::IpNet;

fn of_family(ips: &[IpNet], f: Family) -> Vec<IpNet> {
    ips.iter()
        .copied()
        .filter(|ip| Family::of_net(ip) == f)
        .collect()
}

fn host(ip: &IpNet) -> String {
    format!("{}/{}", ip.addr(), Family::of_net(ip).host_len())
}

/// Restore lines for one family's ADD given the current `nat` table.
pub(crate) fn add_lines(net: &str, cid: &str, ips: &[IpNet], f: Family, cur: &SaveTable) -> Batch {
    let chain = ipmasq_chain(net, cid);
    let c = ipt_quote(&reference_comment(net, cid));
    let mut b = Batch::new();
    b.line(format!(":{chain} - [0:0]"));
    for ip in ips {
        b.line(format!(
            "-A {chain} -d {} -m comment --comment {c} -j ACCEPT",
            ip.trunc()
        ));
    }
    b.line(format!(
        "-A {chain} ! -d {} -m comment --comment {c} -j MASQUERADE",
        f.multicast()
    ));
    let wanted: Vec<String> = ips.iter().map(host).collect();
    for r in cur
        .rules
        .iter()
        .filter(|r| r.target() == Some(chain.as_str()))
    {
        // Keep a jump for one of our addresses; drop stale ones.
        if r.chain != "POSTROUTING" || !r.arg("-s").is_some_and(|s| wanted.iter().any(|w| w == s)) {
            b.line(r.delete_line());
        }
    }
    for src in &wanted {
        let exists = cur
            .chain_rules("POSTROUTING")
            .any(|r| r.target() == Some(chain.as_str()) && r.arg("-s") == Some(src));
        if !exists {
            b.line(format!(
                "-A POSTROUTING -s {src} -m comment --comment {c} -j {chain}"
            ));
        }
    }
    b
}

pub(crate) fn add(flavor: Flavor, net: &str, cid: &str, ips: &[IpNet]) -> Result<()> {
    for f in Family::ALL {
        let mine = of_family(ips, f);
        if mine.is_empty() {
            continue;
        }
        let cur = save_nat(flavor, f)?;
        restore_nat(flavor, f, &add_lines(net, cid, &mine, f, &cur))?;
    }
    Ok(())
}

/// Restore lines removing every jump to `chain` and the chain itself.
pub(crate) fn remove_chain_lines(chain: &str, cur: &SaveTable) -> Batch {
    let mut b = Batch::new();
    for r in cur.rules.iter().filter(|r| r.target() == Some(chain)) {
        b.line(r.delete_line());
    }
    if cur.has_chain(chain) {
        b.line(format!("-F {chain}")).line(format!("-X {chain}"));
    }
    b
}

/// Families to visit: those of the known IPs, else both.
fn families(known: Option<&[IpNet]>) -> Vec<Family> {
    match known {
        Some(ips) if !ips.is_empty() => Family::ALL
            .into_iter()
            .filter(|f| ips.iter().any(|ip| Family::of_net(ip) == *f))
            .collect(),
        _ => Family::ALL.to_vec(),
    }
}

pub(crate) fn del(flavor: Flavor, net: &str, cid: &str, known: Option<&[IpNet]>) -> Result<()> {
    let chain = ipmasq_chain(net, cid);
    for f in families(known) {
        // A family whose tables cannot even be read holds nothing of ours.
        let Ok(cur) = save_nat(flavor, f) else {
            continue;
        };
        restore_nat(flavor, f, &remove_chain_lines(&chain, &cur))?;
    }
    Ok(())
}

pub(crate) fn check(flavor: Flavor, net: &str, cid: &str, ips: &[IpNet]) -> Result<()> {
    let chain = ipmasq_chain(net, cid);
    let comment = reference_comment(net, cid);
    for f in Family::ALL {
        let mine = of_family(ips, f);
        if mine.is_empty() {
            continue;
        }
        let cur = save_nat(flavor, f)?;
        let rules: Vec<_> = cur.chain_rules(&chain).collect();
        let masq = rules.iter().any(|r| r.target() == Some("MASQUERADE"));
        for ip in &mine {
            let src = host(ip);
            let jump = cur.chain_rules("POSTROUTING").any(|r| {
                r.target() == Some(chain.as_str())
                    && r.arg("-s") == Some(src.as_str())
                    && r.comment() == Some(comment.as_str())
            });
            let subnet = ip.trunc().to_string();
            let accept = rules
                .iter()
                .any(|r| r.target() == Some("ACCEPT") && r.arg("-d") == Some(subnet.as_str()));
            if !(jump && accept && masq) {
                return Err(Error::Missing(format!(
                    "iptables masquerade {chain} for {ip}"
                )));
            }
        }
    }
    Ok(())
}

/// Container id of a reference comment of network `net`, if it is one.
fn comment_cid<'a>(comment: &'a str, net: &str) -> Option<&'a str> {
    let rest = comment.strip_prefix(&format!("name: \"{net}\" id: \""))?;
    rest.strip_suffix('"')
}

fn is_masq_chain(name: &str) -> bool {
    name.strip_prefix("CNI-")
        .is_some_and(|h| h.len() == 24 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(crate) fn gc(flavor: Flavor, net: &str, valid_cids: &[&str]) -> Result<()> {
    for f in Family::ALL {
        let Ok(cur) = save_nat(flavor, f) else {
            continue;
        };
        let mut doomed: Vec<&str> = Vec::new();
        for r in &cur.rules {
            let cid = r.comment().and_then(|c| comment_cid(c, net));
            if let Some(cid) = cid
                && is_masq_chain(&r.chain)
                && !valid_cids.contains(&cid)
                && !doomed.contains(&r.chain.as_str())
            {
                doomed.push(&r.chain);
            }
        }
        let mut b = Batch::new();
        for chain in doomed {
            b.extend(&remove_chain_lines(chain, &cur));
        }
        restore_nat(flavor, f, &b)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipt_save::parse;

    const REF: &str = include_str!("../tests/data/ref-v4-nat.save");

    #[test]
    fn add_lines_golden_fresh() {
        let ip: IpNet = "10.88.0.2/16".parse().unwrap();
        let b = add_lines("mynet", "abc123", &[ip], Family::V4, &SaveTable::default());
        let c = r#""name: \"mynet\" id: \"abc123\"""#;
        let ch = "CNI-70a29d9dc18bc4d652ea5d59";
        let want = format!(
            ":{ch} - [0:0]\n-A {ch} -d 10.88.0.0/16 -m comment --comment {c} -j ACCEPT\n\
             -A {ch} ! -d 224.0.0.0/4 -m comment --comment {c} -j MASQUERADE\n\
             -A POSTROUTING -s 10.88.0.2/32 -m comment --comment {c} -j {ch}\n"
        );
        assert_eq!(b.text(), want);
    }

    #[test]
    fn add_lines_keep_existing_jump_and_drop_stale() {
        let cur = parse(REF, "nat");
        let same: IpNet = "10.88.0.2/16".parse().unwrap();
        let b = add_lines("mynet", "abc123", &[same], Family::V4, &cur);
        assert!(!b.text().contains("-A POSTROUTING"), "{}", b.text());
        assert!(!b.text().contains("-D POSTROUTING"), "{}", b.text());
        let moved: IpNet = "10.88.0.9/16".parse().unwrap();
        let b = add_lines("mynet", "abc123", &[moved], Family::V4, &cur);
        assert!(
            b.text().contains("-D POSTROUTING -s 10.88.0.2/32"),
            "{}",
            b.text()
        );
        assert!(
            b.text().contains("-A POSTROUTING -s 10.88.0.9/32"),
            "{}",
            b.text()
        );
    }

    #[test]
    fn remove_lines_from_reference_dump() {
        let cur = parse(REF, "nat");
        let b = remove_chain_lines("CNI-70a29d9dc18bc4d652ea5d59", &cur);
        let lines: Vec<_> = b.text().lines().collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("-D POSTROUTING -s 10.88.0.2/32"));
        assert_eq!(lines[2], "-X CNI-70a29d9dc18bc4d652ea5d59");
        assert_eq!(comment_cid(r#"name: "n" id: "c1""#, "n"), Some("c1"));
        assert_eq!(comment_cid(r#"name: "m" id: "c1""#, "n"), None);
        assert!(is_masq_chain("CNI-70a29d9dc18bc4d652ea5d59"));
        assert!(!is_masq_chain("CNI-DN-70a29d9dc18bc4d652ea5"));
    }
}
