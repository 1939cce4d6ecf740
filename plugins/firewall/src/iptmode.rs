//! The iptables backend's verbs: the reference layout (see [`ipt`]) plus a
//! per-attachment record (see [`record`]) so DEL without prevResult and GC
//! can still find the pod's addresses — the rules name no container.
//!
//! Every verb runs under the plugin's lock (taken by the caller) and reads
//! and writes each family with one `iptables-save` and one restore.

use crate::attach::Attachment;
use crate::config::{FwConf, Policy};
use crate::error::{FwError, Result};
use crate::record::{Record, Store};
use crate::{ipt, iptsave};
use fwkit::{Family, Flavor};
use std::collections::HashSet;
use std::net::IpAddr;

fn store(conf: &FwConf) -> Store {
    Store::new(&conf.record_dir)
}

/// Writes the rules of `ips` (one save + one restore per family).
fn add_rules(
    flavor: Flavor,
    conf: &FwConf,
    ips: &[IpAddr],
    iso: Option<(&str, Policy)>,
) -> Result<()> {
    for fam in Family::ALL {
        let ips = ipt::of_family(ips, fam);
        if ips.is_empty() {
            continue;
        }
        let f = iptsave::load(flavor, fam)?;
        ipt::apply(
            flavor,
            fam,
            &ipt::add_lines(&f, &conf.admin_chain, &ips, iso),
        )?;
    }
    Ok(())
}

/// Removes every copy of the per-address rules of `ips`.
fn del_rules(flavor: Flavor, ips: &[IpAddr]) -> Result<()> {
    for fam in Family::ALL {
        let ips = ipt::of_family(ips, fam);
        if ips.is_empty() {
            continue;
        }
        let f = iptsave::load(flavor, fam)?;
        ipt::apply(flavor, fam, &ipt::del_lines(&f, &ips))?;
    }
    Ok(())
}

/// ADD: the record first (a crash after the rules leaves nothing DEL cannot
/// find), then the rules. On failure the rules this ADD may have written
/// are removed and the previous record (if any) is put back.
pub fn add(att: &Attachment, conf: &FwConf, iso: Option<(&str, Policy)>) -> Result<()> {
    let st = store(conf);
    let (net, cid, ifname) = (&att.net, &att.cid, &att.ifname);
    let previous = st.read(net, cid, ifname).ok().flatten();
    st.write(&Record::new(net, cid, ifname, &att.ips))?;
    let flavor = fwkit::detect_iptables_flavor();
    let Err(e) = add_rules(flavor, conf, &att.ips, iso) else {
        return Ok(());
    };
    let kept: &[IpAddr] = previous.as_ref().map_or(&[], |r| &r.ips);
    let fresh: Vec<IpAddr> = att
        .ips
        .iter()
        .copied()
        .filter(|ip| !kept.contains(ip))
        .collect();
    let _ = del_rules(flavor, &fresh);
    let _ = match &previous {
        Some(old) => st.write(old),
        None => st.remove(net, cid, ifname),
    };
    Err(e)
}

/// DEL: the addresses of prevResult and of the record (either may be
/// missing; without both nothing is touched), then the record. An
/// unreadable record is reported in the log and removed: DEL must be able
/// to finish.
pub fn del(att: &Attachment, conf: &FwConf) -> Result<()> {
    let st = store(conf);
    let (net, cid, ifname) = (&att.net, &att.cid, &att.ifname);
    let mut ips = att.ips.clone();
    match st.read(net, cid, ifname) {
        Ok(Some(rec)) => ips.extend(rec.ips.into_iter().filter(|ip| !att.ips.contains(ip))),
        Ok(None) => {}
        Err(e) => cni::skel::log(&format!("ignoring unusable record: {e}")),
    }
    if !ips.is_empty() {
        del_rules(fwkit::detect_iptables_flavor(), &ips)?;
    }
    st.remove(net, cid, ifname)
}

/// CHECK: every rule of prevResult's addresses is present.
pub fn check(att: &Attachment, conf: &FwConf, iso: Option<(&str, Policy)>) -> Result<()> {
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

/// GC: the rules and records of every recorded attachment of `net` not in
/// `valid`, in one save + one restore per family, and temporary files of
/// killed writers. An address still
/// recorded for a valid attachment is kept. Goes on past unreadable
/// records and reports the first error (all are logged).
pub fn gc(net: &str, valid: &[(String, String)], conf: &FwConf) -> Result<()> {
    let st = store(conf);
    let (records, mut errs) = st.list(net);
    let keep: HashSet<(&str, &str)> = valid
        .iter()
        .map(|(c, i)| (c.as_str(), i.as_str()))
        .collect();
    let (stale, live): (Vec<&Record>, Vec<&Record>) = records
        .iter()
        .partition(|r| !keep.contains(&(r.container_id.as_str(), r.ifname.as_str())));
    let protected: HashSet<IpAddr> = live.iter().flat_map(|r| r.ips.iter().copied()).collect();
    let mut ips: Vec<IpAddr> = stale.iter().flat_map(|r| r.ips.iter().copied()).collect();
    ips.retain(|ip| !protected.contains(ip));
    ips.sort();
    ips.dedup();
    if !stale.is_empty() {
        if !ips.is_empty() {
            del_rules(fwkit::detect_iptables_flavor(), &ips)?;
        }
        for r in &stale {
            if let Err(e) = st.remove(net, &r.container_id, &r.ifname) {
                errs.push(e);
            }
        }
    }
    if let Err(e) = st.sweep_temp(net) {
        errs.push(e);
    }
    for e in &errs {
        cni::skel::log(&format!("GC: {e}"));
    }
    errs.into_iter().next().map_or(Ok(()), Err)
}
