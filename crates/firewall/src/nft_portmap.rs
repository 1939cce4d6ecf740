//! Port mappings on nftables: table `inet ferrocni_hostport`.
//!
//! ```text
//! map hp4_ip    { type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service }
//! map hp4_any   { type inet_proto . inet_service : ipv4_addr . inet_service }
//! map hair4_ip  { type inet_proto . ipv4_addr . inet_service : verdict }  # -> jump hair-<hash>
//! map hair4_any { type inet_proto . inet_service : verdict }
//! set spec4     { type inet_proto . inet_service }   # "a specific-IP holder exists"
//! set own4      { type inet_proto . ipv4_addr . inet_service . ipv6_addr }
//!               # guard: key (0.0.0.0 = any) . owner token, see nft_guard
//! (and the same with 6 / ipv6_addr)
//! chain prerouting (nat, dstnat) / output (nat, -100):
//!     fib daddr type local jump hostports
//! chain hostports:
//!     meta nfproto ipv4 meta l4proto . ip daddr . th dport vmap @hair4_ip
//!     meta nfproto ipv4 meta l4proto . th dport vmap @hair4_any
//!     meta nfproto ipv4 dnat ip to meta l4proto . ip daddr . th dport map @hp4_ip
//!     meta nfproto ipv4 dnat ip to meta l4proto . th dport map @hp4_any
//! chain hair-<16 hex of sha512(subnet, masqAll)>:     # one per pod subnet
//!     ip saddr <pod subnet> meta mark set meta mark | 0x2000
//!     ip saddr 127.0.0.0/8 meta mark set meta mark | 0x2000
//! chain postrouting (nat, srcnat - 1): ct status dnat meta mark & 0x2000 == 0x2000 masquerade
//! ```
//! All sets and maps are hash tables (no interval flag), so the kernel and
//! `nft` insert/delete elements in O(1). Every element carries the comment
//! `<cid> <net>`. ADD is one `nft -f -` whose size depends only on the
//! request; the kernel rejects a taken host socket atomically
//! (`create element`, plus a create-then-delete probe of the other
//! map/marker), and only then is the table read to name the holder.

use crate::exec::Batch;
use crate::names::{nft_ident, sha512_hex};
use crate::nft_guard::token;
use crate::nft_json::{Table, list_table};
use crate::{Error, Family, PortMapping, PortmapOpts, Result};
use ipnet::IpNet;
use std::collections::HashSet;

pub(crate) const TABLE: &str = "ferrocni_hostport";
/// Packet mark meaning "masquerade me" (the reference's default bit 13).
const MARK: u32 = 0x2000;

fn t() -> String {
    format!("inet {TABLE}")
}

fn dummy(f: Family) -> &'static str {
    match f {
        Family::V4 => "0.0.0.0 . 0",
        Family::V6 => ":: . 0",
    }
}

fn nfproto(f: Family) -> &'static str {
    match f {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

/// Table, maps, sets and base chains; rewrites the base rules (constant size).
pub(crate) fn scaffolding(b: &mut Batch) {
    let t = t();
    b.line(format!("add table {t}"));
    for f in Family::ALL {
        let (s, a) = (f.suffix(), f.nft_addr_type());
        let val = format!("{a} . inet_service");
        b.line(format!(
            "add map {t} hp{s}_ip {{ type inet_proto . {a} . inet_service : {val} ; }}"
        ));
        b.line(format!(
            "add map {t} hp{s}_any {{ type inet_proto . inet_service : {val} ; }}"
        ));
        b.line(format!(
            "add set {t} spec{s} {{ type inet_proto . inet_service ; }}"
        ));
        b.line(format!(
            "add map {t} hair{s}_ip {{ type inet_proto . {a} . inet_service : verdict ; }}"
        ));
        b.line(format!(
            "add map {t} hair{s}_any {{ type inet_proto . inet_service : verdict ; }}"
        ));
        b.line(format!(
            "add set {t} own{s} {{ type inet_proto . {a} . inet_service . ipv6_addr ; }}"
        ));
    }
    let base = [
        ("prerouting", "prerouting", "dstnat"),
        ("output", "output", "-100"),
        ("postrouting", "postrouting", "srcnat - 1"),
    ];
    b.line(format!("add chain {t} hostports"));
    for (name, hook, prio) in base {
        b.line(format!(
            "add chain {t} {name} {{ type nat hook {hook} priority {prio} ; policy accept ; }}"
        ));
    }
    for name in ["prerouting", "output", "postrouting", "hostports"] {
        b.line(format!("flush chain {t} {name}"));
    }
    for name in ["prerouting", "output"] {
        b.line(format!(
            "add rule {t} {name} fib daddr type local jump hostports"
        ));
    }
    for f in Family::ALL {
        let (s, p, n) = (f.suffix(), f.nft_proto(), nfproto(f));
        b.line(format!(
            "add rule {t} hostports meta nfproto {n} meta l4proto . {p} daddr . th dport vmap @hair{s}_ip"
        ));
        b.line(format!(
            "add rule {t} hostports meta nfproto {n} meta l4proto . th dport vmap @hair{s}_any"
        ));
        b.line(format!(
            "add rule {t} hostports meta nfproto {n} dnat {p} to meta l4proto . {p} daddr . th dport map @hp{s}_ip"
        ));
        b.line(format!(
            "add rule {t} hostports meta nfproto {n} dnat {p} to meta l4proto . th dport map @hp{s}_any"
        ));
    }
    b.line(format!(
        "add rule {t} postrouting ct status dnat meta mark & {MARK:#x} == {MARK:#x} masquerade"
    ));
}

/// Per pod-subnet chain marking hairpin/localhost sources (rewritten).
fn hair_chain(b: &mut Batch, ip: &IpNet, opts: &PortmapOpts) -> String {
    let (t, f) = (t(), Family::of_net(ip));
    let subnet = ip.trunc();
    let hash = sha512_hex(&format!("{subnet} {}", opts.masq_all));
    let chain = format!("hair-{}", &hash[..16]);
    let mark = format!("meta mark set meta mark | {MARK:#x}");
    b.line(format!("add chain {t} {chain}"));
    b.line(format!("flush chain {t} {chain}"));
    if opts.masq_all {
        b.line(format!("add rule {t} {chain} {mark}"));
        return chain;
    }
    b.line(format!(
        "add rule {t} {chain} {} saddr {subnet} {mark}",
        f.nft_proto()
    ));
    if f == Family::V4 {
        b.line(format!("add rule {t} {chain} ip saddr 127.0.0.0/8 {mark}"));
    }
    chain
}

/// Element commands for one mapping towards one container address.
fn mapping_ops(b: &mut Batch, ident: &str, ip: &IpNet, m: &PortMapping, hair: Option<&str>) {
    let (t, f) = (t(), Family::of_net(ip));
    let s = f.suffix();
    let (p, port) = (m.protocol.as_str(), m.host_port);
    let val = format!("{} . {}", ip.addr(), m.container_port);
    let c = format!("comment \"{ident}\"");
    let probe = |b: &mut Batch, set: &str, data: &str| {
        b.line(format!("create element {t} {set} {{ {p} . {port}{data} }}"));
        b.line(format!("delete element {t} {set} {{ {p} . {port} }}"));
    };
    let (hair_map, key) = match m.specific_host_ip() {
        Some(h) => {
            b.line(format!(
                "create element {t} hp{s}_ip {{ {p} . {h} . {port} {c} : {val} }}"
            ));
            probe(b, &format!("hp{s}_any"), &format!(" : {}", dummy(f)));
            b.line(format!("add element {t} spec{s} {{ {p} . {port} }}"));
            (format!("hair{s}_ip"), format!("{p} . {h} . {port}"))
        }
        None => {
            b.line(format!(
                "create element {t} hp{s}_any {{ {p} . {port} {c} : {val} }}"
            ));
            probe(b, &format!("spec{s}"), "");
            (format!("hair{s}_any"), format!("{p} . {port}"))
        }
    };
    if let Some(chain) = hair {
        b.line(format!(
            "add element {t} {hair_map} {{ {key} {c} : jump {chain} }}"
        ));
    }
    let tok = token(ident);
    let guard = guard_key(f, m);
    b.line(format!("add element {t} own{s} {{ {guard} . {tok} {c} }}"));
}

/// Key of a mapping in the guard set `own4`/`own6` (without the owner
/// token): `proto . host address . port`, the unspecified address standing
/// for "any host address".
pub(crate) fn guard_key(f: Family, m: &PortMapping) -> String {
    let host = match (m.specific_host_ip(), f) {
        (Some(h), _) => h.to_string(),
        (None, Family::V4) => "0.0.0.0".into(),
        (None, Family::V6) => "::".into(),
    };
    format!("{} . {host} . {}", m.protocol.as_str(), m.host_port)
}

/// The ADD batch (scaffolding + per-mapping element commands).
pub(crate) fn add_batch(
    net: &str,
    cid: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
    opts: &PortmapOpts,
) -> Batch {
    let mut b = Batch::new();
    scaffolding(&mut b);
    let ident = nft_ident(&[cid, net]);
    for ip in ips {
        let hair = opts.snat.then(|| hair_chain(&mut b, ip, opts));
        for m in maps.iter().filter(|m| m.applies_to(Family::of_net(ip))) {
            mapping_ops(&mut b, &ident, ip, m, hair.as_deref());
        }
    }
    b
}

pub(crate) fn add(
    net: &str,
    cid: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
    opts: &PortmapOpts,
) -> Result<()> {
    let batch = add_batch(net, cid, ips, maps, opts);
    match batch.run(&["nft", "-f", "-"]) {
        Err(e) if e.is_exists() => {
            let table = list_table("inet", TABLE)?.unwrap_or_default();
            let ident = nft_ident(&[cid, net]);
            find_conflict(&table, &ident, ips, maps)?;
            // Only our own (stale) elements or stale markers were in the way.
            let mut retry = delete_ops(&table, &|c| c == ident, true);
            retry.extend(&batch).run(&["nft", "-f", "-"])
        }
        other => other,
    }
}

/// Holder container id of an element comment (`<cid> <net>`).
fn holder(comment: Option<&str>) -> String {
    let c = comment.unwrap_or("?");
    c.split(' ').next().unwrap_or(c).to_string()
}

/// Names the first other container holding one of the requested sockets.
fn find_conflict(table: &Table, ident: &str, ips: &[IpNet], maps: &[PortMapping]) -> Result<()> {
    for ip in ips {
        let f = Family::of_net(ip);
        let s = f.suffix();
        for m in maps.iter().filter(|m| m.applies_to(f)) {
            let (p, port) = (m.protocol.as_str(), m.host_port.to_string());
            let any_key = format!("{p} . {port}");
            let spec = |k: &str| {
                let parts: Vec<&str> = k.split(" . ").collect();
                parts.len() == 3 && parts[0] == p && parts[2] == port
            };
            let hit = |k: &str| match m.specific_host_ip() {
                Some(h) => k == format!("{p} . {h} . {port}"),
                None => spec(k),
            };
            let held = table
                .elems(&format!("hp{s}_ip"))
                .iter()
                .filter(|e| hit(&e.key));
            let held = held.chain(
                table
                    .elems(&format!("hp{s}_any"))
                    .iter()
                    .filter(|e| e.key == any_key),
            );
            for e in held {
                if e.comment.as_deref() != Some(ident) {
                    return Err(Error::PortConflict {
                        mapping: m.to_string(),
                        holder: holder(e.comment.as_deref()),
                        held: format!("{} -> {}", e.key, e.value.as_deref().unwrap_or("?")),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Delete commands for the elements whose comment satisfies `doomed`, plus
/// markers left without any specific-IP holder (`all_markers`: also the
/// stale markers of other containers).
fn delete_ops(table: &Table, doomed: &dyn Fn(&str) -> bool, all_markers: bool) -> Batch {
    let t = t();
    let mut b = Batch::new();
    for f in Family::ALL {
        let s = f.suffix();
        let mut freed = HashSet::new();
        let mut kept = HashSet::new();
        let names = [
            "hp{s}_ip",
            "hp{s}_any",
            "hair{s}_ip",
            "hair{s}_any",
            "own{s}",
        ];
        for name in names.map(|n| n.replace("{s}", s)) {
            for e in table.elems(&name) {
                let gone = e.comment.as_deref().is_some_and(doomed);
                if gone {
                    b.line(format!("delete element {t} {name} {{ {} }}", e.key));
                }
                if name.starts_with("hp") && name.ends_with("_ip") {
                    let parts: Vec<&str> = e.key.split(" . ").collect();
                    let pp = format!("{} . {}", parts[0], parts.last().unwrap_or(&""));
                    if gone {
                        freed.insert(pp)
                    } else {
                        kept.insert(pp)
                    };
                }
            }
        }
        for e in table.elems(&format!("spec{s}")) {
            let stale = !kept.contains(&e.key) && (all_markers || freed.contains(&e.key));
            if stale {
                b.line(format!("delete element {t} spec{s} {{ {} }}", e.key));
            }
        }
    }
    b
}

pub(crate) fn del(net: &str, cid: &str) -> Result<()> {
    let Some(table) = list_table("inet", TABLE)? else {
        return Ok(());
    };
    let ident = nft_ident(&[cid, net]);
    let b = delete_ops(&table, &|c| c == ident, false);
    if b.is_empty() {
        return Ok(());
    }
    b.run(&["nft", "-f", "-"])
}

pub(crate) fn gc(net: &str, valid: &[&str]) -> Result<()> {
    let Some(table) = list_table("inet", TABLE)? else {
        return Ok(());
    };
    let keep: HashSet<String> = valid.iter().map(|c| nft_ident(&[c, net])).collect();
    let suffix = format!(" {net}");
    let doomed = |c: &str| !c.starts_with('#') && c.ends_with(&suffix) && !keep.contains(c);
    let b = delete_ops(&table, &doomed, true);
    if b.is_empty() {
        return Ok(());
    }
    b.run(&["nft", "-f", "-"])
}

pub(crate) fn check(net: &str, cid: &str, ips: &[IpNet], maps: &[PortMapping]) -> Result<()> {
    let table =
        list_table("inet", TABLE)?.ok_or_else(|| Error::Missing(format!("table inet {TABLE}")))?;
    let ident = nft_ident(&[cid, net]);
    for ip in ips {
        let f = Family::of_net(ip);
        for m in maps.iter().filter(|m| m.applies_to(f)) {
            let (p, port) = (m.protocol.as_str(), m.host_port);
            let (map, key) = match m.specific_host_ip() {
                Some(h) => (
                    format!("hp{}_ip", f.suffix()),
                    format!("{p} . {h} . {port}"),
                ),
                None => (format!("hp{}_any", f.suffix()), format!("{p} . {port}")),
            };
            let val = format!("{} . {}", ip.addr(), m.container_port);
            let ok = table.elems(&map).iter().any(|e| {
                e.key == key
                    && e.value.as_deref() == Some(&val)
                    && e.comment.as_deref() == Some(&ident)
            });
            if !ok {
                return Err(Error::Missing(format!("port mapping {m} for {ip}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "nft_portmap_tests.rs"]
mod tests;
