//! Port mappings on nftables: table `inet ferrocni_hostport`.
//!
//! ```text
//! map hp4_ip    { type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service }
//! map hp4_any   { type inet_proto . inet_service : ipv4_addr . inet_service }
//! map hair4_ip  { type inet_proto . ipv4_addr . inet_service : verdict }  # -> jump hair-<hash>
//! map hair4_any { type inet_proto . inet_service : verdict }
//! map hold4     { type inet_proto . inet_service : mark }
//!               # 0x1: held for any host address; 0x2: by specific-address holder(s)
//! set own4      { type inet_proto . ipv4_addr . inet_service . ipv6_addr }
//!               # guard: key (0.0.0.0 = any) . owner token, see nft_guard
//! (and the same with 6 / ipv6_addr)
//! set layout_v2 { type mark }   # empty; present = this layout (ADD fast path)
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
//! `<cid> <net>`. ADD (`nft_portmap_add`) is normally one `nft -f -` of
//! element creations only, whose size depends only on the request; the
//! kernel rejects a taken host socket atomically (`create element` of the
//! mapping, `add element` of the `hold` marker with the holder kind), and
//! only then is the table read to name the holder.

use crate::exec::Batch;
use crate::names::nft_ident;
use crate::nft_json::{Table, list_table};
use crate::{Error, Family, PortMapping, Result};
use ipnet::IpNet;
use std::collections::HashSet;

pub(crate) const TABLE: &str = "ferrocni_hostport";
/// Packet mark meaning "masquerade me" (the reference's default bit 13).
pub(crate) const MARK: u32 = 0x2000;
/// Layout marker (an empty set): present exactly when the table has this
/// layout, so ADD may take the element-only fast path.
pub(crate) const LAYOUT: &str = "layout_v2";
/// `hold4`/`hold6` values: the port is held for any host address, or by
/// one or more specific-address holders.
pub(crate) const HOLD_ANY: u32 = 1;
pub(crate) const HOLD_SPEC: u32 = 2;

fn t() -> String {
    format!("inet {TABLE}")
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
            "add map {t} hold{s} {{ type inet_proto . inet_service : mark ; }}"
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
    b.line(format!("add set {t} {LAYOUT} {{ type mark ; }}"));
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
    base_rules(b, &t);
}

/// The base chains' rules (after their flush).
fn base_rules(b: &mut Batch, t: &str) {
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

/// `proto . port` of an `hp` key (`proto . host . port` or `proto . port`).
pub(crate) fn port_key(key: &str) -> String {
    let parts: Vec<&str> = key.split(" . ").collect();
    format!("{} . {}", parts[0], parts.last().unwrap_or(&""))
}

/// Holder container id of an element comment (`<cid> <net>`).
pub(crate) fn holder(comment: Option<&str>) -> String {
    let c = comment.unwrap_or("?");
    c.split(' ').next().unwrap_or(c).to_string()
}

/// Delete commands for the elements whose comment satisfies `doomed`, plus
/// markers left without any specific-IP holder (`all_markers`: also the
/// stale markers of other containers).
pub(crate) fn delete_ops(table: &Table, doomed: &dyn Fn(&str) -> bool, all_markers: bool) -> Batch {
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
                if name.starts_with("hp") {
                    let pp = port_key(&e.key);
                    if gone {
                        freed.insert(pp)
                    } else {
                        kept.insert(pp)
                    };
                }
            }
        }
        // `spec` markers: the previous layout's (specific holders only).
        for set in [format!("hold{s}"), format!("spec{s}")] {
            for e in table.elems(&set) {
                let stale = !kept.contains(&e.key) && (all_markers || freed.contains(&e.key));
                if stale {
                    b.line(format!("delete element {t} {set} {{ {} }}", e.key));
                }
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
