//! DEL: best effort and idempotent. Removes the container interface (which
//! removes the host end), releases the IPAM reservation, and removes the
//! masquerade and spoof-check rules **by container id**, so it also works
//! with an empty or stale `CNI_NETNS`, without `prevResult`, and when the
//! link is already gone (the reference leaks its iptables chains then).
//!
//! The three parts are independent, so they run concurrently: the kernel
//! spends tens of milliseconds unregistering a veth, during which the IPAM
//! and firewall processes finish.
//!
//! A fourth thread deletes every conntrack entry to or from the pod's
//! addresses in the node netns ([`conntrack`]), so a stale flow cannot
//! misdirect traffic when IPAM hands the address to the next pod. It starts
//! once the pod's end is down (the pod can send nothing more) rather than
//! after the veth's unregister, so its table walk overlaps that wait. Best
//! effort: a failure is logged, never fails DEL.

use cni::{CniError, Command, Request};
use ipnet::IpNet;
use netkit::{LinkKind, Netlink, NetnsFile};

use crate::config::{self, BridgeConf};
use crate::error::{BridgeError, Result};
use crate::{conntrack, masq, spoofchk};

/// The pod's end of the attachment, found before anything is removed.
struct PodEnd {
    pod: Netlink,
    index: u32,
    /// Its global addresses (the masquerade DEL then needs no read).
    addrs: Vec<IpNet>,
}

/// Finds `ifname` in the pod netns if it is a veth. `Ok(None)` when the
/// netns or the link is gone (or the link is not ours to delete).
fn find_pod_end(req: &Request) -> Result<Option<PodEnd>> {
    let ns = match req.netns().map(NetnsFile::open) {
        Some(Ok(ns)) => ns,
        None | Some(Err(netkit::Error::NetnsNotFound { .. })) => return Ok(None),
        Some(Err(e)) => return Err(BridgeError::kernel("open CNI_NETNS", e)),
    };
    let ifname = &req.env.ifname;
    let kernel = |what: String| move |e| BridgeError::kernel(what, e);
    let mut pod = Netlink::open_in(&ns).map_err(kernel("open netlink in CNI_NETNS".into()))?;
    let Some(link) = pod
        .find_link(ifname)
        .map_err(kernel(format!("find {ifname}")))?
    else {
        return Ok(None);
    };
    if link.kind != Some(LinkKind::Veth) {
        // Not ours: never delete someone else's interface.
        cni::skel::log(&format!("DEL: {ifname} is not a veth; left in place"));
        return Ok(None);
    }
    let addrs = pod
        .list_addresses(Some(link.index), None)
        .map_err(kernel(format!("list addresses of {ifname}")))?
        .into_iter()
        .filter(|a| a.scope == netkit::Scope::Universe)
        .map(|a| a.addr)
        .collect();
    Ok(Some(PodEnd {
        pod,
        index: link.index,
        addrs,
    }))
}

/// Deletes the pod's veth (the kernel removes the host end with it). When
/// the netns is already gone, its teardown removes the pair asynchronously;
/// if `prevResult` names the host veth we delete that end now (only a veth
/// enslaved to our bridge).
fn delete_link(req: &Request, cfg: &BridgeConf, end: Option<PodEnd>) -> Result<()> {
    let Some(mut end) = end else {
        return delete_host_end(req, cfg);
    };
    end.pod
        .delete_link(end.index)
        .map(drop)
        .map_err(|e| BridgeError::kernel(format!("delete {}", req.env.ifname), e))
}

fn delete_host_end(req: &Request, cfg: &BridgeConf) -> Result<()> {
    let Some(prev) = req.conf.prev_result.as_ref() else {
        return Ok(());
    };
    let names = prev
        .interfaces
        .iter()
        .filter(|i| i.sandbox.is_none() && i.name != cfg.bridge);
    let mut host = Netlink::open().map_err(|e| BridgeError::kernel("open netlink", e))?;
    let kernel = |what: String| move |e| BridgeError::kernel(what, e);
    let Some(br) = host
        .find_link(&cfg.bridge)
        .map_err(kernel("find bridge".into()))?
    else {
        return Ok(());
    };
    for i in names {
        let Some(l) = host
            .find_link(&i.name)
            .map_err(kernel(format!("find {}", i.name)))?
        else {
            continue;
        };
        if l.kind == Some(LinkKind::Veth) && l.master == Some(br.index) {
            host.delete_link(l.index)
                .map_err(kernel(format!("delete {}", i.name)))?;
        }
    }
    Ok(())
}

/// Sets the pod's end down: from then on the pod sends nothing (and the
/// bridge port forwards nothing to it), so the conntrack flush need not
/// wait for the slow unregister of the veth. Best effort.
fn quiesce(end: &mut Option<PodEnd>) {
    if let Some(e) = end.as_mut()
        && let Err(err) = e.pod.set_down(e.index)
        && !err.is_not_found()
    {
        cni::skel::log(&format!("DEL: set pod interface down: {err}"));
    }
}

/// The attachment's addresses from `prevResult` (those of the interface
/// named `CNI_IFNAME` in a sandbox), when the runtime sent one.
pub fn known_ips(req: &Request) -> Option<Vec<IpNet>> {
    let prev = req.conf.prev_result.as_ref()?;
    let idx = prev
        .interfaces
        .iter()
        .position(|i| i.name == req.env.ifname && i.sandbox.is_some())?;
    let ips: Vec<IpNet> = prev
        .ips
        .iter()
        .filter(|ip| ip.interface == Some(idx))
        .map(|ip| ip.address)
        .collect();
    (!ips.is_empty()).then_some(ips)
}

fn firewall(cfg: &BridgeConf, req: &Request, known: Option<&[IpNet]>) -> Result<()> {
    let (cid, ifname) = (&req.env.container_id, &req.env.ifname);
    let spoof = if cfg.macspoofchk {
        spoofchk::del(cid, ifname)
    } else {
        Ok(())
    };
    let masq = if cfg.ip_masq && cfg.layer3 {
        masq::del(cfg, cid, ifname, known)
    } else {
        Ok(())
    };
    spoof.and(masq)
}

/// The DEL entry point.
pub fn del(req: &Request) -> std::result::Result<(), CniError> {
    let cfg = config::load(req)?;
    let cfg = &cfg;
    let (link, ipam, fw) = std::thread::scope(|s| {
        let ipam = s.spawn(|| req.ipam_run(Command::Del));
        let end = find_pod_end(req);
        let (end, found) = match end {
            Ok(e) => (e, Ok(())),
            Err(e) => (None, Err(e)),
        };
        let known = known_ips(req).or_else(|| end.as_ref().map(|e| e.addrs.clone()));
        let known = known.filter(|k| !k.is_empty());
        let pod_ips = conntrack::pod_ips(known.as_deref());
        let fw = s.spawn(move || firewall(cfg, req, known.as_deref()));
        let mut end = end;
        quiesce(&mut end);
        // In parallel with the link, IPAM and firewall work; joined when
        // the scope ends.
        s.spawn(move || conntrack::flush(&pod_ips));
        let link = found.and_then(|()| delete_link(req, cfg, end));
        (link, ipam.join(), fw.join())
    });
    let mut errors: Vec<CniError> = Vec::new();
    let panicked = |what: &str| CniError::internal(format!("{what} thread panicked"));
    match ipam {
        Ok(Ok(())) => {}
        Ok(Err(e)) => errors.push(e),
        Err(_) => errors.push(panicked("IPAM")),
    }
    if let Err(e) = link {
        errors.push(e.into());
    }
    match fw {
        Ok(Ok(())) => {}
        Ok(Err(e)) => errors.push(e.into()),
        Err(_) => errors.push(panicked("firewall")),
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(BridgeError::Many(errors).into()),
    }
}
