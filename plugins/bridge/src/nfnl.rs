//! A minimal nf_tables client on netkit's netfilter netlink socket
//! ([`netkit::nfnl`]) for the two operations on bridge's hot paths that do
//! not need the `nft` binary:
//!
//! - existence probes of a table or chain (one request/reply each), so DEL
//!   only spawns iptables or nft tools when there is something to remove;
//! - adding one verdict-map element with its comment in one transaction,
//!   so an ADD onto an existing network costs no process at all.
//!
//! Wire format from `<linux/netfilter/nf_tables.h>` and libnftnl's
//! user-data TLVs.

use netkit::nfnl::{
    self, NFT_MSG_GETCHAIN, NFT_MSG_GETTABLE, NFT_MSG_NEWSETELEM, NLM_F_ACK, NLM_F_CREATE,
    NLM_F_EXCL, NLM_F_REQUEST, Socket, nest, put_str,
};

pub use netkit::nfnl::{NFPROTO_INET, NFPROTO_IPV4, NFPROTO_IPV6};

/// `NFT_GOTO` verdict code.
const NFT_GOTO: i32 = -4;
/// libnftnl `NFTNL_UDATA_SET_ELEM_COMMENT`.
const UDATA_SET_ELEM_COMMENT: u8 = 0;

/// An nf_tables netlink socket in the calling thread's netns.
pub struct Nfnl {
    sock: Socket,
}

/// One set or map element to add: `key` (concatenated fields, each padded
/// to 4 bytes), an optional `goto chain` verdict, a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elem {
    pub set: String,
    pub key: Vec<u8>,
    pub goto: Option<String>,
    pub comment: String,
    /// Fail with `EEXIST` when the key is present (`create element`).
    pub exclusive: bool,
}

/// The `NEWSETELEM` body of one element.
pub fn setelem_body(b: &mut Vec<u8>, table: &str, e: &Elem) {
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

impl Nfnl {
    /// A socket in the calling thread's netns (bounded wait for replies).
    pub fn open() -> std::io::Result<Nfnl> {
        Ok(Nfnl {
            sock: Socket::open()?,
        })
    }

    /// GET with ACK: `Ok(false)` on `ENOENT`.
    fn get(&mut self, msg: u16, family: u8, attrs: &[u8]) -> std::io::Result<bool> {
        let seq = self.sock.next_seq();
        let m = nfnl::nft_message(msg, NLM_F_REQUEST | NLM_F_ACK, seq, family, attrs);
        self.sock.exists(&m, seq, nfnl::nft_type(msg - 1))
    }

    /// Does table `family name` exist?
    pub fn table_exists(&mut self, family: u8, name: &str) -> std::io::Result<bool> {
        let mut b = Vec::new();
        put_str(&mut b, 1, name); // NFTA_TABLE_NAME
        self.get(NFT_MSG_GETTABLE, family, &b)
    }

    /// Does chain `chain` exist in table `family table`?
    pub fn chain_exists(&mut self, family: u8, table: &str, chain: &str) -> std::io::Result<bool> {
        let mut b = Vec::new();
        put_str(&mut b, 1, table); // NFTA_CHAIN_TABLE
        put_str(&mut b, 3, chain); // NFTA_CHAIN_NAME
        self.get(NFT_MSG_GETCHAIN, family, &b)
    }

    /// Adds `elems` to table `inet table` in one transaction: all or
    /// nothing. Fails with `EEXIST` when an exclusive key is present and
    /// `ENOENT` when the table, a set or a chain is missing.
    pub fn add_elements(&mut self, table: &str, elems: &[Elem]) -> std::io::Result<()> {
        if elems.iter().any(|e| e.comment.len() > 254) {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let begin = self.sock.next_seq();
        let mut last = begin;
        let mut msgs = Vec::with_capacity(elems.len());
        for e in elems {
            last = self.sock.next_seq();
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
        let end = self.sock.next_seq();
        self.sock.send(&nfnl::batch(begin, &msgs, end))?;
        // Errors arrive in order; the last element's ACK closes the batch.
        self.sock.wait_ack(last)
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
}
