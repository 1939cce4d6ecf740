//! Backend selection: our own nftables tables, or the reference iptables
//! layout through the same iptables flavour kubelet/kube-proxy use.

use crate::exec::read;
use crate::{Error, Family, Result};

/// Which iptables binary family to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// `iptables-nft` (xtables over nf_tables).
    Nft,
    /// `iptables-legacy` (x_tables, `/run/xtables.lock`).
    Legacy,
}

/// A firewall backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Native nftables: our own `inet` tables, one `nft -f -` per call.
    Nftables,
    /// The reference iptables layout in table `nat`.
    Iptables(Flavor),
}

impl Flavor {
    fn tag(self) -> &'static str {
        match self {
            Flavor::Nft => "nft",
            Flavor::Legacy => "legacy",
        }
    }

    fn prog(self, family: Family, tool: &str) -> String {
        let base = match family {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        };
        format!("{base}-{}-{tool}", self.tag())
    }

    /// `iptables-<flavor>-save` / `ip6tables-<flavor>-save`.
    pub(crate) fn save(self, family: Family) -> String {
        self.prog(family, "save")
    }

    /// `iptables-<flavor>-restore` / `ip6tables-<flavor>-restore`.
    pub(crate) fn restore(self, family: Family) -> String {
        self.prog(family, "restore")
    }
}

impl Backend {
    /// Short name for messages (`nftables`, `iptables-nft`, `iptables-legacy`).
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Nftables => "nftables",
            Backend::Iptables(Flavor::Nft) => "iptables-nft",
            Backend::Iptables(Flavor::Legacy) => "iptables-legacy",
        }
    }
}

/// Kubelet's marker chains in the `mangle` table.
const HINTS: [&str; 2] = [":KUBE-IPTABLES-HINT ", ":KUBE-KUBELET-CANARY "];

/// Picks the iptables flavour the way the kubernetes iptables-wrapper does:
/// the flavour whose `mangle` table holds `KUBE-IPTABLES-HINT` or
/// `KUBE-KUBELET-CANARY`; otherwise the one with more rules; default nft.
pub fn detect_iptables_flavor() -> Flavor {
    let mangle = |f: Flavor| read(&[&f.save(Family::V4), "-t", "mangle"]).unwrap_or_default();
    let has_hint = |s: &str| s.lines().any(|l| HINTS.iter().any(|h| l.starts_with(h)));
    for f in [Flavor::Nft, Flavor::Legacy] {
        if has_hint(&mangle(f)) {
            return f;
        }
    }
    let rules = |f: Flavor| {
        let text = read(&[&f.save(Family::V4)]).unwrap_or_default();
        text.lines().filter(|l| l.starts_with("-A ")).count()
    };
    if rules(Flavor::Legacy) > rules(Flavor::Nft) {
        Flavor::Legacy
    } else {
        Flavor::Nft
    }
}

/// Chooses a backend. `requested` is the plugin's `backend` key
/// (`"nftables"`, `"iptables"`, or `None` for auto: nftables when usable,
/// else iptables with the detected flavour). Fails with code 50 when the
/// chosen backend cannot run here.
pub fn detect_backend(requested: Option<&str>) -> Result<Backend> {
    match requested {
        Some("nftables") => probe(Backend::Nftables).map(|()| Backend::Nftables),
        Some("iptables") => {
            let b = Backend::Iptables(detect_iptables_flavor());
            probe(b).map(|()| b)
        }
        Some(other) => Err(Error::Invalid {
            what: "backend",
            value: other.to_string(),
            why: "expected \"nftables\" or \"iptables\"",
        }),
        None => probe(Backend::Nftables)
            .map(|()| Backend::Nftables)
            .or_else(|nft_err| {
                let b = Backend::Iptables(detect_iptables_flavor());
                probe(b)
                    .map(|()| b)
                    .map_err(|ipt| Error::Unavailable(format!("{nft_err}; {ipt}")))
            }),
    }
}

/// STATUS probe: can this backend program the kernel from here? One cheap
/// read; failure maps to CNI code 50.
pub fn probe(backend: Backend) -> Result<()> {
    let res = match backend {
        Backend::Nftables => read(&["nft", "list", "tables"]),
        Backend::Iptables(f) => read(&[&f.save(Family::V4), "-t", "nat"]),
    };
    res.map(|_| ())
        .map_err(|e| Error::Unavailable(format!("{}: {e}", backend.name())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_names() {
        assert_eq!(Flavor::Nft.save(Family::V4), "iptables-nft-save");
        assert_eq!(
            Flavor::Legacy.restore(Family::V6),
            "ip6tables-legacy-restore"
        );
        assert_eq!(Backend::Iptables(Flavor::Legacy).name(), "iptables-legacy");
        assert_eq!(Error::Unavailable(String::new()).cni_code(), 50);
    }
}
