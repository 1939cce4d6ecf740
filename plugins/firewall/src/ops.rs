//! The verbs on each backend: our nftables layout (plus the iptables
//! accepts a DROP policy needs) or the reference iptables layout.

use crate::attach::Attachment;
use crate::config::{BackendChoice, FwConf, Policy};
use crate::error::{FwError, Result};
use crate::exec::lock;
use crate::{compat, ipt, iptsave, nft};
use fwkit::{Backend, Family};
use std::collections::HashSet;
use std::net::IpAddr;

/// `(bridge, policy)` when the policy needs the bridge; an error when the
/// policy is not `open` and prevResult names no bridge.
fn isolation<'a>(att: &'a Attachment, conf: &FwConf) -> Result<Option<(&'a str, Policy)>> {
    if conf.policy == Policy::Open {
        return Ok(None);
    }
    match &att.bridge {
        Some(br) => Ok(Some((br.as_str(), conf.policy))),
        // SPEC: the reference refuses too ("make sure to chain firewall with bridge").
        None => Err(FwError::Config(format!(
            "ingressPolicy {:?} needs the bridge in prevResult.interfaces; \
             chain the firewall plugin after the bridge plugin",
            conf.policy.as_str()
        ))),
    }
}

/// ADD.
pub fn add(att: &Attachment, conf: &FwConf) -> Result<()> {
    let iso = isolation(att, conf)?;
    let _guard = lock()?;
    match conf.backend {
        BackendChoice::Nftables => {
            let listing = nft::add(att, conf)?;
            let targets = compat::drop_targets_from_listing(&listing)?;
            compat::add_accepts(&targets, &conf.admin_chain, &att.ips)
        }
        BackendChoice::Iptables => {
            let flavor = fwkit::detect_iptables_flavor();
            for fam in Family::ALL {
                let ips = ipt::of_family(&att.ips, fam);
                if ips.is_empty() {
                    continue;
                }
                let f = iptsave::load(flavor, fam)?;
                let lines = ipt::add_lines(&f, &conf.admin_chain, &ips, iso);
                ipt::apply(flavor, fam, &lines)?;
            }
            Ok(())
        }
    }
}

/// DEL: by container id on nftables (prevResult not needed); by the
/// prevResult addresses on iptables, like the reference.
pub fn del(att: &Attachment, conf: &FwConf) -> Result<()> {
    let _guard = lock()?;
    match conf.backend {
        BackendChoice::Nftables => {
            let ident = att.ident();
            let mut ips = att.ips.clone();
            if let Some(table) = nft::list()? {
                let (b, removed) =
                    nft::removal(&table, &att.net, &|e| e.comment.as_deref() == Some(&ident));
                nft::run(&b)?;
                ips.extend(removed.into_iter().filter(|ip| !att.ips.contains(ip)));
            }
            compat::del_accepts(&ips)
        }
        BackendChoice::Iptables => {
            let flavor = fwkit::detect_iptables_flavor();
            for fam in Family::ALL {
                let ips = ipt::of_family(&att.ips, fam);
                if ips.is_empty() {
                    continue;
                }
                let f = iptsave::load(flavor, fam)?;
                ipt::apply(flavor, fam, &ipt::del_lines(&f, &ips))?;
            }
            Ok(())
        }
    }
}

/// CHECK.
pub fn check(att: &Attachment, conf: &FwConf) -> Result<()> {
    let iso = isolation(att, conf)?;
    match conf.backend {
        BackendChoice::Nftables => {
            nft::check(att, conf)?;
            compat::check_accepts(&conf.admin_chain, &att.ips)
        }
        BackendChoice::Iptables => {
            let flavor = fwkit::detect_iptables_flavor();
            for fam in Family::ALL {
                let ips = ipt::of_family(&att.ips, fam);
                if ips.is_empty() {
                    continue;
                }
                let f = iptsave::load(flavor, fam)?;
                for (chain, spec) in ipt::expected(&conf.admin_chain, &ips, iso) {
                    if !f.has(chain, &spec) {
                        return Err(FwError::Missing(format!("-A {chain} {spec}")));
                    }
                }
            }
            Ok(())
        }
    }
}

/// GC (nftables): removes the elements of `net` whose attachment is not in
/// `valid`. The iptables layout carries no container ids, so there is
/// nothing it could attribute (as in the reference).
pub fn gc(net: &str, valid: &[(String, String)], conf: &FwConf) -> Result<()> {
    if conf.backend == BackendChoice::Iptables {
        return Ok(());
    }
    let keep: HashSet<String> = valid
        .iter()
        .map(|(cid, ifname)| fwkit::nft_ident(&[cid, ifname, net]))
        .collect();
    let suffix = format!(" {net}");
    let _guard = lock()?;
    let Some(table) = nft::list()? else {
        return Ok(());
    };
    let (b, removed): (_, Vec<IpAddr>) = nft::removal(&table, net, &|e| {
        let c = e.comment.as_deref().unwrap_or("");
        !c.starts_with('#') && c.ends_with(&suffix) && !keep.contains(c)
    });
    nft::run(&b)?;
    compat::del_accepts(&removed)
}

/// STATUS: can the configured backend program the kernel from here?
pub fn status(conf: &FwConf) -> Result<()> {
    let backend = match conf.backend {
        BackendChoice::Nftables => Backend::Nftables,
        BackendChoice::Iptables => Backend::Iptables(fwkit::detect_iptables_flavor()),
    };
    fwkit::probe(backend)?;
    Ok(())
}
