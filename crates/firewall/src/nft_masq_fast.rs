//! ipMasq on nftables without a process, over nf_tables netlink
//! ([`netkit::nfnl`]):
//!
//! - [`masq_add_netlink`]: when the network's table, maps and chain exist
//!   (every ADD after the network's first), the elements of
//!   `nft_masq::element_lines` — the address's map element (`create`, so an
//!   address held by anybody fails) and its guard `address . token`, both
//!   commented with the identity — are added in one transaction. Any
//!   failure leaves nothing behind; the caller then runs [`crate::masq_add`].
//! - [`masq_layouts`]: which layouts may hold an attachment's masquerading,
//!   so DEL only spawns tools when there is something to remove.
//!
//! Wire format from `<linux/netfilter/nf_tables.h>` and libnftnl's
//! user-data TLVs.

use std::io;

use ipnet::IpNet;
use netkit::nfnl::{
    self, NFPROTO_INET, NFT_MSG_NEWSETELEM, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
    Socket, nest, put_str,
};

use crate::Family;
use crate::names::{ipmasq_chain, nft_ident, validate_token};
use crate::nfnl::{NFPROTO_IPV4, NFPROTO_IPV6, chain_exists, legacy_nat_present, table_exists};
use crate::nft_guard::token_bytes;
use crate::nft_masq::{TABLE, guard_name, map_name, net_chain};

/// The reference bridge plugin's nftables table (removed with ours).
const REF_TABLE: &str = "cni_plugins_masquerade";
/// `NFT_GOTO` verdict code.
const NFT_GOTO: i32 = -4;
/// libnftnl `NFTNL_UDATA_SET_ELEM_COMMENT`.
const UDATA_SET_ELEM_COMMENT: u8 = 0;

/// One set or map element to add: `key` (concatenated fields, each padded
/// to 4 bytes), an optional `goto chain` verdict, a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Elem {
    pub set: String,
    pub key: Vec<u8>,
    pub goto: Option<String>,
    pub comment: String,
    /// Fail with `EEXIST` when the key is present (`create element`).
    pub exclusive: bool,
}

/// The `NEWSETELEM` body of one element.
pub(crate) fn setelem_body(b: &mut Vec<u8>, table: &str, e: &Elem) {
    let (set, key, comment) = (e.set.as_str(), e.key.as_slice(), e.comment.as_str());
    put_str(b, 1, table); // NFTA_SET_ELEM_LIST_TABLE
    put_str(b, 2, set); // NFTA_SET_ELEM_LIST_SET
    nest(b, 3, |b| {
        // NFTA_SET_ELEM_LIST_ELEMENTS
        nest(b, 1, |b| {
            // NFTA_LIST_ELEM
            nest(b, 1, |b| nfnl::put(b, 1, key)); // NFTA_SET_ELEM_KEY / NFTA_DATA_VALUE
            if let Some(chain) = &e.goto {
                nest(b, 2, |b| {
                    // NFTA_SET_ELEM_DATA / NFTA_DATA_VERDICT
                    nest(b, 2, |b| {
                        nfnl::put(b, 1, &NFT_GOTO.to_be_bytes()); // NFTA_VERDICT_CODE
                        put_str(b, 2, chain); // NFTA_VERDICT_CHAIN
                    });
                });
            }
            let mut udata = vec![UDATA_SET_ELEM_COMMENT, (comment.len() + 1) as u8];
            udata.extend(comment.as_bytes());
            udata.push(0);
            nfnl::put(b, 6, &udata); // NFTA_SET_ELEM_USERDATA
        });
    });
}

/// Adds `elems` to table `inet table` in one transaction: all or nothing.
/// Fails with `EEXIST` when an exclusive key is present and `ENOENT` when
/// the table, a set or a chain is missing.
pub(crate) fn add_elements(sock: &mut Socket, table: &str, elems: &[Elem]) -> io::Result<()> {
    if elems.iter().any(|e| e.comment.len() > 254) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let begin = sock.next_seq();
    let mut last = begin;
    let mut msgs = Vec::with_capacity(elems.len());
    for e in elems {
        last = sock.next_seq();
        let mut flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
        if e.exclusive {
            flags |= NLM_F_EXCL;
        }
        let mut body = Vec::new();
        setelem_body(&mut body, table, e);
        msgs.push(nfnl::nft_message(
            NFT_MSG_NEWSETELEM,
            flags,
            last,
            NFPROTO_INET,
            &body,
        ));
    }
    let end = sock.next_seq();
    sock.send(&nfnl::batch(begin, &msgs, end))?;
    // Errors arrive in order; the last element's ACK closes the batch.
    sock.wait_ack(last)
}

/// The two elements ADD writes for one address (see the module doc).
pub(crate) fn elements(net: &str, ident: &str, ip: &IpNet) -> [Elem; 2] {
    let f = Family::of_net(ip);
    let addr = match ip.addr() {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mut guard_key = addr.clone();
    guard_key.extend(token_bytes(ident));
    [
        Elem {
            set: map_name(f),
            key: addr,
            goto: Some(net_chain(net, &ip.trunc())),
            comment: ident.to_string(),
            exclusive: true,
        },
        Elem {
            set: guard_name(f),
            key: guard_key,
            goto: None,
            comment: ident.to_string(),
            exclusive: false,
        },
    ]
}

/// ipMasq ADD of `ips` onto existing nftables scaffolding, in one netlink
/// transaction and no process. Any error (the network's first ADD, an
/// address held, an invalid name, no netlink): nothing was written; use
/// [`crate::masq_add`].
pub fn masq_add_netlink(net: &str, cid: &str, ifname: &str, ips: &[IpNet]) -> io::Result<()> {
    if validate_token("network name", net).is_err() || validate_token("container id", cid).is_err()
    {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let ident = nft_ident(&[cid, ifname, net]);
    let elems: Vec<Elem> = ips
        .iter()
        .flat_map(|ip| elements(net, &ident, ip))
        .collect();
    add_elements(&mut Socket::open()?, TABLE, &elems)
}

/// Which layouts may hold the masquerading of one attachment (`true` when
/// unsure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasqLayouts {
    /// Our `inet ferrocni` table or the reference's nftables table.
    pub nft: bool,
    /// The reference chain `CNI-<hash>` in iptables-nft (v4 or v6).
    pub ipt_nft: bool,
    /// A legacy x_tables `nat` table exists (it may hold the chain).
    pub ipt_legacy: bool,
}

/// Probes this netns for [`MasqLayouts`] without spawning anything.
pub fn masq_layouts(net: &str, cid: &str) -> MasqLayouts {
    let table = |name: &str| table_exists(NFPROTO_INET, name).unwrap_or(true);
    let chain = ipmasq_chain(net, cid);
    let ipt_nft = [NFPROTO_IPV4, NFPROTO_IPV6]
        .iter()
        .any(|f| chain_exists(*f, "nat", &chain).unwrap_or(true));
    MasqLayouts {
        nft: table(TABLE) || table(REF_TABLE),
        ipt_nft,
        ipt_legacy: legacy_nat_present(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_comment_is_a_nul_terminated_udata_tlv() {
        let mut b = Vec::new();
        let e = Elem {
            set: "m".into(),
            key: vec![10, 0, 0, 1],
            goto: Some("c".into()),
            comment: "id eth0 net".into(),
            exclusive: true,
        };
        setelem_body(&mut b, "t", &e);
        let needle = [&[0u8, 12][..], b"id eth0 net\0"].concat();
        assert!(b.windows(needle.len()).any(|w| w == needle.as_slice()));
        assert!(b.windows(4).any(|w| w == (-4i32).to_be_bytes()));
    }

    #[test]
    fn elements_mirror_the_nft_batch() {
        let [m, g] = elements("tnet", "c1 eth0 tnet", &"10.99.0.7/24".parse().unwrap());
        assert_eq!((m.set.as_str(), m.exclusive), ("masq4", true));
        assert_eq!(m.key, vec![10, 99, 0, 7]);
        let chain = net_chain("tnet", &"10.99.0.0/24".parse().unwrap());
        assert_eq!(m.goto, Some(chain));
        assert_eq!(g.set, "own4");
        assert_eq!(g.key.len(), 20);
        assert_eq!(&g.key[4..], &token_bytes("c1 eth0 tnet"));
        assert_eq!(g.goto, None);
    }
}
