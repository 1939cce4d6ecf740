//! Public port-mapping API (portmap plugin), dispatching to a backend.

use crate::names::validate_token;
use crate::{
    Backend, Error, Family, Result, ipt_portmap, nft_portmap, nft_portmap_add, nft_portmap_known,
};
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// Transport protocol of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// Lower-case name, as iptables and nft spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    /// Parses `tcp`/`udp`/`sctp` (any case; empty means tcp, like the reference).
    pub fn parse(s: &str) -> Result<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "" | "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "sctp" => Ok(Protocol::Sctp),
            _ => Err(Error::Invalid {
                what: "protocol",
                value: s.to_string(),
                why: "expected tcp, udp or sctp",
            }),
        }
    }
}

/// One `runtimeConfig.portMappings` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMapping {
    /// `None` (or an unspecified address) means every host address.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortMapping {
    /// The host address, with unspecified addresses (`0.0.0.0`, `::`) as `None`.
    pub fn specific_host_ip(&self) -> Option<IpAddr> {
        self.host_ip.filter(|ip| !ip.is_unspecified())
    }

    /// Whether this mapping produces rules for a container address of `f`.
    pub fn applies_to(&self, f: Family) -> bool {
        self.host_ip.is_none_or(|ip| Family::of(&ip) == f)
    }

    /// True when both mappings claim the same host socket.
    pub fn overlaps(&self, other: &PortMapping) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && match (self.specific_host_ip(), other.specific_host_ip()) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match self.specific_host_ip() {
            Some(IpAddr::V6(ip)) => format!("[{ip}]"),
            Some(ip) => ip.to_string(),
            None => "*".to_string(),
        };
        write!(
            f,
            "{}/{host}:{} -> {}",
            self.protocol.as_str(),
            self.host_port,
            self.container_port
        )
    }
}

/// Plugin options that shape the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortmapOpts {
    /// Hairpin / localhost masquerade (`snat`, default true).
    pub snat: bool,
    /// Masquerade every source, not only the pod subnet (`masqAll`).
    pub masq_all: bool,
    /// iptables only: mark bit 0..=31 (`markMasqBit`, default 13).
    pub mark_masq_bit: u8,
    /// iptables only: reuse this chain instead of `CNI-HOSTPORT-SETMARK`.
    pub external_set_mark_chain: Option<String>,
    /// iptables only: extra matches on the entry rules (iptables syntax).
    pub conditions_v4: Vec<String>,
    pub conditions_v6: Vec<String>,
}

impl Default for PortmapOpts {
    fn default() -> PortmapOpts {
        PortmapOpts {
            snat: true,
            masq_all: false,
            mark_masq_bit: 13,
            external_set_mark_chain: None,
            conditions_v4: Vec::new(),
            conditions_v6: Vec::new(),
        }
    }
}

impl PortmapOpts {
    fn validate(&self, backend: Backend) -> Result<()> {
        let invalid = |what, value: &str, why| Error::Invalid {
            what,
            value: value.to_string(),
            why,
        };
        if self.mark_masq_bit > 31 {
            let v = self.mark_masq_bit.to_string();
            return Err(invalid("markMasqBit", &v, "must be 0..=31"));
        }
        if let Some(c) = &self.external_set_mark_chain {
            let ok = !c.is_empty()
                && c.len() <= 28
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(invalid("externalSetMarkChain", c, "not a chain name"));
            }
        }
        let conds = self.conditions_v4.iter().chain(&self.conditions_v6);
        for c in conds.clone() {
            if c.chars().any(|ch| ch.is_control()) {
                return Err(invalid("condition", c, "control characters"));
            }
        }
        if backend == Backend::Nftables && conds.count() > 0 {
            return Err(Error::Unsupported {
                backend: "nftables",
                what: "conditionsV4/conditionsV6".into(),
            });
        }
        Ok(())
    }
}

/// Exact duplicates removed; two different mappings on one host socket
/// inside one request are an error.
fn dedup(mappings: &[PortMapping]) -> Result<Vec<PortMapping>> {
    let mut out: Vec<PortMapping> = Vec::new();
    for m in mappings {
        if m.host_port == 0 || m.container_port == 0 {
            return Err(Error::Invalid {
                what: "port mapping",
                value: m.to_string(),
                why: "ports must be 1..=65535",
            });
        }
        if out.contains(m) {
            continue;
        }
        if let Some(prev) = out.iter().find(|p| p.overlaps(m)) {
            return Err(Error::Invalid {
                what: "port mapping",
                value: m.to_string(),
                why: if prev.container_port == m.container_port {
                    "overlaps another mapping of the same request"
                } else {
                    "host port mapped twice in the same request"
                },
            });
        }
        out.push(*m);
    }
    Ok(out)
}

/// Container addresses: at most one per family (the first one wins).
fn one_per_family(ips: &[IpNet]) -> Vec<IpNet> {
    Family::ALL
        .into_iter()
        .filter_map(|f| ips.iter().copied().find(|ip| Family::of_net(ip) == f))
        .collect()
}

/// Maps host ports to the container. `container_ips` are the pod's
/// addresses with their prefix (the prefix defines the hairpin subnet).
/// Fails with [`Error::PortConflict`] when another container holds one of
/// the host sockets. Retrying the same ADD is harmless.
pub fn portmap_add(
    net: &str,
    cid: &str,
    container_ips: &[IpNet],
    mappings: &[PortMapping],
    opts: &PortmapOpts,
    backend: Backend,
) -> Result<()> {
    validate_token("network name", net)?;
    validate_token("container id", cid)?;
    opts.validate(backend)?;
    let maps = dedup(mappings)?;
    if maps.is_empty() || container_ips.is_empty() {
        return Ok(());
    }
    let ips = one_per_family(container_ips);
    match backend {
        Backend::Nftables => nft_portmap_add::add(net, cid, &ips, &maps, opts),
        Backend::Iptables(f) => ipt_portmap::add(f, net, cid, &ips, &maps, opts),
    }
}

/// Removes every mapping of the container on `net` (mappings need not be
/// known). Succeeds when nothing is there.
pub fn portmap_del(net: &str, cid: &str, backend: Backend) -> Result<()> {
    validate_token("network name", net)?;
    validate_token("container id", cid)?;
    match backend {
        Backend::Nftables => nft_portmap::del(net, cid),
        Backend::Iptables(f) => ipt_portmap::del(f, net, cid),
    }
}

/// Removes exactly what `portmap_add` with the same arguments created, for
/// callers that recorded them (the portmap plugin's per-attachment record).
/// nftables: one `nft -f -` and no read, whatever the number of other
/// mappings; an element now held by another container is never touched,
/// elements already gone are skipped, and a second call is a no-op (see
/// `nft_portmap_known`). iptables: the same as [`portmap_del`] (its chains
/// are named after the container). A record that ADD would have refused
/// falls back to [`portmap_del`]. `opts` are those given to ADD; the
/// nftables DEL removes hairpin elements whatever `snat` says (with
/// `snat: false` that costs a second, element-free round).
pub fn portmap_del_known(
    net: &str,
    cid: &str,
    container_ips: &[IpNet],
    mappings: &[PortMapping],
    opts: &PortmapOpts,
    backend: Backend,
) -> Result<()> {
    validate_token("network name", net)?;
    validate_token("container id", cid)?;
    let Ok(maps) = dedup(mappings) else {
        return portmap_del(net, cid, backend);
    };
    if maps.is_empty() || container_ips.is_empty() {
        return Ok(());
    }
    let _ = opts;
    let ips = one_per_family(container_ips);
    match backend {
        Backend::Nftables => nft_portmap_known::del_known(net, cid, &ips, &maps),
        Backend::Iptables(f) => ipt_portmap::del(f, net, cid),
    }
}

/// CHECK: every mapping is in place for the container's addresses.
pub fn portmap_check(
    net: &str,
    cid: &str,
    container_ips: &[IpNet],
    mappings: &[PortMapping],
    opts: &PortmapOpts,
    backend: Backend,
) -> Result<()> {
    validate_token("network name", net)?;
    validate_token("container id", cid)?;
    opts.validate(backend)?;
    let maps = dedup(mappings)?;
    let ips = one_per_family(container_ips);
    match backend {
        Backend::Nftables => nft_portmap::check(net, cid, &ips, &maps),
        Backend::Iptables(f) => ipt_portmap::check(f, net, cid, &ips, &maps),
    }
}

/// GC: removes the mappings of every container of `net` not in `valid_cids`.
pub fn portmap_gc(net: &str, valid_cids: &[&str], backend: Backend) -> Result<()> {
    validate_token("network name", net)?;
    for cid in valid_cids {
        validate_token("container id", cid)?;
    }
    match backend {
        Backend::Nftables => nft_portmap::gc(net, valid_cids),
        Backend::Iptables(f) => ipt_portmap::gc(f, net, valid_cids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(host: Option<&str>, port: u16, proto: Protocol) -> PortMapping {
        PortMapping {
            host_ip: host.map(|h| h.parse().unwrap()),
            host_port: port,
            container_port: 80,
            protocol: proto,
        }
    }

    #[test]
    fn overlap_rules() {
        let any = pm(None, 80, Protocol::Tcp);
        let a = pm(Some("10.0.0.1"), 80, Protocol::Tcp);
        let b = pm(Some("10.0.0.2"), 80, Protocol::Tcp);
        let v6 = pm(Some("fd00::1"), 80, Protocol::Tcp);
        assert!(any.overlaps(&a) && a.overlaps(&any));
        assert!(!a.overlaps(&b));
        assert!(!a.overlaps(&v6) && v6.overlaps(&any));
        assert!(!any.overlaps(&pm(None, 80, Protocol::Udp)));
        assert!(pm(Some("0.0.0.0"), 80, Protocol::Tcp).overlaps(&a));
        assert!(!pm(Some("10.0.0.1"), 80, Protocol::Tcp).applies_to(Family::V6));
        assert_eq!(v6.to_string(), "tcp/[fd00::1]:80 -> 80");
    }

    #[test]
    fn dedup_and_validation() {
        let a = pm(None, 80, Protocol::Tcp);
        assert_eq!(dedup(&[a, a]).unwrap(), vec![a]);
        let mut b = a;
        b.container_port = 81;
        assert!(dedup(&[a, b]).is_err());
        assert!(dedup(&[pm(None, 0, Protocol::Tcp)]).is_err());
        assert_eq!(Protocol::parse("UDP").unwrap(), Protocol::Udp);
        assert!(Protocol::parse("icmp").is_err());
        let mut o = PortmapOpts {
            conditions_v4: vec!["-s 1.2.3.4\n-A X".into()],
            ..PortmapOpts::default()
        };
        assert!(o.validate(Backend::Iptables(crate::Flavor::Nft)).is_err());
        o.conditions_v4 = vec!["-s 1.2.3.4".into()];
        assert!(o.validate(Backend::Iptables(crate::Flavor::Nft)).is_ok());
        assert!(matches!(
            o.validate(Backend::Nftables),
            Err(Error::Unsupported { .. })
        ));
    }
}
