//! The read-only look for rules the reference `portmap` made for one
//! attachment (DEL without a record): its `CNI-DN-<hash>` chain.
//!
//! No process when there is nothing: iptables-nft chains are asked for over
//! nf_tables netlink (`NFT_MSG_GETCHAIN` in table `nat` of `ip` and `ip6`),
//! and legacy x_tables are only read when this netns has a legacy `nat`
//! table (`/proc/net/ip{,6}_tables_names`). Only when the chain exists is
//! `ip[6]tables-<flavor>-save -t nat` run, to learn the pod addresses (its
//! DNAT targets, for conntrack).

use std::io;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use fwkit::Flavor;

use crate::nfsock::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, Socket, errno_of,
};
use crate::nlattr;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;

/// What the read-only look found of the reference's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRules {
    pub flavor: Flavor,
    /// The pods' addresses in the chain's DNAT targets (for conntrack).
    pub pod_ips: Vec<IpAddr>,
}

/// What to ask nf_tables about a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Does the chain exist (`NFT_MSG_GETCHAIN`)?
    Exists,
    /// Does it hold any rule (`NFT_MSG_GETRULE` dump filtered to it)?
    HasRules,
}

/// The request for `ask` about `table`/`chain` in `family`.
pub fn request(ask: Ask, family: u8, seq: u32, table: &str, chain: &str) -> Vec<u8> {
    let mut body = vec![family, 0, 0, 0];
    let cstr = |s: &str| [s.as_bytes(), &[0]].concat();
    let (msg, name_attr, flags) = match ask {
        Ask::Exists => (NFT_MSG_GETCHAIN, NFTA_CHAIN_NAME, NLM_F_REQUEST | NLM_F_ACK),
        Ask::HasRules => (NFT_MSG_GETRULE, NFTA_RULE_CHAIN, NLM_F_REQUEST | NLM_F_DUMP),
    };
    nlattr::put(&mut body, NFTA_CHAIN_TABLE, &cstr(table));
    nlattr::put(&mut body, name_attr, &cstr(chain));
    nlattr::message((NFNL_SUBSYS_NFTABLES << 8) | msg, flags, seq, &body)
}

/// Answers `ask` for `chain` in `table` of `family` (missing table: no).
pub fn query(
    sock: &mut Socket,
    ask: Ask,
    family: u8,
    table: &str,
    chain: &str,
) -> io::Result<bool> {
    let seq = sock.next_seq();
    sock.send(&request(ask, family, seq, table, chain))?;
    let hit = match ask {
        Ask::Exists => (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN,
        Ask::HasRules => (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
    };
    let mut found = false;
    loop {
        let n = sock.recv()?;
        for m in nlattr::messages(&sock.buf[..n]).filter(|m| m.seq == seq) {
            match m.kind {
                k if k == hit => found = true,
                NLMSG_DONE => return Ok(found),
                NLMSG_ERROR => {
                    return match errno_of(m.payload) {
                        0 => Ok(found),
                        libc::ENOENT => Ok(false),
                        e => Err(io::Error::from_raw_os_error(e)),
                    };
                }
                _ => {}
            }
        }
    }
}

/// True when this netns has a legacy x_tables `nat` table (v4 or v6).
pub(crate) fn legacy_nat_present() -> bool {
    ["/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"]
        .iter()
        .any(|p| std::fs::read_to_string(p).is_ok_and(|s| s.lines().any(|l| l == "nat")))
}

fn save_nat(prog: &str) -> Option<String> {
    let out = Command::new(prog)
        .args(["-t", "nat"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `-save -t nat` outputs of every iptables that may hold `chain` (with
/// rules, for [`Ask::HasRules`]), each with its program name: nf_tables is
/// asked first (no process when there is nothing).
pub fn saves_holding(chain: &str, ask: Ask) -> Vec<(&'static str, String)> {
    let nft = Socket::open().and_then(|mut s| {
        let v4 = query(&mut s, ask, NFPROTO_IPV4, "nat", chain)?;
        Ok((v4, query(&mut s, ask, NFPROTO_IPV6, "nat", chain)?))
    });
    let mut progs: Vec<&'static str> = Vec::new();
    match nft {
        Ok((v4, v6)) => {
            progs.extend(v4.then_some("iptables-nft-save"));
            progs.extend(v6.then_some("ip6tables-nft-save"));
        }
        // Cannot ask nf_tables: read what the system's iptables shows.
        Err(_) => progs.push("iptables-save"),
    }
    if legacy_nat_present() {
        progs.extend(["iptables-legacy-save", "ip6tables-legacy-save"]);
    }
    progs
        .into_iter()
        .filter_map(|p| save_nat(p).map(|t| (p, t)))
        .collect()
}

/// The reference's rules for this attachment, if any (see the module doc).
pub fn look(network: &str, cid: &str) -> Option<ReferenceRules> {
    let chain = fwkit::portmap_dn_chain(network, cid);
    let mut found: Option<ReferenceRules> = None;
    for (_, text) in saves_holding(&chain, Ask::Exists) {
        let Some(r) = reference_chain_in(&text, network, cid) else {
            continue;
        };
        match &mut found {
            Some(f) if f.flavor == r.flavor => f.pod_ips.extend(r.pod_ips),
            Some(_) => {}
            None => found = Some(r),
        }
    }
    found
}

/// Finds `:CNI-DN-<hash>` in a save dump; the flavour comes from the
/// header (`# Generated by iptables-save v1.8.9 (nf_tables) on …`; legacy
/// prints no flavour),
/// the pod addresses from the chain's `--to-destination` arguments.
pub fn reference_chain_in(save: &str, network: &str, cid: &str) -> Option<ReferenceRules> {
    let chain = fwkit::portmap_dn_chain(network, cid);
    let decl = format!(":{chain} ");
    if !save.lines().any(|l| l.starts_with(&decl)) {
        return None;
    }
    // `(nf_tables)` in the header; legacy save prints no flavour at all.
    let nft = save
        .lines()
        .take_while(|l| l.starts_with('#'))
        .any(|l| l.contains("(nf_tables)"));
    let rule = format!("-A {chain} ");
    let mut pod_ips: Vec<IpAddr> = Vec::new();
    for l in save.lines().filter(|l| l.starts_with(&rule)) {
        let mut words = l.split_whitespace();
        let dest = words
            .by_ref()
            .find(|w| *w == "--to-destination")
            .and(words.next());
        if let Some(ip) = dest.and_then(dest_ip)
            && !pod_ips.contains(&ip)
        {
            pod_ips.push(ip);
        }
    }
    Some(ReferenceRules {
        flavor: if nft { Flavor::Nft } else { Flavor::Legacy },
        pod_ips,
    })
}

/// The address of `10.0.0.2:80` / `[fd00::2]:80` / `10.0.0.2`.
fn dest_ip(d: &str) -> Option<IpAddr> {
    if let Some(rest) = d.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    d.split(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getchain_names_table_and_chain() {
        let r = request(Ask::HasRules, NFPROTO_IPV4, 3, "nat", "CNI-HOSTPORT-DNAT");
        let msg = nlattr::messages(&r).next().unwrap();
        assert_eq!(
            (msg.kind, msg.flags),
            ((10 << 8) | 7, NLM_F_REQUEST | NLM_F_DUMP)
        );
        let rule_chain = nlattr::find(&msg.payload[4..], NFTA_RULE_CHAIN);
        assert_eq!(rule_chain, Some(&b"CNI-HOSTPORT-DNAT\0"[..]));
        let m = request(Ask::Exists, NFPROTO_IPV6, 9, "nat", "CNI-DN-x");
        let msg = nlattr::messages(&m).next().unwrap();
        assert_eq!(msg.kind, (10 << 8) | 4);
        assert_eq!(msg.payload[0], NFPROTO_IPV6);
        let attrs = &msg.payload[4..];
        assert_eq!(nlattr::find(attrs, NFTA_CHAIN_TABLE), Some(&b"nat\0"[..]));
        assert_eq!(
            nlattr::find(attrs, NFTA_CHAIN_NAME),
            Some(&b"CNI-DN-x\0"[..])
        );
    }

    #[test]
    fn finds_the_reference_chain_and_its_pods() {
        let chain = fwkit::portmap_dn_chain("net1", "c1");
        let save = format!(
            "# Generated by iptables-save v1.8.9 on x\n*nat\n:{chain} - [0:0]\n\
             -A {chain} -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.2:8080\n\
             -A {chain} -p tcp -m tcp --dport 81 -j DNAT --to-destination [fd00::2]:81\nCOMMIT\n"
        );
        let r = reference_chain_in(&save, "net1", "c1").unwrap();
        assert_eq!(r.flavor, Flavor::Legacy);
        let want: Vec<IpAddr> = vec!["10.0.0.2".parse().unwrap(), "fd00::2".parse().unwrap()];
        assert_eq!(r.pod_ips, want);
        assert_eq!(reference_chain_in(&save, "net1", "c2"), None);
        let nft = save.replace("v1.8.9 on", "v1.8.9 (nf_tables) on");
        assert_eq!(
            reference_chain_in(&nft, "net1", "c1").unwrap().flavor,
            Flavor::Nft
        );
    }
}
