//! The verbs: what ADD, DEL, CHECK, GC and STATUS do, in order, against a
//! [`Host`] (the real node, or a fake in tests).

use std::collections::HashSet;
use std::net::IpAddr;

use cni::{CniResult, Request};
use fwkit::Backend;
use ipnet::IpNet;

use crate::config::{Config, container_ips};
use crate::error::PortmapError;
use crate::host::{Host, RuleArgs, backend_from_name};
use crate::mapping::Protocol;
use crate::record::{Record, Store};

fn store(cfg: &Config) -> Store {
    Store::new(&cfg.record_dir)
}

/// ADD: rules, record, `route_localnet`, stale UDP conntrack; passes the
/// previous result through (printed in the requested version by the skel).
pub fn add(host: &dyn Host, req: &Request) -> Result<CniResult, PortmapError> {
    let cfg = Config::parse(&req.conf)?;
    // SPEC (reference): portmap only runs chained.
    let prev = req
        .conf
        .prev_result
        .clone()
        .ok_or(PortmapError::NoPrevResult)?;
    let ips = container_ips(&prev, &req.env.ifname);
    if cfg.mappings.is_empty() || ips.is_empty() {
        return Ok(prev);
    }
    let backend = host.resolve(cfg.backend)?;
    let (net, cid, ifname) = (&cfg.network, &req.env.container_id, &req.env.ifname);
    refuse_iptables_holders(host, backend, &cfg, cid)?;
    let st = store(&cfg);
    let previous = st.read(net, cid, ifname).ok().flatten();
    let rec = Record::new(
        net,
        cid,
        ifname,
        backend.name(),
        &ips,
        &cfg.mappings,
        &cfg.opts,
    );
    // Record first: a crash after the rules leaves nothing DEL cannot find.
    st.write(&rec)?;
    let args = RuleArgs {
        network: net,
        container_id: cid,
        ips: &ips,
        mappings: &cfg.mappings,
        opts: &cfg.opts,
        backend,
    };
    if let Err(e) = apply(host, &args) {
        let _ = match &previous {
            Some(old) => st.write(old),
            None => st.remove(net, cid, ifname),
        };
        return Err(e);
    }
    let udp: Vec<u16> = cfg
        .mappings
        .iter()
        .filter(|m| m.protocol == Protocol::Udp)
        .map(|m| m.host_port)
        .collect();
    if !udp.is_empty() {
        host.flush_udp_ports(&udp);
    }
    Ok(prev)
}

/// fwkit arbitrates its own layouts; a port DNATed by iptables rules of the
/// reference layout would be shadowed silently on nftables: refuse it.
fn refuse_iptables_holders(
    host: &dyn Host,
    backend: Backend,
    cfg: &Config,
    cid: &str,
) -> Result<(), PortmapError> {
    if backend != Backend::Nftables {
        return Ok(());
    }
    match host.iptables_holder(&cfg.mappings, cid) {
        Some((m, holder)) => Err(PortmapError::Conflict {
            mapping: m.to_string(),
            holder,
        }),
        None => Ok(()),
    }
}

/// `route_localnet` (IPv4 with `snat`), then the rules.
fn apply(host: &dyn Host, a: &RuleArgs) -> Result<(), PortmapError> {
    if a.opts.snat
        && let Some(IpNet::V4(v4)) = a.ips.iter().find(|i| i.addr().is_ipv4())
    {
        host.route_localnet(v4.addr())?;
    }
    host.add_rules(a)
}

/// DEL: by container id. With a record: exactly what it lists (no read of
/// the node's rules on nftables), then the pod's conntrack entries. Without
/// one: the configured backend when mappings are given, plus the
/// reference's iptables chain when one read-only look finds it. Idempotent.
pub fn del(host: &dyn Host, req: &Request) -> Result<(), PortmapError> {
    let cfg = Config::parse(&req.conf)?;
    let (net, cid, ifname) = (&cfg.network, &req.env.container_id, &req.env.ifname);
    let st = store(&cfg);
    match st.read(net, cid, ifname) {
        Ok(Some(rec)) => del_recorded(host, &cfg, &rec)?,
        Ok(None) => del_unrecorded(host, req, &cfg)?,
        Err(e) => {
            cni::skel::log(&format!("ignoring unusable record: {e}"));
            del_unrecorded(host, req, &cfg)?;
        }
    }
    st.remove(net, cid, ifname)
}

/// Removes what a record lists (its backend, mappings, options, addresses).
fn del_recorded(host: &dyn Host, cfg: &Config, rec: &Record) -> Result<(), PortmapError> {
    let opts = rec.opts.clone().unwrap_or_else(|| cfg.opts.clone());
    let backend = match backend_from_name(&rec.backend) {
        Some(b) => b,
        None => host.resolve(cfg.backend)?,
    };
    host.del_known(&RuleArgs {
        network: &rec.network,
        container_id: &rec.container_id,
        ips: &rec.ips,
        mappings: &rec.mappings,
        opts: &opts,
        backend,
    })?;
    host.flush_addresses(&rec.addrs());
    Ok(())
}

fn del_unrecorded(host: &dyn Host, req: &Request, cfg: &Config) -> Result<(), PortmapError> {
    let (net, cid) = (&cfg.network, &req.env.container_id);
    let prev_ips = req
        .conf
        .prev_result
        .as_ref()
        .map(|p| container_ips(p, &req.env.ifname))
        .unwrap_or_default();
    let mut backends: Vec<Backend> = Vec::new();
    let mut acted = false;
    if !cfg.mappings.is_empty() {
        match host.resolve(cfg.backend)? {
            // Guarded element deletes for the given mappings: no read, and
            // elements held by another container are never touched. Without
            // addresses (containerd's second DEL) both families are tried.
            Backend::Nftables => {
                let ips = if prev_ips.is_empty() {
                    any_family()
                } else {
                    prev_ips.clone()
                };
                host.del_known(&RuleArgs {
                    network: net,
                    container_id: cid,
                    ips: &ips,
                    mappings: &cfg.mappings,
                    opts: &cfg.opts,
                    backend: Backend::Nftables,
                })?;
                acted = true;
            }
            b => backends.push(b),
        }
    }
    let mut addrs: Vec<IpAddr> = Vec::new();
    if let Some(found) = host.reference_chain(net, cid) {
        backends.push(Backend::Iptables(found.flavor));
        addrs.extend(found.pod_ips);
    }
    if addrs.is_empty() && (acted || !backends.is_empty()) {
        addrs = prev_ips.iter().map(IpNet::addr).collect();
    }
    let mut seen = HashSet::new();
    for b in backends.into_iter().filter(|b| seen.insert(*b)) {
        host.del_rules(net, cid, b)?;
    }
    if !addrs.is_empty() {
        host.flush_addresses(&addrs);
    }
    Ok(())
}

/// One placeholder address per family (selects the families to try).
fn any_family() -> Vec<IpNet> {
    vec![
        IpNet::from(IpAddr::from([0u8, 0, 0, 0])),
        IpNet::from(IpAddr::from([0u16; 8])),
    ]
}

/// CHECK: the rules of exactly the families the pod has (from prevResult).
pub fn check(host: &dyn Host, req: &Request) -> Result<(), PortmapError> {
    let cfg = Config::parse(&req.conf)?;
    let prev = req
        .conf
        .prev_result
        .as_ref()
        .ok_or(PortmapError::NoPrevResult)?;
    let ips = container_ips(prev, &req.env.ifname);
    if cfg.mappings.is_empty() || ips.is_empty() {
        return Ok(());
    }
    let (net, cid, ifname) = (&cfg.network, &req.env.container_id, &req.env.ifname);
    let rec = store(&cfg).read(net, cid, ifname)?;
    // Without a record the pod may be the reference plugin's (binaries
    // swapped on a live node): check its iptables rules then.
    let backend = match rec.as_ref().and_then(|r| backend_from_name(&r.backend)) {
        Some(b) => b,
        None => match host.reference_chain(net, cid) {
            Some(found) => Backend::Iptables(found.flavor),
            None => host.resolve(cfg.backend)?,
        },
    };
    let args = RuleArgs {
        network: net,
        container_id: cid,
        ips: &ips,
        mappings: &cfg.mappings,
        opts: &cfg.opts,
        backend,
    };
    host.check_rules(&args).map_err(|e| match e {
        PortmapError::Firewall(fwkit::Error::Missing(m)) => PortmapError::CheckFailed(m),
        other => other,
    })
}

/// GC: removes rules and records of every attachment of this network that
/// is not in the valid list; goes on after errors and reports them all.
pub fn gc(host: &dyn Host, req: &Request) -> Result<(), PortmapError> {
    let cfg = Config::parse(&req.conf)?;
    // SPEC: GC carries the valid list; without one nothing is known stale.
    let Some(valid) = req.conf.valid_attachments.clone() else {
        cni::skel::log("GC without cni.dev/valid-attachments: nothing removed");
        return Ok(());
    };
    let keep: HashSet<(&str, &str)> = valid
        .iter()
        .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
        .collect();
    let valid_ids: Vec<&str> = valid.iter().map(|a| a.container_id.as_str()).collect();
    let st = store(&cfg);
    let (records, mut errs) = st.list(&cfg.network);
    let mut backends: Vec<Backend> = Vec::new();
    for rec in records {
        backends.extend(backend_from_name(&rec.backend));
        if keep.contains(&(rec.container_id.as_str(), rec.ifname.as_str())) {
            continue;
        }
        // Rules are per container id: keep them while another of its
        // attachments is still valid.
        let res = if valid_ids.contains(&rec.container_id.as_str()) {
            host.flush_addresses(&rec.addrs());
            Ok(())
        } else {
            del_recorded(host, &cfg, &rec)
        };
        let res = res.and_then(|()| st.remove(&cfg.network, &rec.container_id, &rec.ifname));
        if let Err(e) = res {
            errs.push(e);
        }
    }
    // SPEC: no ADD of this network runs during GC, so every temp file is
    // a writer's leftover (killed between create and rename).
    if let Err(e) = st.sweep_temp(&cfg.network, ".") {
        errs.push(e);
    }
    match host.resolve(cfg.backend) {
        Ok(b) => backends.push(b),
        Err(e) => errs.push(e),
    }
    let mut seen = HashSet::new();
    for b in backends.into_iter().filter(|b| seen.insert(*b)) {
        if let Err(e) = host.gc_rules(&cfg.network, &valid_ids, b) {
            errs.push(e);
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(PortmapError::Many(errs))
    }
}

/// STATUS: code 50 when the configured backend cannot be used.
pub fn status(host: &dyn Host, req: &Request) -> Result<(), PortmapError> {
    let cfg = Config::parse(&req.conf)?;
    host.probe(cfg.backend)
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
