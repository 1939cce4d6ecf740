//! The `firewall` plugin: a chained plugin that keeps networks on one node
//! apart and opens chosen traffic between them.
//!
//! Drop-in for the reference `firewall` (`backend: "iptables"`: the
//! `CNI-FORWARD`/`CNI-ADMIN`/`CNI-ISOLATION-STAGE-*` layout, byte for byte)
//! and, by default, our own nftables layout (see [`nft`]) with per-network
//! ingress protection and `allow` rules. See `docs/firewall.md`.

pub mod attach;
pub mod compat;
pub mod config;
pub mod error;
pub mod exec;
pub mod ipt;
pub mod iptmode;
pub mod iptsave;
pub mod nft;
pub mod nftjson;
pub mod ops;
pub mod record;

use attach::Attachment;
use cni::{CniError, CniResult, Plugin, Request};
use error::FwError;

/// The plugin value handed to the skeleton.
pub struct Firewall;

/// SPEC: ADD and CHECK need the previous plugin's result.
fn prev(req: &Request) -> Result<&CniResult, CniError> {
    req.conf
        .prev_result
        .as_ref()
        .ok_or_else(|| FwError::Config("missing prevResult from earlier plugin".into()).into())
}

impl Plugin for Firewall {
    fn name(&self) -> &'static str {
        "firewall"
    }

    /// SPEC: the result is prevResult, passed through (the skeleton prints
    /// it in the requested version).
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        let conf = config::load(&req.conf)?;
        let prev = prev(req)?;
        let att = Attachment::from_request(req)?;
        ops::add(&att, &conf)?;
        Ok(prev.clone())
    }

    fn del(&self, req: &Request) -> Result<(), CniError> {
        let conf = config::load(&req.conf)?;
        let att = Attachment::from_request(req)?;
        Ok(ops::del(&att, &conf)?)
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        let conf = config::load(&req.conf)?;
        prev(req)?;
        let att = Attachment::from_request(req)?;
        Ok(ops::check(&att, &conf)?)
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        let conf = config::load(&req.conf)?;
        Ok(ops::status(&conf)?)
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        let conf = config::load(&req.conf)?;
        let valid: Vec<(String, String)> = req
            .conf
            .valid_attachments
            .iter()
            .flatten()
            .map(|a| (a.container_id.clone(), a.ifname.clone()))
            .collect();
        Ok(ops::gc(&req.conf.name, &valid, &conf)?)
    }
}
