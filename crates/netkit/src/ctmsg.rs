//! ctnetlink message codec for [`crate::conntrack`]: decoding dumped
//! entries, encoding filtered dump requests (`CTA_FILTER`) and deletes.
//! Decoding is bounds-checked and never panics on malformed input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::nfnl::{
    self, NFNL_SUBSYS_CTNETLINK, NLA_F_NESTED, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};

pub(crate) const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
pub(crate) const IPCTNL_MSG_CT_GET_STATS: u16 = 5;
const CTA_STATS_GLOBAL_ENTRIES: u16 = 1;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_ZONE: u16 = 18;
const CTA_FILTER: u16 = 25;
const CTA_FILTER_ORIG_FLAGS: u16 = 1;
const CTA_FILTER_REPLY_FLAGS: u16 = 2;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const F_IP_SRC: u32 = 1 << 0;
const F_IP_DST: u32 = 1 << 1;
const F_PROTO_NUM: u32 = 1 << 3;
const F_PROTO_DST_PORT: u32 = 1 << 5;
/// `IPPROTO_TCP`.
pub const TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const UDP: u8 = 17;
pub(crate) const AF_INET: u8 = libc::AF_INET as u8;
pub(crate) const AF_INET6: u8 = libc::AF_INET6 as u8;

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
    /// `AF_INET` or `AF_INET6`.
    pub family: u8,
    pub orig: Tuple,
    pub reply: Tuple,
    pub zone: Option<u16>,
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

    pub(crate) fn key(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        (self.orig_raw.clone(), self.zone_raw.clone())
    }
}

fn parse_ip(buf: &[u8]) -> (Option<IpAddr>, Option<IpAddr>) {
    let v4 = |b: &[u8]| {
        <[u8; 4]>::try_from(b)
            .ok()
            .map(|o| Ipv4Addr::from(o).into())
    };
    let v6 = |b: &[u8]| {
        <[u8; 16]>::try_from(b)
            .ok()
            .map(|o| Ipv6Addr::from(o).into())
    };
    let src = nfnl::find(buf, CTA_IP_V4_SRC)
        .and_then(v4)
        .or_else(|| nfnl::find(buf, CTA_IP_V6_SRC).and_then(v6));
    let dst = nfnl::find(buf, CTA_IP_V4_DST)
        .and_then(v4)
        .or_else(|| nfnl::find(buf, CTA_IP_V6_DST).and_then(v6));
    (src, dst)
}

fn parse_tuple(buf: &[u8]) -> Tuple {
    let (src, dst) = nfnl::find(buf, CTA_TUPLE_IP)
        .map(parse_ip)
        .unwrap_or_default();
    let proto = nfnl::find(buf, CTA_TUPLE_PROTO).unwrap_or(&[]);
    let port = |k| {
        nfnl::find(proto, k)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
    };
    Tuple {
        src,
        dst,
        proto: nfnl::find(proto, CTA_PROTO_NUM)
            .and_then(|b| b.first().copied())
            .unwrap_or(0),
        sport: port(CTA_PROTO_SRC_PORT),
        dport: port(CTA_PROTO_DST_PORT),
    }
}

/// Decodes one `IPCTNL_MSG_CT_NEW` message payload (nfgenmsg included).
pub fn parse_entry(payload: &[u8]) -> Option<Entry> {
    parse_entry_if(payload, |_| true)
}

/// [`parse_entry`], keeping only an entry for which `pick` is true: the
/// raw tuple is copied only then (a dump of 10k entries keeps a few).
pub(crate) fn parse_entry_if(payload: &[u8], pick: impl Fn(&Entry) -> bool) -> Option<Entry> {
    let family = *payload.first()?;
    let attrs = payload.get(4..)?;
    let orig_raw = nfnl::find(attrs, CTA_TUPLE_ORIG)?;
    let zone_raw = nfnl::find(attrs, CTA_ZONE);
    let mut e = Entry {
        family,
        orig: parse_tuple(orig_raw),
        reply: nfnl::find(attrs, CTA_TUPLE_REPLY)
            .map(parse_tuple)
            .unwrap_or_default(),
        zone: zone_raw
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes),
        orig_raw: Vec::new(),
        zone_raw: None,
    };
    if !pick(&e) {
        return None;
    }
    e.orig_raw = orig_raw.to_vec();
    e.zone_raw = zone_raw.map(<[u8]>::to_vec);
    Some(e)
}

fn family_of(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() { AF_INET } else { AF_INET6 }
}

/// One kernel-side dump filter: fields of one tuple that must all be equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Selector {
    pub family: u8,
    pub reply: bool,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub proto: Option<u8>,
    pub dport: Option<u16>,
}

impl Selector {
    fn new(family: u8, reply: bool) -> Selector {
        Selector {
            family,
            reply,
            src: None,
            dst: None,
            proto: None,
            dport: None,
        }
    }

    /// The four selectors "`ip` is a source or destination of either tuple".
    pub fn touching(ip: IpAddr) -> [Selector; 4] {
        let f = family_of(&ip);
        let [mut a, mut b, mut c, mut d] = [false, false, true, true].map(|r| Self::new(f, r));
        (a.src, b.dst, c.src, d.dst) = (Some(ip), Some(ip), Some(ip), Some(ip));
        [a, b, c, d]
    }

    /// Original tuple is `proto` to destination port `port`.
    pub fn dport(family: u8, proto: u8, port: u16) -> Selector {
        let mut s = Self::new(family, false);
        (s.proto, s.dport) = (Some(proto), Some(port));
        s
    }

    /// False for IPv6 addresses: the kernel's IPv6 address comparison in
    /// `ctnetlink_filter_match_tuple` is inverted (`!ipv6_addr_cmp`, still
    /// in 6.18), so such a dump returns every entry *except* the matches.
    pub fn kernel_can_filter(&self) -> bool {
        self.family != AF_INET6 || (self.src.is_none() && self.dst.is_none())
    }

    pub fn matches(&self, e: &Entry) -> bool {
        let t = if self.reply { &e.reply } else { &e.orig };
        e.family == self.family
            && self.src.is_none_or(|a| t.src == Some(a))
            && self.dst.is_none_or(|a| t.dst == Some(a))
            && self.proto.is_none_or(|p| t.proto == p)
            && self.dport.is_none_or(|p| t.dport == Some(p))
    }

    /// The tuple and `CTA_FILTER` attributes of a filtered dump request.
    pub fn encode(&self, body: &mut Vec<u8>) {
        let (mut flags, mut ip, mut proto) = (0u32, Vec::new(), Vec::new());
        let v6 = u16::from(self.family == AF_INET6) * 2;
        for (addr, kind, flag) in [
            (self.src, CTA_IP_V4_SRC, F_IP_SRC),
            (self.dst, CTA_IP_V4_DST, F_IP_DST),
        ] {
            if let Some(a) = addr {
                let octets = match a {
                    IpAddr::V4(a) => a.octets().to_vec(),
                    IpAddr::V6(a) => a.octets().to_vec(),
                };
                nfnl::put(&mut ip, kind + v6, &octets);
                flags |= flag;
            }
        }
        if let Some(p) = self.proto {
            nfnl::put(&mut proto, CTA_PROTO_NUM, &[p]);
            flags |= F_PROTO_NUM;
        }
        if let Some(p) = self.dport {
            nfnl::put(&mut proto, CTA_PROTO_DST_PORT, &p.to_be_bytes());
            flags |= F_PROTO_DST_PORT;
        }
        let mut tuple = Vec::new();
        if !ip.is_empty() {
            nfnl::put(&mut tuple, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
        }
        if !proto.is_empty() {
            nfnl::put(&mut tuple, CTA_TUPLE_PROTO | NLA_F_NESTED, &proto);
        }
        let (which, which_flags) = match self.reply {
            false => (CTA_TUPLE_ORIG, CTA_FILTER_ORIG_FLAGS),
            true => (CTA_TUPLE_REPLY, CTA_FILTER_REPLY_FLAGS),
        };
        nfnl::put(body, which | NLA_F_NESTED, &tuple);
        let mut filter = Vec::new();
        nfnl::put(&mut filter, which_flags, &flags.to_ne_bytes());
        nfnl::put(body, CTA_FILTER | NLA_F_NESTED, &filter);
    }
}

pub(crate) fn ctnl(msg: u16) -> u16 {
    (NFNL_SUBSYS_CTNETLINK << 8) | msg
}

/// The dump request of `family`, filtered by `sel` when given.
pub(crate) fn dump_request(family: u8, seq: u32, sel: Option<&Selector>) -> Vec<u8> {
    let mut body = vec![family, 0, 0, 0];
    if let Some(s) = sel {
        s.encode(&mut body);
    }
    nfnl::message(
        ctnl(IPCTNL_MSG_CT_GET),
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        &body,
    )
}

/// The delete request for `e` (original tuple + zone).
pub(crate) fn delete_request(seq: u32, e: &Entry) -> Vec<u8> {
    let mut body = vec![e.family, 0, 0, 0];
    nfnl::put(&mut body, CTA_TUPLE_ORIG | NLA_F_NESTED, &e.orig_raw);
    if let Some(z) = &e.zone_raw {
        nfnl::put(&mut body, CTA_ZONE, z);
    }
    nfnl::message(
        ctnl(IPCTNL_MSG_CT_DELETE),
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        &body,
    )
}

/// The table-size request (`IPCTNL_MSG_CT_GET_STATS`, no walk).
pub(crate) fn stats_request(seq: u32) -> Vec<u8> {
    let body = [libc::AF_UNSPEC as u8, 0, 0, 0];
    nfnl::message(ctnl(IPCTNL_MSG_CT_GET_STATS), NLM_F_REQUEST, seq, &body)
}

/// `CTA_STATS_GLOBAL_ENTRIES` of a stats reply payload (nfgenmsg included).
pub(crate) fn parse_stats_entries(payload: &[u8]) -> Option<u32> {
    let attr = nfnl::find(payload.get(4..)?, CTA_STATS_GLOBAL_ENTRIES)?;
    <[u8; 4]>::try_from(attr).ok().map(u32::from_be_bytes)
}

#[cfg(test)]
#[path = "conntrack_tests.rs"]
mod tests;
