//! Routes: add (exclusive, or ECMP-append), delete (idempotent), list.
//! Everything a CNI 1.1 route can carry: dst, gateway, device, table,
//! scope, priority (metric), MTU and advmss (`RTA_METRICS`), type, source.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteMetric, RouteProtocol,
    RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::addr::{IpFamily, Scope};
use crate::error::Result;
use crate::socket::Netlink;

/// `RTPROT_BOOT`: what `ip route add` uses.
pub const RTPROT_BOOT: u8 = 3;
/// `RT_TABLE_MAIN`.
pub const TABLE_MAIN: u32 = 254;

/// Route type (`RTN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouteKind {
    #[default]
    Unicast,
    Local,
    Broadcast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Other(u8),
}

impl RouteKind {
    fn to_u8(self) -> u8 {
        match self {
            RouteKind::Unicast => 1,
            RouteKind::Local => 2,
            RouteKind::Broadcast => 3,
            RouteKind::Blackhole => 6,
            RouteKind::Unreachable => 7,
            RouteKind::Prohibit => 8,
            RouteKind::Throw => 9,
            RouteKind::Other(v) => v,
        }
    }

    fn from_u8(v: u8) -> RouteKind {
        match v {
            1 => RouteKind::Unicast,
            2 => RouteKind::Local,
            3 => RouteKind::Broadcast,
            6 => RouteKind::Blackhole,
            7 => RouteKind::Unreachable,
            8 => RouteKind::Prohibit,
            9 => RouteKind::Throw,
            v => RouteKind::Other(v),
        }
    }
}

/// A route to add, delete, or as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination; `0.0.0.0/0` / `::/0` for a default route.
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// Preferred source address.
    pub src: Option<IpAddr>,
    /// Routing table; `None` = main.
    pub table: Option<u32>,
    /// `None`: link for a gateway-less unicast route, host for local,
    /// universe otherwise (as `ip route add`).
    pub scope: Option<Scope>,
    /// Metric (`RTA_PRIORITY`).
    pub priority: Option<u32>,
    pub mtu: Option<u32>,
    pub advmss: Option<u32>,
    pub kind: RouteKind,
    /// `None` = `RTPROT_BOOT`.
    pub protocol: Option<u8>,
}

impl Route {
    /// A unicast route to `dst` with nothing else set.
    pub fn new(dst: IpNet) -> Route {
        Route {
            dst: dst.trunc(),
            gw: None,
            oif: None,
            src: None,
            table: None,
            scope: None,
            priority: None,
            mtu: None,
            advmss: None,
            kind: RouteKind::Unicast,
            protocol: None,
        }
    }

    /// The default route of `gw`'s family via `gw`.
    pub fn default_via(gw: IpAddr) -> Route {
        let dst = match gw {
            IpAddr::V4(_) => "0.0.0.0/0".parse().expect("literal"),
            IpAddr::V6(_) => "::/0".parse().expect("literal"),
        };
        Route::new(dst).via(gw)
    }

    pub fn via(mut self, gw: IpAddr) -> Route {
        self.gw = Some(gw);
        self
    }

    pub fn dev(mut self, oif: u32) -> Route {
        self.oif = Some(oif);
        self
    }

    /// True for `0.0.0.0/0` and `::/0`.
    pub fn is_default(&self) -> bool {
        self.dst.prefix_len() == 0
    }

    fn effective_scope(&self) -> Scope {
        match (self.scope, self.kind, self.gw) {
            (Some(s), _, _) => s,
            (None, RouteKind::Local, _) => Scope::Host,
            (None, RouteKind::Unicast, None) => Scope::Link,
            _ => Scope::Universe,
        }
    }

    fn to_message(&self) -> RouteMessage {
        let mut m = RouteMessage::default();
        let h = &mut m.header;
        h.address_family = if self.dst.addr().is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        h.destination_prefix_length = self.dst.prefix_len();
        let table = self.table.unwrap_or(TABLE_MAIN);
        h.table = if table < 256 {
            table as u8
        } else {
            RouteHeader::RT_TABLE_UNSPEC
        };
        h.protocol = RouteProtocol::from(self.protocol.unwrap_or(RTPROT_BOOT));
        h.scope = RouteScope::from(self.effective_scope().to_u8());
        h.kind = RouteType::from(self.kind.to_u8());
        let a = &mut m.attributes;
        a.push(RouteAttribute::Table(table));
        if !self.is_default() {
            a.push(RouteAttribute::Destination(RouteAddress::from(
                self.dst.addr(),
            )));
        }
        if let Some(gw) = self.gw {
            a.push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        }
        if let Some(oif) = self.oif {
            a.push(RouteAttribute::Oif(oif));
        }
        if let Some(src) = self.src {
            a.push(RouteAttribute::PrefSource(RouteAddress::from(src)));
        }
        if let Some(p) = self.priority {
            a.push(RouteAttribute::Priority(p));
        }
        let mut metrics = Vec::new();
        if let Some(v) = self.mtu {
            metrics.push(RouteMetric::Mtu(v));
        }
        if let Some(v) = self.advmss {
            metrics.push(RouteMetric::Advmss(v));
        }
        if !metrics.is_empty() {
            a.push(RouteAttribute::Metrics(metrics));
        }
        m
    }

    fn from_message(m: &RouteMessage) -> Option<Route> {
        let h = &m.header;
        let zero: IpAddr = match h.address_family {
            AddressFamily::Inet => IpAddr::from([0u8; 4]),
            AddressFamily::Inet6 => IpAddr::from([0u16; 8]),
            _ => return None,
        };
        let mut r = Route::new(IpNet::new(zero, h.destination_prefix_length).ok()?);
        r.table = Some(h.table as u32);
        r.scope = Some(Scope::from_u8(u8::from(h.scope)));
        r.kind = RouteKind::from_u8(u8::from(h.kind));
        r.protocol = Some(u8::from(h.protocol));
        for attr in &m.attributes {
            read_attribute(&mut r, attr, h.destination_prefix_length);
        }
        Some(r)
    }
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn read_attribute(r: &mut Route, attr: &RouteAttribute, plen: u8) {
    match attr {
        RouteAttribute::Destination(a) => {
            if let Some(net) = ip_of(a).and_then(|ip| IpNet::new(ip, plen).ok()) {
                r.dst = net;
            }
        }
        RouteAttribute::Gateway(a) => r.gw = ip_of(a),
        RouteAttribute::PrefSource(a) => r.src = ip_of(a),
        RouteAttribute::Oif(i) => r.oif = Some(*i),
        RouteAttribute::Table(t) => r.table = Some(*t),
        RouteAttribute::Priority(p) => r.priority = Some(*p),
        RouteAttribute::Metrics(ms) => {
            for metric in ms {
                match metric {
                    RouteMetric::Mtu(v) => r.mtu = Some(*v),
                    RouteMetric::Advmss(v) => r.advmss = Some(*v),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

impl Netlink {
    /// Adds `route`; EEXIST if an identical one exists.
    pub fn add_route(&mut self, route: &Route) -> Result<()> {
        let op = format!("add route {route:?}");
        let msg = RouteNetlinkMessage::NewRoute(route.to_message());
        self.request(msg, NLM_F_CREATE | NLM_F_EXCL, &op).map(drop)
    }

    /// Adds `route` with `NLM_F_APPEND` (IPv6 builds an ECMP route with an
    /// existing one of the same dst/metric, like the reference plugin).
    pub fn append_route(&mut self, route: &Route) -> Result<()> {
        let op = format!("append route {route:?}");
        let msg = RouteNetlinkMessage::NewRoute(route.to_message());
        self.request(msg, NLM_F_CREATE | NLM_F_APPEND, &op)
            .map(drop)
    }

    /// Deletes `route`; `false` when there was no such route (ESRCH).
    pub fn del_route(&mut self, route: &Route) -> Result<bool> {
        let op = format!("delete route {route:?}");
        let mut m = route.to_message();
        // Match any protocol/scope unless the caller pinned them.
        if route.protocol.is_none() {
            m.header.protocol = RouteProtocol::from(0u8);
        }
        if route.scope.is_none() {
            m.header.scope = RouteScope::from(Scope::Nowhere.to_u8());
        }
        match self.request(RouteNetlinkMessage::DelRoute(m), 0, &op) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Routes of `family` (both with `None`) in `table` (every table with
    /// `None`). Cached/cloned entries are not included.
    pub fn list_routes(
        &mut self,
        family: Option<IpFamily>,
        table: Option<u32>,
    ) -> Result<Vec<Route>> {
        let mut m = RouteMessage::default();
        m.header.address_family = IpFamily::af(family);
        let msgs = self.dump(RouteNetlinkMessage::GetRoute(m), "list routes")?;
        Ok(msgs
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewRoute(m) => Route::from_message(m),
                _ => None,
            })
            .filter(|r| table.is_none() || r.table == table)
            .collect())
    }
}
