//! `ipMasq` through fwkit: one batch per call on the configured backend.
//!
//! DEL and GC always clean **both** layouts for the attachment: our
//! nftables table (and the reference's `cni_plugins_masquerade` rule, which
//! fwkit removes with it) and the reference iptables chain `CNI-<hash>`, so
//! pods set up by the reference plugin, or under another `ipMasqBackend`,
//! are cleaned too. Neither needs the pod's addresses, so this works when
//! the netns or the link is already gone.

use fwkit::Backend;
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
    let what = format!("{what}, backend {}", cfg.masq_backend.as_str());
    move |e| BridgeError::firewall(what, e)
}

/// Masquerades traffic from `ips` leaving their subnets.
pub fn add(cfg: &BridgeConf, cid: &str, ifname: &str, ips: &[IpNet]) -> Result<()> {
    let b = backend_of(cfg.masq_backend);
    fwkit::masq_add(&cfg.network, cid, ifname, ips, b).map_err(fw("add", cfg))
}

/// Removes the attachment's masquerading from both layouts. Failures of
/// the configured backend are errors; the other layout is best effort
/// (its tools may not even be installed), logged on stderr.
pub fn del(cfg: &BridgeConf, cid: &str, ifname: &str) -> Result<()> {
    let (ours, other) = match cfg.masq_backend {
        MasqBackend::Nftables => (MasqBackend::Nftables, MasqBackend::Iptables),
        MasqBackend::Iptables => (MasqBackend::Iptables, MasqBackend::Nftables),
    };
    let (a, b) = std::thread::scope(|s| {
        let t = s.spawn(|| fwkit::masq_del(&cfg.network, cid, ifname, None, backend_of(other)));
        let a = fwkit::masq_del(&cfg.network, cid, ifname, None, backend_of(ours));
        (a, t.join())
    });
    match b {
        Ok(Err(e)) => cni::skel::log(&format!("ipMasq cleanup ({}): {e}", other.as_str())),
        Err(_) => cni::skel::log("ipMasq cleanup thread panicked"),
        Ok(Ok(())) => {}
    }
    a.map_err(fw("delete", cfg))
}

/// CHECK: the attachment's addresses are still masqueraded.
pub fn check(cfg: &BridgeConf, cid: &str, ifname: &str, ips: &[IpNet]) -> Result<()> {
    let b = backend_of(cfg.masq_backend);
    fwkit::masq_check(&cfg.network, cid, ifname, ips, b).map_err(|e| match e {
        fwkit::Error::Missing(m) => BridgeError::Check(format!("ipMasq: {m}")),
        other => BridgeError::firewall("check", other),
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
    fwkit::masq_gc(&cfg.network, valid, ours).map_err(|e| BridgeError::firewall("gc", e))
}

/// STATUS: can the configured backend program the kernel here?
pub fn probe(cfg: &BridgeConf) -> Result<()> {
    fwkit::probe(backend_of(cfg.masq_backend)).map_err(|e| BridgeError::firewall("status", e))
}
