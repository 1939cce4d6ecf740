//! Bridge VLANs: per-port VLAN entries (`AF_BRIDGE` `RTM_SETLINK` /
//! `RTM_DELLINK` with `IFLA_AF_SPEC` → `IFLA_BRIDGE_VLAN_INFO`, flags
//! PVID/untagged, ranges) and `<bridge>.<vid>` vlan sub-interfaces.
//!
//! Kernels built without `CONFIG_BRIDGE_VLAN_FILTERING` / `CONFIG_VLAN_8021Q`
//! answer `EOPNOTSUPP`; that becomes [`Error::VlanUnsupported`].

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    AfSpecBridge, BridgeFlag, BridgeVlanInfo, BridgeVlanInfoFlags, InfoData, InfoKind, InfoVlan,
    LinkAttribute, LinkExtentMask, LinkInfo as NlLinkInfo, LinkMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::bridge::vlan_error;
use crate::error::{Error, Result};
use crate::link::{LinkInfo, link_msg};
use crate::socket::Netlink;

/// One VLAN entry (or range `vid..=vid_end`) on a bridge port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeVlan {
    pub vid: u16,
    /// Last VLAN of a range; `None` for a single VLAN.
    pub vid_end: Option<u16>,
    /// Untagged ingress frames get this VLAN.
    pub pvid: bool,
    /// Egress frames leave untagged.
    pub untagged: bool,
}

impl BridgeVlan {
    /// A tagged single VLAN.
    pub fn tagged(vid: u16) -> BridgeVlan {
        BridgeVlan {
            vid,
            ..BridgeVlan::default()
        }
    }

    /// PVID + untagged: the access-port setting of the bridge plugin's `vlan`.
    pub fn access(vid: u16) -> BridgeVlan {
        BridgeVlan {
            vid,
            vid_end: None,
            pvid: true,
            untagged: true,
        }
    }

    fn validate(&self) -> Result<()> {
        let end = self.vid_end.unwrap_or(self.vid);
        if self.vid == 0 || end > 4094 || end < self.vid {
            return Err(Error::Invalid(format!(
                "bad VLAN range {}..={end}",
                self.vid
            )));
        }
        Ok(())
    }

    fn infos(&self) -> Vec<AfSpecBridge> {
        let mut flags = BridgeVlanInfoFlags::empty();
        if self.pvid {
            flags |= BridgeVlanInfoFlags::Pvid;
        }
        if self.untagged {
            flags |= BridgeVlanInfoFlags::Untagged;
        }
        match self.vid_end {
            Some(end) if end != self.vid => vec![
                AfSpecBridge::VlanInfo(BridgeVlanInfo {
                    flags: flags | BridgeVlanInfoFlags::RangeBegin,
                    vid: self.vid,
                }),
                AfSpecBridge::VlanInfo(BridgeVlanInfo {
                    flags: flags | BridgeVlanInfoFlags::RangeEnd,
                    vid: end,
                }),
            ],
            _ => vec![AfSpecBridge::VlanInfo(BridgeVlanInfo {
                flags,
                vid: self.vid,
            })],
        }
    }
}

fn vlan_msg(port: u32, vlan: &BridgeVlan, on_self: bool) -> LinkMessage {
    let mut m = link_msg(port);
    m.header.interface_family = AddressFamily::Bridge;
    let mut spec = Vec::new();
    if on_self {
        spec.push(AfSpecBridge::Flags(BridgeFlag::LowerDev));
    }
    spec.extend(vlan.infos());
    m.attributes.push(LinkAttribute::AfSpecBridge(spec));
    m
}

impl Netlink {
    /// Adds a VLAN entry to bridge port `port` (`on_self`: to the bridge
    /// device itself, as `bridge vlan add ... self`).
    pub fn bridge_vlan_add(&mut self, port: u32, vlan: &BridgeVlan, on_self: bool) -> Result<()> {
        vlan.validate()?;
        let op = format!("add bridge vlan {vlan:?} on #{port}");
        let m = vlan_msg(port, vlan, on_self);
        self.request(RouteNetlinkMessage::SetLink(m), 0, &op)
            .map(drop)
            .map_err(|e| vlan_error(e, &op))
    }

    /// Removes a VLAN entry; `false` when it was not there.
    pub fn bridge_vlan_del(&mut self, port: u32, vlan: &BridgeVlan, on_self: bool) -> Result<bool> {
        vlan.validate()?;
        let op = format!("delete bridge vlan {vlan:?} on #{port}");
        let m = vlan_msg(port, vlan, on_self);
        match self.request(RouteNetlinkMessage::DelLink(m), 0, &op) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(vlan_error(e, &op)),
        }
    }

    /// The VLAN entries of `port`, one per VID (empty when filtering is off).
    pub fn bridge_vlans(&mut self, port: u32) -> Result<Vec<BridgeVlan>> {
        let mut m = LinkMessage::default();
        m.header.interface_family = AddressFamily::Bridge;
        m.attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan]));
        let msgs = self.dump(RouteNetlinkMessage::GetLink(m), "list bridge vlans")?;
        let mut out = Vec::new();
        for msg in msgs {
            let RouteNetlinkMessage::NewLink(l) = msg else {
                continue;
            };
            if l.header.index != port {
                continue;
            }
            for attr in l.attributes {
                let LinkAttribute::AfSpecBridge(spec) = attr else {
                    continue;
                };
                out.extend(spec.iter().filter_map(|s| match s {
                    AfSpecBridge::VlanInfo(i) => Some(BridgeVlan {
                        vid: i.vid,
                        vid_end: None,
                        pvid: i.flags.contains(BridgeVlanInfoFlags::Pvid),
                        untagged: i.flags.contains(BridgeVlanInfoFlags::Untagged),
                    }),
                    _ => None,
                }));
            }
        }
        Ok(out)
    }

    /// Creates vlan interface `name` (e.g. `cni0.100`) on `parent` with
    /// `vid`, optionally with an MTU, and sets it up.
    pub fn create_vlan(
        &mut self,
        name: &str,
        parent: u32,
        vid: u16,
        mtu: Option<u32>,
    ) -> Result<LinkInfo> {
        BridgeVlan::tagged(vid).validate()?;
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Link(parent));
        if let Some(mtu) = mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::Vlan),
            NlLinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(vid)])),
        ]));
        let op = format!("create vlan {name} (id {vid}) on #{parent}");
        self.request(
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )
        .map_err(|e| vlan_error(e, &op))?;
        let link = self.link_by_name(name)?;
        self.set_up(link.index)?;
        self.link_by_index(link.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vlan_range_is_sent_as_begin_and_end_entries() {
        let v = BridgeVlan {
            vid: 10,
            vid_end: Some(20),
            pvid: false,
            untagged: false,
        };
        let infos = v.infos();
        assert_eq!(infos.len(), 2);
        assert_eq!(
            infos[0],
            AfSpecBridge::VlanInfo(BridgeVlanInfo {
                flags: BridgeVlanInfoFlags::RangeBegin,
                vid: 10
            })
        );
        assert_eq!(
            infos[1],
            AfSpecBridge::VlanInfo(BridgeVlanInfo {
                flags: BridgeVlanInfoFlags::RangeEnd,
                vid: 20
            })
        );
    }

    #[test]
    fn an_access_vlan_is_pvid_and_untagged() {
        let infos = BridgeVlan::access(100).infos();
        let flags = BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged;
        assert_eq!(
            infos,
            vec![AfSpecBridge::VlanInfo(BridgeVlanInfo { flags, vid: 100 })]
        );
    }

    #[test]
    fn out_of_range_vlans_are_rejected() {
        assert!(BridgeVlan::tagged(0).validate().is_err());
        assert!(BridgeVlan::tagged(4095).validate().is_err());
        assert!(
            BridgeVlan {
                vid: 20,
                vid_end: Some(10),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(BridgeVlan::tagged(4094).validate().is_ok());
    }

    #[test]
    fn self_entries_carry_the_bridge_self_flag() {
        let m = vlan_msg(7, &BridgeVlan::tagged(5), true);
        assert_eq!(m.header.interface_family, AddressFamily::Bridge);
        let LinkAttribute::AfSpecBridge(spec) = &m.attributes[0] else {
            panic!("{m:?}")
        };
        assert_eq!(spec[0], AfSpecBridge::Flags(BridgeFlag::LowerDev));
    }
}
