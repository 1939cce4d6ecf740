//! Port-mapping ADD on nftables: element-only fast path, full batch, and
//! the conflict path.
//!
//! 1. **Fast path.** When the node's table already has the current layout
//!    and the hair chains of the pod subnets (netlink `GETSET layout_v2`
//!    and `GETCHAIN hair-…`, no process), one `nft -f -` of
//!    element creations only, per mapping and container family:
//!    ```text
//!    create element … hp4_any { tcp . 8080 comment "<cid> <net>" : 10.88.0.2 . 80 }
//!    add element … hold4 { tcp . 8080 : 0x1 }     # 0x1 any-address, 0x2 specific holder(s)
//!    add element … hair4_any { tcp . 8080 comment "…" : jump hair-<hash> }
//!    add element … own4 { tcp . 0.0.0.0 . 8080 . <token> comment "…" }
//!    ```
//!    Nothing is flushed or deleted, so the commit does not wait for RCU.
//! 2. **Full batch** (first ADD on the node, a layout change, a new pod
//!    subnet, or the fast batch failed with "No such file"):
//!    scaffolding, hair chains and the same element commands. Before the
//!    layout marker exists, the markers of mappings written by an older
//!    layout are added from one read.
//! 3. **Conflict path** (`File exists`): one read names the holder
//!    ([`Error::PortConflict`]); when only this container's own elements
//!    or stale markers were in the way, they are deleted and the full
//!    batch runs again in the same transaction (a retried ADD).
//!
//! All four overlaps fail inside the kernel transaction, atomically: the
//! same socket by `create` of the `hp` element; any-address against
//! specific-address (either way round) by the `hold` marker, because `add
//! element` of an existing map key with *other* data fails with `File
//! exists`, while equal data is a no-op (several specific holders of one
//! port share the `0x2` marker).

use crate::exec::Batch;
use crate::names::{nft_ident, sha512_hex};
use crate::nfnl::{NFPROTO_INET, chain_exists, set_exists, table_exists};
use crate::nft_guard::token;
use crate::nft_json::{Table, list_table};
use crate::nft_portmap::{
    HOLD_ANY, HOLD_SPEC, LAYOUT, MARK, TABLE, delete_ops, guard_key, holder, port_key, scaffolding,
};
use crate::{Error, Family, PortMapping, PortmapOpts, Result};
use ipnet::IpNet;
use std::collections::BTreeMap;

const NFT: [&str; 3] = ["nft", "-f", "-"];

fn t() -> String {
    format!("inet {TABLE}")
}

/// Name of the per pod-subnet chain marking hairpin/localhost sources.
fn hair_name(ip: &IpNet, opts: &PortmapOpts) -> String {
    let hash = sha512_hex(&format!("{} {}", ip.trunc(), opts.masq_all));
    format!("hair-{}", &hash[..16])
}

/// Writes (rewrites) the hair chain of `ip`'s subnet; returns its name.
pub(crate) fn hair_chain(b: &mut Batch, ip: &IpNet, opts: &PortmapOpts) -> String {
    let (t, f) = (t(), Family::of_net(ip));
    let chain = hair_name(ip, opts);
    let mark = format!("meta mark set meta mark | {MARK:#x}");
    b.line(format!("add chain {t} {chain}"));
    b.line(format!("flush chain {t} {chain}"));
    if opts.masq_all {
        b.line(format!("add rule {t} {chain} {mark}"));
        return chain;
    }
    let subnet = ip.trunc();
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
pub(crate) fn mapping_ops(
    b: &mut Batch,
    ident: &str,
    ip: &IpNet,
    m: &PortMapping,
    hair: Option<&str>,
) {
    let (t, f) = (t(), Family::of_net(ip));
    let s = f.suffix();
    let (p, port) = (m.protocol.as_str(), m.host_port);
    let val = format!("{} . {}", ip.addr(), m.container_port);
    let c = format!("comment \"{ident}\"");
    let (kind, key, hold) = match m.specific_host_ip() {
        Some(h) => ("ip", format!("{p} . {h} . {port}"), HOLD_SPEC),
        None => ("any", format!("{p} . {port}"), HOLD_ANY),
    };
    b.line(format!(
        "create element {t} hp{s}_{kind} {{ {key} {c} : {val} }}"
    ));
    b.line(format!(
        "add element {t} hold{s} {{ {p} . {port} : {hold:#x} }}"
    ));
    if let Some(chain) = hair {
        b.line(format!(
            "add element {t} hair{s}_{kind} {{ {key} {c} : jump {chain} }}"
        ));
    }
    let tok = token(ident);
    let guard = guard_key(f, m);
    b.line(format!("add element {t} own{s} {{ {guard} . {tok} {c} }}"));
}

/// The element commands of a request; `full` also (re)writes hair chains.
fn elements(
    b: &mut Batch,
    ident: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
    opts: &PortmapOpts,
    full: bool,
) {
    for ip in ips {
        let hair = match (opts.snat, full) {
            (false, _) => None,
            (true, true) => Some(hair_chain(b, ip, opts)),
            (true, false) => Some(hair_name(ip, opts)),
        };
        for m in maps.iter().filter(|m| m.applies_to(Family::of_net(ip))) {
            mapping_ops(b, ident, ip, m, hair.as_deref());
        }
    }
}

/// The fast batch: element creations only.
pub(crate) fn fast_batch(
    net: &str,
    cid: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
    opts: &PortmapOpts,
) -> Batch {
    let mut b = Batch::new();
    elements(&mut b, &nft_ident(&[cid, net]), ips, maps, opts, false);
    b
}

/// The full batch: scaffolding, `extra` (markers of an older layout),
/// hair chains and element commands.
pub(crate) fn add_batch(
    net: &str,
    cid: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
    opts: &PortmapOpts,
    extra: &Batch,
) -> Batch {
    let mut b = Batch::new();
    scaffolding(&mut b);
    b.extend(extra);
    elements(&mut b, &nft_ident(&[cid, net]), ips, maps, opts, true);
    b
}

/// `hold` markers for the mappings present in `table` (written by a layout
/// without them), except those of `ident` (about to be deleted); a port
/// claimed both ways keeps no marker.
pub(crate) fn markers(table: &Table, ident: &str) -> Batch {
    let mut b = Batch::new();
    for f in Family::ALL {
        let s = f.suffix();
        let mut want: BTreeMap<String, Option<u32>> = BTreeMap::new();
        for (kind, v) in [("ip", HOLD_SPEC), ("any", HOLD_ANY)] {
            let elems = table.elems(&format!("hp{s}_{kind}")).iter();
            for e in elems.filter(|e| e.comment.as_deref() != Some(ident)) {
                let slot = want.entry(port_key(&e.key)).or_insert(Some(v));
                *slot = slot.filter(|old| *old == v);
            }
        }
        for (pp, v) in want {
            if let Some(v) = v {
                b.line(format!("add element {} hold{s} {{ {pp} : {v:#x} }}", t()));
            }
        }
    }
    b
}

/// Whether the node's table has the current layout and the hair chains
/// the request jumps to (netlink queries, no process).
fn layout_ready(ips: &[IpNet], opts: &PortmapOpts) -> bool {
    let hair = |ip: &IpNet| chain_exists(NFPROTO_INET, TABLE, &hair_name(ip, opts)) == Some(true);
    set_exists(NFPROTO_INET, TABLE, LAYOUT) == Some(true) && (!opts.snat || ips.iter().all(hair))
}

pub(crate) fn add(
    net: &str,
    cid: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
    opts: &PortmapOpts,
) -> Result<()> {
    let ready = layout_ready(ips, opts);
    if ready {
        match fast_batch(net, cid, ips, maps, opts).run(&NFT) {
            Ok(()) => return Ok(()),
            Err(e) if e.is_exists() => return conflict(net, cid, ips, maps, opts, false),
            // Something is missing (a new subnet's hair chain, the table
            // gone): the full batch.
            Err(_) => {}
        }
    }
    let mut extra = Batch::new();
    let old = !ready && set_exists(NFPROTO_INET, TABLE, LAYOUT) != Some(true);
    if old && table_exists(NFPROTO_INET, TABLE) != Some(false) {
        // An older layout: its mappings get their markers.
        if let Some(table) = list_table("inet", TABLE)? {
            extra = markers(&table, "");
        }
    }
    match add_batch(net, cid, ips, maps, opts, &extra).run(&NFT) {
        Err(e) if e.is_exists() => conflict(net, cid, ips, maps, opts, old),
        other => other,
    }
}

/// Step 3: read, name the holder, or clear our own leftovers and retry once.
fn conflict(
    net: &str,
    cid: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
    opts: &PortmapOpts,
    migrate: bool,
) -> Result<()> {
    let table = list_table("inet", TABLE)?.unwrap_or_default();
    let ident = nft_ident(&[cid, net]);
    find_conflict(&table, &ident, ips, maps)?;
    // Only our own (stale) elements or stale markers were in the way.
    let mut retry = delete_ops(&table, &|c| c == ident, true);
    let extra = if migrate {
        markers(&table, &ident)
    } else {
        Batch::new()
    };
    retry
        .extend(&add_batch(net, cid, ips, maps, opts, &extra))
        .run(&NFT)
}

/// Names the first other container holding one of the requested sockets.
fn find_conflict(table: &Table, ident: &str, ips: &[IpNet], maps: &[PortMapping]) -> Result<()> {
    for ip in ips {
        let s = Family::of_net(ip).suffix();
        for m in maps.iter().filter(|m| m.applies_to(Family::of_net(ip))) {
            let (p, port) = (m.protocol.as_str(), m.host_port);
            let any_key = format!("{p} . {port}");
            let hit = |k: &str| match m.specific_host_ip() {
                Some(h) => k == format!("{p} . {h} . {port}"),
                None => k.split(" . ").count() == 3 && port_key(k) == any_key,
            };
            let spec = table.elems(&format!("hp{s}_ip")).iter();
            let any = table.elems(&format!("hp{s}_any")).iter();
            let held = spec.filter(|e| hit(&e.key));
            let mut held = held.chain(any.filter(|e| e.key == any_key));
            if let Some(e) = held.find(|e| e.comment.as_deref() != Some(ident)) {
                return Err(Error::PortConflict {
                    mapping: m.to_string(),
                    holder: holder(e.comment.as_deref()),
                    held: format!("{} -> {}", e.key, e.value.as_deref().unwrap_or("?")),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "nft_portmap_tests.rs"]
mod tests;
