//! The node side of ADD: the bridge (created race-free, MAC pinned at
//! birth), the veth pair (one request: peer born in the pod netns, host end
//! born enslaved and up), bridge-port flags and VLANs.

use netkit::{BridgePortFlags, BridgeSpec, BridgeVlan, LinkInfo, MacAddr, Netlink, NetnsFile};
use netkit::{VethPair, VethSpec, sysctl};

use crate::config::BridgeConf;
use crate::error::{BridgeError, Result};

/// Maps a netkit error from a step that carried the configured MTU: the
/// kernel answers `EINVAL`/`ERANGE` for an MTU outside the device's range.
fn mtu_or_kernel(e: netkit::Error, cfg: &BridgeConf, what: String) -> BridgeError {
    match (cfg.mtu, e.errno()) {
        (Some(mtu), Some(libc::EINVAL | libc::ERANGE)) => BridgeError::MtuRejected {
            mtu,
            what,
            source: e,
        },
        _ => vlan_or_kernel(e, what),
    }
}

fn vlan_or_kernel(e: netkit::Error, what: String) -> BridgeError {
    match e {
        netkit::Error::VlanUnsupported { op, detail } => {
            BridgeError::VlanUnsupported(format!("{op}: {detail}"))
        }
        other => BridgeError::kernel(what, other),
    }
}

/// Creates the bridge if absent (tolerating concurrent creators) or checks
/// the existing link is one; brings it up, promiscuous / VLAN-filtering as
/// configured. The MTU applies only when this call creates it.
pub fn ensure_bridge(host: &mut Netlink, cfg: &BridgeConf) -> Result<LinkInfo> {
    let mut spec = BridgeSpec::new(&cfg.bridge);
    spec.mtu = cfg.mtu;
    spec.promisc = cfg.promisc;
    spec.vlan_filtering = cfg.uses_vlan();
    // Pinned at birth: the kernel otherwise copies the lowest port MAC and
    // the gateway's MAC changes as pods come and go (reference pins later).
    spec.mac = Some(MacAddr::random_local().map_err(|e| BridgeError::kernel("random MAC", e))?);
    let what = format!("ensure bridge {:?}", cfg.bridge);
    let br = host.ensure_bridge(&spec).map_err(|e| match e {
        netkit::Error::NotABridge { name, kind } => BridgeError::NotABridge { name, kind },
        other => mtu_or_kernel(other, cfg, what.clone()),
    })?;
    // We own the bridge's routes (reference): best effort, v6 may be off.
    let _ = sysctl::write(&sysctl::iface_key(true, &cfg.bridge, "accept_ra"), "0");
    Ok(br)
}

/// Creates the veth pair: `ifname` inside `pod_ns`, a random `vethXXXXXXXX`
/// here, enslaved to `bridge` and up, with the configured MTU and MAC.
pub fn create_veth(
    host: &mut Netlink,
    cfg: &BridgeConf,
    bridge: &LinkInfo,
    pod_ns: &NetnsFile,
    ifname: &str,
) -> Result<VethPair> {
    let mut spec = VethSpec::new(ifname, pod_ns);
    spec.master = Some(bridge.index);
    spec.mtu = cfg.mtu;
    spec.peer_mac = cfg.mac.map(MacAddr);
    host.create_veth(&spec).map_err(|e| {
        if e.is_exists() && e.to_string().contains("container interface") {
            return BridgeError::IfnameTaken {
                ifname: ifname.to_string(),
                netns: pod_ns.path().display().to_string(),
            };
        }
        mtu_or_kernel(
            e,
            cfg,
            format!("create veth {ifname:?} on bridge {:?}", cfg.bridge),
        )
    })
}

/// Hairpin and port isolation on the host end (one request when any is on).
pub fn set_port_flags(host: &mut Netlink, cfg: &BridgeConf, port: &LinkInfo) -> Result<()> {
    if !cfg.hairpin && !cfg.port_isolation {
        return Ok(());
    }
    let flags = BridgePortFlags {
        hairpin: cfg.hairpin.then_some(true),
        isolated: cfg.port_isolation.then_some(true),
        learning: None,
    };
    host.set_bridge_port(port.index, flags)
        .map_err(|e| BridgeError::kernel(format!("set bridge port flags on {}", port.name), e))
}

/// Consecutive ids folded into ranges (`[3,4,5,9]` → `3..=5`, `9`).
pub fn trunk_ranges(ids: &[u16]) -> Vec<BridgeVlan> {
    let mut out: Vec<BridgeVlan> = Vec::new();
    for &id in ids {
        match out.last_mut() {
            Some(last) if last.vid_end.unwrap_or(last.vid) + 1 == id => last.vid_end = Some(id),
            _ => out.push(BridgeVlan::tagged(id)),
        }
    }
    out
}

/// VLAN setup of a bridge port: drop the default VLAN unless preserved,
/// then the access VLAN (PVID, untagged) or the tagged trunk.
pub fn set_port_vlans(host: &mut Netlink, cfg: &BridgeConf, port: &LinkInfo) -> Result<()> {
    if !cfg.uses_vlan() {
        return Ok(());
    }
    let what = || format!("set VLANs on {}", port.name);
    if !cfg.preserve_default_vlan {
        let existing = host
            .bridge_vlans(port.index)
            .map_err(|e| vlan_or_kernel(e, what()))?;
        for v in existing {
            host.bridge_vlan_del(port.index, &v, false)
                .map_err(|e| vlan_or_kernel(e, what()))?;
        }
    }
    let wanted = match cfg.vlan {
        Some(vid) => vec![BridgeVlan::access(vid)],
        None => trunk_ranges(&cfg.vlan_trunk),
    };
    for v in &wanted {
        host.bridge_vlan_add(port.index, v, false)
            .map_err(|e| vlan_or_kernel(e, what()))?;
    }
    Ok(())
}

/// The gateway interface of a VLAN network: a veth whose end `<br>.<vid>`
/// stays in the node netns and whose other end is an access port of `vid`
/// (reference layout). Created once, shared by every pod of the VLAN.
pub fn ensure_vlan_gateway(
    host: &mut Netlink,
    cfg: &BridgeConf,
    br: &LinkInfo,
) -> Result<LinkInfo> {
    let vid = cfg.vlan.expect("called only with vlan set");
    let name = format!("{}.{vid}", cfg.bridge);
    if let Some(l) = host
        .find_link(&name)
        .map_err(|e| BridgeError::kernel("find vlan gateway", e))?
    {
        return Ok(l);
    }
    let node = NetnsFile::current().map_err(|e| BridgeError::kernel("open node netns", e))?;
    let mut spec = VethSpec::new(&name, &node);
    spec.master = Some(br.index);
    spec.mtu = Some(br.mtu);
    let pair = match host.create_veth(&spec) {
        Ok(p) => p,
        Err(e) if e.is_exists() => {
            return host
                .link_by_name(&name)
                .map_err(|e| BridgeError::kernel("find vlan gateway", e));
        }
        Err(e) => return Err(vlan_or_kernel(e, format!("create vlan gateway {name}"))),
    };
    let gw_cfg = BridgeConf {
        vlan_trunk: Vec::new(),
        ..cfg.clone()
    };
    set_port_vlans(host, &gw_cfg, &pair.host)?;
    host.set_up(pair.peer_index)
        .map_err(|e| BridgeError::kernel(format!("set {name} up"), e))?;
    host.link_by_index(pair.peer_index)
        .map_err(|e| BridgeError::kernel(format!("read {name}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_ids_fold_into_ranges() {
        let r = trunk_ranges(&[3, 4, 5, 9, 11, 12]);
        let got: Vec<(u16, Option<u16>)> = r.iter().map(|v| (v.vid, v.vid_end)).collect();
        assert_eq!(got, vec![(3, Some(5)), (9, None), (11, Some(12))]);
        assert!(r.iter().all(|v| !v.pvid && !v.untagged));
    }
}
