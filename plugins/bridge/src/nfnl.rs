//! A minimal nf_tables netlink client (`NETLINK_NETFILTER`) for the two
//! operations on bridge's hot paths that do not need the `nft` binary:
//!
//! - existence probes of a table or chain (one request/reply each), so DEL
//!   only spawns iptables or nft tools when there is something to remove;
//! - adding one verdict-map element with its comment in one transaction,
//!   so an ADD onto an existing network costs no process at all.
//!
//! Wire format from `<linux/netfilter/nf_tables.h>` and libnftnl's
//! user-data TLVs. Belongs in fwkit (netlink nftables backend); kept here,
//! self-contained, until it moves.

use std::os::fd::AsRawFd;

use netlink_sys::{Socket, protocols::NETLINK_NETFILTER};

/// `NFPROTO_*` families.
pub const NFPROTO_INET: u8 = 1;
pub const NFPROTO_IPV4: u8 = 2;
pub const NFPROTO_IPV6: u8 = 10;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const NLA_F_NESTED: u16 = 0x8000;
/// `NFT_GOTO` verdict code.
const NFT_GOTO: i32 = -4;
/// libnftnl `NFTNL_UDATA_SET_ELEM_COMMENT`.
const UDATA_SET_ELEM_COMMENT: u8 = 0;

/// An nf_tables netlink socket in the calling thread's netns.
pub struct Nfnl {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

fn put_attr(b: &mut Vec<u8>, ty: u16, data: &[u8]) {
    b.extend(((4 + data.len()) as u16).to_ne_bytes());
    b.extend(ty.to_ne_bytes());
    b.extend(data);
    b.resize(b.len().next_multiple_of(4), 0);
}

fn put_str(b: &mut Vec<u8>, ty: u16, s: &str) {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    put_attr(b, ty, &v);
}

fn nest(b: &mut Vec<u8>, ty: u16, inner: impl FnOnce(&mut Vec<u8>)) {
    let start = b.len();
    b.extend([0u8; 4]);
    inner(b);
    let len = (b.len() - start) as u16;
    b[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    b[start + 2..start + 4].copy_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
}

/// One netlink message: header, `nfgenmsg`, then `body`'s attributes.
fn message(
    ty: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    body: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b[4..6].copy_from_slice(&ty.to_ne_bytes());
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    b.extend([family, 0]);
    b.extend(res_id.to_be_bytes());
    body(&mut b);
    let len = b.len() as u32;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b
}

fn nft_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | msg
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
            nest(b, 1, |b| put_attr(b, 1, key)); // NFTA_SET_ELEM_KEY / NFTA_DATA_VALUE
            if let Some(chain) = &e.goto {
                nest(b, 2, |b| {
                    // NFTA_SET_ELEM_DATA / NFTA_DATA_VERDICT
                    nest(b, 2, |b| {
                        put_attr(b, 1, &NFT_GOTO.to_be_bytes()); // NFTA_VERDICT_CODE
                        put_str(b, 2, chain); // NFTA_VERDICT_CHAIN
                    });
                });
            }
            let mut udata = vec![UDATA_SET_ELEM_COMMENT, (comment.len() + 1) as u8];
            udata.extend(comment.as_bytes());
            udata.push(0);
            put_attr(b, 6, &udata); // NFTA_SET_ELEM_USERDATA
        });
    });
}

impl Nfnl {
    /// A socket in the calling thread's netns.
    pub fn open() -> std::io::Result<Nfnl> {
        let mut sock = Socket::new(NETLINK_NETFILTER)?;
        sock.bind_auto()?;
        // A bounded wait for the kernel's reply (it always answers).
        let tv = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        // SAFETY: valid fd, option struct of the size passed.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Nfnl {
            sock,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Reads replies until the ACK or error of `seq`; `Ok(())` on ACK,
    /// `Err(errno)` on a kernel error (for `seq` or any earlier message).
    fn wait_ack(&mut self, seq: u32) -> std::io::Result<()> {
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut off = 0;
            while off + 16 <= n {
                let h = &self.buf[off..n];
                let len = u32::from_ne_bytes(h[0..4].try_into().expect("4 bytes")) as usize;
                let ty = u16::from_ne_bytes([h[4], h[5]]);
                let mseq = u32::from_ne_bytes(h[8..12].try_into().expect("4 bytes"));
                if ty == NLMSG_ERROR && h.len() >= 20 {
                    let code = i32::from_ne_bytes(h[16..20].try_into().expect("4 bytes"));
                    if code != 0 {
                        return Err(std::io::Error::from_raw_os_error(-code));
                    }
                    if mseq == seq {
                        return Ok(());
                    }
                }
                off += len.next_multiple_of(4).max(16);
            }
        }
    }

    fn get(
        &mut self,
        msg: u16,
        family: u8,
        body: impl FnOnce(&mut Vec<u8>),
    ) -> std::io::Result<bool> {
        let seq = self.next_seq();
        let m = message(
            nft_type(msg),
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            family,
            0,
            body,
        );
        self.sock.send(&m, 0)?;
        match self.wait_ack(seq) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Does table `family name` exist?
    pub fn table_exists(&mut self, family: u8, name: &str) -> std::io::Result<bool> {
        self.get(NFT_MSG_GETTABLE, family, |b| put_str(b, 1, name))
    }

    /// Does chain `chain` exist in table `family table`?
    pub fn chain_exists(&mut self, family: u8, table: &str, chain: &str) -> std::io::Result<bool> {
        self.get(NFT_MSG_GETCHAIN, family, |b| {
            put_str(b, 1, table); // NFTA_CHAIN_TABLE
            put_str(b, 3, chain); // NFTA_CHAIN_NAME
        })
    }

    /// Adds `elems` to table `inet table` in one transaction: all or
    /// nothing. Fails with `EEXIST` when an exclusive key is present and
    /// `ENOENT` when the table, a set or a chain is missing.
    pub fn add_elements(&mut self, table: &str, elems: &[Elem]) -> std::io::Result<()> {
        if elems.iter().any(|e| e.comment.len() > 254) {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let res = NFNL_SUBSYS_NFTABLES;
        let begin = self.next_seq();
        let mut batch = message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, begin, 0, res, |_| {});
        let mut last = begin;
        for e in elems {
            last = self.next_seq();
            let mut flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
            if e.exclusive {
                flags |= NLM_F_EXCL;
            }
            let ty = nft_type(NFT_MSG_NEWSETELEM);
            batch.extend(message(ty, flags, last, NFPROTO_INET, 0, |b| {
                setelem_body(b, table, e)
            }));
        }
        let end = self.next_seq();
        batch.extend(message(
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            end,
            0,
            res,
            |_| {},
        ));
        self.sock.send(&batch, 0)?;
        // Errors arrive in order; the last element's ACK closes the batch.
        self.wait_ack(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nests_carry_their_length() {
        let mut b = Vec::new();
        nest(&mut b, 3, |b| put_str(b, 1, "ab"));
        // nest header (4) + attr header (4) + "ab\0" padded to 4
        assert_eq!(b.len(), 12);
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), 12);
        assert_eq!(u16::from_ne_bytes([b[2], b[3]]), 3 | NLA_F_NESTED);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 7);
        assert_eq!(&b[8..11], b"ab\0");
    }

    #[test]
    fn message_header_and_nfgenmsg() {
        let m = message(
            nft_type(NFT_MSG_GETTABLE),
            NLM_F_REQUEST,
            9,
            NFPROTO_INET,
            10,
            |b| put_str(b, 1, "t"),
        );
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), (10 << 8) | 1);
        assert_eq!(m[16], NFPROTO_INET);
        assert_eq!(&m[18..20], &10u16.to_be_bytes());
    }

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
