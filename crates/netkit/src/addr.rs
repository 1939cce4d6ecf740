//! IP addresses: add (IPv4 with broadcast, IPv6 optionally `IFA_F_NODAD`),
//! ensure (EEXIST-tolerant, for a bridge gateway shared by many ADDs),
//! delete (idempotent), list with DAD state, and an event-driven wait for
//! IPv6 duplicate address detection.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, Result};
use crate::socket::{Netlink, RTNLGRP_IPV6_IFADDR};

/// IP version filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    pub(crate) fn af(f: Option<IpFamily>) -> AddressFamily {
        match f {
            Some(IpFamily::V4) => AddressFamily::Inet,
            Some(IpFamily::V6) => AddressFamily::Inet6,
            None => AddressFamily::Unspec,
        }
    }
}

/// Address / route scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    Universe,
    Site,
    Link,
    Host,
    Nowhere,
    Other(u8),
}

impl Scope {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Scope::Universe => 0,
            Scope::Site => 200,
            Scope::Link => 253,
            Scope::Host => 254,
            Scope::Nowhere => 255,
            Scope::Other(v) => v,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Scope {
        match v {
            0 => Scope::Universe,
            200 => Scope::Site,
            253 => Scope::Link,
            254 => Scope::Host,
            255 => Scope::Nowhere,
            v => Scope::Other(v),
        }
    }
}

/// Options of [`Netlink::add_address`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AddrOpts {
    /// IPv6: skip duplicate address detection (`IFA_F_NODAD`).
    pub nodad: bool,
    /// Do not create the prefix route (`IFA_F_NOPREFIXROUTE`).
    pub noprefixroute: bool,
    /// Default: universe.
    pub scope: Option<Scope>,
}

/// An address as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    pub index: u32,
    /// Address with its prefix length (host bits kept, CNI style).
    pub addr: IpNet,
    pub scope: Scope,
    /// Raw `IFA_F_*` flags.
    pub flags: u32,
    pub tentative: bool,
    pub dadfailed: bool,
}

fn addr_message(index: u32, net: &IpNet, opts: &AddrOpts) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.index = index;
    m.header.prefix_len = net.prefix_len();
    let scope = opts.scope.unwrap_or_default().to_u8();
    m.header.scope = AddressScope::from(scope);
    let mut flags = AddressFlags::empty();
    if opts.nodad {
        flags |= AddressFlags::Nodad;
    }
    if opts.noprefixroute {
        flags |= AddressFlags::Noprefixroute;
    }
    m.header.flags = AddressHeaderFlags::from_bits_truncate(flags.bits() as u8);
    match net {
        IpNet::V4(v4) => {
            m.header.family = AddressFamily::Inet;
            m.attributes
                .push(AddressAttribute::Local(IpAddr::V4(v4.addr())));
            m.attributes
                .push(AddressAttribute::Address(IpAddr::V4(v4.addr())));
            if v4.prefix_len() < 31 {
                m.attributes
                    .push(AddressAttribute::Broadcast(v4.broadcast()));
            }
        }
        IpNet::V6(v6) => {
            m.header.family = AddressFamily::Inet6;
            m.attributes
                .push(AddressAttribute::Address(IpAddr::V6(v6.addr())));
        }
    }
    if !flags.is_empty() {
        m.attributes.push(AddressAttribute::Flags(flags));
    }
    m
}

fn addr_info(m: &AddressMessage) -> Option<AddrInfo> {
    let mut local = None;
    let mut address = None;
    let mut flags = m.header.flags.bits() as u32;
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Flags(f) => flags = f.bits(),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    let addr = IpNet::new(ip, m.header.prefix_len).ok()?;
    Some(AddrInfo {
        index: m.header.index,
        addr,
        scope: Scope::from_u8(u8::from(m.header.scope)),
        flags,
        tentative: flags & AddressFlags::Tentative.bits() != 0,
        dadfailed: flags & AddressFlags::Dadfailed.bits() != 0,
    })
}

impl Netlink {
    /// Adds `net` to link `index` (exclusive: EEXIST if already there).
    pub fn add_address(&mut self, index: u32, net: IpNet, opts: AddrOpts) -> Result<()> {
        let m = addr_message(index, &net, &opts);
        let op = format!("add address {net} on link #{index}");
        self.request(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )
        .map(drop)
    }

    /// Adds `net` unless present; on EEXIST checks that exactly this address
    /// and prefix is on the link (safe with concurrent callers).
    pub fn ensure_address(&mut self, index: u32, net: IpNet, opts: AddrOpts) -> Result<()> {
        match self.add_address(index, net, opts) {
            Err(e) if e.is_exists() => {
                let fam = if net.addr().is_ipv4() {
                    IpFamily::V4
                } else {
                    IpFamily::V6
                };
                if self
                    .list_addresses(Some(index), Some(fam))?
                    .iter()
                    .any(|a| a.addr == net)
                {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            r => r,
        }
    }

    /// Removes `net` from link `index`; `false` when it was not there.
    pub fn del_address(&mut self, index: u32, net: IpNet) -> Result<bool> {
        let m = addr_message(index, &net, &AddrOpts::default());
        let op = format!("delete address {net} on link #{index}");
        match self.request(RouteNetlinkMessage::DelAddress(m), 0, &op) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Addresses of link `index` (all links with `None`), optionally one family.
    pub fn list_addresses(
        &mut self,
        index: Option<u32>,
        family: Option<IpFamily>,
    ) -> Result<Vec<AddrInfo>> {
        let mut m = AddressMessage::default();
        m.header.family = IpFamily::af(family);
        m.header.index = index.unwrap_or(0);
        let msgs = self.dump(RouteNetlinkMessage::GetAddress(m), "list addresses")?;
        Ok(msgs
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(a) => addr_info(a),
                _ => None,
            })
            .filter(|a| index.is_none_or(|i| a.index == i))
            .collect())
    }

    /// Waits until IPv6 DAD has finished for `addrs` on link `index` (every
    /// IPv6 address of the link when `addrs` is empty). Driven by
    /// `RTNLGRP_IPV6_IFADDR` events: subscribes, reads the state once, then
    /// re-reads only when an event arrives (no polling, no sleeps).
    ///
    /// Errors: [`Error::DadFailed`] when an address is `DADFAILED`,
    /// [`Error::DadTimeout`] when one is still tentative at `timeout`.
    /// Returns how long the wait took. Leaves the group afterwards.
    pub fn wait_dad(
        &mut self,
        index: u32,
        addrs: &[IpAddr],
        timeout: Duration,
    ) -> Result<Duration> {
        let start = Instant::now();
        let deadline = start + timeout;
        self.subscribe(RTNLGRP_IPV6_IFADDR)?;
        let result = self.wait_dad_subscribed(index, addrs, deadline, timeout);
        let left = self.unsubscribe(RTNLGRP_IPV6_IFADDR);
        result?;
        left?;
        Ok(start.elapsed())
    }

    fn wait_dad_subscribed(
        &mut self,
        index: u32,
        addrs: &[IpAddr],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        loop {
            // Events queued so far are older than the dump below.
            self.clear_events();
            let now = self.list_addresses(Some(index), Some(IpFamily::V6))?;
            let mut pending = false;
            for want in addrs {
                if !now.iter().any(|a| a.addr.addr() == *want) {
                    return Err(Error::Invalid(format!("{want} is not on link #{index}")));
                }
            }
            for a in now
                .iter()
                .filter(|a| addrs.is_empty() || addrs.contains(&a.addr.addr()))
            {
                if a.dadfailed {
                    return Err(Error::DadFailed {
                        addr: a.addr.addr(),
                        index,
                    });
                }
                pending |= a.tentative;
            }
            if !pending {
                return Ok(());
            }
            if self.wait_event(deadline)?.is_none() {
                return Err(Error::DadTimeout {
                    index,
                    waited: timeout,
                });
            }
        }
    }
}
