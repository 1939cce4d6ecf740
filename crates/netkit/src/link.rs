//! Links: look up by name or index, list, change (up/down, MTU, MAC,
//! master, promisc) and delete. Changes are `RTM_NEWLINK` on an existing
//! index (what `ip link set` sends); deletes are idempotent.

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoBridge, InfoBridgePort, InfoData, InfoPortData, InfoVlan, LinkAttribute, LinkFlags,
    LinkInfo as NlLinkInfo, LinkMessage, State,
};

use crate::error::{Error, Result};
use crate::socket::Netlink;
use crate::util::MacAddr;

/// The `IFLA_INFO_KIND` of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    Bridge,
    Veth,
    Vlan,
    Dummy,
    Other(String),
}

impl LinkKind {
    fn from_name(s: &str) -> LinkKind {
        match s {
            "bridge" => LinkKind::Bridge,
            "veth" => LinkKind::Veth,
            "vlan" => LinkKind::Vlan,
            "dummy" => LinkKind::Dummy,
            other => LinkKind::Other(other.to_string()),
        }
    }

    /// The kernel's name for the kind (`bridge`, `veth`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            LinkKind::Bridge => "bridge",
            LinkKind::Veth => "veth",
            LinkKind::Vlan => "vlan",
            LinkKind::Dummy => "dummy",
            LinkKind::Other(s) => s,
        }
    }
}

/// RFC 2863 operational state (`IFLA_OPERSTATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OperState {
    #[default]
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
    Other(u8),
}

impl From<&State> for OperState {
    fn from(s: &State) -> OperState {
        match s {
            State::NotPresent => OperState::NotPresent,
            State::Down => OperState::Down,
            State::LowerLayerDown => OperState::LowerLayerDown,
            State::Testing => OperState::Testing,
            State::Dormant => OperState::Dormant,
            State::Up => OperState::Up,
            State::Other(v) => OperState::Other(*v),
            _ => OperState::Unknown,
        }
    }
}

/// Bridge-port settings of a link enslaved to a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgePortInfo {
    pub hairpin: bool,
    pub isolated: bool,
}

/// What netkit reads back about a link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    /// `None` for links without `IFLA_LINKINFO` (e.g. `lo`).
    pub kind: Option<LinkKind>,
    /// Index of the master (bridge) this link is enslaved to.
    pub master: Option<u32>,
    pub mtu: u32,
    pub mac: Option<MacAddr>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    pub promisc: bool,
    /// Carrier present (`IFF_LOWER_UP`).
    pub lower_up: bool,
    pub oper_state: OperState,
    /// `IFLA_LINK`: for a veth, the peer's ifindex (in the peer's netns).
    pub link: Option<u32>,
    /// `IFLA_LINK_NETNSID`: the peer's netns id, when it is elsewhere.
    pub link_netnsid: Option<i32>,
    /// For bridges: whether VLAN filtering is on.
    pub vlan_filtering: Option<bool>,
    /// For vlan links: the VLAN id.
    pub vlan_id: Option<u16>,
    /// For bridge ports: hairpin and isolation.
    pub bridge_port: Option<BridgePortInfo>,
}

impl LinkInfo {
    pub(crate) fn from_message(m: &LinkMessage) -> LinkInfo {
        let mut info = LinkInfo {
            index: m.header.index,
            up: m.header.flags.contains(LinkFlags::Up),
            promisc: m.header.flags.contains(LinkFlags::Promisc),
            lower_up: m.header.flags.contains(LinkFlags::LowerUp),
            ..LinkInfo::default()
        };
        for attr in &m.attributes {
            match attr {
                LinkAttribute::IfName(n) => info.name = n.clone(),
                LinkAttribute::Mtu(v) => info.mtu = *v,
                LinkAttribute::Controller(v) if *v != 0 => info.master = Some(*v),
                LinkAttribute::Address(a) => info.mac = MacAddr::from_slice(a),
                LinkAttribute::OperState(s) => info.oper_state = s.into(),
                LinkAttribute::Link(v) if *v != 0 => info.link = Some(*v),
                LinkAttribute::LinkNetNsId(v) => info.link_netnsid = Some(*v),
                LinkAttribute::LinkInfo(infos) => info.read_link_info(infos),
                _ => {}
            }
        }
        info
    }

    fn read_link_info(&mut self, infos: &[NlLinkInfo]) {
        for i in infos {
            match i {
                NlLinkInfo::Kind(k) => self.kind = Some(LinkKind::from_name(&k.to_string())),
                NlLinkInfo::Data(InfoData::Bridge(opts)) => {
                    self.vlan_filtering = opts.iter().find_map(|o| match o {
                        InfoBridge::VlanFiltering(v) => Some(*v),
                        _ => None,
                    });
                }
                NlLinkInfo::Data(InfoData::Vlan(opts)) => {
                    self.vlan_id = opts.iter().find_map(|o| match o {
                        InfoVlan::Id(v) => Some(*v),
                        _ => None,
                    });
                }
                NlLinkInfo::PortData(InfoPortData::BridgePort(opts)) => {
                    let mut port = BridgePortInfo::default();
                    for o in opts {
                        match o {
                            InfoBridgePort::HairpinMode(v) => port.hairpin = *v,
                            InfoBridgePort::Isolated(v) => port.isolated = *v,
                            _ => {}
                        }
                    }
                    self.bridge_port = Some(port);
                }
                _ => {}
            }
        }
    }
}

/// A `LinkMessage` addressing an existing link by index.
pub(crate) fn link_msg(index: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m
}

impl Netlink {
    /// The link called `name`, or [`Error::LinkNotFound`].
    pub fn link_by_name(&mut self, name: &str) -> Result<LinkInfo> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.get_link(m, name)
    }

    /// The link with ifindex `index`, or [`Error::LinkNotFound`].
    pub fn link_by_index(&mut self, index: u32) -> Result<LinkInfo> {
        self.get_link(link_msg(index), &format!("#{index}"))
    }

    /// Like [`Netlink::link_by_name`], with `Ok(None)` when absent.
    pub fn find_link(&mut self, name: &str) -> Result<Option<LinkInfo>> {
        match self.link_by_name(name) {
            Ok(l) => Ok(Some(l)),
            Err(Error::LinkNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn get_link(&mut self, m: LinkMessage, what: &str) -> Result<LinkInfo> {
        let op = format!("get link {what}");
        let replies = match self.request(RouteNetlinkMessage::GetLink(m), 0, &op) {
            Err(e) if e.is_not_found() => return Err(Error::LinkNotFound(what.to_string())),
            r => r?,
        };
        replies
            .iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(LinkInfo::from_message(l)),
                _ => None,
            })
            .ok_or_else(|| Error::Protocol {
                op,
                msg: "no link in reply".into(),
            })
    }

    /// Every link in this socket's namespace.
    pub fn list_links(&mut self) -> Result<Vec<LinkInfo>> {
        let msgs = self.dump(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            "list links",
        )?;
        Ok(msgs
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(LinkInfo::from_message(l)),
                _ => None,
            })
            .collect())
    }

    /// Applies a prepared change (`RTM_NEWLINK` on an existing index).
    pub(crate) fn change_link(&mut self, m: LinkMessage, op: &str) -> Result<()> {
        self.request(RouteNetlinkMessage::NewLink(m), 0, op)
            .map(drop)
    }

    fn set_flag(&mut self, index: u32, flag: LinkFlags, on: bool, what: &str) -> Result<()> {
        let mut m = link_msg(index);
        m.header.change_mask = flag;
        if on {
            m.header.flags = flag;
        }
        self.change_link(m, &format!("set link #{index} {what}"))
    }

    /// Sets the link administratively up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        self.set_flag(index, LinkFlags::Up, true, "up")
    }

    /// Sets the link administratively down.
    pub fn set_down(&mut self, index: u32) -> Result<()> {
        self.set_flag(index, LinkFlags::Up, false, "down")
    }

    /// Turns promiscuous mode on or off.
    pub fn set_promisc(&mut self, index: u32, on: bool) -> Result<()> {
        self.set_flag(
            index,
            LinkFlags::Promisc,
            on,
            if on { "promisc on" } else { "promisc off" },
        )
    }

    /// Sets the MTU.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        let mut m = link_msg(index);
        m.attributes.push(LinkAttribute::Mtu(mtu));
        self.change_link(m, &format!("set link #{index} mtu {mtu}"))
    }

    /// Sets the hardware address.
    pub fn set_mac(&mut self, index: u32, mac: MacAddr) -> Result<()> {
        let mut m = link_msg(index);
        m.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
        self.change_link(m, &format!("set link #{index} address {mac}"))
    }

    /// Enslaves the link to `master` (a bridge), or releases it with `None`.
    pub fn set_master(&mut self, index: u32, master: Option<u32>) -> Result<()> {
        let mut m = link_msg(index);
        m.attributes
            .push(LinkAttribute::Controller(master.unwrap_or(0)));
        self.change_link(m, &format!("set link #{index} master {master:?}"))
    }

    /// Deletes the link. Returns `false` when it did not exist (idempotent).
    /// Deleting either end of a veth removes both.
    pub fn delete_link(&mut self, index: u32) -> Result<bool> {
        let op = format!("delete link #{index}");
        match self.request(RouteNetlinkMessage::DelLink(link_msg(index)), 0, &op) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the link called `name`; `false` when it did not exist.
    pub fn delete_link_by_name(&mut self, name: &str) -> Result<bool> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let op = format!("delete link {name}");
        match self.request(RouteNetlinkMessage::DelLink(m), 0, &op) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}
