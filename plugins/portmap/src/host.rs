//! Every side effect of the plugin behind one trait, so the verb logic in
//! [`crate::flow`] is testable without touching a kernel: netfilter rules
//! (through fwkit), the read-only look at the reference's chains,
//! `route_localnet`, and conntrack cleanup.

use std::net::{IpAddr, Ipv4Addr};

use fwkit::{Backend, Flavor};
use ipnet::IpNet;
use netkit::{Conntrack, IpFamily, Netlink, sysctl};

use crate::config::{BackendChoice, Opts};
use crate::error::PortmapError;
use crate::lock;
use crate::mapping::{Mapping, Protocol};
use crate::refcheck::{self, ReferenceRules};
use crate::refholders;

/// One attachment's rules, as handed to the backend.
#[derive(Debug, Clone)]
pub struct RuleArgs<'a> {
    pub network: &'a str,
    pub container_id: &'a str,
    pub ips: &'a [IpNet],
    pub mappings: &'a [Mapping],
    pub opts: &'a Opts,
    pub backend: Backend,
}

/// What the plugin does to the node.
pub trait Host {
    /// Turns the configured choice into a concrete backend (iptables flavour).
    fn resolve(&self, choice: BackendChoice) -> Result<Backend, PortmapError>;
    /// STATUS: can `choice` program the kernel here?
    fn probe(&self, choice: BackendChoice) -> Result<(), PortmapError>;
    fn add_rules(&self, a: &RuleArgs) -> Result<(), PortmapError>;
    fn del_rules(&self, network: &str, cid: &str, b: Backend) -> Result<(), PortmapError>;
    /// Removes exactly what [`Host::add_rules`] made with these arguments
    /// (from the record): no read of the existing rules on nftables.
    fn del_known(&self, a: &RuleArgs) -> Result<(), PortmapError>;
    fn check_rules(&self, a: &RuleArgs) -> Result<(), PortmapError>;
    fn gc_rules(&self, network: &str, valid: &[&str], b: Backend) -> Result<(), PortmapError>;
    /// One read-only look for the reference's `CNI-DN-<hash>` chain of
    /// this attachment (IPv4 `nat` table of the system's `iptables`).
    fn reference_chain(&self, network: &str, cid: &str) -> Option<ReferenceRules>;
    /// The first of `maps` whose host socket another container holds in
    /// the reference iptables layout: (mapping, holder's container id).
    fn iptables_holder(&self, maps: &[Mapping], cid: &str) -> Option<(Mapping, String)>;
    /// `route_localnet=1` on the host interface routing to `ip`.
    fn route_localnet(&self, ip: Ipv4Addr) -> Result<(), PortmapError>;
    /// Deletes UDP conntrack entries for these host ports (failures logged).
    fn flush_udp_ports(&self, ports: &[u16]);
    /// Deletes conntrack entries to or from these addresses (failures logged).
    fn flush_addresses(&self, ips: &[IpAddr]);
}

/// The real node: fwkit, netkit and ctnetlink in the process's netns.
pub struct System;

/// The iptables lock when `b` is iptables (see [`crate::lock`]).
fn serialise(b: Backend) -> Result<Option<lock::NodeLock>, PortmapError> {
    match b {
        Backend::Iptables(_) => lock::iptables().map(Some),
        Backend::Nftables => Ok(None),
    }
}

fn fw_mapping(m: &Mapping) -> fwkit::PortMapping {
    fwkit::PortMapping {
        host_ip: m.host_ip,
        host_port: m.host_port,
        container_port: m.container_port,
        protocol: match m.protocol {
            Protocol::Tcp => fwkit::Protocol::Tcp,
            Protocol::Udp => fwkit::Protocol::Udp,
            Protocol::Sctp => fwkit::Protocol::Sctp,
        },
    }
}

fn fw_opts(o: &Opts) -> fwkit::PortmapOpts {
    fwkit::PortmapOpts {
        snat: o.snat,
        masq_all: o.masq_all,
        mark_masq_bit: o.mark_masq_bit,
        external_set_mark_chain: o.external_set_mark_chain.clone(),
        conditions_v4: o.conditions_v4.clone(),
        conditions_v6: o.conditions_v6.clone(),
    }
}

/// Parses a backend name as stored in records (`Backend::name`).
pub fn backend_from_name(name: &str) -> Option<Backend> {
    match name {
        "nftables" => Some(Backend::Nftables),
        "iptables-nft" => Some(Backend::Iptables(Flavor::Nft)),
        "iptables-legacy" => Some(Backend::Iptables(Flavor::Legacy)),
        _ => None,
    }
}

impl Host for System {
    fn resolve(&self, choice: BackendChoice) -> Result<Backend, PortmapError> {
        Ok(match choice {
            BackendChoice::Nftables => Backend::Nftables,
            BackendChoice::Iptables => Backend::Iptables(fwkit::detect_iptables_flavor()),
        })
    }

    fn probe(&self, choice: BackendChoice) -> Result<(), PortmapError> {
        let b = self.resolve(choice)?;
        fwkit::probe(b).map_err(|e| PortmapError::Unavailable(e.to_string()))
    }

    fn add_rules(&self, a: &RuleArgs) -> Result<(), PortmapError> {
        let _lock = serialise(a.backend)?;
        let maps: Vec<_> = a.mappings.iter().map(fw_mapping).collect();
        let opts = fw_opts(a.opts);
        fwkit::portmap_add(a.network, a.container_id, a.ips, &maps, &opts, a.backend)?;
        Ok(())
    }

    fn del_rules(&self, network: &str, cid: &str, b: Backend) -> Result<(), PortmapError> {
        let _lock = serialise(b)?;
        Ok(fwkit::portmap_del(network, cid, b)?)
    }

    fn del_known(&self, a: &RuleArgs) -> Result<(), PortmapError> {
        let _lock = serialise(a.backend)?;
        let maps: Vec<_> = a.mappings.iter().map(fw_mapping).collect();
        let opts = fw_opts(a.opts);
        fwkit::portmap_del_known(a.network, a.container_id, a.ips, &maps, &opts, a.backend)?;
        Ok(())
    }

    fn check_rules(&self, a: &RuleArgs) -> Result<(), PortmapError> {
        let maps: Vec<_> = a.mappings.iter().map(fw_mapping).collect();
        let opts = fw_opts(a.opts);
        fwkit::portmap_check(a.network, a.container_id, a.ips, &maps, &opts, a.backend)?;
        Ok(())
    }

    fn gc_rules(&self, network: &str, valid: &[&str], b: Backend) -> Result<(), PortmapError> {
        let _lock = serialise(b)?;
        Ok(fwkit::portmap_gc(network, valid, b)?)
    }

    fn reference_chain(&self, network: &str, cid: &str) -> Option<ReferenceRules> {
        refcheck::look(network, cid)
    }

    fn iptables_holder(&self, maps: &[Mapping], cid: &str) -> Option<(Mapping, String)> {
        refholders::find(maps, cid).map(|(m, h)| (m, h.container_id))
    }

    fn route_localnet(&self, ip: Ipv4Addr) -> Result<(), PortmapError> {
        let mut nl = Netlink::open()?;
        let routes = nl.list_routes(Some(IpFamily::V4), Some(254))?;
        let best = routes
            .iter()
            .filter(|r| r.dst.contains(&IpAddr::V4(ip)) && r.oif.is_some())
            .max_by_key(|r| r.dst.prefix_len());
        // SPEC (reference): no route to the pod means nothing to enable.
        let Some(oif) = best.and_then(|r| r.oif) else {
            return Ok(());
        };
        let link = nl.link_by_index(oif)?;
        let key = sysctl::iface_key(false, &link.name, "route_localnet");
        if sysctl::read(&key).ok().as_deref() != Some("1") {
            sysctl::write(&key, "1")?;
        }
        Ok(())
    }

    fn flush_udp_ports(&self, ports: &[u16]) {
        let res = Conntrack::open().and_then(|mut ct| ct.delete_udp_dport(ports));
        if let Err(e) = res {
            cni::skel::log(&format!("deleting stale UDP conntrack entries: {e}"));
        }
    }

    fn flush_addresses(&self, ips: &[IpAddr]) {
        if ips.is_empty() {
            return;
        }
        let res = Conntrack::open().and_then(|mut ct| ct.delete_by_addr(ips));
        if let Err(e) = res {
            cni::skel::log(&format!("deleting conntrack entries of {ips:?}: {e}"));
        }
    }
}
