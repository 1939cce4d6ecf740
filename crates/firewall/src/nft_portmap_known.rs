//! Port-mapping DEL when the caller knows what it added (the portmap
//! plugin's per-attachment record): one `nft -f -`, no read.
//!
//! For every mapping and container family the batch holds one guarded
//! group (see [`crate::nft_guard`]):
//!
//! ```text
//! delete element inet ferrocni_hostport own4 { tcp . 0.0.0.0 . 8080 . <token(cid net)> }   # guard
//! delete element inet ferrocni_hostport hp4_any { tcp . 8080 }
//! delete element inet ferrocni_hostport hair4_any { tcp . 8080 }
//! delete element inet ferrocni_hostport hold4 { tcp . 8080 }
//! ```
//! `portmap_add` writes the guard element in the same transaction as the
//! mapping, and every delete path removes both together, so the guard
//! exists exactly while the mapping is this container's. A mapping now
//! held by another container (or already gone) has no guard of ours: its
//! guard delete fails, the group is dropped and the rest is run again.
//! An any-address mapping's `hold` marker (`0x1`) is its holder's alone
//! and goes with it. Specific-address markers (`0x2`) are shared by every
//! holder of a port and are left in place; the next any-address ADD of
//! that port, `portmap_del` and `portmap_gc` remove stale ones.

use crate::names::nft_ident;
use crate::nft_guard::{Group, run, token};
use crate::nft_portmap::{TABLE, del, guard_key};
use crate::{Family, PortMapping, Result};
use ipnet::IpNet;

/// The guarded groups for one container (one per mapping and family).
pub(crate) fn groups(net: &str, cid: &str, ips: &[IpNet], maps: &[PortMapping]) -> Vec<Group> {
    let t = format!("inet {TABLE}");
    let tok = token(&nft_ident(&[cid, net]));
    let mut out = Vec::new();
    for f in Family::ALL {
        if !ips.iter().any(|ip| Family::of_net(ip) == f) {
            continue;
        }
        let s = f.suffix();
        for m in maps.iter().filter(|m| m.applies_to(f)) {
            let (p, port) = (m.protocol.as_str(), m.host_port);
            let (kind, key) = match m.specific_host_ip() {
                Some(h) => ("ip", format!("{p} . {h} . {port}")),
                None => ("any", format!("{p} . {port}")),
            };
            let guard = format!(
                "delete element {t} own{s} {{ {} . {tok} }}",
                guard_key(f, m)
            );
            let mut lines = vec![format!("delete element {t} hp{s}_{kind} {{ {key} }}")];
            // Sent even without `snat`: a hair element left behind (other
            // options at ADD time) would block the next holder's ADD. Without
            // `snat` it is normally absent, which costs a second round.
            lines.push(format!("delete element {t} hair{s}_{kind} {{ {key} }}"));
            // The any-address marker is this holder's alone; a specific
            // marker is shared by every holder of the port and stays.
            if kind == "any" {
                lines.push(format!("delete element {t} hold{s} {{ {key} }}"));
            }
            out.push(Group::new(guard, lines));
        }
    }
    out
}

/// Removes exactly this container's elements for `maps`; falls back to the
/// read-based DEL by container id only if the table keeps changing.
pub(crate) fn del_known(net: &str, cid: &str, ips: &[IpNet], maps: &[PortMapping]) -> Result<()> {
    match run(groups(net, cid, ips, maps))? {
        Some(_) => Ok(()),
        None => del(net, cid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;

    #[test]
    fn groups_golden() {
        let m = PortMapping {
            host_ip: None,
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let spec = PortMapping {
            host_ip: Some("10.0.0.1".parse().unwrap()),
            ..m
        };
        let ips: Vec<IpNet> = vec!["10.88.0.2/16".parse().unwrap()];
        let g = groups("n", "c", &ips, &[m, spec]);
        let tok = token("c n");
        let t = "inet ferrocni_hostport";
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0].guard,
            format!("delete element {t} own4 {{ tcp . 0.0.0.0 . 8080 . {tok} }}")
        );
        assert_eq!(
            g[0].lines,
            vec![
                format!("delete element {t} hp4_any {{ tcp . 8080 }}"),
                format!("delete element {t} hair4_any {{ tcp . 8080 }}"),
                format!("delete element {t} hold4 {{ tcp . 8080 }}"),
            ]
        );
        assert_eq!(
            g[1].lines[0],
            format!("delete element {t} hp4_ip {{ tcp . 10.0.0.1 . 8080 }}")
        );
        let v6: Vec<IpNet> = vec!["fd00::2/64".parse().unwrap()];
        let g = groups("n", "c", &v6, &[m, spec]);
        assert_eq!(g.len(), 1, "v4 host address does not apply to v6");
        assert!(g[0].guard.contains("own6 { tcp . :: . 8080 . "), "{g:?}");
        assert_eq!(g[0].lines.len(), 3);
        assert!(g[0].lines[1].contains("hair6_any"), "{g:?}");
    }
}
