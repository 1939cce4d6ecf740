//! Netfilter netlink (`NETLINK_NETFILTER`): a blocking [`Socket`] plus a
//! small, bounds-checked message / attribute codec, shared by ctnetlink
//! ([`crate::conntrack`]), nf_tables queries and nf_tables batches (fwkit,
//! the plugins). Decoding never panics on malformed input.
//!
//! - messages: [`message`] (any subsystem; the payload starts with the
//!   4-byte `nfgenmsg`, see [`nfgenmsg`]), [`nft_message`] (nf_tables),
//!   [`batch`] (an nf_tables transaction), [`messages`] (decoding);
//! - attributes: [`put`], [`put_str`], [`nest`], [`attrs`], [`find`];
//! - replies: [`errno_of`], [`Socket::wait_ack`], [`Socket::exists`].
//!
//! ```no_run
//! use netkit::nfnl::{self, Socket};
//! # fn main() -> std::io::Result<()> {
//! // Does table `inet ferrocni` exist in this thread's netns?
//! let mut sock = Socket::open()?;
//! let seq = sock.next_seq();
//! let mut body = Vec::new();
//! nfnl::put_str(&mut body, 1, "ferrocni"); // NFTA_TABLE_NAME
//! let get = nfnl::NFT_MSG_GETTABLE;
//! let req = nfnl::nft_message(get, nfnl::NLM_F_REQUEST | nfnl::NLM_F_ACK,
//!                             seq, nfnl::NFPROTO_INET, &body);
//! let there = sock.exists(&req, seq, nfnl::nft_type(get - 1))?;
//! # let _ = there; Ok(()) }
//! ```

mod sock;

pub use sock::Socket;

/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 1;
/// `NLM_F_ACK`: the kernel answers with an `NLMSG_ERROR` of 0.
pub const NLM_F_ACK: u16 = 4;
/// `NLM_F_EXCL`: fail with `EEXIST` when the object exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`.
pub const NLM_F_CREATE: u16 = 0x400;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLMSG_ERROR` (an ACK when the errno is 0).
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: the end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLA_F_NESTED`: the attribute's payload is itself attributes.
pub const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
/// Netlink header length.
pub const NLMSG_HDRLEN: usize = 16;

/// `NFNL_SUBSYS_CTNETLINK` (message type = subsystem << 8 | message).
pub const NFNL_SUBSYS_CTNETLINK: u16 = 1;
/// `NFNL_SUBSYS_NFTABLES`.
pub const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// `NFNL_MSG_BATCH_BEGIN` / `_END`: the bounds of an nf_tables transaction.
pub const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
/// See [`NFNL_MSG_BATCH_BEGIN`].
pub const NFNL_MSG_BATCH_END: u16 = 0x11;
/// `NFT_MSG_GETTABLE` (the reply is `NFT_MSG_NEWTABLE` = get - 1).
pub const NFT_MSG_GETTABLE: u16 = 1;
/// `NFT_MSG_GETCHAIN` (reply `NFT_MSG_NEWCHAIN`).
pub const NFT_MSG_GETCHAIN: u16 = 4;
/// `NFT_MSG_GETRULE` (reply `NFT_MSG_NEWRULE`).
pub const NFT_MSG_GETRULE: u16 = 7;
/// `NFT_MSG_GETSET` (reply `NFT_MSG_NEWSET`).
pub const NFT_MSG_GETSET: u16 = 10;
/// `NFT_MSG_NEWSETELEM`.
pub const NFT_MSG_NEWSETELEM: u16 = 12;
/// `NFPROTO_UNSPEC` (`nfgenmsg` family of batch bounds).
pub const NFPROTO_UNSPEC: u8 = 0;
/// `NFPROTO_INET` (nf_tables `inet` family).
pub const NFPROTO_INET: u8 = 1;
/// `NFPROTO_IPV4` (`ip`).
pub const NFPROTO_IPV4: u8 = 2;
/// `NFPROTO_IPV6` (`ip6`).
pub const NFPROTO_IPV6: u8 = 10;

/// The positive errno of an `NLMSG_ERROR` / `NLMSG_DONE` payload (0 = OK).
pub fn errno_of(payload: &[u8]) -> i32 {
    payload
        .get(0..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(libc::EPROTO, |b| -i32::from_ne_bytes(b))
}

/// Rounds up to the 4-byte netlink alignment.
pub fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// One attribute: its type (flags stripped) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

/// Iterates the attributes in `buf`; stops at the first malformed one.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = Attr<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > rest.len() {
            return None;
        }
        let payload = &rest[4..len];
        rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(Attr { kind, payload })
    })
}

/// The first attribute of `kind` in `buf`.
pub fn find(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(buf).find(|a| a.kind == kind).map(|a| a.payload)
}

/// Appends an attribute with `payload` to `out` (padded).
pub fn put(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(align(out.len()), 0);
}

/// One netlink message: type, flags, sequence and payload (after the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// Iterates the messages of one datagram; stops at the first malformed one.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Msg<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return None;
        }
        let msg = Msg {
            kind: u16::from_ne_bytes([rest[4], rest[5]]),
            flags: u16::from_ne_bytes([rest[6], rest[7]]),
            seq: u32::from_ne_bytes(rest[8..12].try_into().ok()?),
            payload: &rest[NLMSG_HDRLEN..len],
        };
        rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(msg)
    })
}

/// A whole message: header (pid 0, to the kernel) + `payload`.
pub fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + payload.len();
    let mut out = Vec::with_capacity(align(len));
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(align(out.len()), 0);
    out
}

/// Appends a NUL-terminated string attribute (nf_tables names, comments).
pub fn put_str(out: &mut Vec<u8>, kind: u16, s: &str) {
    let len = 4 + s.len() + 1;
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    out.resize(align(out.len()), 0);
}

/// Appends a nested attribute (`kind | NLA_F_NESTED`) whose payload
/// `inner` writes in place; the length is filled in afterwards.
pub fn nest(out: &mut Vec<u8>, kind: u16, inner: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    inner(out);
    let len = (out.len() - start) as u16;
    out[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    out[start + 2..start + 4].copy_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    out.resize(align(out.len()), 0);
}

/// The 4-byte `nfgenmsg` starting every nfnetlink payload: family,
/// version 0, resource id (big endian).
pub fn nfgenmsg(family: u8, res_id: u16) -> [u8; 4] {
    let r = res_id.to_be_bytes();
    [family, 0, r[0], r[1]]
}

/// The message type of nf_tables message `msg`.
pub fn nft_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | msg
}

/// One nf_tables message: header, `nfgenmsg(family, 0)`, `attrs`.
pub fn nft_message(msg: u16, flags: u16, seq: u32, family: u8, attrs: &[u8]) -> Vec<u8> {
    let payload = [&nfgenmsg(family, 0)[..], attrs].concat();
    message(nft_type(msg), flags, seq, &payload)
}

/// One nf_tables transaction: `NFNL_MSG_BATCH_BEGIN` (sequence `begin`),
/// the `msgs`, `NFNL_MSG_BATCH_END` (sequence `end`), as one datagram.
pub fn batch(begin: u32, msgs: &[Vec<u8>], end: u32) -> Vec<u8> {
    let bound = nfgenmsg(NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES);
    let mut out = message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, begin, &bound);
    for m in msgs {
        out.extend_from_slice(m);
    }
    out.extend(message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, end, &bound));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let mut b = Vec::new();
        put(&mut b, 1, &[1, 2, 3]);
        put(&mut b, 2 | NLA_F_NESTED, &[9; 4]);
        let v: Vec<_> = attrs(&b).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].payload, &[1, 2, 3]);
        assert_eq!(v[1].kind, 2);
        assert_eq!(find(&b, 2), Some(&[9u8; 4][..]));
    }

    #[test]
    fn malformed_input_stops_cleanly() {
        assert_eq!(attrs(&[0xff, 0xff, 1, 0, 1]).count(), 0);
        assert_eq!(attrs(&[2, 0, 1, 0]).count(), 0);
        assert_eq!(messages(&[0u8; 15]).count(), 0);
        let mut m = message(3, 0, 7, &[1, 2, 3, 4]);
        assert_eq!(messages(&m).next().map(|m| m.seq), Some(7));
        m[0] = 200;
        assert_eq!(messages(&m).count(), 0);
        assert_eq!(errno_of(&[]), libc::EPROTO);
        assert_eq!(errno_of(&(-2i32).to_ne_bytes()), 2);
    }

    #[test]
    fn nests_carry_their_length_and_strings_their_nul() {
        let mut b = Vec::new();
        nest(&mut b, 3, |b| put_str(b, 1, "ab"));
        // nest header (4) + attr header (4) + "ab\0" padded to 4
        assert_eq!(b.len(), 12);
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), 12);
        assert_eq!(u16::from_ne_bytes([b[2], b[3]]), 3 | NLA_F_NESTED);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 7);
        assert_eq!(find(&b, 3).and_then(|n| find(n, 1)), Some(&b"ab\0"[..]));
    }

    #[test]
    fn nft_messages_and_batches() {
        let m = nft_message(NFT_MSG_GETTABLE, NLM_F_REQUEST, 9, NFPROTO_INET, &[]);
        let msg = messages(&m).next().unwrap();
        assert_eq!((msg.kind, msg.seq), ((10 << 8) | 1, 9));
        assert_eq!(msg.payload, &[NFPROTO_INET, 0, 0, 0]);
        let b = batch(1, std::slice::from_ref(&m), 3);
        let v: Vec<_> = messages(&b).collect();
        assert_eq!(v.len(), 3);
        assert_eq!((v[0].kind, v[0].seq), (NFNL_MSG_BATCH_BEGIN, 1));
        assert_eq!(&v[0].payload[2..4], &10u16.to_be_bytes());
        assert_eq!((v[2].kind, v[2].seq), (NFNL_MSG_BATCH_END, 3));
    }
}
