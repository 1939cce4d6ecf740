//! Conntrack cleanup over ctnetlink (`NETLINK_NETFILTER`), no `conntrack`
//! binary: find entries with a dump (`IPCTNL_MSG_CT_GET` + `NLM_F_DUMP`),
//! delete each by its original tuple and zone (`IPCTNL_MSG_CT_DELETE`).
//!
//! # Cost
//! - **Empty table: free.** Every lookup first reads the netns' entry count
//!   (`IPCTNL_MSG_CT_GET_STATS`, a counter, no walk) and stops at 0.
//! - **Every dump walks every bucket** of the global hash table
//!   (`nf_conntrack_buckets`, 262144 on the dev VM: ~2.6–3.5 ms CPU),
//!   filtered or not; the kernel skips other namespaces' entries while
//!   walking. Each entry copied out costs ~0.65 µs more.
//! - A `CTA_FILTER` dump (Linux ≥ 5.8) compares tuple fields in the kernel,
//!   so unrelated entries are never copied out, but a union ("any of the
//!   four address fields") needs one walk per (address, field).
//!   [`DumpFilter::Auto`] uses it only when the entries it saves copying
//!   outweigh the extra walks and per-walk checks: for one UDP port above
//!   ~15k entries at 262144 buckets, for an address (4 fields) never; else
//!   one unfiltered `AF_UNSPEC` dump (both families, one walk), matched
//!   here, copying only the entries kept. Measured (`delete_by_addr`, one
//!   v4 + one v6 address, thread CPU): 3.5 ms on a near-empty table, 10 ms
//!   with 10,000 unrelated entries; forcing the kernel filter: 13 / 22 ms.
//! - IPv6 address fields are always matched here: the kernel's IPv6
//!   address comparison in `ctnetlink_filter_match_tuple` is inverted
//!   (`!ipv6_addr_cmp`, still in 6.18: the dump returns every entry *but*
//!   the matches).
//! - A kernel that rejects `CTA_FILTER` (`EINVAL`/`EOPNOTSUPP`) or ignores
//!   it (seen as a dumped entry that does not match) switches the handle
//!   to unfiltered dumps. Every entry is re-checked here either way, and
//!   deletes are de-duplicated. Zone / mark filters do not help: a pod's
//!   entries are in the default zone, unmarked, like everything else.
//!
//! # Missing conntrack
//! A kernel without nfnetlink or ctnetlink, or a netns where conntrack
//! never ran, has nothing to delete: the calls return `Ok(0)`.

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;

use crate::ctmsg::parse_entry_if;
use crate::ctmsg::{
    AF_INET, AF_INET6, IPCTNL_MSG_CT_GET_STATS, IPCTNL_MSG_CT_NEW, Selector, ctnl, delete_request,
    dump_request, parse_stats_entries, stats_request,
};
pub use crate::ctmsg::{Entry, TCP, Tuple, UDP, parse_entry};
use crate::error::{Error, Result};
use crate::netns::{NetnsFile, with_thread_in};
use crate::nfnl::{self, NLMSG_DONE, NLMSG_ERROR, Socket, errno_of};

fn kernel_err(op: &str, errno: i32) -> Error {
    Error::Netlink {
        op: op.into(),
        errno,
        ext_ack: None,
    }
}

/// "This kernel cannot do that": no ctnetlink, or no `CTA_FILTER`.
fn unsupported(e: &Error) -> bool {
    matches!(
        e.errno(),
        Some(libc::EINVAL | libc::EOPNOTSUPP | libc::ENOENT | libc::EPROTONOSUPPORT)
    )
}

/// A ctnetlink handle on one netns' conntrack table.
#[derive(Debug)]
pub struct Conntrack {
    /// `None`: the kernel has no `NETLINK_NETFILTER` at all.
    sock: Option<Socket>,
    mode: DumpFilter,
    /// False once the kernel rejected or ignored `CTA_FILTER`.
    kernel_filter_ok: bool,
}

/// Where dumped entries are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DumpFilter {
    /// Kernel filters when the table is big enough to pay for the extra
    /// walks (see the module docs), else one dump per family.
    #[default]
    Auto,
    /// Always `CTA_FILTER` (where the kernel gets it right).
    Kernel,
    /// Always one unfiltered dump per family, matched here.
    User,
}

/// Which dumped entries to keep.
type Pick<'a> = &'a dyn Fn(&Entry) -> bool;

/// Both families in one dump (one walk of the table).
const AF_UNSPEC: u8 = libc::AF_UNSPEC as u8;

/// Costs in units of the kernel's walk over one hash bucket (~10 ns), from
/// the 10k-entry test on Linux 6.18: copying one entry out of an
/// unfiltered dump (fill, copy, parse: ~0.64 µs), and checking one entry
/// against a `CTA_FILTER` in a filtered walk (~0.23 µs).
const ENTRY_COPY: usize = 64;
const ENTRY_CHECK: usize = 23;

/// True when `filtered` kernel-filtered dumps, `extra` of them walks the
/// unfiltered path does not need, cost less than copying `count` entries
/// out of one unfiltered dump. Never for `delete_by_addr` (4 filters per
/// address check more than one copy costs).
fn worth_filtering(filtered: usize, extra: usize, count: usize, buckets: usize) -> bool {
    let per_entry = ENTRY_COPY.saturating_sub(filtered.saturating_mul(ENTRY_CHECK));
    count.saturating_mul(per_entry) > extra.saturating_mul(buckets)
}

/// `nf_conntrack_buckets` (global); 65536 when it cannot be read.
fn buckets() -> usize {
    std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_buckets")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65536)
}

impl Conntrack {
    /// A handle on the calling thread's netns.
    pub fn open() -> Result<Conntrack> {
        Self::from_socket(Socket::open(), "open ctnetlink socket")
    }

    /// A handle on `ns` (the socket is created there; no thread stays in it).
    pub fn open_in(ns: &NetnsFile) -> Result<Conntrack> {
        let op = format!("open ctnetlink socket in {}", ns.path().display());
        Self::from_socket(with_thread_in(ns, Socket::open)?, &op)
    }

    fn from_socket(sock: io::Result<Socket>, op: &str) -> Result<Conntrack> {
        let sock = match sock {
            Ok(s) => Some(s),
            Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => None,
            Err(e) => return Err(Error::io(op, e)),
        };
        Ok(Conntrack {
            sock,
            mode: DumpFilter::Auto,
            kernel_filter_ok: true,
        })
    }

    /// False once the kernel rejected or ignored a `CTA_FILTER` dump (the
    /// handle then filters in user space).
    pub fn kernel_filter_ok(&self) -> bool {
        self.kernel_filter_ok
    }

    /// Chooses where entries are matched (default [`DumpFilter::Auto`]).
    pub fn set_dump_filter(&mut self, mode: DumpFilter) {
        self.mode = mode;
    }

    /// Entries in the table (`IPCTNL_MSG_CT_GET_STATS`, no walk); 0 without
    /// ctnetlink.
    pub fn count(&mut self) -> Result<usize> {
        let Some(sock) = self.sock.as_mut() else {
            return Ok(0);
        };
        let op = "read conntrack table size";
        let seq = sock.next_seq();
        sock.send(&stats_request(seq))
            .map_err(|e| Error::io(op, e))?;
        loop {
            let n = sock.recv().map_err(|e| Error::io(op, e))?;
            for m in nfnl::messages(&sock.buf[..n]).filter(|m| m.seq == seq) {
                match m.kind {
                    NLMSG_ERROR => match errno_of(m.payload) {
                        0 => {}
                        e if unsupported(&kernel_err(op, e)) => return Ok(0),
                        e => return Err(kernel_err(op, e)),
                    },
                    k if k == ctnl(IPCTNL_MSG_CT_GET_STATS) => {
                        return Ok(parse_stats_entries(m.payload).unwrap_or(0) as usize);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Every entry of both families.
    pub fn list(&mut self) -> Result<Vec<Entry>> {
        if self.count()? == 0 {
            return Ok(Vec::new());
        }
        self.dump_or_empty(AF_UNSPEC, &|_| true)
    }

    /// Deletes every entry whose original or reply source or destination
    /// is one of `ips` (both families); returns how many were deleted.
    pub fn delete_by_addr(&mut self, ips: &[IpAddr]) -> Result<usize> {
        let sels: Vec<Selector> = ips.iter().flat_map(|ip| Selector::touching(*ip)).collect();
        self.delete_selected(&sels)
    }

    /// Deletes UDP entries whose original destination port is in `ports`
    /// (both families): a UDP flow keeps a stale NAT binding otherwise.
    pub fn delete_udp_dport(&mut self, ports: &[u16]) -> Result<usize> {
        let sels: Vec<Selector> = [AF_INET, AF_INET6]
            .into_iter()
            .flat_map(|f| ports.iter().map(move |p| Selector::dport(f, UDP, *p)))
            .collect();
        self.delete_selected(&sels)
    }

    /// Deletes every entry (both families, unfiltered dump) for which
    /// `pick` is true.
    pub fn delete_where(&mut self, pick: impl Fn(&Entry) -> bool) -> Result<usize> {
        let found: Vec<Entry> = self.list()?.into_iter().filter(|e| pick(e)).collect();
        self.delete_all(&found)
    }

    /// Deletes one entry: `Ok(false)` when it is already gone.
    pub fn delete(&mut self, e: &Entry) -> Result<bool> {
        let Some(sock) = self.sock.as_mut() else {
            return Ok(false);
        };
        let seq = sock.next_seq();
        let op = "delete conntrack entry";
        sock.send(&delete_request(seq, e))
            .map_err(|err| Error::io(op, err))?;
        loop {
            let n = sock.recv().map_err(|err| Error::io(op, err))?;
            for m in nfnl::messages(&sock.buf[..n]).filter(|m| m.seq == seq) {
                if m.kind == NLMSG_ERROR {
                    return match errno_of(m.payload) {
                        0 => Ok(true),
                        libc::ENOENT => Ok(false),
                        errno => Err(kernel_err(op, errno)),
                    };
                }
            }
        }
    }

    fn delete_all(&mut self, found: &[Entry]) -> Result<usize> {
        let mut n = 0;
        for e in found {
            n += usize::from(self.delete(e)?);
        }
        Ok(n)
    }

    fn delete_selected(&mut self, sels: &[Selector]) -> Result<usize> {
        let found = self.select(sels)?;
        self.delete_all(&found)
    }

    /// Whether to send `kernel` (filterable selectors) as filtered dumps.
    fn use_kernel(&mut self, kernel: &[Selector], user: &[Selector], count: usize) -> bool {
        if kernel.is_empty() || !self.kernel_filter_ok {
            return false;
        }
        match self.mode {
            DumpFilter::Kernel => true,
            DumpFilter::User => false,
            // The unfiltered path walks once in all; the filtered one walks
            // per kernel selector, plus once more for the user selectors.
            DumpFilter::Auto => {
                let extra = kernel.len() - usize::from(user.is_empty());
                worth_filtering(kernel.len(), extra, count, buckets())
            }
        }
    }

    /// The union of the entries matching any of `sels`, without duplicates.
    pub(crate) fn select(&mut self, sels: &[Selector]) -> Result<Vec<Entry>> {
        let count = if sels.is_empty() { 0 } else { self.count()? };
        if count == 0 {
            return Ok(Vec::new());
        }
        let (mut kernel, mut user): (Vec<Selector>, Vec<Selector>) =
            sels.iter().partition(|s| s.kernel_can_filter());
        let mut found = Vec::new();
        if self.use_kernel(&kernel, &user, count) {
            match self.select_in_kernel(&kernel) {
                Ok(Some(v)) => (found, kernel) = (v, Vec::new()),
                Err(e) if !unsupported(&e) => return Err(e),
                Ok(None) | Err(_) => self.kernel_filter_ok = false,
            }
        }
        user.append(&mut kernel);
        if let Some(first) = user.first() {
            // One walk of the table: both families in one dump when needed.
            let mixed = user.iter().any(|s| s.family != first.family);
            let family = if mixed { AF_UNSPEC } else { first.family };
            found.extend(self.dump_or_empty(family, &|e| user.iter().any(|s| s.matches(e)))?);
        }
        let mut seen = HashSet::new();
        found.retain(|e| seen.insert(e.key()));
        Ok(found)
    }

    /// `Ok(None)`: the kernel ignored a filter (dumped unrelated entries).
    fn select_in_kernel(&mut self, sels: &[Selector]) -> Result<Option<Vec<Entry>>> {
        let mut found = Vec::new();
        for s in sels {
            for e in self.dump(s.family, Some(s), &|_| true)? {
                if !s.matches(&e) {
                    return Ok(None);
                }
                found.push(e);
            }
        }
        Ok(Some(found))
    }

    fn dump_or_empty(&mut self, family: u8, pick: Pick) -> Result<Vec<Entry>> {
        match self.dump(family, None, pick) {
            Err(e) if unsupported(&e) => Ok(Vec::new()),
            r => r,
        }
    }

    /// The entries of one dump (filtered by `sel` in the kernel when given)
    /// for which `pick` is true.
    fn dump(&mut self, family: u8, sel: Option<&Selector>, pick: Pick) -> Result<Vec<Entry>> {
        let Some(sock) = self.sock.as_mut() else {
            return Ok(Vec::new());
        };
        let op = "dump conntrack table";
        let seq = sock.next_seq();
        sock.send(&dump_request(family, seq, sel))
            .map_err(|e| Error::io(op, e))?;
        let mut out = Vec::new();
        loop {
            let n = sock.recv().map_err(|e| Error::io(op, e))?;
            for m in nfnl::messages(&sock.buf[..n]).filter(|m| m.seq == seq) {
                match m.kind {
                    NLMSG_DONE | NLMSG_ERROR => match errno_of(m.payload) {
                        0 => return Ok(out),
                        libc::EPROTO if m.kind == NLMSG_DONE => return Ok(out),
                        errno => return Err(kernel_err(op, errno)),
                    },
                    k if k == ctnl(IPCTNL_MSG_CT_NEW) => {
                        out.extend(parse_entry_if(m.payload, pick))
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_filters_pay_off_only_on_big_tables() {
        // delete_udp_dport(one port): 2 filtered walks, 1 extra.
        assert!(!worth_filtering(2, 1, 10_000, 262_144));
        assert!(worth_filtering(2, 1, 20_000, 262_144));
        assert!(worth_filtering(2, 1, 5_000, 65_536));
        // delete_by_addr(one v4 address): 4 filtered walks never pay off.
        assert!(!worth_filtering(4, 3, 10_000_000, 262_144));
        assert!(!worth_filtering(1, 0, 0, 1));
    }
}
