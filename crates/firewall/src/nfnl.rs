//! Read-only nf_tables netlink queries, without starting a process: does
//! a table, chain or set exist in this thread's network namespace? Used to
//! look for iptables-nft chains cheaply and for the portmap layout marker.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_GETSET: u16 = 10;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;
/// `nfgenmsg.nfgen_family` for `inet`.
pub(crate) const NFPROTO_INET: u8 = 1;
/// `nfgenmsg.nfgen_family` for `ip` and `ip6`.
pub(crate) const NFPROTO_IPV4: u8 = 2;
pub(crate) const NFPROTO_IPV6: u8 = 10;

fn attr(buf: &mut Vec<u8>, kind: u16, s: &str) {
    let len = 4 + s.len() + 1;
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(s.as_bytes());
    buf.push(0);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// A GET request (header, nfgenmsg, string attributes). The reply to
/// `GET<object>` is `NEW<object>` (= `get - 1`).
fn request(family: u8, get: u16, attrs: &[(u16, &str)]) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    b.extend_from_slice(&[family, 0, 0, 0]); // nfgenmsg: family, v0, res_id 0
    for (kind, value) in attrs {
        attr(&mut b, *kind, value);
    }
    let len = b.len() as u32;
    let kind = (NFNL_SUBSYS_NFTABLES << 8) | get;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b[4..6].copy_from_slice(&kind.to_ne_bytes());
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
    b
}

/// Reads replies: `Some(true)` after the NEW message answering `get`,
/// `Some(false)` on ENOENT.
fn answer(msgs: &[u8], get: u16, found: &mut bool) -> Option<Option<bool>> {
    let mut off = 0;
    while off + 16 <= msgs.len() {
        let len = u32::from_ne_bytes(msgs[off..off + 4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(msgs[off + 4..off + 6].try_into().ok()?);
        if len < 16 || off + len > msgs.len() {
            return Some(None);
        }
        if kind == (NFNL_SUBSYS_NFTABLES << 8) | (get - 1) {
            *found = true;
        } else if kind == libc::NLMSG_ERROR as u16 && len >= 20 {
            let err = i32::from_ne_bytes(msgs[off + 16..off + 20].try_into().ok()?);
            return Some(match err {
                0 => Some(*found),
                e if e == -libc::ENOENT => Some(false),
                _ => None,
            });
        }
        off += len.next_multiple_of(4);
    }
    None
}

/// Whether the chain exists; `None` when netlink could not tell.
pub(crate) fn chain_exists(family: u8, table: &str, chain: &str) -> Option<bool> {
    let attrs = [(NFTA_CHAIN_TABLE, table), (NFTA_CHAIN_NAME, chain)];
    query(family, NFT_MSG_GETCHAIN, &attrs).ok().flatten()
}

/// Whether the set (or map) exists; `None` when netlink could not tell.
pub(crate) fn set_exists(family: u8, table: &str, set: &str) -> Option<bool> {
    let attrs = [(NFTA_SET_TABLE, table), (NFTA_SET_NAME, set)];
    query(family, NFT_MSG_GETSET, &attrs).ok().flatten()
}

/// Whether the table exists; `None` when netlink could not tell.
pub(crate) fn table_exists(family: u8, table: &str) -> Option<bool> {
    query(family, NFT_MSG_GETTABLE, &[(NFTA_TABLE_NAME, table)])
        .ok()
        .flatten()
}

fn query(family: u8, get: u16, attrs: &[(u16, &str)]) -> io::Result<Option<bool>> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_NETFILTER,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh, valid descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let tv = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: valid fd and a correctly sized timeval.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    let req = request(family, get, attrs);
    // SAFETY: the buffer is valid for its length; the kernel is the peer.
    let sent = unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = false;
    let mut buf = vec![0u8; 16384];
    for _ in 0..8 {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(a) = answer(&buf[..n as usize], get, &mut found) {
            return Ok(a);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout_and_answers() {
        let attrs = [(NFTA_CHAIN_TABLE, "nat"), (NFTA_CHAIN_NAME, "CNI-x")];
        let r = request(NFPROTO_IPV4, NFT_MSG_GETCHAIN, &attrs);
        assert_eq!(r.len() % 4, 0);
        assert_eq!(
            u32::from_ne_bytes(r[0..4].try_into().unwrap()) as usize,
            r.len()
        );
        assert_eq!(r[16], NFPROTO_IPV4);
        assert_eq!(&r[24..28], b"nat\0");
        let mut err = vec![0u8; 36];
        err[0..4].copy_from_slice(&36u32.to_ne_bytes());
        err[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        err[16..20].copy_from_slice(&(-libc::ENOENT).to_ne_bytes());
        let mut found = false;
        assert_eq!(
            answer(&err, NFT_MSG_GETCHAIN, &mut found),
            Some(Some(false))
        );
        err[16..20].copy_from_slice(&0i32.to_ne_bytes());
        found = true;
        assert_eq!(answer(&err, NFT_MSG_GETCHAIN, &mut found), Some(Some(true)));
        err[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(answer(&err, NFT_MSG_GETCHAIN, &mut found), Some(None));
        assert_eq!(answer(&err[..8], NFT_MSG_GETCHAIN, &mut found), None);
        // A NEWSET answers GETSET (and only GETSET), then the ACK.
        let mut msgs = vec![0u8; 20];
        msgs[0..4].copy_from_slice(&20u32.to_ne_bytes());
        let newset = (NFNL_SUBSYS_NFTABLES << 8) | (NFT_MSG_GETSET - 1);
        msgs[4..6].copy_from_slice(&newset.to_ne_bytes());
        err[16..20].copy_from_slice(&0i32.to_ne_bytes());
        msgs.extend_from_slice(&err);
        let mut found = false;
        assert_eq!(answer(&msgs, NFT_MSG_GETSET, &mut found), Some(Some(true)));
        let mut found = false;
        assert_eq!(
            answer(&msgs, NFT_MSG_GETCHAIN, &mut found),
            Some(Some(false))
        );
        let r = request(NFPROTO_INET, NFT_MSG_GETTABLE, &[(NFTA_TABLE_NAME, "t")]);
        assert_eq!(
            (r.len(), r[16], &r[24..26]),
            (28, NFPROTO_INET, &b"t\0"[..])
        );
    }
}
