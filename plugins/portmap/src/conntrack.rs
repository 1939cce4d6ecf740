//! Conntrack cleanup over ctnetlink (`NETLINK_NETFILTER`): dump the table of
//! one family (`IPCTNL_MSG_CT_GET` + `NLM_F_DUMP`), pick entries, delete each
//! by its original tuple (`IPCTNL_MSG_CT_DELETE`). Runs in the caller's netns.
//!
//! Used on ADD (stale UDP entries for the new host ports: a UDP flow keeps
//! its old NAT binding otherwise, plugins#123) and on DEL (every entry to or
//! from the pod's addresses, plugins#1190).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::nfsock::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, Socket, errno_of,
};
use crate::nlattr::{self, NLA_F_NESTED};

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
/// `IPPROTO_UDP`.
pub const UDP: u8 = 17;

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tuple {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub proto: u8,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

/// One conntrack entry as dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub orig: Tuple,
    pub reply: Tuple,
    /// The raw `CTA_TUPLE_ORIG` payload, sent back verbatim to delete.
    orig_raw: Vec<u8>,
    zone_raw: Option<Vec<u8>>,
}

impl Entry {
    /// True when any address of either direction is in `ips`.
    pub fn touches(&self, ips: &[IpAddr]) -> bool {
        [self.orig.src, self.orig.dst, self.reply.src, self.reply.dst]
            .into_iter()
            .flatten()
            .any(|a| ips.contains(&a))
    }
}

fn parse_ip(buf: &[u8]) -> (Option<IpAddr>, Option<IpAddr>) {
    let v4 = |b: &[u8]| {
        <[u8; 4]>::try_from(b)
            .ok()
            .map(|o| IpAddr::V4(Ipv4Addr::from(o)))
    };
    let v6 = |b: &[u8]| {
        <[u8; 16]>::try_from(b)
            .ok()
            .map(|o| IpAddr::V6(Ipv6Addr::from(o)))
    };
    let src = nlattr::find(buf, 1)
        .and_then(v4)
        .or_else(|| nlattr::find(buf, 3).and_then(v6));
    let dst = nlattr::find(buf, 2)
        .and_then(v4)
        .or_else(|| nlattr::find(buf, 4).and_then(v6));
    (src, dst)
}

fn parse_tuple(buf: &[u8]) -> Tuple {
    let (src, dst) = nlattr::find(buf, CTA_TUPLE_IP)
        .map(parse_ip)
        .unwrap_or_default();
    let proto = nlattr::find(buf, CTA_TUPLE_PROTO).unwrap_or(&[]);
    let port = |k| {
        nlattr::find(proto, k)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
    };
    Tuple {
        src,
        dst,
        proto: nlattr::find(proto, CTA_PROTO_NUM)
            .and_then(|b| b.first().copied())
            .unwrap_or(0),
        sport: port(CTA_PROTO_SRC_PORT),
        dport: port(CTA_PROTO_DST_PORT),
    }
}

/// Decodes one `IPCTNL_MSG_CT_NEW` dump message payload (after nfgenmsg).
pub fn parse_entry(attrs: &[u8]) -> Option<Entry> {
    let orig_raw = nlattr::find(attrs, CTA_TUPLE_ORIG)?;
    Some(Entry {
        orig: parse_tuple(orig_raw),
        reply: nlattr::find(attrs, CTA_TUPLE_REPLY)
            .map(parse_tuple)
            .unwrap_or_default(),
        orig_raw: orig_raw.to_vec(),
        zone_raw: nlattr::find(attrs, CTA_ZONE).map(<[u8]>::to_vec),
    })
}

fn nfgen(family: u8) -> Vec<u8> {
    vec![family, 0, 0, 0]
}

/// The delete request for `e` (original tuple + zone).
pub fn delete_request(family: u8, seq: u32, e: &Entry) -> Vec<u8> {
    let mut body = nfgen(family);
    nlattr::put(&mut body, CTA_TUPLE_ORIG | NLA_F_NESTED, &e.orig_raw);
    if let Some(z) = &e.zone_raw {
        nlattr::put(&mut body, CTA_ZONE, z);
    }
    let kind = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
    nlattr::message(kind, NLM_F_REQUEST | NLM_F_ACK, seq, &body)
}

impl Socket {
    /// Every entry of `family` (`AF_INET` / `AF_INET6`).
    fn dump(&mut self, family: u8) -> io::Result<Vec<Entry>> {
        let seq = self.next_seq();
        let kind = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
        self.send(&nlattr::message(
            kind,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            &nfgen(family),
        ))?;
        let mut out = Vec::new();
        loop {
            let n = self.recv()?;
            for m in nlattr::messages(&self.buf[..n]).filter(|m| m.seq == seq) {
                match m.kind {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => match errno_of(m.payload) {
                        0 => return Ok(out),
                        e => return Err(io::Error::from_raw_os_error(e)),
                    },
                    k if k == (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW => {
                        out.extend(m.payload.get(4..).and_then(parse_entry));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Deletes one entry; an entry already gone is not an error.
    fn delete(&mut self, family: u8, e: &Entry) -> io::Result<()> {
        let seq = self.next_seq();
        self.send(&delete_request(family, seq, e))?;
        loop {
            let n = self.recv()?;
            for m in nlattr::messages(&self.buf[..n]).filter(|m| m.seq == seq) {
                if m.kind == NLMSG_ERROR {
                    return match errno_of(m.payload) {
                        0 | libc::ENOENT => Ok(()),
                        e => Err(io::Error::from_raw_os_error(e)),
                    };
                }
            }
        }
    }
}

/// Deletes every entry (both families) for which `pick` is true; returns
/// how many were deleted. A kernel without conntrack has nothing to delete.
pub fn delete_where(pick: impl Fn(&Entry) -> bool) -> io::Result<usize> {
    let mut sock = Socket::open()?;
    let mut n = 0;
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        let entries = match sock.dump(family) {
            Ok(v) => v,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENOENT)) => continue,
            Err(e) => return Err(e),
        };
        for e in entries.iter().filter(|e| pick(e)) {
            sock.delete(family, e)?;
            n += 1;
        }
    }
    Ok(n)
}

/// ADD: UDP entries whose original destination port is one of `ports`.
pub fn flush_udp_ports(ports: &[u16]) -> io::Result<usize> {
    delete_where(|e| e.orig.proto == UDP && e.orig.dport.is_some_and(|p| ports.contains(&p)))
}

/// DEL: every entry to or from one of `ips`.
pub fn flush_addresses(ips: &[IpAddr]) -> io::Result<usize> {
    if ips.is_empty() {
        return Ok(0);
    }
    delete_where(|e| e.touches(ips))
}

#[cfg(test)]
#[path = "conntrack_tests.rs"]
mod tests;
