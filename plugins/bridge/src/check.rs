//! CHECK: the state ADD reported in `prevResult` is still there — bridge
//! (kind, MAC, promisc), the container veth (MAC), its host peer (veth,
//! peer index, master = bridge, MAC), addresses, routes, masquerade and
//! spoof-check rules — and the delegated IPAM CHECK passes.

use cni::{CniError, CniResult, Command, Interface, Request, code};
use netkit::{IpFamily, LinkInfo, LinkKind, Netlink, NetnsFile};

use crate::config::{self, BridgeConf};
use crate::error::{BridgeError, Result};
use crate::{masq, spoofchk};

fn fail(msg: impl Into<String>) -> BridgeError {
    BridgeError::Check(msg.into())
}

fn kernel(what: &str) -> impl FnOnce(netkit::Error) -> BridgeError + '_ {
    move |e| BridgeError::kernel(what, e)
}

fn mac_matches(want: &Interface, link: &LinkInfo) -> Result<()> {
    let Some(want_mac) = &want.mac else {
        return Ok(());
    };
    let have = link.mac.map(|m| m.to_string()).unwrap_or_default();
    if want_mac.eq_ignore_ascii_case(&have) {
        Ok(())
    } else {
        Err(fail(format!(
            "{} has MAC {have}, prevResult says {want_mac}",
            want.name
        )))
    }
}

fn check_bridge(host: &mut Netlink, cfg: &BridgeConf, prev: &CniResult) -> Result<LinkInfo> {
    let want = prev
        .interfaces
        .iter()
        .find(|i| i.name == cfg.bridge && i.sandbox.is_none())
        .ok_or_else(|| fail(format!("bridge {} is not in prevResult", cfg.bridge)))?;
    let br = host
        .find_link(&cfg.bridge)
        .map_err(kernel("find bridge"))?
        .ok_or_else(|| fail(format!("bridge {} not found", cfg.bridge)))?;
    if br.kind != Some(LinkKind::Bridge) {
        return Err(fail(format!("{} is not a bridge", cfg.bridge)));
    }
    mac_matches(want, &br)?;
    if br.promisc != cfg.promisc {
        return Err(fail(format!(
            "bridge {} promiscuous mode is {}, configured {}",
            cfg.bridge, br.promisc, cfg.promisc
        )));
    }
    Ok(br)
}

fn check_container(
    pod: &mut Netlink,
    req: &Request,
    prev: &CniResult,
) -> Result<(usize, LinkInfo)> {
    let ifname = &req.env.ifname;
    let sandbox = req.env.netns.as_ref().map(|p| p.display().to_string());
    let (idx, want) = prev
        .interfaces
        .iter()
        .enumerate()
        .find(|(_, i)| &i.name == ifname && i.sandbox == sandbox)
        .ok_or_else(|| fail(format!("{ifname} in {sandbox:?} is not in prevResult")))?;
    let link = pod
        .find_link(ifname)
        .map_err(kernel("find container interface"))?
        .ok_or_else(|| fail(format!("container interface {ifname} not found")))?;
    if link.kind != Some(LinkKind::Veth) {
        return Err(fail(format!("container interface {ifname} is not a veth")));
    }
    mac_matches(want, &link)?;
    Ok((idx, link))
}

fn check_host_veth(
    host: &mut Netlink,
    prev: &CniResult,
    br: &LinkInfo,
    cont: &LinkInfo,
) -> Result<()> {
    let peer = cont
        .link
        .ok_or_else(|| fail(format!("{} has no veth peer", cont.name)))?;
    for want in prev
        .interfaces
        .iter()
        .filter(|i| i.sandbox.is_none() && i.name != br.name)
    {
        let Some(l) = host
            .find_link(&want.name)
            .map_err(kernel("find host veth"))?
        else {
            continue;
        };
        if l.kind == Some(LinkKind::Veth) && l.index == peer && l.link == Some(cont.index) {
            if l.master != Some(br.index) {
                return Err(fail(format!("{} is not attached to {}", l.name, br.name)));
            }
            return mac_matches(want, &l);
        }
    }
    Err(fail(format!(
        "host veth of {} on bridge {} not found",
        cont.name, br.name
    )))
}

fn check_addresses(pod: &mut Netlink, prev: &CniResult, idx: usize, cont: &LinkInfo) -> Result<()> {
    let have = pod
        .list_addresses(Some(cont.index), None)
        .map_err(kernel("list addresses"))?;
    for ip in prev.ips.iter().filter(|ip| ip.interface == Some(idx)) {
        if !have.iter().any(|a| a.addr == ip.address) {
            return Err(fail(format!(
                "address {} missing on {}",
                ip.address, cont.name
            )));
        }
    }
    Ok(())
}

fn check_routes(pod: &mut Netlink, prev: &CniResult) -> Result<()> {
    for fam in [IpFamily::V4, IpFamily::V6] {
        let want: Vec<_> = prev
            .routes
            .iter()
            .filter(|r| r.dst.addr().is_ipv6() == (fam == IpFamily::V6))
            .collect();
        if want.is_empty() {
            continue;
        }
        let have = pod
            .list_routes(Some(fam), None)
            .map_err(kernel("list routes"))?;
        for r in want {
            let found = have
                .iter()
                .any(|h| h.dst == r.dst.trunc() && (r.gw.is_none() || h.gw == r.gw));
            if !found {
                return Err(fail(format!("route {} via {:?} missing", r.dst, r.gw)));
            }
        }
    }
    Ok(())
}

fn check_all(req: &Request, cfg: &BridgeConf, prev: &CniResult) -> Result<()> {
    let path = req.netns().ok_or_else(|| fail("CNI_NETNS is gone"))?;
    let ns = NetnsFile::open(path).map_err(kernel("open CNI_NETNS"))?;
    let mut host = Netlink::open().map_err(kernel("open netlink"))?;
    let mut pod = Netlink::open_in(&ns).map_err(kernel("open netlink in CNI_NETNS"))?;
    let br = check_bridge(&mut host, cfg, prev)?;
    let (idx, cont) = check_container(&mut pod, req, prev)?;
    check_host_veth(&mut host, prev, &br, &cont)?;
    check_addresses(&mut pod, prev, idx, &cont)?;
    check_routes(&mut pod, prev)?;
    let (cid, ifname) = (&req.env.container_id, &req.env.ifname);
    if cfg.ip_masq && cfg.layer3 {
        let ips: Vec<_> = prev
            .ips
            .iter()
            .filter(|ip| ip.interface == Some(idx))
            .map(|ip| ip.address)
            .collect();
        masq::check(cfg, cid, ifname, &ips)?;
    }
    if let (true, Some(mac)) = (cfg.macspoofchk, cont.mac) {
        spoofchk::check(cid, ifname, &mac.to_string())?;
    }
    Ok(())
}

/// The CHECK entry point.
pub fn check(req: &Request) -> std::result::Result<(), CniError> {
    let cfg = config::load(req)?;
    req.ipam_run(Command::Check)?;
    let prev = req.conf.prev_result.as_ref().ok_or_else(|| {
        CniError::new(
            code::INVALID_CONFIG,
            "CHECK requires prevResult (none given)",
        )
    })?;
    check_all(req, &cfg, prev).map_err(CniError::from)
}
