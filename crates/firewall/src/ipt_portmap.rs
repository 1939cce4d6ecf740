//! Port mappings on iptables, the reference layout (table `nat`):
//!
//! ```text
//! -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT      (once)
//! -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT          (once)
//! -I POSTROUTING 1 -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
//! -A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
//! -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
//! -I CNI-HOSTPORT-DNAT 1 -m comment --comment "dnat name: \"<net>\" id: \"<cid>\"" -m multiport -p tcp --destination-ports 80,443 [conditions] -j CNI-DN-<hash>
//! -A CNI-DN-<hash> -p tcp --dport 80 [-d hostIP] -s <pod subnet> -j CNI-HOSTPORT-SETMARK
//! -A CNI-DN-<hash> -p tcp --dport 80 [-d hostIP] -s 127.0.0.1 -j CNI-HOSTPORT-SETMARK   (v4)
//! -A CNI-DN-<hash> -p tcp --dport 80 [-d hostIP] -j DNAT --to-destination <pod>:<port>
//! ```
//! One `iptables-save -t nat` and one `iptables-restore --noflush` per family.

use crate::exec::Batch;
use crate::ipt_masq::remove_chain_lines;
use crate::ipt_save::{SaveTable, restore_nat, save_nat};
use crate::names::{dnat_comment, ipt_quote, portmap_dn_chain, portmap_sn_chain};
use crate::{Error, Family, Flavor, PortMapping, PortmapOpts, Protocol, Result};
use ipnet::IpNet;
use std::net::IpAddr;

const DNAT: &str = "CNI-HOSTPORT-DNAT";
const SETMARK: &str = "CNI-HOSTPORT-SETMARK";
const MASQ: &str = "CNI-HOSTPORT-MASQ";

fn mark_def(bit: u8) -> String {
    let v = 1u32 << bit;
    format!("{v:#x}/{v:#x}")
}

/// Quotes one iptables argument when it needs it.
fn arg(a: &str) -> String {
    let plain = !a.is_empty()
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\');
    if plain { a.to_string() } else { ipt_quote(a) }
}

/// Shared chains and jumps, only what is missing from `cur`.
pub(crate) fn scaffolding_lines(cur: &SaveTable, opts: &PortmapOpts) -> Batch {
    let mut b = Batch::new();
    let jumps = |chain: &str, to: &str| cur.chain_rules(chain).any(|r| r.target() == Some(to));
    if !cur.has_chain(DNAT) {
        b.line(format!(":{DNAT} - [0:0]"));
    }
    for entry in ["PREROUTING", "OUTPUT"] {
        if !jumps(entry, DNAT) {
            b.line(format!("-A {entry} -m addrtype --dst-type LOCAL -j {DNAT}"));
        }
    }
    if opts.snat && opts.external_set_mark_chain.is_none() {
        let mark = mark_def(opts.mark_masq_bit);
        if !cur.has_chain(SETMARK) {
            b.line(format!(":{SETMARK} - [0:0]"));
            b.line(format!(
                "-A {SETMARK} -m comment --comment \"CNI portfwd masquerade mark\" -j MARK --set-xmark {mark}"
            ));
        }
        if !cur.has_chain(MASQ) {
            b.line(format!(":{MASQ} - [0:0]"));
            b.line(format!("-A {MASQ} -m mark --mark {mark} -j MASQUERADE"));
        }
        if !jumps("POSTROUTING", MASQ) {
            b.line(format!(
                "-I POSTROUTING 1 -m comment --comment \"CNI portfwd requiring masquerade\" -j {MASQ}"
            ));
        }
    }
    b
}

fn to_dest(ip: &IpNet, port: u16) -> String {
    match ip.addr() {
        IpAddr::V6(a) => format!("[{a}]:{port}"),
        a => format!("{a}:{port}"),
    }
}

/// Entry rules (prepended, so inserted last-first) for the attachment.
fn entry_lines(b: &mut Batch, chain: &str, comment: &str, maps: &[PortMapping], conds: &[String]) {
    let mut lines = Vec::new();
    for proto in [Protocol::Sctp, Protocol::Tcp, Protocol::Udp] {
        let ports: Vec<String> = maps
            .iter()
            .filter(|m| m.protocol == proto)
            .map(|m| m.host_port.to_string())
            .collect();
        for chunk in ports.chunks(15) {
            let mut l = format!(
                "-m comment --comment {} -m multiport -p {} --destination-ports {}",
                ipt_quote(comment),
                proto.as_str(),
                chunk.join(",")
            );
            for c in conds {
                l.push(' ');
                l.push_str(&arg(c));
            }
            lines.push(format!("{l} -j {chain}"));
        }
    }
    for l in lines.iter().rev() {
        b.line(format!("-I {DNAT} 1 {l}"));
    }
}

/// The per-attachment chain and its entry rules for one container address.
pub(crate) fn dn_lines(
    net: &str,
    cid: &str,
    ip: &IpNet,
    maps: &[PortMapping],
    opts: &PortmapOpts,
) -> Batch {
    let f = Family::of_net(ip);
    let chain = portmap_dn_chain(net, cid);
    let mut b = Batch::new();
    b.line(format!(":{chain} - [0:0]"));
    let conds = match f {
        Family::V4 => &opts.conditions_v4,
        Family::V6 => &opts.conditions_v6,
    };
    entry_lines(&mut b, &chain, &dnat_comment(net, cid), maps, conds);
    let setmark = opts.external_set_mark_chain.as_deref().unwrap_or(SETMARK);
    for m in maps.iter().filter(|m| m.applies_to(f)) {
        let mut base = format!("-p {} --dport {}", m.protocol.as_str(), m.host_port);
        if let Some(h) = m.specific_host_ip() {
            base.push_str(&format!(" -d {h}"));
        }
        if opts.snat {
            let src = match (opts.masq_all, f) {
                (true, Family::V4) => "0.0.0.0/0".to_string(),
                (true, Family::V6) => "::/0".to_string(),
                (false, _) => ip.trunc().to_string(),
            };
            b.line(format!("-A {chain} {base} -s {src} -j {setmark}"));
            if f == Family::V4 && !opts.masq_all {
                b.line(format!("-A {chain} {base} -s 127.0.0.1 -j {setmark}"));
            }
        }
        let dest = to_dest(ip, m.container_port);
        b.line(format!("-A {chain} {base} -j DNAT --to-destination {dest}"));
    }
    b
}

/// Container id in a `dnat name: "<net>" id: "<cid>"` comment of `net`.
fn dnat_cid<'a>(comment: &'a str, net: Option<&str>) -> Option<&'a str> {
    let rest = comment.strip_prefix("dnat name: \"")?;
    let (n, rest) = rest.split_once("\" id: \"")?;
    if net.is_some_and(|net| net != n) {
        return None;
    }
    rest.strip_suffix('"')
}

/// Another attachment's DNAT rule overlapping one of `maps`.
pub(crate) fn find_conflict(
    cur: &SaveTable,
    own: &str,
    f: Family,
    maps: &[PortMapping],
) -> Result<()> {
    let owner = |chain: &str| {
        cur.chain_rules(DNAT)
            .filter(|r| r.target() == Some(chain))
            .find_map(|r| r.comment().and_then(|c| dnat_cid(c, None)))
            .unwrap_or(chain)
            .to_string()
    };
    for r in cur
        .rules
        .iter()
        .filter(|r| r.chain.starts_with("CNI-DN-") && r.chain != own)
    {
        if r.target() != Some("DNAT") {
            continue;
        }
        let (Some(p), Some(port)) = (r.arg("-p"), r.arg("--dport")) else {
            continue;
        };
        let (Ok(protocol), Ok(host_port)) = (Protocol::parse(p), port.parse()) else {
            continue;
        };
        let host_ip = r.arg("-d").and_then(|d| d.split('/').next()?.parse().ok());
        let held = PortMapping {
            host_ip,
            host_port,
            container_port: 1,
            protocol,
        };
        if let Some(m) = maps.iter().find(|m| m.applies_to(f) && m.overlaps(&held)) {
            return Err(Error::PortConflict {
                mapping: m.to_string(),
                holder: owner(&r.chain),
                held: format!("{} {}", r.chain, r.spec),
            });
        }
    }
    Ok(())
}

pub(crate) fn add(
    flavor: Flavor,
    net: &str,
    cid: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
    opts: &PortmapOpts,
) -> Result<()> {
    let chain = portmap_dn_chain(net, cid);
    for ip in ips {
        let f = Family::of_net(ip);
        let cur = save_nat(flavor, f)?;
        find_conflict(&cur, &chain, f, maps)?;
        let mut b = scaffolding_lines(&cur, opts);
        for r in cur
            .rules
            .iter()
            .filter(|r| r.target() == Some(chain.as_str()))
        {
            b.line(r.delete_line());
        }
        b.extend(&dn_lines(net, cid, ip, maps, opts));
        restore_nat(flavor, f, &b)?;
    }
    Ok(())
}

pub(crate) fn del(flavor: Flavor, net: &str, cid: &str) -> Result<()> {
    let chains = [portmap_dn_chain(net, cid), portmap_sn_chain(net, cid)];
    for f in Family::ALL {
        let Ok(cur) = save_nat(flavor, f) else {
            continue;
        };
        let mut b = Batch::new();
        for c in &chains {
            b.extend(&remove_chain_lines(c, &cur));
        }
        restore_nat(flavor, f, &b)?;
    }
    Ok(())
}

pub(crate) fn check(
    flavor: Flavor,
    net: &str,
    cid: &str,
    ips: &[IpNet],
    maps: &[PortMapping],
) -> Result<()> {
    let chain = portmap_dn_chain(net, cid);
    for ip in ips {
        let f = Family::of_net(ip);
        let cur = save_nat(flavor, f)?;
        let entry = cur
            .chain_rules(DNAT)
            .any(|r| r.target() == Some(chain.as_str()));
        for m in maps.iter().filter(|m| m.applies_to(f)) {
            let (port, dest) = (m.host_port.to_string(), to_dest(ip, m.container_port));
            let ok = cur.chain_rules(&chain).any(|r| {
                r.arg("--dport") == Some(port.as_str())
                    && r.arg("--to-destination") == Some(dest.as_str())
                    && r.arg("-p") == Some(m.protocol.as_str())
            });
            if !(ok && entry) {
                return Err(Error::Missing(format!("{chain}: port mapping {m}")));
            }
        }
    }
    Ok(())
}

pub(crate) fn gc(flavor: Flavor, net: &str, valid: &[&str]) -> Result<()> {
    for f in Family::ALL {
        let Ok(cur) = save_nat(flavor, f) else {
            continue;
        };
        let mut doomed: Vec<&str> = Vec::new();
        for r in cur.chain_rules(DNAT) {
            let cid = r.comment().and_then(|c| dnat_cid(c, Some(net)));
            if let (Some(cid), Some(t)) = (cid, r.target())
                && !valid.contains(&cid)
                && !doomed.contains(&t)
            {
                doomed.push(t);
            }
        }
        let mut b = Batch::new();
        for c in doomed {
            b.extend(&remove_chain_lines(c, &cur));
        }
        restore_nat(flavor, f, &b)?;
    }
    Ok(())
}
