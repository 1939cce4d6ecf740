//! Turning the IPAM result into the bridge result, and the pure decisions
//! taken from it: gateways, default routes, the routes to install in the
//! container, DNS.
//!
//! SPEC (reference bridge): interfaces are `[bridge, host veth, container]`,
//! every `ips[].interface` is 2, a missing gateway is the subnet's first
//! host when `isGateway`, `isDefaultGateway` appends a default route per
//! family unless IPAM returned one with a gateway, and a non-empty config
//! `dns` replaces IPAM's.

use std::net::IpAddr;

use cni::{CniResult, Dns, Interface, IpConfig, Route};
use ipnet::IpNet;

use crate::config::BridgeConf;
use crate::error::{BridgeError, Result};

/// Index of the container interface in `interfaces`.
pub const CONTAINER_IF: usize = 2;

/// What ADD learns from IPAM.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `ips` (with `interface` = 2 and gateways filled in) and `routes`.
    pub result: CniResult,
    /// Gateway addresses (gateway IP / pod prefix) to put on the bridge.
    pub bridge_addrs: Vec<IpNet>,
    /// Routes to install in the container, gateways resolved, deduplicated.
    pub routes: Vec<(IpNet, Option<IpAddr>)>,
}

impl Plan {
    pub fn has_v6(&self) -> bool {
        self.result.ips.iter().any(|ip| ip.address.addr().is_ipv6())
    }
}

/// The first host of `net` (network address + 1).
pub fn first_host(net: &IpNet) -> IpAddr {
    match net.network() {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).wrapping_add(1).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).wrapping_add(1).into()),
    }
}

fn default_net(v6: bool) -> IpNet {
    if v6 {
        "::/0".parse().expect("literal")
    } else {
        "0.0.0.0/0".parse().expect("literal")
    }
}

/// Applies the reference rules to the IPAM result.
pub fn plan(ipam: CniResult, cfg: &BridgeConf) -> Result<Plan> {
    if ipam.ips.is_empty() {
        return Err(BridgeError::Ipam(
            "IPAM plugin returned no IP addresses".into(),
        ));
    }
    let mut result = CniResult {
        interfaces: Vec::new(),
        ips: Vec::with_capacity(ipam.ips.len()),
        routes: ipam.routes,
        dns: ipam.dns,
    };
    let mut bridge_addrs = Vec::new();
    let mut default_found = [false, false];
    for ip in ipam.ips {
        let v6 = ip.address.addr().is_ipv6();
        let mut gateway = ip.gateway;
        if gateway.is_none() && cfg.is_gateway {
            gateway = Some(first_host(&ip.address));
        }
        if let Some(gw) = gateway
            && gw.is_ipv6() != v6
        {
            return Err(BridgeError::Ipam(format!(
                "gateway {gw} is not in the family of {}",
                ip.address
            )));
        }
        if cfg.is_default_gateway && !default_found[usize::from(v6)] {
            let dst = default_net(v6);
            let have = result.routes.iter().any(|r| r.gw.is_some() && r.dst == dst);
            if !have {
                result.routes.push(Route::new(dst, gateway));
            }
            default_found[usize::from(v6)] = true;
        }
        if cfg.is_gateway
            && let Some(gw) = gateway
        {
            let net = IpNet::new(gw, ip.address.prefix_len()).expect("prefix from an IpNet");
            if !bridge_addrs.contains(&net) {
                bridge_addrs.push(net);
            }
        }
        let mut out = IpConfig::new(ip.address, gateway);
        out.interface = Some(CONTAINER_IF);
        result.ips.push(out);
    }
    let routes = container_routes(&result);
    Ok(Plan {
        result,
        bridge_addrs,
        routes,
    })
}

/// Routes as the container gets them: a route without `gw` goes via the
/// first gateway of its family (reference `ConfigureIface`), or on-link
/// when that family has none. Duplicates are installed once.
fn container_routes(r: &CniResult) -> Vec<(IpNet, Option<IpAddr>)> {
    let family_gw = |v6: bool| {
        r.ips
            .iter()
            .filter(|ip| ip.address.addr().is_ipv6() == v6)
            .find_map(|ip| ip.gateway)
    };
    let mut out: Vec<(IpNet, Option<IpAddr>)> = Vec::new();
    for rt in &r.routes {
        let gw = rt.gw.or_else(|| family_gw(rt.dst.addr().is_ipv6()));
        let entry = (rt.dst.trunc(), gw);
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// The interfaces list of the result.
pub fn interfaces(bridge: Interface, host: Interface, container: Interface) -> Vec<Interface> {
    vec![bridge, host, container]
}

/// An interface entry with a name and MAC (and a sandbox for the container).
pub fn iface(name: &str, mac: Option<String>, sandbox: Option<String>) -> Interface {
    Interface {
        name: name.to_string(),
        mac,
        sandbox,
        ..Interface::default()
    }
}

/// SPEC (reference): a config `dns` with any field set replaces IPAM's.
pub fn apply_dns(result: &mut CniResult, conf_dns: Option<&Dns>) {
    if let Some(d) = conf_dns
        && !d.is_empty()
    {
        result.dns = d.clone();
    }
}

#[cfg(test)]
#[path = "result_tests.rs"]
mod tests;
