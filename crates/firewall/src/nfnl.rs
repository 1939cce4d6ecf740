//! Read-only nf_tables netlink queries on netkit's netfilter netlink
//! socket ([`netkit::nfnl`]), without starting a process: does a table,
//! chain or set exist in this thread's network namespace, does a chain
//! hold rules? Used to look for iptables-nft chains cheaply, for the
//! portmap layout marker, and by the plugins ([`nft_chain_query`]).

use std::io;
use std::time::Duration;

use netkit::nfnl::{
    self, NFT_MSG_GETCHAIN, NFT_MSG_GETRULE, NFT_MSG_GETSET, NFT_MSG_GETTABLE, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_REQUEST, Socket,
};

use crate::Family;

pub(crate) use netkit::nfnl::{NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6};

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;

/// What to ask nf_tables about a chain ([`nft_chain_query`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainAsk {
    /// Does the chain exist (`NFT_MSG_GETCHAIN`)?
    Exists,
    /// Does it hold any rule (`NFT_MSG_GETRULE` dump filtered to it)?
    HasRules,
}

/// A GET request (header, nfgenmsg, string attributes).
fn request(family: u8, get: u16, flags: u16, seq: u32, attrs: &[(u16, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, value) in attrs {
        nfnl::put_str(&mut body, *kind, value);
    }
    nfnl::nft_message(get, flags, seq, family, &body)
}

/// Sends one GET: true when its answer (`NEW<object>` = get - 1) came,
/// false on `ENOENT`.
fn query(family: u8, get: u16, flags: u16, attrs: &[(u16, &str)]) -> io::Result<bool> {
    let mut sock = Socket::open_with_timeout(Duration::from_secs(1))?;
    let seq = sock.next_seq();
    let req = request(family, get, flags, seq, attrs);
    sock.exists(&req, seq, nfnl::nft_type(get - 1))
}

const GET: u16 = NLM_F_REQUEST | NLM_F_ACK;

/// Whether the chain exists; `None` when netlink could not tell.
pub(crate) fn chain_exists(family: u8, table: &str, chain: &str) -> Option<bool> {
    let attrs = [(NFTA_CHAIN_TABLE, table), (NFTA_CHAIN_NAME, chain)];
    query(family, NFT_MSG_GETCHAIN, GET, &attrs).ok()
}

/// Whether the set (or map) exists; `None` when netlink could not tell.
pub(crate) fn set_exists(family: u8, table: &str, set: &str) -> Option<bool> {
    let attrs = [(NFTA_SET_TABLE, table), (NFTA_SET_NAME, set)];
    query(family, NFT_MSG_GETSET, GET, &attrs).ok()
}

/// Whether the table exists; `None` when netlink could not tell.
pub(crate) fn table_exists(family: u8, table: &str) -> Option<bool> {
    query(family, NFT_MSG_GETTABLE, GET, &[(NFTA_TABLE_NAME, table)]).ok()
}

/// The `nfgenmsg` family of the `ip` / `ip6` tables of `f`.
fn nfproto(f: Family) -> u8 {
    match f {
        Family::V4 => NFPROTO_IPV4,
        Family::V6 => NFPROTO_IPV6,
    }
}

/// Answers `ask` about `chain` in table `ip`/`ip6` (per `family`) `table`
/// (iptables-nft's tables) over netlink; a missing table is `false`.
pub fn nft_chain_query(
    ask: ChainAsk,
    family: Family,
    table: &str,
    chain: &str,
) -> io::Result<bool> {
    let attrs = match ask {
        ChainAsk::Exists => [(NFTA_CHAIN_TABLE, table), (NFTA_CHAIN_NAME, chain)],
        ChainAsk::HasRules => [(NFTA_CHAIN_TABLE, table), (NFTA_RULE_CHAIN, chain)],
    };
    let (get, flags) = match ask {
        ChainAsk::Exists => (NFT_MSG_GETCHAIN, GET),
        ChainAsk::HasRules => (NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_DUMP),
    };
    query(nfproto(family), get, flags, &attrs)
}

/// True when this netns has a legacy x_tables `nat` table (v4 or v6).
pub fn legacy_nat_present() -> bool {
    ["/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"]
        .iter()
        .any(|p| std::fs::read_to_string(p).is_ok_and(|s| s.lines().any(|l| l == "nat")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_table_and_chain() {
        let attrs = [
            (NFTA_CHAIN_TABLE, "nat"),
            (NFTA_RULE_CHAIN, "CNI-HOSTPORT-DNAT"),
        ];
        let flags = NLM_F_REQUEST | NLM_F_DUMP;
        let r = request(NFPROTO_IPV4, NFT_MSG_GETRULE, flags, 3, &attrs);
        let msg = nfnl::messages(&r).next().unwrap();
        assert_eq!((msg.kind, msg.flags), ((10 << 8) | 7, flags));
        let rule_chain = nfnl::find(&msg.payload[4..], NFTA_RULE_CHAIN);
        assert_eq!(rule_chain, Some(&b"CNI-HOSTPORT-DNAT\0"[..]));
        let attrs = [(NFTA_CHAIN_TABLE, "nat"), (NFTA_CHAIN_NAME, "CNI-x")];
        let m = request(NFPROTO_IPV6, NFT_MSG_GETCHAIN, GET, 9, &attrs);
        assert_eq!(m.len() % 4, 0);
        let msg = nfnl::messages(&m).next().unwrap();
        assert_eq!(msg.kind, (10 << 8) | 4);
        assert_eq!(msg.payload[0], NFPROTO_IPV6);
        let attrs = &msg.payload[4..];
        assert_eq!(nfnl::find(attrs, NFTA_CHAIN_TABLE), Some(&b"nat\0"[..]));
        assert_eq!(nfnl::find(attrs, NFTA_CHAIN_NAME), Some(&b"CNI-x\0"[..]));
        let r = request(
            NFPROTO_INET,
            NFT_MSG_GETTABLE,
            GET,
            1,
            &[(NFTA_TABLE_NAME, "t")],
        );
        assert_eq!(
            (r.len(), r[16], &r[24..26]),
            (28, NFPROTO_INET, &b"t\0"[..])
        );
    }
}
