//! ipMasq on nftables: table `inet ferrocni`.
//!
//! ```text
//! table inet ferrocni {
//!   map masq4 { type ipv4_addr : verdict }   # pod address -> goto masq-<hash>
//!   map masq6 { type ipv6_addr : verdict }
//!   chain postrouting { type nat hook postrouting priority srcnat
//!     ip saddr vmap @masq4 ; ip6 saddr vmap @masq6 }
//!   chain masq-<16 hex of sha512(net " " subnet)> {   # one per network+subnet
//!     ip daddr <subnet> return ; ip daddr 224.0.0.0/4 return ; masquerade }
//! }
//! ```
//! Each element is commented `<cid> <ifname> <net>` (see [`nft_ident`]) and
//! has a guard element `<address> . <owner token>` in set `own4`/`own6`.
//! ADD is one `nft -f -` with a constant number of commands whatever the
//! number of pods (after the network's first ADD on the node: only two
//! `create`/`add element` commands per address); CHECK/GC read the table
//! once; DEL is in `nft_masq_known`.
//!
//! [`nft_ident`]: crate::nft_ident

use crate::exec::Batch;
use crate::names::{nft_ident, sha512_hex};
use crate::nft_guard::token;
use crate::nft_json::{Table, list_table};
use crate::{Error, Family, Result};
use ipnet::IpNet;
use sha2::{Digest, Sha512};
use std::collections::HashSet;

pub(crate) const TABLE: &str = "ferrocni";

pub(crate) fn map_name(f: Family) -> String {
    format!("masq{}", f.suffix())
}

/// Per network+subnet chain name.
pub(crate) fn net_chain(net: &str, subnet: &IpNet) -> String {
    let d = Sha512::digest(format!("{net} {subnet}").as_bytes());
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("masq-{hex}")
}

/// Table, maps and the base chain (idempotent; rewrites the 2 base rules).
fn scaffolding(b: &mut Batch) {
    let t = format!("inet {TABLE}");
    b.line(format!("add table {t}"));
    for f in Family::ALL {
        let a = f.nft_addr_type();
        b.line(format!(
            "add map {t} {} {{ type {a} : verdict ; }}",
            map_name(f)
        ));
        b.line(format!(
            "add set {t} {} {{ type {a} . ipv6_addr ; }}",
            guard_name(f)
        ));
    }
    b.line(format!(
        "add chain {t} postrouting {{ type nat hook postrouting priority srcnat ; policy accept ; }}"
    ));
    b.line(format!("flush chain {t} postrouting"));
    for f in Family::ALL {
        b.line(format!(
            "add rule {t} postrouting {} saddr vmap @{}",
            f.nft_proto(),
            map_name(f)
        ));
    }
}

/// Guard set (`own4`/`own6`): `address . owner token`, one per element,
/// written and removed with it (see `nft_guard`).
pub(crate) fn guard_name(f: Family) -> String {
    format!("own{}", f.suffix())
}

/// The element commands of ADD: the address element (`create`: fails when
/// the address is held, by anybody) and its guard.
pub(crate) fn element_lines(b: &mut Batch, net: &str, ident: &str, ip: &IpNet) {
    let (t, f) = (format!("inet {TABLE}"), Family::of_net(ip));
    let (m, a) = (map_name(f), ip.addr());
    let chain = net_chain(net, &ip.trunc());
    let c = format!("comment \"{ident}\"");
    b.line(format!(
        "create element {t} {m} {{ {a} {c} : goto {chain} }}"
    ));
    let (g, tok) = (guard_name(f), token(ident));
    b.line(format!("add element {t} {g} {{ {a} . {tok} {c} }}"));
}

/// The full ADD batch: scaffolding, the network chain(s), the elements.
pub(crate) fn add_batch(net: &str, cid: &str, ifname: &str, ips: &[IpNet]) -> Batch {
    let mut b = Batch::new();
    scaffolding(&mut b);
    let t = format!("inet {TABLE}");
    let ident = nft_ident(&[cid, ifname, net]);
    for ip in ips {
        let f = Family::of_net(ip);
        let subnet = ip.trunc();
        let chain = net_chain(net, &subnet);
        let p = f.nft_proto();
        b.line(format!("add chain {t} {chain}"));
        b.line(format!("flush chain {t} {chain}"));
        b.line(format!("add rule {t} {chain} {p} daddr {subnet} return"));
        b.line(format!(
            "add rule {t} {chain} {p} daddr {} return",
            f.multicast()
        ));
        b.line(format!("add rule {t} {chain} masquerade"));
        element_lines(&mut b, net, &ident, ip);
    }
    b
}

/// Delete lines for every element whose comment is one of `idents`
/// (or, when `keep` is set, every element of `net` whose comment is not kept).
fn delete_elems(table: &Table, wanted: &dyn Fn(&str) -> bool) -> Batch {
    let mut b = Batch::new();
    for f in Family::ALL {
        for m in [map_name(f), guard_name(f)] {
            for e in table.elems(&m) {
                if e.comment.as_deref().is_some_and(wanted) {
                    b.line(format!("delete element inet {TABLE} {m} {{ {} }}", e.key));
                }
            }
        }
    }
    b
}

pub(crate) fn del(net: &str, cid: &str, ifname: &str) -> Result<()> {
    let Some(table) = list_table("inet", TABLE)? else {
        return Ok(());
    };
    let ident = nft_ident(&[cid, ifname, net]);
    let b = delete_elems(&table, &|c| c == ident);
    if b.is_empty() {
        return Ok(());
    }
    b.run(&["nft", "-f", "-"])
}

pub(crate) fn check(net: &str, cid: &str, ifname: &str, ips: &[IpNet]) -> Result<()> {
    let table =
        list_table("inet", TABLE)?.ok_or_else(|| Error::Missing(format!("table inet {TABLE}")))?;
    let ident = nft_ident(&[cid, ifname, net]);
    for ip in ips {
        let chain = net_chain(net, &ip.trunc());
        let want = format!("goto {chain}");
        let ok = table.elems(&map_name(Family::of_net(ip))).iter().any(|e| {
            e.key == ip.addr().to_string()
                && e.comment.as_deref() == Some(ident.as_str())
                && e.value.as_deref() == Some(want.as_str())
        });
        if !ok || !table.chains.contains(&chain) {
            return Err(Error::Missing(format!("masquerade for {ip} ({ident})")));
        }
    }
    Ok(())
}

/// Removes elements of `net` whose (cid, ifname) is not valid. Elements
/// with a hashed comment (over-long identities) cannot be attributed to a
/// network and are left alone.
pub(crate) fn gc(net: &str, valid: &[(&str, &str)]) -> Result<()> {
    let Some(table) = list_table("inet", TABLE)? else {
        return Ok(());
    };
    let keep: HashSet<String> = valid
        .iter()
        .map(|(cid, ifname)| nft_ident(&[cid, ifname, net]))
        .collect();
    let suffix = format!(" {net}");
    let b = delete_elems(&table, &|c| {
        !c.starts_with('#') && c.ends_with(&suffix) && !keep.contains(c)
    });
    if b.is_empty() {
        return Ok(());
    }
    b.run(&["nft", "-f", "-"])
}

/// The reference plugins' nftables ipMasq table.
const REF_TABLE: &str = "cni_plugins_masquerade";

/// The reference `hashForNetwork` (16 hex of sha512(network)).
fn ref_net_hash(net: &str) -> String {
    sha512_hex(net)[..16].to_string()
}

/// The reference `hashForInstance`: comment prefix of its masq rules.
pub(crate) fn ref_instance_prefix(net: &str, cid: &str, ifname: &str) -> String {
    let inst = &sha512_hex(&format!("{ifname}:{cid}"))[..16];
    format!("{}-{inst}", ref_net_hash(net))
}

/// Deletes the reference nftables ipMasq rules whose comment satisfies
/// `doomed` (one read; no write when nothing matches).
fn ref_delete(doomed: &dyn Fn(&str) -> bool) -> Result<()> {
    let Some(table) = list_table("inet", REF_TABLE)? else {
        return Ok(());
    };
    let mut b = Batch::new();
    for r in &table.rules {
        if r.chain == "masq_checks" && r.comment.as_deref().is_some_and(doomed) {
            b.line(format!(
                "delete rule inet {REF_TABLE} masq_checks handle {}",
                r.handle
            ));
        }
    }
    if b.is_empty() {
        return Ok(());
    }
    b.run(&["nft", "-f", "-"])
}

/// Removes the reference plugins' nftables ipMasq rule(s) of one attachment.
pub(crate) fn ref_del(net: &str, cid: &str, ifname: &str) -> Result<()> {
    let prefix = ref_instance_prefix(net, cid, ifname);
    ref_delete(&|c| c.starts_with(&prefix))
}

/// GC of the reference plugins' nftables ipMasq rules of one network.
pub(crate) fn ref_gc(net: &str, valid: &[(&str, &str)]) -> Result<()> {
    let net_prefix = format!("{}-", ref_net_hash(net));
    let keep: Vec<String> = valid
        .iter()
        .map(|(cid, ifname)| ref_instance_prefix(net, cid, ifname))
        .collect();
    ref_delete(&|c| c.starts_with(&net_prefix) && !keep.iter().any(|k| c.starts_with(k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_batch_golden() {
        let ip: IpNet = "10.88.0.2/16".parse().unwrap();
        let b = add_batch("mynet", "abc", "eth0", &[ip]);
        let chain = net_chain("mynet", &"10.88.0.0/16".parse().unwrap());
        let expected = format!(
            "add table inet ferrocni
add map inet ferrocni masq4 {{ type ipv4_addr : verdict ; }}
add set inet ferrocni own4 {{ type ipv4_addr . ipv6_addr ; }}
add map inet ferrocni masq6 {{ type ipv6_addr : verdict ; }}
add set inet ferrocni own6 {{ type ipv6_addr . ipv6_addr ; }}
add chain inet ferrocni postrouting {{ type nat hook postrouting priority srcnat ; policy accept ; }}
flush chain inet ferrocni postrouting
add rule inet ferrocni postrouting ip saddr vmap @masq4
add rule inet ferrocni postrouting ip6 saddr vmap @masq6
add chain inet ferrocni {chain}
flush chain inet ferrocni {chain}
add rule inet ferrocni {chain} ip daddr 10.88.0.0/16 return
add rule inet ferrocni {chain} ip daddr 224.0.0.0/4 return
add rule inet ferrocni {chain} masquerade
create element inet ferrocni masq4 {{ 10.88.0.2 comment \"abc eth0 mynet\" : goto {chain} }}
add element inet ferrocni own4 {{ 10.88.0.2 . {tok} comment \"abc eth0 mynet\" }}
",
            tok = token("abc eth0 mynet")
        );
        assert_eq!(b.text(), expected);
        assert_eq!(chain.len(), "masq-".len() + 16);
    }

    #[test]
    fn v6_uses_ip6_and_ff00() {
        let ip: IpNet = "fd00::5/64".parse().unwrap();
        let text = add_batch("n", "c", "eth0", &[ip]).text().to_string();
        assert!(text.contains("ip6 daddr fd00::/64 return"), "{text}");
        assert!(text.contains("ip6 daddr ff00::/8 return"), "{text}");
        assert!(
            text.contains("create element inet ferrocni masq6 { fd00::5 comment"),
            "{text}"
        );
    }
}
