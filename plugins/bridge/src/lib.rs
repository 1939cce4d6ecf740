//! The ferrocni `bridge` CNI plugin: a drop-in for the reference
//! containernetworking/plugins `bridge` — pods attached to a Linux bridge
//! through veth pairs, optional gateway and masquerade — built on netkit
//! (synchronous netlink) and fwkit (one netfilter batch per call).
//!
//! Modules: [`config`] (keys, validation), [`add`], [`del`], [`check`],
//! [`status`], [`gc`] (the verbs), [`host`] / [`container`] / [`gateway`]
//! (the kernel work of ADD), [`masq`] and [`spoofchk`] (netfilter), [`conntrack`]
//! (DEL's flush of the pod's conntrack entries), [`result`] (the result
//! and the decisions taken from IPAM), [`undo`] (rollback of a failed
//! ADD), [`error`] (codes, in one place).

pub mod add;
pub mod check;
pub mod config;
pub mod conntrack;
pub mod container;
pub mod del;
pub mod error;
pub mod gateway;
pub mod gc;
pub mod host;
pub mod masq;
pub mod result;
pub mod spoofchk;
pub mod status;
pub mod undo;

use cni::{CniError, CniResult, Plugin, Request};

/// The plugin, as the skeleton sees it.
pub struct Bridge;

impl Plugin for Bridge {
    fn name(&self) -> &'static str {
        "bridge"
    }
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        add::add(req)
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        del::del(req)
    }
    fn check(&self, req: &Request) -> Result<(), CniError> {
        check::check(req)
    }
    fn status(&self, req: &Request) -> Result<(), CniError> {
        status::status(req)
    }
    fn gc(&self, req: &Request) -> Result<(), CniError> {
        gc::gc(req)
    }
}
