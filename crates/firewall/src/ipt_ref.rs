//! Sweeping the reference bridge plugin's iptables ipMasq artefacts of one
//! attachment (`CNI-<24 hex>` and the `POSTROUTING` jumps to it) while we
//! run on the nftables backend, in both iptables flavours and families.
//!
//! Cost, per flavour and family, cheapest test first:
//! * the flavour's `*-save` binary is not on `PATH`: nothing;
//! * legacy: `nat` is not in `/proc/net/ip{,6}_tables_names` (the legacy
//!   `nat` table was never instantiated in this namespace): nothing;
//! * nft flavour: one nf_tables netlink GETCHAIN query (no process;
//!   falling back to a read-only `nft list chain ip{,6} nat CNI-…`) says
//!   the chain is absent;
//! * otherwise one `*-save -t nat` and, if the chain or a jump to it is
//!   there, one `*-restore --noflush`.

use crate::exec::read;
use crate::ipt_masq::remove_chain_lines;
use crate::ipt_save::{restore_nat, save_nat};
use crate::names::ipmasq_chain;
use crate::{Family, Flavor, Result, nfnl};
use std::path::Path;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether `bin` would be found by `Command::new` (no process started).
pub(crate) fn on_path(bin: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
    path.split(':')
        .filter(|d| !d.is_empty())
        .any(|d| Path::new(d).join(bin).is_file())
}

/// Whether the legacy `nat` table exists in this network namespace.
fn legacy_nat_loaded(f: Family) -> bool {
    // thread-self: the namespace of this thread (it may have setns'ed),
    // where /proc/net would show the main thread's.
    let file = match f {
        Family::V4 => "/proc/thread-self/net/ip_tables_names",
        Family::V6 => "/proc/thread-self/net/ip6_tables_names",
    };
    // Unreadable: assume it may be there.
    std::fs::read_to_string(file).map_or(true, |s| s.lines().any(|l| l.trim() == "nat"))
}

/// Whether iptables-nft's `nat` table may hold `chain` (true when unsure):
/// one netlink query, else one read-only `nft list chain`.
fn nft_chain_maybe(f: Family, chain: &str) -> bool {
    let (fam, proto) = match f {
        Family::V4 => ("ip", nfnl::NFPROTO_IPV4),
        Family::V6 => ("ip6", nfnl::NFPROTO_IPV6),
    };
    if let Some(exists) = nfnl::chain_exists(proto, "nat", chain) {
        return exists;
    }
    match read(&["nft", "list", "chain", fam, "nat", chain]) {
        Ok(_) => true,
        Err(e) => !e.is_not_found(),
    }
}

/// Removes the chain of (net, cid) from every flavour and family that has it.
pub(crate) fn del_reference(net: &str, cid: &str) -> Result<()> {
    let chain = ipmasq_chain(net, cid);
    for flavor in [Flavor::Nft, Flavor::Legacy] {
        for f in Family::ALL {
            if !on_path(&flavor.save(f)) {
                continue;
            }
            let maybe = match flavor {
                Flavor::Legacy => legacy_nat_loaded(f),
                Flavor::Nft => nft_chain_maybe(f, &chain),
            };
            if !maybe {
                continue;
            }
            // A family whose table cannot be read holds nothing of ours.
            let Ok(cur) = save_nat(flavor, f) else {
                continue;
            };
            restore_nat(flavor, f, &remove_chain_lines(&chain, &cur))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup() {
        assert!(on_path("sh"));
        assert!(!on_path("fwkit-no-such-binary"));
    }
}
