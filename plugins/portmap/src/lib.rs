//! The `portmap` plugin: publishes container ports on the node (DNAT from
//! host ports, per host IP or on every address), with hairpin and IPv4
//! localhost access, on our own nftables table or the reference's iptables
//! layout. Drop-in for the reference `portmap` (chained after `bridge`).
//!
//! Modules: [`config`] (keys, capability, backend selection), [`mapping`],
//! [`record`] (per-attachment records so DEL works without `portMappings`),
//! [`host`] (every side effect behind one trait), [`lock`] (iptables
//! serialisation), [`flow`] (the verbs), [`refcheck`] (the read-only look
//! at the reference's chains), [`refholders`] (host ports held in the
//! reference layout), [`error`] (codes). Netfilter netlink is netkit's
//! [`netkit::nfnl`]; conntrack cleanup is netkit's [`netkit::Conntrack`].

pub mod config;
pub mod error;
pub mod flow;
pub mod host;
pub mod lock;
pub mod mapping;
pub mod record;
pub mod refcheck;
pub mod refholders;

use cni::{CniError, CniResult, Plugin, Request};

pub use error::PortmapError;

/// The plugin value handed to the skeleton.
pub struct Portmap;

impl Plugin for Portmap {
    fn name(&self) -> &'static str {
        "portmap"
    }

    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        Ok(flow::add(&host::System, req)?)
    }

    fn del(&self, req: &Request) -> Result<(), CniError> {
        Ok(flow::del(&host::System, req)?)
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        Ok(flow::check(&host::System, req)?)
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        Ok(flow::status(&host::System, req)?)
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        Ok(flow::gc(&host::System, req)?)
    }
}
