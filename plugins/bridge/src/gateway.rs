//! The gateway side of `isGateway`: the gateway addresses on the bridge (or
//! on the VLAN gateway interface), the pinned bridge MAC, and forwarding.
//!
//! SPEC (reference `ensureAddr`): an IPv4 address different from the
//! gateway, or an overlapping IPv6 one, is a conflict unless
//! `forceAddress` (then it is replaced). Concurrent ADDs adding the same
//! address are fine (EEXIST tolerated, plugins PR #366).

use ipnet::IpNet;
use netkit::{AddrInfo, AddrOpts, LinkInfo, MacAddr, Netlink, Scope, sysctl};

use crate::config::BridgeConf;
use crate::error::{BridgeError, Result};

/// Addresses on `link` that conflict with `want` (reference rules).
pub fn conflicts<'a>(existing: &'a [AddrInfo], want: &IpNet) -> Vec<&'a AddrInfo> {
    existing
        .iter()
        .filter(|a| a.addr != *want && a.scope != Scope::Link && a.scope != Scope::Host)
        .filter(|a| a.addr.addr().is_ipv6() == want.addr().is_ipv6())
        .filter(|a| {
            want.addr().is_ipv4() || a.addr.contains(&want.addr()) || want.contains(&a.addr.addr())
        })
        .collect()
}

/// Puts every gateway address on `link`, replacing conflicting ones only
/// with `forceAddress`. IPv6 gateways skip DAD unless `enabledad`.
pub fn ensure_addrs(
    host: &mut Netlink,
    cfg: &BridgeConf,
    link: &LinkInfo,
    addrs: &[IpNet],
) -> Result<()> {
    if addrs.is_empty() {
        return Ok(());
    }
    let what = |s: &str| format!("{s} on {}", link.name);
    let existing = host
        .list_addresses(Some(link.index), None)
        .map_err(|e| BridgeError::kernel(what("list addresses"), e))?;
    let opts = AddrOpts {
        nodad: !cfg.enable_dad,
        ..AddrOpts::default()
    };
    for want in addrs {
        if existing.iter().any(|a| a.addr == *want) {
            continue;
        }
        for c in conflicts(&existing, want) {
            if !cfg.force_address {
                return Err(BridgeError::AddressConflict {
                    bridge: link.name.clone(),
                    wanted: want.to_string(),
                    have: c.addr.to_string(),
                });
            }
            host.del_address(link.index, c.addr)
                .map_err(|e| BridgeError::kernel(what(&format!("remove {}", c.addr)), e))?;
        }
        host.ensure_address(link.index, *want, opts)
            .map_err(|e| BridgeError::kernel(what(&format!("add {want}")), e))?;
    }
    Ok(())
}

/// Pins the bridge's MAC to its current value so the kernel never replaces
/// it with a port's (reference behaviour; a bridge we created is pinned at
/// birth already, this covers bridges created by others). A bridge that
/// has no address yet gets a random local one. Returns the pinned MAC.
pub fn pin_mac(host: &mut Netlink, br: &LinkInfo) -> Result<Option<MacAddr>> {
    let now = host
        .link_by_index(br.index)
        .map_err(|e| BridgeError::kernel(format!("read {}", br.name), e))?;
    let mac = match now.mac {
        Some(m) if m != MacAddr::default() => m,
        _ => MacAddr::random_local().map_err(|e| BridgeError::kernel("random MAC", e))?,
    };
    host.set_mac(br.index, mac)
        .map_err(|e| BridgeError::kernel(format!("pin MAC of {}", br.name), e))?;
    Ok(Some(mac))
}

/// `ip_forward` (and IPv6 `forwarding`) on in the node netns for the
/// families that have a gateway. Read first: a write, even of the same
/// value, is not free on a node with many interfaces.
pub fn enable_forwarding(addrs: &[IpNet]) -> Result<()> {
    let mut keys = Vec::new();
    if addrs.iter().any(|a| a.addr().is_ipv4()) {
        keys.push("net.ipv4.ip_forward");
    }
    if addrs.iter().any(|a| a.addr().is_ipv6()) {
        keys.push("net.ipv6.conf.all.forwarding");
    }
    for key in keys {
        if sysctl::read(key).is_ok_and(|v| v == "1") {
            continue;
        }
        sysctl::write(key, "1").map_err(|e| BridgeError::kernel("enable forwarding", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str, scope: Scope) -> AddrInfo {
        AddrInfo {
            index: 1,
            addr: s.parse().unwrap(),
            scope,
            flags: 0,
            tentative: false,
            dadfailed: false,
        }
    }

    #[test]
    fn any_other_v4_address_conflicts() {
        let have = [
            a("10.9.0.1/24", Scope::Universe),
            a("fd00::1/64", Scope::Universe),
        ];
        let c = conflicts(&have, &"10.1.0.1/24".parse().unwrap());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].addr.to_string(), "10.9.0.1/24");
        assert!(conflicts(&have, &"10.9.0.1/24".parse().unwrap()).is_empty());
    }

    #[test]
    fn v6_conflicts_only_when_overlapping_and_never_link_local() {
        let have = [
            a("fd00:1::1/64", Scope::Universe),
            a("fe80::1/64", Scope::Link),
        ];
        assert!(conflicts(&have, &"fd00:2::1/64".parse().unwrap()).is_empty());
        assert_eq!(conflicts(&have, &"fd00:1::2/64".parse().unwrap()).len(), 1);
        assert!(conflicts(&have, &"fe80::2/64".parse().unwrap()).is_empty());
    }
}
