//! netkit: the synchronous netns + netlink toolkit of the ferrocni plugins.
//!
//! No tokio, no `ip` execs: blocking `NETLINK_ROUTE` sockets built with
//! `netlink-packet-route` (pinned), one per network namespace.
//!
//! # Threading and namespace rules
//! - **One socket per namespace.** [`Netlink::open`] binds to the calling
//!   thread's netns; [`Netlink::open_in`] switches the calling thread into
//!   the target netns just long enough to create the socket, then back. All
//!   later calls are plain requests from any thread.
//! - **Work that must run inside a netns** (`/proc/sys/net/...`, which
//!   resolves the netns at `open`) runs on a short-lived thread via
//!   [`netns::run_in`] / [`sysctl::write_in`]. No caller thread is ever left
//!   in a foreign namespace.
//!
//! # Modules
//! - [`netns`]: [`NetnsFile`] (open + nsfs/`CLONE_NEWNET` check, identity),
//!   [`netns::run_in`]. Missing path → [`Error::NetnsNotFound`]; not a netns
//!   → [`Error::NotANetns`] (the CNI layer maps that to code 8).
//! - [`Netlink`] (in `socket`): request/ACK with sequence checks, dumps
//!   (retried on `NLM_F_DUMP_INTR`), `NLM_F_ACK` on GETs, strict checking,
//!   extended-ACK messages in errors, multicast events.
//! - links ([`LinkInfo`]): `link_by_name/index`, `find_link`, `list_links`,
//!   `set_up/down`, `set_mtu`, `set_mac`, `set_master`, `set_promisc`,
//!   `delete_link` (idempotent).
//! - bridges: [`Netlink::ensure_bridge`] (race-free, [`Error::NotABridge`]),
//!   `set_bridge_port` / `set_hairpin` / `set_isolated`, `set_vlan_filtering`.
//! - veth: [`Netlink::create_veth`]: one request, peer born in the pod netns,
//!   host end born enslaved and up; random `vethXXXXXXXX` names.
//! - VLAN: `bridge_vlan_add/del`, `bridge_vlans`, `create_vlan`
//!   ([`Error::VlanUnsupported`] on kernels without 802.1Q).
//! - addresses: `add_address`, `ensure_address`, `del_address`,
//!   `list_addresses`, `wait_dad` (event-driven, bounded).
//! - routes ([`Route`]): `add_route`, `append_route` (ECMP), `del_route`,
//!   `list_routes`.
//! - waits ([`events`]): `wait_oper_up`, `wait_link` (event-driven, bounded).
//! - [`conntrack`]: [`Conntrack::open`] / [`Conntrack::open_in`],
//!   `delete_by_addr` (every entry to or from the addresses, both tuples,
//!   both families), `delete_udp_dport`, `delete_where`, `list`; dumps are
//!   filtered in the kernel (`CTA_FILTER`) with a user-space fallback.
//! - [`nfnl`]: the netfilter netlink socket and codec under conntrack,
//!   also for nf_tables queries and batches (fwkit, the plugins).
//! - [`sysctl`]: `read/write` here, `read_in/write_in/write_many_in` in a netns.
//! - [`util`]: [`MacAddr`], [`random_hex`].
//!
//! # Bridge ADD in brief
//! ```no_run
//! use netkit::*;
//! # fn main() -> netkit::Result<()> {
//! let pod = NetnsFile::open("/var/run/netns/pod")?;
//! let mut host = Netlink::open()?;
//! let mut spec = BridgeSpec::new("cni0");
//! spec.mtu = Some(1450);
//! let br = host.ensure_bridge(&spec)?;
//! let mut veth = VethSpec::new("eth0", &pod);
//! veth.master = Some(br.index);
//! veth.mtu = Some(1450);
//! let pair = host.create_veth(&veth)?;
//! host.set_hairpin(pair.host.index, true)?;
//! let mut podnl = Netlink::open_in(&pod)?;
//! sysctl::write_many_in(&pod, &[("net/ipv6/conf/eth0/accept_dad", "0"),
//!                               ("net/ipv4/conf/eth0/arp_notify", "1")])?;
//! podnl.add_address(pair.peer_index, "10.88.0.2/16".parse().unwrap(), AddrOpts::default())?;
//! podnl.set_up(pair.peer_index)?;
//! podnl.add_route(&Route::default_via("10.88.0.1".parse().unwrap()).dev(pair.peer_index))?;
//! host.ensure_address(br.index, "10.88.0.1/16".parse().unwrap(), AddrOpts::default())?;
//! sysctl::write("net.ipv4.ip_forward", "1")?;
//! # Ok(()) }
//! ```

pub mod addr;
pub mod bridge;
pub mod conntrack;
mod ctmsg;
pub mod error;
pub mod events;
pub mod link;
pub mod netns;
pub mod nfnl;
pub mod route;
pub mod socket;
pub mod sysctl;
pub mod util;
pub mod veth;
pub mod vlan;

pub use addr::{AddrInfo, AddrOpts, IpFamily, Scope};
pub use bridge::{BridgePortFlags, BridgeSpec};
pub use conntrack::Conntrack;
pub use error::{Error, Result};
pub use link::{BridgePortInfo, LinkInfo, LinkKind, OperState};
pub use netns::{NetnsFile, run_in};
pub use route::{Route, RouteKind};
pub use socket::{Netlink, RTNLGRP_IPV6_IFADDR, RTNLGRP_LINK};
pub use util::{MacAddr, random_hex};
pub use veth::{VethPair, VethSpec};
pub use vlan::BridgeVlan;
