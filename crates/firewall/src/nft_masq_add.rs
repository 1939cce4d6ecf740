//! ipMasq ADD on nftables without rewriting anything that already exists.
//!
//! 1. The element-only batch: per address `create element masq4 { <ip>
//!    comment … : goto masq-<hash> }` and `add element own4 { <ip> . <token> }`.
//!    Nothing is flushed or deleted, so the commit does not wait for RCU.
//! 2. `No such file or directory` (the network's first ADD on the node, or
//!    tampering): the full batch (`nft_masq::add_batch`).
//! 3. `File exists` on some address elements only (a retried ADD): one
//!    batch that proves those elements are ours (our guard is deleted and
//!    re-added, which fails when it is not there) with the same verdict
//!    (`add` of an equal element is a no-op, of another value `File
//!    exists`), and creates the others. No read.
//! 4. Otherwise (an address handed over before the old owner's DEL, or an
//!    element of another network): one read, the addresses' elements and
//!    guards deleted, and the full batch.

use crate::exec::Batch;
use crate::names::nft_ident;
use crate::nft_guard::{parse_failures, token};
use crate::nft_json::list_table;
use crate::nft_masq::{TABLE, add_batch, element_lines, guard_name, map_name, net_chain};
use crate::{Error, Family, Result};
use ipnet::IpNet;

const NFT: [&str; 3] = ["nft", "-f", "-"];

/// Step 1: two lines per address (`create` element, `add` guard).
pub(crate) fn fast_batch(net: &str, cid: &str, ifname: &str, ips: &[IpNet]) -> Batch {
    let mut b = Batch::new();
    let ident = nft_ident(&[cid, ifname, net]);
    for ip in ips {
        element_lines(&mut b, net, &ident, ip);
    }
    b
}

/// Which addresses' `create` failed with `File exists` in the kernel, when
/// that is the only kind of failure of the fast batch.
fn held(err: &Error, n: usize) -> Option<Vec<bool>> {
    let Error::Command { stderr, .. } = err else {
        return None;
    };
    let mut held = vec![false; n];
    for f in parse_failures(stderr)? {
        let i = f.line.checked_sub(1)? / 2;
        if !(f.kernel && f.exists && f.line % 2 == 1 && i < n) {
            return None;
        }
        held[i] = true;
    }
    Some(held)
}

/// Step 3: held addresses must be ours with the same verdict.
fn refresh_batch(net: &str, cid: &str, ifname: &str, ips: &[IpNet], held: &[bool]) -> Batch {
    let mut b = Batch::new();
    let ident = nft_ident(&[cid, ifname, net]);
    let (t, tok) = (format!("inet {TABLE}"), token(&ident));
    for (ip, held) in ips.iter().zip(held) {
        if !held {
            element_lines(&mut b, net, &ident, ip);
            continue;
        }
        let f = Family::of_net(ip);
        let (m, g, a) = (map_name(f), guard_name(f), ip.addr());
        let chain = net_chain(net, &ip.trunc());
        b.line(format!("delete element {t} {g} {{ {a} . {tok} }}"));
        b.line(format!(
            "add element {t} {g} {{ {a} . {tok} comment \"{ident}\" }}"
        ));
        b.line(format!("add element {t} {m} {{ {a} : goto {chain} }}"));
    }
    b
}

/// Step 4: delete whatever holds our addresses (element and guards), then
/// the full batch, in one write after one read.
fn replace_held(ips: &[IpNet], batch: &Batch) -> Result<()> {
    let table = list_table("inet", TABLE)?.unwrap_or_default();
    let mut fix = Batch::new();
    for ip in ips {
        let f = Family::of_net(ip);
        let (m, g, key) = (map_name(f), guard_name(f), ip.addr().to_string());
        for e in table.elems(&m).iter().filter(|e| e.key == key) {
            fix.line(format!("delete element inet {TABLE} {m} {{ {} }}", e.key));
        }
        let guard = format!("{key} . ");
        for e in table.elems(&g).iter().filter(|e| e.key.starts_with(&guard)) {
            fix.line(format!("delete element inet {TABLE} {g} {{ {} }}", e.key));
        }
    }
    fix.extend(batch).run(&NFT)
}

pub(crate) fn add(net: &str, cid: &str, ifname: &str, ips: &[IpNet]) -> Result<()> {
    let err = match fast_batch(net, cid, ifname, ips).run(&NFT) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let full = add_batch(net, cid, ifname, ips);
    if let Some(held) = held(&err, ips.len()) {
        return match refresh_batch(net, cid, ifname, ips, &held).run(&NFT) {
            Ok(()) => Ok(()),
            Err(_) => replace_held(ips, &full),
        };
    }
    if err.is_not_found() && !err.is_exists() {
        match full.run(&NFT) {
            Err(e) if e.is_exists() => {}
            other => return other,
        }
    } else if !err.is_exists() {
        return Err(err);
    }
    replace_held(ips, &full)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd_err(stderr: &str) -> Error {
        Error::Command {
            cmd: "nft".into(),
            status: "1".into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn held_addresses_from_the_error_report() {
        let ex = ": Error: Could not process rule: File exists";
        let e = cmd_err(&format!("/dev/stdin:3:1-9{ex}"));
        assert_eq!(held(&e, 2), Some(vec![false, true]));
        // A guard line failing, a missing object, or an unknown line: no.
        assert_eq!(held(&cmd_err(&format!("/dev/stdin:2:1-9{ex}")), 2), None);
        let gone = "/dev/stdin:1:1-9: Error: Could not process rule: No such file or directory";
        assert_eq!(held(&cmd_err(gone), 2), None);
        assert_eq!(held(&cmd_err(&format!("/dev/stdin:5:1-9{ex}")), 2), None);
        let ip: IpNet = "10.1.0.2/24".parse().unwrap();
        let b = refresh_batch("n", "c", "eth0", &[ip], &[true]);
        let lines: Vec<_> = b.text().lines().collect();
        assert!(lines[0].starts_with("delete element inet ferrocni own4 { 10.1.0.2 . "));
        assert!(lines[2].starts_with("add element inet ferrocni masq4 { 10.1.0.2 : goto masq-"));
    }
}
