//! Host sockets held in the reference's iptables layout — by pods the
//! reference made before the binaries were swapped, or by our own iptables
//! backend on another network. An nftables ADD must not silently shadow
//! them (both would DNAT the same port), so it checks here first. Cheap
//! when no such rule exists: one nf_tables netlink query per family for
//! rules in `CNI-HOSTPORT-DNAT` (the reference leaves the empty chain
//! behind after its last DEL), no process.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::mapping::Mapping;
use crate::refcheck::{Ask, saves_holding};

/// One DNAT of a `CNI-DN-*` chain and the container owning it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub container_id: String,
    pub protocol: String,
    pub host_ip: Option<IpAddr>,
    pub port: u16,
    pub v6: bool,
}

/// Container id in `dnat name: \"<net>\" id: \"<cid>\"` (save quoting).
fn comment_id(rule: &str) -> Option<String> {
    let rest = &rule[rule.find("id: \\\"")? + 6..];
    Some(rest[..rest.find("\\\"")?].to_string())
}

/// The argument following `flag` in a save rule.
fn arg<'a>(words: &[&'a str], flag: &str) -> Option<&'a str> {
    let i = words.iter().position(|w| *w == flag)?;
    words.get(i + 1).copied()
}

/// Every DNAT holder in one `-save -t nat` output.
pub fn parse_holders(save: &str, v6: bool) -> Vec<Holder> {
    let mut owner: HashMap<&str, String> = HashMap::new();
    for l in save
        .lines()
        .filter(|l| l.starts_with("-A CNI-HOSTPORT-DNAT "))
    {
        let words: Vec<&str> = l.split_whitespace().collect();
        if let (Some(chain), Some(id)) = (arg(&words, "-j"), comment_id(l)) {
            owner.insert(chain, id);
        }
    }
    let mut out = Vec::new();
    for l in save
        .lines()
        .filter(|l| l.starts_with("-A CNI-DN-") && l.contains(" -j DNAT "))
    {
        let words: Vec<&str> = l.split_whitespace().collect();
        let (Some(chain), Some(proto), Some(port)) =
            (words.get(1), arg(&words, "-p"), arg(&words, "--dport"))
        else {
            continue;
        };
        let (Some(id), Ok(port)) = (owner.get(chain), port.parse()) else {
            continue;
        };
        let host_ip = arg(&words, "-d").and_then(|d| d.split('/').next()?.parse().ok());
        out.push(Holder {
            container_id: id.clone(),
            protocol: proto.to_string(),
            host_ip,
            port,
            v6,
        });
    }
    out
}

/// True when `h` claims the host socket `m` asks for.
pub fn overlaps(h: &Holder, m: &Mapping) -> bool {
    if h.protocol != m.protocol.as_str() || h.port != m.host_port {
        return false;
    }
    match m.host_ip.filter(|ip| !ip.is_unspecified()) {
        None => true,
        Some(ip) => ip.is_ipv6() == h.v6 && h.host_ip.is_none_or(|hip| hip == ip),
    }
}

/// The first mapping of `maps` held by another container in the
/// reference layout, with its holder.
pub fn find(maps: &[Mapping], cid: &str) -> Option<(Mapping, Holder)> {
    let saves = saves_holding("CNI-HOSTPORT-DNAT", Ask::HasRules);
    let holders = saves
        .iter()
        .flat_map(|(prog, text)| parse_holders(text, prog.starts_with("ip6")));
    for h in holders.filter(|h| h.container_id != cid) {
        if let Some(m) = maps.iter().find(|m| overlaps(&h, m)) {
            return Some((*m, h));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Protocol;

    const SAVE: &str = r#"*nat
:CNI-DN-aaa - [0:0]
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"n\" id: \"ref-1\"" -m multiport --dports 80,81 -j CNI-DN-aaa
-A CNI-DN-aaa -s 10.88.0.0/24 -p tcp -m tcp --dport 80 -j CNI-HOSTPORT-SETMARK
-A CNI-DN-aaa -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.88.0.2:8080
-A CNI-DN-aaa -d 192.0.2.1/32 -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.88.0.2:81
COMMIT
"#;

    fn m(host: Option<&str>, port: u16) -> Mapping {
        Mapping {
            host_ip: host.map(|h| h.parse().unwrap()),
            host_port: port,
            container_port: 1,
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn parses_holders_and_overlaps() {
        let hs = parse_holders(SAVE, false);
        assert_eq!(hs.len(), 2);
        assert_eq!(hs[0].container_id, "ref-1");
        assert_eq!(hs[1].host_ip, Some("192.0.2.1".parse().unwrap()));
        assert!(overlaps(&hs[0], &m(None, 80)));
        assert!(overlaps(&hs[0], &m(Some("192.0.2.9"), 80)));
        assert!(!overlaps(&hs[0], &m(Some("fd00::1"), 80)));
        assert!(overlaps(&hs[1], &m(None, 81)));
        assert!(!overlaps(&hs[1], &m(Some("192.0.2.2"), 81)));
        assert!(!overlaps(&hs[0], &m(None, 82)));
        assert!(
            parse_holders("-A CNI-DN-x -j DNAT\n-A CNI-HOSTPORT-DNAT id: \\\"", false).is_empty()
        );
    }
}
