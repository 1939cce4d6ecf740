//! Bridges and bridge ports.
//!
//! [`Netlink::ensure_bridge`] is safe against concurrent creators (many CNI
//! ADDs at once): it tries an exclusive create and, on `EEXIST`, re-reads
//! the link and checks it is a bridge. Port flags (hairpin, isolation) go
//! through `IFLA_INFO_SLAVE_DATA` (`IFLA_BRPORT_*`).

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoBridge, InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, LinkAttribute,
    LinkFlags, LinkInfo as NlLinkInfo, LinkMessage,
};

use crate::error::{Error, Result};
use crate::link::{LinkInfo, LinkKind, link_msg};
use crate::socket::Netlink;
use crate::util::MacAddr;

/// What [`Netlink::ensure_bridge`] should produce.
#[derive(Debug, Clone, Default)]
pub struct BridgeSpec {
    pub name: String,
    /// Applied only when this call creates the bridge (like the reference plugin).
    pub mtu: Option<u32>,
    /// Turn promiscuous mode on (also on an existing bridge).
    pub promisc: bool,
    /// Turn VLAN filtering on (also on an existing bridge).
    pub vlan_filtering: bool,
    /// Fixed MAC, applied only at creation.
    pub mac: Option<MacAddr>,
}

impl BridgeSpec {
    /// A spec with just a name and everything else default.
    pub fn new(name: &str) -> BridgeSpec {
        BridgeSpec {
            name: name.to_string(),
            ..BridgeSpec::default()
        }
    }
}

/// Bridge-port flags to change; `None` leaves a flag as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct BridgePortFlags {
    pub hairpin: Option<bool>,
    pub isolated: Option<bool>,
    pub learning: Option<bool>,
}

/// Maps `EOPNOTSUPP` from a VLAN operation to [`Error::VlanUnsupported`].
pub(crate) fn vlan_error(e: Error, op: &str) -> Error {
    match e {
        Error::Netlink {
            errno: libc::EOPNOTSUPP,
            ext_ack,
            ..
        } => Error::VlanUnsupported {
            op: op.to_string(),
            detail: match ext_ack {
                Some(m) => format!("operation not supported ({m})"),
                None => "operation not supported".to_string(),
            },
        },
        e => e,
    }
}

impl Netlink {
    /// Creates the bridge if absent, or checks that the existing link is a
    /// bridge ([`Error::NotABridge`] otherwise); then makes sure it is up,
    /// promiscuous and VLAN-filtering as requested. Returns the final state.
    pub fn ensure_bridge(&mut self, spec: &BridgeSpec) -> Result<LinkInfo> {
        let existing = match self.find_link(&spec.name)? {
            Some(l) => l,
            None => match self.create_bridge(spec) {
                Ok(()) => self.link_by_name(&spec.name)?,
                Err(e) if e.is_exists() => self.link_by_name(&spec.name)?,
                Err(e) => return Err(e),
            },
        };
        if existing.kind != Some(LinkKind::Bridge) {
            return Err(Error::NotABridge {
                name: spec.name.clone(),
                kind: existing
                    .kind
                    .as_ref()
                    .map_or("none", |k| k.as_str())
                    .to_string(),
            });
        }
        let mut changed = false;
        if spec.vlan_filtering && existing.vlan_filtering != Some(true) {
            self.set_vlan_filtering(existing.index, true)?;
            changed = true;
        }
        if !existing.up || (spec.promisc && !existing.promisc) {
            let mut m = link_msg(existing.index);
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
            if spec.promisc {
                m.header.flags |= LinkFlags::Promisc;
                m.header.change_mask |= LinkFlags::Promisc;
            }
            self.change_link(m, &format!("set bridge {} up", spec.name))?;
            changed = true;
        }
        if changed {
            return self.link_by_index(existing.index);
        }
        Ok(existing)
    }

    fn create_bridge(&mut self, spec: &BridgeSpec) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        if spec.promisc {
            m.header.flags |= LinkFlags::Promisc;
            m.header.change_mask |= LinkFlags::Promisc;
        }
        m.attributes.push(LinkAttribute::IfName(spec.name.clone()));
        if let Some(mtu) = spec.mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = spec.mac {
            m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
        }
        let mut info = vec![NlLinkInfo::Kind(InfoKind::Bridge)];
        if spec.vlan_filtering {
            info.push(NlLinkInfo::Data(InfoData::Bridge(vec![
                InfoBridge::VlanFiltering(true),
            ])));
        }
        m.attributes.push(LinkAttribute::LinkInfo(info));
        let op = format!("create bridge {}", spec.name);
        let r = self.request(
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        );
        r.map(drop).map_err(|e| {
            if spec.vlan_filtering {
                vlan_error(e, &op)
            } else {
                e
            }
        })
    }

    /// Turns VLAN filtering on or off on a bridge
    /// ([`Error::VlanUnsupported`] on kernels without it).
    pub fn set_vlan_filtering(&mut self, bridge: u32, on: bool) -> Result<()> {
        let mut m = link_msg(bridge);
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::Bridge),
            NlLinkInfo::Data(InfoData::Bridge(vec![InfoBridge::VlanFiltering(on)])),
        ]));
        let op = format!("set bridge #{bridge} vlan_filtering {}", on as u8);
        self.change_link(m, &op).map_err(|e| vlan_error(e, &op))?;
        // Kernels without CONFIG_BRIDGE_VLAN_FILTERING may accept and ignore it.
        if on && self.link_by_index(bridge)?.vlan_filtering != Some(true) {
            return Err(Error::VlanUnsupported {
                op,
                detail: "the bridge does not report vlan_filtering after setting it".into(),
            });
        }
        Ok(())
    }

    /// Changes bridge-port flags of a link enslaved to a bridge.
    pub fn set_bridge_port(&mut self, index: u32, flags: BridgePortFlags) -> Result<()> {
        let mut opts = Vec::new();
        if let Some(v) = flags.hairpin {
            opts.push(InfoBridgePort::HairpinMode(v));
        }
        if let Some(v) = flags.isolated {
            opts.push(InfoBridgePort::Isolated(v));
        }
        if let Some(v) = flags.learning {
            opts.push(InfoBridgePort::Learning(v));
        }
        if opts.is_empty() {
            return Ok(());
        }
        let mut m = link_msg(index);
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::PortKind(InfoPortKind::Bridge),
            NlLinkInfo::PortData(InfoPortData::BridgePort(opts)),
        ]));
        self.change_link(m, &format!("set bridge port #{index} {flags:?}"))
    }

    /// Hairpin mode on a bridge port.
    pub fn set_hairpin(&mut self, index: u32, on: bool) -> Result<()> {
        self.set_bridge_port(
            index,
            BridgePortFlags {
                hairpin: Some(on),
                ..Default::default()
            },
        )
    }

    /// Port isolation (`IFLA_BRPORT_ISOLATED`) on a bridge port.
    pub fn set_isolated(&mut self, index: u32, on: bool) -> Result<()> {
        self.set_bridge_port(
            index,
            BridgePortFlags {
                isolated: Some(on),
                ..Default::default()
            },
        )
    }
}
