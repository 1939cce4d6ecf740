//! Public ipMasq API (bridge `ipMasq: true`), dispatching to a backend.
//!
//! DEL and GC also remove what the reference plugins' nftables ipMasq code
//! left for the same attachment/network (`inet cni_plugins_masquerade`),
//! which costs one extra `nft -j list table` read.

use crate::names::{validate_ifname, validate_token};
use crate::{Backend, Result, ipt_masq, nft_masq};
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
        Backend::Nftables => nft_masq::add(net, cid, ifname, ips),
        Backend::Iptables(f) => ipt_masq::add(f, net, cid, ips),
    }
}

/// Removes the attachment's masquerading, whether or not its IPs are
/// still known (`known_ips` only narrows the iptables families visited).
/// Also removes the reference nftables ipMasq rule of the same attachment.
/// Succeeds when nothing is there.
pub fn masq_del(
    net: &str,
    cid: &str,
    ifname: &str,
    known_ips: Option<&[IpNet]>,
    backend: Backend,
) -> Result<()> {
    validate(net, cid, ifname)?;
    let ours = match backend {
        Backend::Nftables => nft_masq::del(net, cid, ifname),
        Backend::Iptables(f) => ipt_masq::del(f, net, cid, known_ips),
    };
    // The reference cleanup is best effort on hosts without nftables.
    let reference = nft_masq::ref_del(net, cid, ifname);
    ours?;
    match (backend, reference) {
        (Backend::Nftables, Err(e)) => Err(e),
        _ => Ok(()),
    }
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
