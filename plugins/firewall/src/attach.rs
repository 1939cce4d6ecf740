//! What one call is about: the attachment's identity, the pod's addresses
//! and the bridge it hangs off, taken from `prevResult`.
//!
//! SPEC (reference `firewall`): the bridge is `prevResult.interfaces[0]`
//! (the bridge plugin lists the bridge first); the pod's addresses are every
//! entry of `prevResult.ips`. We take the first interface *without* a
//! sandbox, which is the same entry for the bridge plugins and nothing for
//! results that only name the container side (then only accept rules for
//! the addresses are written).

use crate::error::{FwError, Result};
use cni::{CniResult, Request};
use std::net::IpAddr;

/// One attachment as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub net: String,
    pub cid: String,
    pub ifname: String,
    pub bridge: Option<String>,
    /// The pod's host-side port on the bridge (the second interface without
    /// a sandbox), when the result names one.
    pub port: Option<String>,
    pub ips: Vec<IpAddr>,
}

impl Attachment {
    /// Builds the attachment of `req` (prevResult may be absent on DEL).
    pub fn from_request(req: &Request) -> Result<Attachment> {
        let cid = req.env.container_id.clone();
        let ifname = req.env.ifname.clone();
        let (bridge, port, ips) = match &req.conf.prev_result {
            Some(prev) => (bridge_of(prev)?, port_of(prev)?, ips_of(prev)),
            None => (None, None, Vec::new()),
        };
        Ok(Attachment {
            net: req.conf.name.clone(),
            cid,
            ifname,
            bridge,
            port,
            ips,
        })
    }

    /// Identity written into every nft element of this attachment
    /// (container id first; see [`fwkit::nft_ident`]).
    pub fn ident(&self) -> String {
        fwkit::nft_ident(&[&self.cid, &self.ifname, &self.net])
    }
}

/// The host-side bridge: the first interface without a sandbox.
pub fn bridge_of(prev: &CniResult) -> Result<Option<String>> {
    let Some(br) = prev.interfaces.iter().find(|i| i.sandbox.is_none()) else {
        return Ok(None);
    };
    validate_ifname(&br.name)?;
    Ok(Some(br.name.clone()))
}

/// The host veth: the second interface without a sandbox.
pub fn port_of(prev: &CniResult) -> Result<Option<String>> {
    let Some(port) = prev
        .interfaces
        .iter()
        .filter(|i| i.sandbox.is_none())
        .nth(1)
    else {
        return Ok(None);
    };
    validate_ifname(&port.name)?;
    Ok(Some(port.name.clone()))
}

/// Every address of the result, deduplicated, in order.
pub fn ips_of(prev: &CniResult) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for ip in &prev.ips {
        let a = ip.address.addr();
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// Interface names go into rule text: 1–15 bytes, no whitespace, quotes
/// or separators.
pub fn validate_ifname(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 15
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'\\/:;{}#*!".contains(c));
    if bad {
        return Err(FwError::Config(format!(
            "prevResult interface name {name:?} is invalid"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cni::Interface;

    fn iface(name: &str, sandbox: Option<&str>) -> Interface {
        Interface {
            name: name.into(),
            sandbox: sandbox.map(str::to_string),
            ..Interface::default()
        }
    }

    #[test]
    fn bridge_is_first_without_sandbox() {
        let mut r = CniResult {
            interfaces: vec![iface("eth0", Some("/run/netns/p"))],
            ..CniResult::default()
        };
        assert_eq!(bridge_of(&r).unwrap(), None);
        r.interfaces = vec![
            iface("cni0", None),
            iface("veth1", None),
            iface("eth0", Some("/x")),
        ];
        assert_eq!(bridge_of(&r).unwrap().as_deref(), Some("cni0"));
        assert_eq!(port_of(&r).unwrap().as_deref(), Some("veth1"));
        r.interfaces = vec![iface("a\"b", None)];
        assert!(bridge_of(&r).is_err());
        r.interfaces = vec![iface("waytoolongname16", None)];
        assert!(bridge_of(&r).is_err());
    }

    #[test]
    fn ips_dedup() {
        let mut r = CniResult::default();
        for a in ["10.1.0.2/24", "fd00::2/64", "10.1.0.2/24"] {
            r.ips.push(cni::IpConfig::new(a.parse().unwrap(), None));
        }
        let ips = ips_of(&r);
        assert_eq!(ips.len(), 2);
        assert_eq!(ips[1].to_string(), "fd00::2");
    }
}
