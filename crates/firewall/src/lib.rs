//! fwkit: the netfilter side of the ferrocni CNI plugins.
//!
//! Two backends, both driven by **one batch process per call** (per family
//! for iptables) plus at most one read when existing state must be found:
//!
//! * [`Backend::Nftables`]: our own tables (`inet ferrocni` for ipMasq,
//!   `inet ferrocni_hostport` for port mappings) built around maps whose
//!   elements carry the container id in their comment, so ADD is O(1) and
//!   DEL by container id needs one read; DEL with the addresses or mappings
//!   known needs none (guarded deletes, see `nft_guard`).
//! * [`Backend::Iptables`]: exactly the reference plugins' layout
//!   (`CNI-<hash>`, `CNI-HOSTPORT-*`, `CNI-DN-<hash>`), written with one
//!   `iptables-restore --noflush` per family.
//!
//! Every call runs in the caller's network namespace.
//!
//! Shared with the plugins: [`nft_json`] (parsing `nft -j` output), the
//! nf_tables netlink queries ([`nft_chain_query`]) and the ipMasq netlink
//! fast path ([`masq_add_netlink`], [`masq_layouts`]), all on netkit's
//! [`netkit::nfnl`].

mod backend;
mod error;
mod exec;
mod family;
mod filter;
mod ipt_masq;
mod ipt_portmap;
mod ipt_ref;
mod ipt_save;
mod masq;
mod names;
mod nfnl;
mod nft_guard;
pub mod nft_json;
mod nft_masq;
mod nft_masq_add;
mod nft_masq_fast;
mod nft_masq_known;
mod nft_portmap;
mod nft_portmap_add;
mod nft_portmap_known;
mod portmap;

pub use backend::{Backend, Flavor, detect_backend, detect_iptables_flavor, probe};
pub use error::{Error, Result};
pub use exec::{Batch, spawn_count};
pub use family::Family;
pub use filter::{DEFAULT_ADMIN_CHAIN, filter_add, filter_check, filter_del};
pub use masq::{masq_add, masq_check, masq_del, masq_del_reference_iptables, masq_gc};
pub use names::{
    dnat_comment, ipmasq_chain, nft_ident, portmap_dn_chain, reference_comment, validate_token,
};
pub use nfnl::{ChainAsk, legacy_nat_present, nft_chain_query};
pub use nft_masq_fast::{MasqLayouts, masq_add_netlink, masq_layouts};
pub use portmap::{
    PortMapping, PortmapOpts, Protocol, portmap_add, portmap_check, portmap_del, portmap_del_known,
    portmap_gc,
};
