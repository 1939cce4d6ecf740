//! [`Netlink`]: one blocking `NETLINK_ROUTE` socket bound to one network
//! namespace, with request/ACK and dump helpers.
//!
//! - A socket stays bound to the netns it was created in, so
//!   [`Netlink::open_in`] creates it under a temporary `setns` of the calling
//!   thread and switches straight back; every later call is a plain request.
//! - Every non-dump request carries `NLM_F_ACK` (also GETs: without it a GET
//!   has no terminating message). Replies are matched by sequence number;
//!   multicast events (sequence 0) received meanwhile are queued for
//!   [`Netlink::wait_event`].
//! - Strict checking (`NETLINK_GET_STRICT_CHK`) is on, so dumps can be
//!   filtered in the kernel; extended ACKs are on, so errors carry the
//!   kernel's message.
//! - Dumps interrupted by a concurrent change (`NLM_F_DUMP_INTR`) are retried.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::time::Instant;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::error::{Error, Result};
use crate::netns::{NetnsFile, with_thread_in};

const RECV_BUF: usize = 64 * 1024;
const DUMP_RETRIES: usize = 5;
/// `NLMSGERR_ATTR_MSG`: the extended-ACK text attribute.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// `NLM_F_CAPPED` on an ACK: the echoed request is only its header.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` on an ACK: extended-ACK attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;

/// Multicast group of IPv6 address changes (`RTNLGRP_IPV6_IFADDR`).
pub const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// Multicast group of link changes (`RTNLGRP_LINK`).
pub const RTNLGRP_LINK: u32 = 1;

/// A route-netlink socket bound to one network namespace.
pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
    events: VecDeque<RouteNetlinkMessage>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("fd", &self.sock.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

fn create_socket() -> std::io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_ROUTE)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    sock.set_netlink_get_strict_chk(true)?;
    sock.set_ext_ack(true)?;
    sock.set_cap_ack(true)?;
    Ok(sock)
}

impl Netlink {
    /// A socket in the calling thread's current network namespace.
    pub fn open() -> Result<Netlink> {
        let sock = create_socket().map_err(|e| Error::io("open netlink socket", e))?;
        Ok(Netlink::from_socket(sock))
    }

    /// A socket in `ns`, created under a temporary `setns` of this thread.
    pub fn open_in(ns: &NetnsFile) -> Result<Netlink> {
        let sock = with_thread_in(ns, create_socket)?
            .map_err(|e| Error::io(format!("open netlink socket in {}", ns.path().display()), e))?;
        Ok(Netlink::from_socket(sock))
    }

    fn from_socket(sock: Socket) -> Netlink {
        Netlink {
            sock,
            seq: 0,
            buf: vec![0; RECV_BUF],
            events: VecDeque::new(),
        }
    }

    /// Joins a multicast group (e.g. [`RTNLGRP_IPV6_IFADDR`]); events then
    /// queue up for [`Netlink::wait_event`].
    pub fn subscribe(&mut self, group: u32) -> Result<()> {
        self.sock
            .add_membership(group)
            .map_err(|e| Error::io(format!("join netlink group {group}"), e))
    }

    /// Leaves a multicast group and drops queued events.
    pub fn unsubscribe(&mut self, group: u32) -> Result<()> {
        self.events.clear();
        self.sock
            .drop_membership(group)
            .map_err(|e| Error::io(format!("leave netlink group {group}"), e))
    }

    /// Sends `msg` with `NLM_F_REQUEST | NLM_F_ACK | flags` and returns the
    /// messages answered before the ACK (empty for most writes).
    pub fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | flags, op)?;
        self.collect(seq, op).map(|(msgs, _)| msgs)
    }

    /// Sends `msg` as a dump request and returns every message of the dump,
    /// retrying when the kernel flags it as interrupted.
    pub fn dump(&mut self, msg: RouteNetlinkMessage, op: &str) -> Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.send(msg.clone(), NLM_F_REQUEST | NLM_F_DUMP, op)?;
            let (msgs, interrupted) = self.collect(seq, op)?;
            if !interrupted {
                return Ok(msgs);
            }
        }
        Err(Error::Protocol {
            op: op.to_string(),
            msg: format!("dump interrupted {DUMP_RETRIES} times in a row"),
        })
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16, op: &str) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.sock
            .send(&out, 0)
            .map_err(|e| Error::io(format!("{op}: send"), e))?;
        Ok(self.seq)
    }

    /// Reads replies to `seq` until ACK/DONE. Returns the inner messages and
    /// whether any carried `NLM_F_DUMP_INTR`.
    fn collect(&mut self, seq: u32, op: &str) -> Result<(Vec<RouteNetlinkMessage>, bool)> {
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            let n = self.recv(op)?;
            let mut off = 0;
            while off < n {
                let msg = parse_at(&self.buf[off..n], op)?;
                let len = msg.header.length as usize;
                off += len.next_multiple_of(4).max(16);
                if msg.header.sequence_number != seq {
                    self.stash(msg);
                    continue;
                }
                interrupted |= msg.header.flags & NLM_F_DUMP_INTR != 0;
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    NetlinkPayload::Done(_) => return Ok((out, interrupted)),
                    NetlinkPayload::Error(e) if e.code.is_none() => return Ok((out, interrupted)),
                    NetlinkPayload::Error(e) => {
                        return Err(Error::Netlink {
                            op: op.to_string(),
                            errno: e.raw_code().abs(),
                            ext_ack: ext_ack_message(msg.header.flags, &e.header),
                        });
                    }
                    _ => {}
                }
            }
        }
    }

    fn stash(&mut self, msg: NetlinkMessage<RouteNetlinkMessage>) {
        if msg.header.sequence_number == 0
            && let NetlinkPayload::InnerMessage(m) = msg.payload
        {
            self.events.push_back(m);
        }
    }

    fn recv(&mut self, op: &str) -> Result<usize> {
        loop {
            match self.sock.recv(&mut &mut self.buf[..], libc::MSG_TRUNC) {
                Ok(n) if n > self.buf.len() => {
                    return Err(Error::Protocol {
                        op: op.to_string(),
                        msg: format!("reply of {n} bytes truncated"),
                    });
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // Our event queue overflowed: events were lost, replies were not.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.events
                        .push_back(RouteNetlinkMessage::GetLink(Default::default()));
                }
                Err(e) => return Err(Error::io(format!("{op}: recv"), e)),
            }
        }
    }

    /// How many requests this socket has sent (dumps included); lets tests
    /// prove that waits are event-driven rather than polling.
    pub fn requests_sent(&self) -> u32 {
        self.seq
    }

    /// Drops queued multicast events.
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Returns the next queued or arriving multicast event, waiting (in
    /// `poll(2)`, not a sleep loop) until `deadline`. `Ok(None)` on timeout.
    /// After an overflow (`ENOBUFS`) a placeholder `GetLink` is returned so
    /// the caller re-reads state.
    pub fn wait_event(&mut self, deadline: Instant) -> Result<Option<RouteNetlinkMessage>> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Ok(Some(ev));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            if !self.poll_readable(left.as_millis().clamp(1, i32::MAX as u128) as i32)? {
                continue;
            }
            let n = self.recv("wait for netlink event")?;
            let mut off = 0;
            while off < n {
                let msg = parse_at(&self.buf[off..n], "netlink event")?;
                off += (msg.header.length as usize).next_multiple_of(4).max(16);
                self.stash(msg);
            }
        }
    }

    fn poll_readable(&self, timeout_ms: i32) -> Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(Error::io("poll netlink socket", e));
        }
        Ok(r > 0)
    }
}

fn parse_at(bytes: &[u8], op: &str) -> Result<NetlinkMessage<RouteNetlinkMessage>> {
    NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes).map_err(|e| Error::Protocol {
        op: op.to_string(),
        msg: e.to_string(),
    })
}

/// Extracts `NLMSGERR_ATTR_MSG` from an error payload (after the `i32`
/// code): the echoed request (its header only when capped), then TLVs.
fn ext_ack_message(flags: u16, echoed: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || echoed.len() < 16 {
        return None;
    }
    let req_len = u32::from_ne_bytes(echoed[0..4].try_into().ok()?) as usize;
    let skip = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        req_len.next_multiple_of(4)
    };
    let mut tlvs = echoed.get(skip..)?;
    while tlvs.len() >= 4 {
        let len = u16::from_ne_bytes([tlvs[0], tlvs[1]]) as usize;
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
        if len < 4 || len > tlvs.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &tlvs[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or(text);
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        tlvs = &tlvs[len.next_multiple_of(4).min(tlvs.len())..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_ack_text_is_found_after_a_capped_header() {
        let mut echoed = vec![0u8; 16];
        echoed[0..4].copy_from_slice(&40u32.to_ne_bytes());
        let text = b"Unknown device type\0";
        let len = (4 + text.len()) as u16;
        echoed.extend_from_slice(&len.to_ne_bytes());
        echoed.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        echoed.extend_from_slice(text);
        let msg = ext_ack_message(NLM_F_CAPPED | NLM_F_ACK_TLVS, &echoed);
        assert_eq!(msg.as_deref(), Some("Unknown device type"));
        assert_eq!(ext_ack_message(NLM_F_CAPPED, &echoed), None);
    }
}
