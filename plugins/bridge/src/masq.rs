//! `ipMasq` through fwkit: one batch per call on the configured backend.
//!
//! ADD on the nftables backend first tries a netlink fast path ([`nfnl`]):
//! when the network's table, map and chain exist (every ADD after the
//! network's first), the pod's element is added in one nf_tables
//! transaction without spawning `nft`. Any failure falls back to fwkit's
//! batch, which creates everything.
//!
//! DEL and GC clean **both** layouts for the attachment: our nftables table
//! (and the reference's `cni_plugins_masquerade` rule, which fwkit removes
//! with it) and the reference iptables chain `CNI-<hash>` (nft or legacy
//! flavour), so pods set up by the reference plugin, or under another
//! `ipMasqBackend`, are cleaned too. Cheap probes (netlink lookups,
//! `/proc/net/ip*_tables_names`) decide which layouts hold anything, so
//! tools are spawned only when there is something to remove. None of this
//! needs the pod's addresses: it works when the netns or link is gone.

use fwkit::{Backend, Flavor};
use ipnet::IpNet;
use sha2::{Digest, Sha512};

use crate::config::{BridgeConf, MasqBackend};
use crate::error::{BridgeError, Result};
use crate::nfnl::{self, Elem, Nfnl};

/// fwkit's nftables table and maps (see `fwkit::nft_masq`).
const NFT_TABLE: &str = "ferrocni";
const REF_NFT_TABLE: &str = "cni_plugins_masquerade";

/// The fwkit backend for `kind` (iptables: the flavour kubelet uses).
pub fn backend_of(kind: MasqBackend) -> Backend {
    match kind {
        MasqBackend::Nftables => Backend::Nftables,
        MasqBackend::Iptables => Backend::Iptables(fwkit::detect_iptables_flavor()),
    }
}

fn fw(what: &str, cfg: &BridgeConf) -> impl FnOnce(fwkit::Error) -> BridgeError {
    let what = format!("ipMasq {what} (backend {})", cfg.masq_backend.as_str());
    move |e| BridgeError::firewall(what, e)
}

/// fwkit's per-network chain: `masq-` + 16 hex of sha512("<net> <subnet>").
pub fn net_chain(net: &str, subnet: &IpNet) -> String {
    let d = Sha512::digest(format!("{net} {subnet}").as_bytes());
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("masq-{hex}")
}

/// fwkit's owner token of an identity: 128 bits of sha512 (see
/// `fwkit::nft_guard`), stored in the guard sets' `ipv6_addr` field.
pub fn owner_token(ident: &str) -> [u8; 16] {
    let d = Sha512::digest(ident.as_bytes());
    let mut t = [0u8; 16];
    t.copy_from_slice(&d[..16]);
    t
}

/// The elements fwkit's ADD writes for one address: the map element
/// (`create`, so an address held by anybody fails) and its guard
/// `address . token` in `own4`/`own6`, both commented with the identity.
pub fn elements(net: &str, ident: &str, ip: &IpNet) -> [Elem; 2] {
    let chain = net_chain(net, &ip.trunc());
    let (suffix, addr) = match ip.addr() {
        std::net::IpAddr::V4(a) => ("4", a.octets().to_vec()),
        std::net::IpAddr::V6(a) => ("6", a.octets().to_vec()),
    };
    let mut guard_key = addr.clone();
    guard_key.extend(owner_token(ident));
    [
        Elem {
            set: format!("masq{suffix}"),
            key: addr,
            goto: Some(chain),
            comment: ident.to_string(),
            exclusive: true,
        },
        Elem {
            set: format!("own{suffix}"),
            key: guard_key,
            goto: None,
            comment: ident.to_string(),
            exclusive: false,
        },
    ]
}

/// The netlink fast path: fwkit's elements for every address in one
/// nf_tables transaction, no process.
fn fast_add(cfg: &BridgeConf, cid: &str, ifname: &str, ips: &[IpNet]) -> std::io::Result<()> {
    let ident = fwkit::nft_ident(&[cid, ifname, &cfg.network]);
    let elems: Vec<Elem> = ips
        .iter()
        .flat_map(|ip| elements(&cfg.network, &ident, ip))
        .collect();
    Nfnl::open()?.add_elements(NFT_TABLE, &elems)
}

/// Masquerades traffic from `ips` leaving their subnets.
pub fn add(cfg: &BridgeConf, cid: &str, ifname: &str, ips: &[IpNet]) -> Result<()> {
    let valid = fwkit::validate_token("network name", &cfg.network).is_ok()
        && fwkit::validate_token("container id", cid).is_ok();
    if cfg.masq_backend == MasqBackend::Nftables && valid && fast_add(cfg, cid, ifname, ips).is_ok()
    {
        return Ok(());
    }
    let b = backend_of(cfg.masq_backend);
    fwkit::masq_add(&cfg.network, cid, ifname, ips, b).map_err(fw("add", cfg))
}

/// Which layouts may hold rules of this attachment (`true` when unsure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub nft: bool,
    pub ipt_nft: bool,
    pub ipt_legacy: bool,
}

fn legacy_nat_loaded() -> bool {
    ["/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"]
        .iter()
        .any(|p| std::fs::read_to_string(p).is_ok_and(|s| s.lines().any(|l| l == "nat")))
}

/// Probes the node netns without spawning anything.
pub fn probe_layouts(net: &str, cid: &str) -> Found {
    let legacy = legacy_nat_loaded();
    let Ok(mut nl) = Nfnl::open() else {
        return Found {
            nft: true,
            ipt_nft: true,
            ipt_legacy: legacy,
        };
    };
    let mut table = |name: &str| nl.table_exists(nfnl::NFPROTO_INET, name).unwrap_or(true);
    let nft = table(NFT_TABLE) || table(REF_NFT_TABLE);
    let chain = fwkit::ipmasq_chain(net, cid);
    let ipt_nft = [nfnl::NFPROTO_IPV4, nfnl::NFPROTO_IPV6]
        .iter()
        .any(|f| nl.chain_exists(*f, "nat", &chain).unwrap_or(true));
    Found {
        nft,
        ipt_nft,
        ipt_legacy: legacy,
    }
}

/// Removes the attachment's masquerading from every layout that may hold
/// it, concurrently. Failures of the configured backend are errors; the
/// other layouts are best effort (logged on stderr).
pub fn del(cfg: &BridgeConf, cid: &str, ifname: &str, known: Option<&[IpNet]>) -> Result<()> {
    let found = probe_layouts(&cfg.network, cid);
    let mut jobs: Vec<(Backend, bool)> = Vec::new();
    let ipt = cfg.masq_backend == MasqBackend::Iptables;
    if found.nft {
        jobs.push((Backend::Nftables, !ipt));
    }
    if found.ipt_nft {
        jobs.push((Backend::Iptables(Flavor::Nft), ipt));
    }
    if found.ipt_legacy {
        jobs.push((Backend::Iptables(Flavor::Legacy), ipt));
    }
    let results: Vec<(Backend, bool, fwkit::Result<()>)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|&(b, mine)| {
                let h = s.spawn(move || fwkit::masq_del(&cfg.network, cid, ifname, known, b));
                (b, mine, h)
            })
            .collect();
        handles
            .into_iter()
            .map(|(b, mine, h)| {
                let r = h.join().unwrap_or_else(|_| {
                    Err(fwkit::Error::Unavailable("cleanup thread panicked".into()))
                });
                (b, mine, r)
            })
            .collect()
    });
    let mut first = None;
    for (b, mine, r) in results {
        match (r, mine) {
            (Ok(()), _) => {}
            (Err(e), true) => first = first.or(Some(e)),
            (Err(e), false) => cni::skel::log(&format!("ipMasq cleanup ({}): {e}", b.name())),
        }
    }
    first.map_or(Ok(()), |e| Err(fw("delete", cfg)(e)))
}

/// CHECK: the attachment's addresses are still masqueraded.
pub fn check(cfg: &BridgeConf, cid: &str, ifname: &str, ips: &[IpNet]) -> Result<()> {
    let b = backend_of(cfg.masq_backend);
    fwkit::masq_check(&cfg.network, cid, ifname, ips, b).map_err(|e| match e {
        fwkit::Error::Missing(m) => BridgeError::Check(format!("ipMasq: {m}")),
        other => BridgeError::firewall("ipMasq check", other),
    })
}

/// GC: removes masquerading of attachments of this network not in `valid`,
/// in both layouts (the configured one's failure is the error).
pub fn gc(cfg: &BridgeConf, valid: &[(&str, &str)]) -> Result<()> {
    let (ours, other) = match cfg.masq_backend {
        MasqBackend::Nftables => (Backend::Nftables, backend_of(MasqBackend::Iptables)),
        MasqBackend::Iptables => (backend_of(MasqBackend::Iptables), Backend::Nftables),
    };
    if let Err(e) = fwkit::masq_gc(&cfg.network, valid, other) {
        cni::skel::log(&format!("ipMasq GC ({}): {e}", other.name()));
    }
    fwkit::masq_gc(&cfg.network, valid, ours).map_err(|e| BridgeError::firewall("ipMasq gc", e))
}

/// STATUS: can the configured backend program the kernel here?
pub fn probe(cfg: &BridgeConf) -> Result<()> {
    fwkit::probe(backend_of(cfg.masq_backend))
        .map_err(|e| BridgeError::firewall("ipMasq backend", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_elements_mirror_fwkit_batch() {
        let [m, g] = elements("tnet", "c1 eth0 tnet", &"10.99.0.7/24".parse().unwrap());
        assert_eq!((m.set.as_str(), m.exclusive), ("masq4", true));
        assert_eq!(m.key, vec![10, 99, 0, 7]);
        assert_eq!(
            m.goto,
            Some(net_chain("tnet", &"10.99.0.0/24".parse().unwrap()))
        );
        assert_eq!(g.set, "own4");
        assert_eq!(g.key.len(), 20);
        assert_eq!(&g.key[4..], &owner_token("c1 eth0 tnet"));
        assert_eq!(g.goto, None);
    }

    #[test]
    fn network_chain_name_is_stable() {
        let c = net_chain("tnet", &"10.99.0.0/24".parse().unwrap());
        assert!(c.starts_with("masq-") && c.len() == 21, "{c}");
        assert_ne!(c, net_chain("tnet", &"10.98.0.0/24".parse().unwrap()));
    }
}
