//! DEL: delete every conntrack entry to or from the pod's addresses in the
//! node netns (reference pain point 9: a stale entry misdirects traffic
//! once host-local hands the address to the next pod). The addresses are
//! those DEL already knows: `prevResult`, else the pod link's addresses
//! read before it was deleted. With neither (netns gone, no `prevResult`)
//! there is nothing to match on and the flush is skipped.
//!
//! Best effort: a failure is logged to stderr and never fails DEL. An empty
//! table costs one counter read; otherwise one dump per address family.

use std::net::IpAddr;

use ipnet::IpNet;
use netkit::Conntrack;

/// The addresses to flush, from what DEL knows about the attachment.
pub fn pod_ips(known: Option<&[IpNet]>) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = known.unwrap_or_default().iter().map(IpNet::addr).collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Deletes the entries of `ips` in the current (node) netns; logs failures.
pub fn flush(ips: &[IpAddr]) {
    if ips.is_empty() {
        return;
    }
    let res = Conntrack::open().and_then(|mut ct| ct.delete_by_addr(ips));
    if let Err(e) = res {
        cni::skel::log(&format!("DEL: conntrack cleanup of {ips:?} failed: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_come_from_the_known_networks_without_duplicates() {
        let nets: Vec<IpNet> = ["10.99.0.5/24", "fd00:99::5/64", "10.99.0.5/32"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let want: Vec<IpAddr> = vec!["10.99.0.5".parse().unwrap(), "fd00:99::5".parse().unwrap()];
        assert_eq!(pod_ips(Some(&nets)), want);
        assert!(pod_ips(None).is_empty());
        assert!(pod_ips(Some(&[])).is_empty());
    }
}
