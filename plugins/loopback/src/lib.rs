//! The `loopback` plugin: brings `lo` up in the sandbox (ADD), down again
//! (DEL), and verifies it (CHECK). Drop-in for the reference `loopback`.
//!
//! SPEC: ADD with a `prevResult` passes it through; without one the result
//! names `lo` and its loopback addresses. DEL succeeds when the netns is gone.

use cni::{CniError, CniResult, Interface, IpConfig, Plugin, Request, code};
use netkit::{Netlink, NetnsFile};

/// Everything that can fail here, mapped to CNI codes in [`From`] below.
#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error("{0}")]
    Netkit(#[from] netkit::Error),
    #[error("loopback interface has a non-loopback address {0}")]
    NonLoopbackAddress(ipnet::IpNet),
    #[error("loopback interface in {0} is down")]
    Down(String),
    #[error("CNI_NETNS is required and must exist")]
    NoNetns,
}

impl From<LoopbackError> for CniError {
    fn from(e: LoopbackError) -> CniError {
        let code = match &e {
            LoopbackError::Netkit(netkit::Error::NotANetns { .. })
            | LoopbackError::Netkit(netkit::Error::NetnsNotFound { .. }) => code::INVALID_NETNS,
            LoopbackError::Netkit(_) => code::KERNEL,
            LoopbackError::NonLoopbackAddress(_) => code::INVALID_CONFIG,
            LoopbackError::Down(_) => code::CHECK_FAILED,
            LoopbackError::NoNetns => code::INVALID_NETNS,
        };
        CniError::new(code, e.to_string())
    }
}

/// The plugin value handed to the skeleton.
pub struct Loopback;

fn open(req: &Request) -> Result<Option<Netlink>, LoopbackError> {
    let Some(path) = req.netns() else {
        return Ok(None);
    };
    let ns = NetnsFile::open(path)?;
    Ok(Some(Netlink::open_in(&ns)?))
}

/// The result the reference returns without a prevResult.
fn loopback_result(nl: &mut Netlink, sandbox: String) -> Result<CniResult, LoopbackError> {
    let lo = nl.link_by_name("lo")?;
    let mut result = CniResult::default();
    result.interfaces.push(Interface {
        name: "lo".into(),
        mac: Some("00:00:00:00:00:00".into()),
        sandbox: Some(sandbox),
        ..Interface::default()
    });
    for a in nl.list_addresses(Some(lo.index), None)? {
        if !a.addr.addr().is_loopback() {
            return Err(LoopbackError::NonLoopbackAddress(a.addr));
        }
        let mut ip = IpConfig::new(a.addr, None);
        ip.interface = Some(0);
        result.ips.push(ip);
    }
    Ok(result)
}

fn add(req: &Request) -> Result<CniResult, LoopbackError> {
    let mut nl = open(req)?.ok_or(LoopbackError::NoNetns)?;
    let lo = nl.link_by_name("lo")?;
    nl.set_up(lo.index)?;
    if let Some(prev) = &req.conf.prev_result {
        return Ok(prev.clone());
    }
    let sandbox = req
        .env
        .netns
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    loopback_result(&mut nl, sandbox)
}

fn del(req: &Request) -> Result<(), LoopbackError> {
    // SPEC: DEL succeeds when the sandbox is already gone.
    let Some(mut nl) = open(req)? else {
        return Ok(());
    };
    let lo = nl.link_by_name("lo")?;
    nl.set_down(lo.index)?;
    Ok(())
}

fn check(req: &Request) -> Result<(), LoopbackError> {
    let mut nl = open(req)?.ok_or(LoopbackError::NoNetns)?;
    let lo = nl.link_by_name("lo")?;
    if !lo.up {
        let ns = req
            .env
            .netns
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Err(LoopbackError::Down(ns));
    }
    Ok(())
}

impl Plugin for Loopback {
    fn name(&self) -> &'static str {
        "loopback"
    }
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        Ok(add(req)?)
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        Ok(del(req)?)
    }
    fn check(&self, req: &Request) -> Result<(), CniError> {
        Ok(check(req)?)
    }
}
