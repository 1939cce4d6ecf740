//! Our nftables layout (the default backend): table `inet ferrocni_firewall`.
//!
//! ```text
//! table inet ferrocni_firewall {
//!   set pods4 { type ipv4_addr }          # one element per pod address,
//!   set pods6 { type ipv6_addr }          #   comment "<cid> <ifname> <net>"
//!   map ingress { type ifname : verdict } # bridge -> goto fw-<hash(net)>
//!   chain forward { type filter hook forward priority filter; policy accept;
//!     ct state established,related accept  # replies always pass
//!     ct status dnat accept                # hostPort (DNATed) traffic
//!     oifname vmap @ingress }              # into an opted-in network?
//!   chain fw-<16 hex of sha512(net)> {     # one per opted-in network
//!     iifname "<bridge>" return            # same-bridge only
//!     meta iifkind != "bridge" return      # node uplinks, not another bridge
//!     ip saddr <cidr> tcp dport <ports> return   # allow rules
//!     counter drop }
//! }
//! ```
//! ADD writes a constant-size batch (plus one line per allow port): the
//! scaffolding is idempotent, the pod is one element per address. DEL, CHECK
//! and GC read the table once; the network's chain and map element go with
//! its last pod, the table with the last pod of all.

use crate::attach::Attachment;
use crate::config::{Allow, FwConf, Policy};
use crate::error::{FwError, Result};
use crate::exec::{read, run_with_output};
use crate::nftjson::{Elem, Table, parse_table};
use fwkit::Batch;
use sha2::{Digest, Sha512};
use std::net::IpAddr;

pub const TABLE: &str = "ferrocni_firewall";
const T: &str = "inet ferrocni_firewall";
const SETS: [&str; 2] = ["pods4", "pods6"];

/// The network's ingress chain.
pub fn net_chain(net: &str) -> String {
    let d = Sha512::digest(net.as_bytes());
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("fw-{hex}")
}

fn set_of(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => SETS[0],
        IpAddr::V6(_) => SETS[1],
    }
}

fn scaffolding(b: &mut Batch) {
    b.line(format!("add table {T}"));
    b.line(format!("add set {T} pods4 {{ type ipv4_addr ; }}"));
    b.line(format!("add set {T} pods6 {{ type ipv6_addr ; }}"));
    b.line(format!("add map {T} ingress {{ type ifname : verdict ; }}"));
    b.line(format!(
        "add chain {T} forward {{ type filter hook forward priority filter ; policy accept ; }}"
    ));
    b.line(format!("flush chain {T} forward"));
    b.line(format!(
        "add rule {T} forward ct state established,related accept"
    ));
    b.line(format!("add rule {T} forward ct status dnat accept"));
    b.line(format!("add rule {T} forward oifname vmap @ingress"));
}

/// One `return` rule per allow entry and port spec.
fn allow_lines(b: &mut Batch, chain: &str, allow: &[Allow]) {
    for a in allow {
        let fam = match a.from {
            ipnet::IpNet::V4(_) => "ip",
            ipnet::IpNet::V6(_) => "ip6",
        };
        let from = format!("{fam} saddr {}", a.from);
        if a.ports.is_empty() {
            b.line(format!("add rule {T} {chain} {from} return"));
        }
        for p in &a.ports {
            let ports = if p.first == p.last {
                p.first.to_string()
            } else {
                format!("{}-{}", p.first, p.last)
            };
            let proto = p.proto.as_str();
            b.line(format!(
                "add rule {T} {chain} {from} {proto} dport {ports} return"
            ));
        }
    }
}

/// The network's chain and its `ingress` element (policy ≠ open).
fn network(b: &mut Batch, net: &str, bridge: &str, conf: &FwConf) {
    let chain = net_chain(net);
    b.line(format!("add chain {T} {chain}"));
    b.line(format!("flush chain {T} {chain}"));
    if conf.policy == Policy::SameBridge {
        b.line(format!("add rule {T} {chain} iifname \"{bridge}\" return"));
    }
    b.line(format!(
        "add rule {T} {chain} meta iifkind != \"bridge\" return"
    ));
    allow_lines(b, &chain, &conf.allow);
    b.line(format!(
        "add rule {T} {chain} counter drop comment \"{net} ingressPolicy {}\"",
        conf.policy.as_str()
    ));
    b.line(format!(
        "add element {T} ingress {{ \"{bridge}\" comment \"{net}\" : goto {chain} }}"
    ));
}

/// The whole ADD batch.
pub fn add_batch(att: &Attachment, conf: &FwConf) -> Batch {
    let mut b = Batch::new();
    scaffolding(&mut b);
    if let (Some(br), true) = (&att.bridge, conf.policy != Policy::Open) {
        network(&mut b, &att.net, br, conf);
    }
    let ident = att.ident();
    for ip in &att.ips {
        let s = set_of(ip);
        // add, delete, add: a stale element for the same address ends up
        // with this attachment's comment, in the same transaction.
        b.line(format!("add element {T} {s} {{ {ip} }}"));
        b.line(format!("delete element {T} {s} {{ {ip} }}"));
        b.line(format!(
            "add element {T} {s} {{ {ip} comment \"{ident}\" }}"
        ));
    }
    b
}

/// Applies the ADD batch and returns the listing of the `ip`/`ip6` chains
/// it ends with (to see iptables' FORWARD policy without another exec). A
/// bridge still mapped to another network's chain (a renamed network) is
/// re-pointed on the error path only.
pub fn add(att: &Attachment, conf: &FwConf) -> Result<String> {
    let mut batch = add_batch(att, conf);
    batch.line("list chains ip").line("list chains ip6");
    let argv = ["nft", "-f", "-"];
    match run_with_output(&argv, batch.text()) {
        Err(FwError::Exec { msg, .. }) if msg.contains("File exists") => {
            let mut fix = Batch::new();
            if let Some(br) = &att.bridge {
                fix.line(format!("delete element {T} ingress {{ \"{br}\" }}"));
            }
            run_with_output(&argv, fix.extend(&batch).text())
        }
        other => other,
    }
}

/// Lists our table; `None` when it does not exist.
pub fn list() -> Result<Option<Table>> {
    match read(&["nft", "-j", "list", "table", "inet", TABLE])? {
        Some(text) => parse_table(&text).map(Some),
        None => Ok(None),
    }
}

/// True when the element may belong to `net` (hashed identities cannot be
/// attributed, so they count as "maybe").
fn maybe_of(e: &Elem, net: &str) -> bool {
    let c = e.comment.as_deref().unwrap_or("");
    c.starts_with('#') || c.ends_with(&format!(" {net}"))
}

/// Deletes the pod elements `doomed` selects, the network's scaffolding when
/// none of its pods remain, the table when no pod remains. Returns the
/// batch and the addresses removed.
pub fn removal(table: &Table, net: &str, doomed: &dyn Fn(&Elem) -> bool) -> (Batch, Vec<IpAddr>) {
    let (mut b, mut ips) = (Batch::new(), Vec::new());
    let (mut left_net, mut left_any) = (false, false);
    for s in SETS {
        for e in table.elems(s) {
            if doomed(e) {
                b.line(format!("delete element {T} {s} {{ {} }}", e.key));
                ips.extend(e.key.parse::<IpAddr>().ok());
            } else {
                left_any = true;
                left_net |= maybe_of(e, net);
            }
        }
    }
    if !left_any {
        let mut all = Batch::new();
        all.line(format!("delete table {T}"));
        return (all, ips);
    }
    if !left_net {
        scaffolding_removal(&mut b, table, net);
    }
    (b, ips)
}

fn scaffolding_removal(b: &mut Batch, table: &Table, net: &str) {
    let chain = net_chain(net);
    let target = format!("goto {chain}");
    for e in table.elems("ingress") {
        if e.value.as_deref() == Some(target.as_str()) {
            b.line(format!("delete element {T} ingress {{ \"{}\" }}", e.key));
        }
    }
    if table.has_chain(&chain) {
        b.line(format!("delete chain {T} {chain}"));
    }
}

/// Runs a removal batch (nothing when empty).
pub fn run(b: &Batch) -> Result<()> {
    if !b.is_empty() {
        b.run(&["nft", "-f", "-"])?;
    }
    Ok(())
}

/// CHECK: the pod's elements, the network's chain and map element.
pub fn check(att: &Attachment, conf: &FwConf) -> Result<()> {
    let table = list()?.ok_or_else(|| FwError::Missing(format!("table {T}")))?;
    if !table.has_chain("forward") {
        return Err(FwError::Missing(format!("chain {T} forward")));
    }
    let ident = att.ident();
    for ip in &att.ips {
        let key = ip.to_string();
        let found = table
            .elems(set_of(ip))
            .iter()
            .any(|e| e.key == key && e.comment.as_deref() == Some(ident.as_str()));
        if !found {
            return Err(FwError::Missing(format!(
                "{T} {} element {key} ({ident})",
                set_of(ip)
            )));
        }
    }
    if let (Some(br), true) = (&att.bridge, conf.policy != Policy::Open) {
        let chain = net_chain(&att.net);
        let target = format!("goto {chain}");
        let mapped = table
            .elems("ingress")
            .iter()
            .any(|e| &e.key == br && e.value.as_deref() == Some(target.as_str()));
        if !mapped || !table.has_chain(&chain) {
            return Err(FwError::Missing(format!(
                "ingress policy of {br} ({chain})"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;
