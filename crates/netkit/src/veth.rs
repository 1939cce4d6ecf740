//! veth pairs created in one request: the peer is born inside the pod
//! netns (`IFLA_NET_NS_FD` in the peer message) and the host end is born
//! enslaved to its bridge and up. No namespace move, no rename, no separate
//! enslave (the move is what makes the reference plugin slow under load).

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo as NlLinkInfo, LinkMessage,
};
use std::os::fd::AsRawFd;

use crate::error::{Error, Result};
use crate::link::LinkInfo;
use crate::netns::NetnsFile;
use crate::socket::Netlink;
use crate::util::{MacAddr, random_hex};

/// Attempts with a fresh random host name when the name is taken.
const NAME_ATTEMPTS: usize = 10;

/// What [`Netlink::create_veth`] should create. The host end lives in the
/// socket's namespace; the peer in `peer_ns`.
#[derive(Debug)]
pub struct VethSpec<'a> {
    /// Host-end name; `None` = `veth` + 8 random hex characters, retried on collision.
    pub host_name: Option<String>,
    /// Peer (container) name, e.g. `CNI_IFNAME`.
    pub peer_name: String,
    pub peer_ns: &'a NetnsFile,
    /// Bridge to enslave the host end to.
    pub master: Option<u32>,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    pub peer_mac: Option<MacAddr>,
    /// Bring the host end up (normally true). The peer is left down.
    pub host_up: bool,
}

impl<'a> VethSpec<'a> {
    /// Random host name, host end up, no master/MTU/MAC.
    pub fn new(peer_name: &str, peer_ns: &'a NetnsFile) -> VethSpec<'a> {
        VethSpec {
            host_name: None,
            peer_name: peer_name.to_string(),
            peer_ns,
            master: None,
            mtu: None,
            peer_mac: None,
            host_up: true,
        }
    }
}

/// The created pair: the host end as read back, and the peer's ifindex in
/// its own namespace.
#[derive(Debug, Clone)]
pub struct VethPair {
    pub host: LinkInfo,
    pub peer_index: u32,
}

impl Netlink {
    /// Creates a veth pair per `spec` in a single `RTM_NEWLINK`.
    ///
    /// On `EEXIST` with a random host name, retries with a new name; if the
    /// host name is free, the peer name must be taken inside the pod netns
    /// and the error is returned (errno EEXIST, op naming the peer).
    pub fn create_veth(&mut self, spec: &VethSpec<'_>) -> Result<VethPair> {
        for _ in 0..NAME_ATTEMPTS {
            let host_name = match &spec.host_name {
                Some(n) => n.clone(),
                None => format!("veth{}", random_hex(4)?),
            };
            match self.create_veth_named(spec, &host_name) {
                Ok(()) => return self.read_pair(&host_name),
                Err(e) if e.is_exists() => {
                    let host_taken = self.find_link(&host_name)?.is_some();
                    if host_taken && spec.host_name.is_none() {
                        continue;
                    }
                    return Err(exists_error(e, spec, &host_name, host_taken));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Invalid(format!(
            "no free random veth name after {NAME_ATTEMPTS} attempts"
        )))
    }

    fn create_veth_named(&mut self, spec: &VethSpec<'_>, host_name: &str) -> Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(spec.peer_name.clone()));
        peer.attributes
            .push(LinkAttribute::NetNsFd(spec.peer_ns.as_raw_fd()));
        if let Some(mtu) = spec.mtu {
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = spec.peer_mac {
            peer.attributes.push(LinkAttribute::Address(mac.0.to_vec()));
        }
        let mut host = LinkMessage::default();
        if spec.host_up {
            host.header.flags = LinkFlags::Up;
            host.header.change_mask = LinkFlags::Up;
        }
        host.attributes
            .push(LinkAttribute::IfName(host_name.to_string()));
        if let Some(mtu) = spec.mtu {
            host.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(master) = spec.master {
            host.attributes.push(LinkAttribute::Controller(master));
        }
        host.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::Veth),
            NlLinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        let op = format!("create veth {host_name} <-> {}", spec.peer_name);
        self.request(
            RouteNetlinkMessage::NewLink(host),
            NLM_F_CREATE | NLM_F_EXCL,
            &op,
        )
        .map(drop)
    }

    fn read_pair(&mut self, host_name: &str) -> Result<VethPair> {
        let host = self.link_by_name(host_name)?;
        let peer_index = host.link.ok_or_else(|| Error::Protocol {
            op: format!("read veth {host_name}"),
            msg: "no IFLA_LINK (peer index) on the new veth".into(),
        })?;
        Ok(VethPair { host, peer_index })
    }
}

fn exists_error(e: Error, spec: &VethSpec<'_>, host_name: &str, host_taken: bool) -> Error {
    let op = if host_taken {
        format!("create veth: host interface {host_name} already exists")
    } else {
        format!(
            "create veth: container interface {} already exists in {}",
            spec.peer_name,
            spec.peer_ns.path().display()
        )
    };
    match e {
        Error::Netlink { errno, ext_ack, .. } => Error::Netlink { op, errno, ext_ack },
        other => other,
    }
}
