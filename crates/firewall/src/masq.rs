//! Public ipMasq API (bridge `ipMasq: true`), dispatching to a backend.
//!
//! DEL and GC also remove what the reference plugins' nftables ipMasq code
//! left for the same attachment/network (`inet cni_plugins_masquerade`),
//! which costs one extra `nft -j list table` read.

use crate::names::{validate_ifname, validate_token};
use crate::{Backend, Result, ipt_masq, ipt_ref, nft_masq, nft_masq_add, nft_masq_known};
use ipnet::IpNet;

fn validate(net: &str, cid: &str, ifname: &str) -> Result<()> {
    validate_token("network name", net)?;
    validate_token("container id", cid)?;
    validate_ifname(ifname)
}

/// Sets up masquerading of traffic from `ips` (pod addresses with their
/// prefix length) to anything outside the address's own subnet and
/// outside multicast. Idempotent.
pub fn masq_add(net: &str, cid: &str, ifname: &str, ips: &[IpNet], backend: Backend) -> Result<()> {
    validate(net, cid, ifname)?;
    if ips.is_empty() {
        return Ok(());
    }
    match backend {
        Backend::Nftables => nft_masq_add::add(net, cid, ifname, ips),
        Backend::Iptables(f) => ipt_masq::add(f, net, cid, ips),
    }
}

/// Removes the attachment's masquerading, whether or not its IPs are
/// still known. Also removes the reference nftables ipMasq rule of the
/// same attachment. Succeeds when nothing is there.
///
/// `known_ips` (the addresses the attachment was ADDed with): iptables
/// visits only their families; nftables needs no read at all (one
/// `nft -f -` when the reference nftables table does not exist) and
/// removes the attachment's elements for exactly those addresses. With
/// `None`, nftables reads our table once to find them. Either way an
/// address now held by another container is left alone.
pub fn masq_del(
    net: &str,
    cid: &str,
    ifname: &str,
    known_ips: Option<&[IpNet]>,
    backend: Backend,
) -> Result<()> {
    validate(net, cid, ifname)?;
    match backend {
        // Includes the reference-table cleanup (probed in the same batch).
        Backend::Nftables => nft_masq_known::del(net, cid, ifname, known_ips),
        Backend::Iptables(f) => {
            let ours = ipt_masq::del(f, net, cid, known_ips);
            // The reference cleanup is best effort on hosts without nftables.
            let _ = nft_masq::ref_del(net, cid, ifname);
            ours
        }
    }
}

/// Removes the reference bridge plugin's iptables ipMasq chain of the
/// attachment (`CNI-` + 24 hex of sha512(net + cid), and every rule jumping
/// to it) from iptables-nft and iptables-legacy, both families: for DEL on
/// the nftables backend of pods the reference plugin ADDed.
///
/// Cost: no process when the chain is not there: nothing for a flavour
/// whose binaries are not installed, nothing for legacy when its `nat`
/// table was never instantiated in this namespace, one netlink query per
/// family for the nft flavour. Only a family that may hold the chain costs
/// one `iptables-save -t nat` and, when something is there, one
/// `iptables-restore --noflush`. Succeeds when nothing is there.
pub fn masq_del_reference_iptables(net: &str, cid: &str) -> Result<()> {
    validate_token("network name", net)?;
    validate_token("container id", cid)?;
    ipt_ref::del_reference(net, cid)
}

/// CHECK: every IP of the attachment is masqueraded as `masq_add` set it up.
pub fn masq_check(
    net: &str,
    cid: &str,
    ifname: &str,
    ips: &[IpNet],
    backend: Backend,
) -> Result<()> {
    validate(net, cid, ifname)?;
    match backend {
        Backend::Nftables => nft_masq::check(net, cid, ifname, ips),
        Backend::Iptables(f) => ipt_masq::check(f, net, cid, ips),
    }
}

/// GC: removes the masquerading of every attachment of network `net` that
/// is not in `valid` (`(container id, ifname)` pairs). The iptables layout
/// ignores ifname (the reference chain hash does too).
pub fn masq_gc(net: &str, valid: &[(&str, &str)], backend: Backend) -> Result<()> {
    validate_token("network name", net)?;
    for (cid, ifname) in valid {
        validate(net, cid, ifname)?;
    }
    let ours = match backend {
        Backend::Nftables => nft_masq::gc(net, valid),
        Backend::Iptables(f) => {
            let cids: Vec<&str> = valid.iter().map(|(c, _)| *c).collect();
            ipt_masq::gc(f, net, &cids)
        }
    };
    let reference = nft_masq::ref_gc(net, valid);
    ours?;
    match (backend, reference) {
        (Backend::Nftables, Err(e)) => Err(e),
        _ => Ok(()),
    }
}
