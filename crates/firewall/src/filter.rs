//! Filter helpers for the firewall plugin (iptables backend), exactly the
//! reference layout in table `filter`:
//!
//! ```text
//! :CNI-FORWARD / :CNI-ADMIN (name configurable: iptablesAdminChainName)
//! -I FORWARD 1 -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
//! -I CNI-FORWARD 1 -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
//! -A CNI-FORWARD -d <ip>/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//! -A CNI-FORWARD -s <ip>/32 -j ACCEPT
//! ```
//! The per-IP rules carry no comment (as in the reference), so DEL needs
//! the IPs. One `iptables-save -t filter` and at most one restore per family.
//! Ingress isolation (`CNI-ISOLATION-STAGE-1/2`) is not implemented yet.

use crate::exec::Batch;
use crate::ipt_save::{SaveRule, SaveTable, restore_table, save_table};
use crate::{Error, Family, Flavor, Result};
use ipnet::IpNet;

const FORWARD: &str = "CNI-FORWARD";
/// Default admin chain of the reference plugin.
pub const DEFAULT_ADMIN_CHAIN: &str = "CNI-ADMIN";

fn validate_chain(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 28
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        return Ok(());
    }
    Err(Error::Invalid {
        what: "iptablesAdminChainName",
        value: name.to_string(),
        why: "1-28 characters of [A-Za-z0-9_-]",
    })
}

fn host(ip: &IpNet) -> String {
    format!("{}/{}", ip.addr(), Family::of_net(ip).host_len())
}

fn is_in_rule(r: &SaveRule, h: &str) -> bool {
    r.arg("-d") == Some(h) && r.arg("--ctstate") == Some("RELATED,ESTABLISHED")
}

fn is_out_rule(r: &SaveRule, h: &str) -> bool {
    r.arg("-s") == Some(h) && r.arg("-d").is_none() && r.target() == Some("ACCEPT")
}

/// Restore lines for one family's ADD, only what is missing from `cur`.
pub(crate) fn add_lines(cur: &SaveTable, ips: &[IpNet], admin: &str) -> Batch {
    let mut b = Batch::new();
    for chain in [FORWARD, admin] {
        if !cur.has_chain(chain) {
            b.line(format!(":{chain} - [0:0]"));
        }
    }
    let jumps = |from: &str, to: &str| cur.chain_rules(from).any(|r| r.target() == Some(to));
    if !jumps("FORWARD", FORWARD) {
        b.line(format!(
            "-I FORWARD 1 -m comment --comment \"CNI firewall plugin rules\" -j {FORWARD}"
        ));
    }
    if !jumps(FORWARD, admin) {
        b.line(format!(
            "-I {FORWARD} 1 -m comment --comment \"CNI firewall plugin admin overrides\" -j {admin}"
        ));
    }
    for ip in ips {
        let h = host(ip);
        if !cur.chain_rules(FORWARD).any(|r| is_in_rule(r, &h)) {
            b.line(format!(
                "-A {FORWARD} -d {h} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            ));
        }
        if !cur.chain_rules(FORWARD).any(|r| is_out_rule(r, &h)) {
            b.line(format!("-A {FORWARD} -s {h} -j ACCEPT"));
        }
    }
    b
}

fn per_family(ips: &[IpNet], mut f: impl FnMut(Family, Vec<IpNet>) -> Result<()>) -> Result<()> {
    for fam in Family::ALL {
        let mine: Vec<IpNet> = ips
            .iter()
            .copied()
            .filter(|i| Family::of_net(i) == fam)
            .collect();
        if !mine.is_empty() {
            f(fam, mine)?;
        }
    }
    Ok(())
}

/// Accepts forwarded traffic from, and established traffic to, each IP.
pub fn filter_add(ips: &[IpNet], admin_chain: Option<&str>, flavor: Flavor) -> Result<()> {
    let admin = admin_chain.unwrap_or(DEFAULT_ADMIN_CHAIN);
    validate_chain(admin)?;
    per_family(ips, |fam, mine| {
        let cur = save_table(flavor, fam, "filter")?;
        restore_table(flavor, fam, "filter", &add_lines(&cur, &mine, admin))
    })
}

/// Removes the per-IP rules (the shared chains stay, as in the reference).
pub fn filter_del(ips: &[IpNet], flavor: Flavor) -> Result<()> {
    per_family(ips, |fam, mine| {
        let Ok(cur) = save_table(flavor, fam, "filter") else {
            return Ok(());
        };
        let mut b = Batch::new();
        for r in cur.chain_rules(FORWARD) {
            if mine.iter().any(|ip| {
                let h = host(ip);
                is_in_rule(r, &h) || is_out_rule(r, &h)
            }) {
                b.line(r.delete_line());
            }
        }
        restore_table(flavor, fam, "filter", &b)
    })
}

/// CHECK: both per-IP rules and the jumps exist.
pub fn filter_check(ips: &[IpNet], admin_chain: Option<&str>, flavor: Flavor) -> Result<()> {
    let admin = admin_chain.unwrap_or(DEFAULT_ADMIN_CHAIN);
    validate_chain(admin)?;
    per_family(ips, |fam, mine| {
        let cur = save_table(flavor, fam, "filter")?;
        if !add_lines(&cur, &mine, admin).is_empty() {
            return Err(Error::Missing(format!("firewall rules for {mine:?}")));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_fresh_and_existing() {
        let ips: Vec<IpNet> = vec!["10.88.0.2/16".parse().unwrap()];
        let b = add_lines(&SaveTable::default(), &ips, DEFAULT_ADMIN_CHAIN);
        let want = "\
:CNI-FORWARD - [0:0]
:CNI-ADMIN - [0:0]
-I FORWARD 1 -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD
-I CNI-FORWARD 1 -m comment --comment \"CNI firewall plugin admin overrides\" -j CNI-ADMIN
-A CNI-FORWARD -d 10.88.0.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A CNI-FORWARD -s 10.88.0.2/32 -j ACCEPT
";
        assert_eq!(b.text(), want);
        // As saved after the Debian reference firewall plugin's ADD.
        let saved = crate::ipt_save::parse(
            "*filter\n:FORWARD ACCEPT [0:0]\n:CNI-ADMIN - [0:0]\n:CNI-FORWARD - [0:0]\n\
             -A FORWARD -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD\n\
             -A CNI-FORWARD -m comment --comment \"CNI firewall plugin admin overrides\" -j CNI-ADMIN\n\
             -A CNI-FORWARD -d 10.88.0.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
             -A CNI-FORWARD -s 10.88.0.2/32 -j ACCEPT\nCOMMIT\n",
            "filter",
        );
        assert!(add_lines(&saved, &ips, DEFAULT_ADMIN_CHAIN).is_empty());
        assert!(validate_chain("bad name").is_err());
    }
}
