//! `ipMasq` through fwkit: one batch per call on the configured backend.
//!
//! ADD on the nftables backend first tries fwkit's netlink fast path
//! ([`fwkit::masq_add_netlink`]): when the network's table, map and chain
//! exist (every ADD after the network's first), the pod's element is added
//! in one nf_tables transaction without spawning `nft`. Any failure falls
//! back to fwkit's batch, which creates everything.
//!
//! DEL and GC clean **both** layouts for the attachment: our nftables table
//! (and the reference's `cni_plugins_masquerade` rule, which fwkit removes
//! with it) and the reference iptables chain `CNI-<hash>` (nft or legacy
//! flavour), so pods set up by the reference plugin, or under another
//! `ipMasqBackend`, are cleaned too. Cheap probes ([`fwkit::masq_layouts`]:
//! netlink lookups, `/proc/net/ip*_tables_names`) decide which layouts
//! hold anything, so tools are spawned only when there is something to
//! remove. None of this
//! needs the pod's addresses: it works when the netns or link is gone.

use fwkit::{Backend, Flavor};
use ipnet::IpNet;

use crate::config::{BridgeConf, MasqBackend};
use crate::error::{BridgeError, Result};

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

/// Masquerades traffic from `ips` leaving their subnets.
pub fn add(cfg: &BridgeConf, cid: &str, ifname: &str, ips: &[IpNet]) -> Result<()> {
    if cfg.masq_backend == MasqBackend::Nftables
        && fwkit::masq_add_netlink(&cfg.network, cid, ifname, ips).is_ok()
    {
        return Ok(());
    }
    let b = backend_of(cfg.masq_backend);
    fwkit::masq_add(&cfg.network, cid, ifname, ips, b).map_err(fw("add", cfg))
}

/// Removes the attachment's masquerading from every layout that may hold
/// it, concurrently. Failures of the configured backend are errors; the
/// other layouts are best effort (logged on stderr).
pub fn del(cfg: &BridgeConf, cid: &str, ifname: &str, known: Option<&[IpNet]>) -> Result<()> {
    let found = fwkit::masq_layouts(&cfg.network, cid);
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
