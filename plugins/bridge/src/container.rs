//! The pod side of ADD, through the pod-netns socket: per-interface
//! sysctls (on one short-lived thread inside the netns) and link up while
//! IPAM runs ([`prepare`]), then addresses, the optional event-driven DAD
//! wait, and routes ([`configure`]).
//!
//! SPEC (reference): `accept_dad=0` on the container interface unless
//! `enabledad` (then `accept_dad=1`, `enhanced_dad=1`), `arp_notify=1`, IPv6
//! enabled on `lo` and the interface when an IPv6 address is assigned (ours
//! does that only when the kernel refuses the address because IPv6 is off).
//! Ours also sets `IFA_F_NODAD` on the addresses, so nothing is tentative
//! and no wait is needed (the reference polls every 50 ms for up to 5 s).

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use netkit::{AddrOpts, Netlink, NetnsFile, Route, sysctl};

use crate::config::BridgeConf;
use crate::error::{BridgeError, Result};
use crate::result::Plan;

/// Upper bound of the `enabledad` wait (the reference's settle limit).
pub const DAD_TIMEOUT: Duration = Duration::from_secs(5);

/// The sysctls of the container interface written before it comes up.
pub fn sysctls(cfg: &BridgeConf, ifname: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if cfg.enable_dad {
        out.push((sysctl::iface_key(true, ifname, "enhanced_dad"), "1"));
        out.push((sysctl::iface_key(true, ifname, "accept_dad"), "1"));
    } else {
        out.push((sysctl::iface_key(true, ifname, "accept_dad"), "0"));
    }
    out.push((sysctl::iface_key(false, ifname, "arp_notify"), "1"));
    out
}

/// What turns IPv6 on for `lo` and the interface (only written when the
/// kernel refused an IPv6 address because it was off).
pub fn enable_ipv6_sysctls(ifname: &str) -> Vec<(String, &'static str)> {
    vec![
        (sysctl::iface_key(true, "lo", "disable_ipv6"), "0"),
        (sysctl::iface_key(true, ifname, "disable_ipv6"), "0"),
    ]
}

/// Writes `pairs` inside `ns`. A missing key (IPv6 disabled on the node)
/// is skipped, like the reference; other failures are errors, except for
/// `disable_ipv6`, which is only fatal when it must change and cannot.
fn write_sysctls(ns: &NetnsFile, pairs: &[(String, &'static str)]) -> Result<()> {
    let run = netkit::run_in(ns, || -> Result<()> {
        for (k, v) in pairs {
            match sysctl::write(k, v) {
                Ok(()) => {}
                Err(e) if e.errno() == Some(libc::ENOENT) => {
                    if k.ends_with("disable_ipv6") {
                        return Err(BridgeError::kernel(format!("enable IPv6 ({k})"), e));
                    }
                }
                Err(e) => return Err(BridgeError::kernel(format!("sysctl {k}={v}"), e)),
            }
        }
        Ok(())
    });
    run.map_err(|e| BridgeError::kernel("enter pod netns for sysctls", e))?
}

/// Before IPAM answers (phase 1): the interface's sysctls (layer 3 only,
/// like the reference) and link up, unless `disableContainerInterface`.
pub fn prepare(
    pod: &mut Netlink,
    pod_ns: &NetnsFile,
    cfg: &BridgeConf,
    ifname: &str,
    index: u32,
) -> Result<()> {
    if cfg.layer3 {
        write_sysctls(pod_ns, &sysctls(cfg, ifname))?;
    }
    if !cfg.disable_container_interface {
        pod.set_up(index)
            .map_err(|e| BridgeError::kernel(format!("set {ifname} up"), e))?;
    }
    Ok(())
}

fn add_address(
    pod: &mut Netlink,
    pod_ns: &NetnsFile,
    ifname: &str,
    index: u32,
    addr: IpNet,
    opts: AddrOpts,
) -> Result<()> {
    let err = |e| BridgeError::kernel(format!("add {addr} to {ifname}"), e);
    match pod.add_address(index, addr, opts) {
        // IPv6 is off on the interface: turn it on (reference) and retry.
        Err(e) if addr.addr().is_ipv6() && e.errno() == Some(libc::EACCES) => {
            write_sysctls(pod_ns, &enable_ipv6_sysctls(ifname))?;
            pod.add_address(index, addr, opts).map_err(err)
        }
        r => r.map_err(err),
    }
}

/// After IPAM (phase 2): addresses, the optional DAD wait, routes.
pub fn configure(
    pod: &mut Netlink,
    pod_ns: &NetnsFile,
    cfg: &BridgeConf,
    ifname: &str,
    index: u32,
    plan: Option<&Plan>,
) -> Result<()> {
    let Some(plan) = plan else {
        return Ok(());
    };
    let opts = AddrOpts {
        nodad: !cfg.enable_dad,
        ..AddrOpts::default()
    };
    let mut v6 = Vec::new();
    for ip in &plan.result.ips {
        add_address(pod, pod_ns, ifname, index, ip.address, opts)?;
        if ip.address.addr().is_ipv6() {
            v6.push(ip.address.addr());
        }
    }
    if cfg.enable_dad && !v6.is_empty() {
        pod.wait_dad(index, &v6, DAD_TIMEOUT)
            .map_err(|e| BridgeError::kernel(format!("IPv6 DAD on {ifname}"), e))?;
    }
    add_routes(pod, ifname, index, &plan.routes)
}

fn add_routes(
    pod: &mut Netlink,
    ifname: &str,
    index: u32,
    routes: &[(IpNet, Option<IpAddr>)],
) -> Result<()> {
    for (dst, gw) in routes {
        let mut r = Route::new(*dst).dev(index);
        if let Some(gw) = gw {
            r = r.via(*gw);
        }
        // SPEC (reference): routes are ECMP-appended.
        pod.append_route(&r).map_err(|e| {
            let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
            BridgeError::kernel(format!("add route {dst}{via} dev {ifname}"), e)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::from_parts;
    use cni::NetConf;

    fn cfg(dad: bool) -> BridgeConf {
        let v = serde_json::json!({"cniVersion": "1.0.0", "name": "n", "type": "bridge",
            "enabledad": dad});
        from_parts(&NetConf::parse(v.to_string().as_bytes()).unwrap(), None).unwrap()
    }

    #[test]
    fn dad_is_off_unless_enabled() {
        let s = sysctls(&cfg(false), "eth0");
        assert!(s.contains(&("net/ipv6/conf/eth0/accept_dad".into(), "0")));
        assert!(s.contains(&("net/ipv4/conf/eth0/arp_notify".into(), "1")));
        assert!(!s.iter().any(|(k, _)| k.contains("disable_ipv6")));
        let s = sysctls(&cfg(true), "eth0");
        assert!(s.contains(&("net/ipv6/conf/eth0/accept_dad".into(), "1")));
        assert!(s.contains(&("net/ipv6/conf/eth0/enhanced_dad".into(), "1")));
        let e = enable_ipv6_sysctls("eth0");
        assert_eq!(e[0], ("net/ipv6/conf/lo/disable_ipv6".into(), "0"));
    }
}
