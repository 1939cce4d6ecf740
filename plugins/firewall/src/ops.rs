//! The verbs on each backend: our nftables layout (plus the iptables
//! accepts a DROP policy needs) or the reference iptables layout.

use crate::attach::Attachment;
use crate::config::{BackendChoice, FwConf, Policy};
use crate::error::{FwError, Result};
use crate::exec::{lock, read};
use crate::{compat, iptmode, nft};
use fwkit::Backend;
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
            if let (Policy::Isolated, Some(port)) = (conf.policy, &att.port) {
                port_isolation(port)?;
            }
            let listing = nft::add(att, conf)?;
            let targets = compat::drop_targets_from_listing(&listing)?;
            compat::add_accepts(&targets, &conf.admin_chain, &att.ips)
        }
        BackendChoice::Iptables => iptmode::add(att, conf, iso),
    }
}

/// `isolated` between pods of one bridge: traffic between two ports is
/// switched, not routed, so besides the nft rules (which see it only with
/// br_netfilter) the pod's port gets the kernel's bridge port isolation flag
/// (isolated ports cannot talk to each other; the bridge and uplinks can).
/// It goes away with the port, so DEL has nothing to undo.
fn port_isolation(port: &str) -> Result<()> {
    read(&["bridge", "link", "set", "dev", port, "isolated", "on"])?
        .map(|_| ())
        .ok_or_else(|| FwError::Exec {
            cmd: format!("bridge link set dev {port} isolated on"),
            msg: "no such port".into(),
        })
}

/// CHECK of [`port_isolation`].
fn check_port_isolation(port: &str) -> Result<()> {
    let out = read(&["bridge", "-d", "link", "show", "dev", port])?.unwrap_or_default();
    if out.contains("isolated on") {
        Ok(())
    } else {
        Err(FwError::Missing(format!("bridge port isolation on {port}")))
    }
}

/// DEL: by container id on nftables (prevResult not needed); on iptables
/// by the prevResult addresses (like the reference) and the attachment's
/// record (see [`iptmode::del`]).
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
        BackendChoice::Iptables => iptmode::del(att, conf),
    }
}

/// CHECK.
pub fn check(att: &Attachment, conf: &FwConf) -> Result<()> {
    let iso = isolation(att, conf)?;
    match conf.backend {
        BackendChoice::Nftables => {
            nft::check(att, conf)?;
            if let (Policy::Isolated, Some(port)) = (conf.policy, &att.port) {
                check_port_isolation(port)?;
            }
            compat::check_accepts(&conf.admin_chain, &att.ips)
        }
        BackendChoice::Iptables => iptmode::check(att, conf, iso),
    }
}

/// GC: removes the elements of `net` whose attachment is not in `valid`
/// (nftables: by their comments; iptables: by the attachment records).
pub fn gc(net: &str, valid: &[(String, String)], conf: &FwConf) -> Result<()> {
    if conf.backend == BackendChoice::Iptables {
        let _guard = lock()?;
        return iptmode::gc(net, valid, conf);
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
