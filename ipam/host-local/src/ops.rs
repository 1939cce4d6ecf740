//! The verbs: ADD (retry-safe allocation), DEL, CHECK, GC and STATUS, each
//! under the network directory's lock.

use std::collections::HashSet;
use std::net::IpAddr;

use cni::{CniResult, Dns, IpConfig, Request};

use crate::boot;
use crate::config::IpamConfig;
use crate::dns;
use crate::error::{HostLocalError, Result};
use crate::index::{Index, Marker};
use crate::range::RangeSet;
use crate::store::{Key, NetDir, Owner, write_file};

/// The attachment a request names.
fn key_of(req: &Request) -> Key {
    Key::new(&req.env.container_id, &req.env.ifname)
}

/// Opens the index and, when configured, releases what earlier boots held.
fn open_index<'a>(cfg: &IpamConfig, nd: &'a NetDir) -> Result<Index<'a>> {
    let mut idx = Index::open(nd, boot::boot_id())?;
    if cfg.reclaim_after_reboot && idx.boot_changed {
        let current = idx.boot.clone();
        for m in idx.all()?.into_iter().filter(|m| m.boot != current) {
            release_marker(nd, &mut idx, &m)?;
        }
    }
    Ok(idx)
}

/// Removes the files of `m` that still belong to it, then its marker.
fn release_marker(nd: &NetDir, idx: &mut Index<'_>, m: &Marker) -> Result<()> {
    let want = Some(Owner::Key(m.key.clone()));
    for ip in &m.ips {
        if nd.owner(*ip)? == want {
            nd.remove(*ip)?;
        }
    }
    idx.remove(&m.key)
}

/// SPEC: ADD. An attachment that already holds an address in a set gets it
/// back (retry-safe, pain point 14); other sets get the requested address or
/// the next free one after the set's last reservation.
pub fn add(req: &Request) -> Result<CniResult> {
    let cfg = IpamConfig::load(&req.conf, &req.env.args)?;
    let dns = match &cfg.resolv_conf {
        Some(p) => dns::parse_resolv_conf(p)?,
        None => Dns::default(),
    };
    let nd = NetDir::open(&cfg.net_dir())?;
    let mut idx = open_index(&cfg, &nd)?;
    let key = key_of(req);
    let existing = idx.lookup(&key)?.map(|m| m.ips).unwrap_or_default();
    let content = key.content();
    let mut new = Vec::new();
    let picked = allocate(&cfg, &nd, &content, &existing, &mut new);
    idx.mark_dirty();
    let picked = match picked {
        Ok(p) => p,
        Err(e) => {
            // SPEC: nothing leaks when ADD fails midway.
            for ip in &new {
                nd.remove(*ip)?;
            }
            idx.commit()?;
            return Err(e);
        }
    };
    let mut ips: Vec<IpAddr> = existing.iter().chain(&new).copied().collect();
    ips.sort();
    ips.dedup();
    let boot = idx.boot.clone();
    idx.put(Marker { key, boot, ips })?;
    idx.commit()?;
    Ok(result(&cfg, &picked, dns))
}

fn result(cfg: &IpamConfig, picked: &[IpAddr], dns: Dns) -> CniResult {
    let ips = picked
        .iter()
        .zip(&cfg.ranges)
        .filter_map(|(ip, set)| set.range_for(*ip).map(|r| (ip, r)))
        .map(|(ip, r)| IpConfig::new(r.with_prefix(*ip), Some(r.gateway)))
        .collect();
    CniResult {
        ips,
        routes: cfg.routes.clone(),
        dns,
        ..CniResult::default()
    }
}

/// One address per range set; newly created reservations go to `new`.
fn allocate(
    cfg: &IpamConfig,
    nd: &NetDir,
    content: &str,
    existing: &[IpAddr],
    new: &mut Vec<IpAddr>,
) -> Result<Vec<IpAddr>> {
    let mut requested = cfg.requested.clone();
    let mut picked = Vec::new();
    for (i, set) in cfg.ranges.iter().enumerate() {
        let want = requested
            .iter()
            .position(|ip| set.contains(*ip))
            .map(|p| requested.remove(p));
        let have = existing.iter().copied().find(|ip| set.contains(*ip));
        let ip = match (have, want) {
            (Some(h), Some(w)) if h != w => {
                return Err(HostLocalError::Conflict(format!(
                    "this attachment already holds {h} in range set {i}; requested {w}"
                )));
            }
            (Some(h), _) => h,
            (None, Some(w)) => reserve_requested(nd, content, set, i, w, new)?,
            (None, None) => reserve_next(nd, content, set, i, new)?,
        };
        picked.push(ip);
    }
    if !requested.is_empty() {
        let list: Vec<String> = requested.iter().map(IpAddr::to_string).collect();
        return Err(HostLocalError::BadRequest(format!(
            "failed to allocate all requested IPs: {}",
            list.join(" ")
        )));
    }
    Ok(picked)
}

fn reserve_requested(
    nd: &NetDir,
    content: &str,
    set: &RangeSet,
    i: usize,
    ip: IpAddr,
    new: &mut Vec<IpAddr>,
) -> Result<IpAddr> {
    if set.range_for(ip).is_some_and(|r| r.gateway == ip) {
        return Err(HostLocalError::BadRequest(format!(
            "failed to allocate for range {i}: requested ip {ip} is subnet's gateway"
        )));
    }
    if !nd.reserve(ip, content)? {
        return Err(HostLocalError::Conflict(format!(
            "failed to allocate for range {i}: requested IP address {ip} is not available in range set {set}"
        )));
    }
    new.push(ip);
    nd.set_last_reserved(i, ip)?;
    Ok(ip)
}

fn reserve_next(
    nd: &NetDir,
    content: &str,
    set: &RangeSet,
    i: usize,
    new: &mut Vec<IpAddr>,
) -> Result<IpAddr> {
    for ip in set.iter_from(nd.last_reserved(i)) {
        if nd.reserve(ip, content)? {
            new.push(ip);
            nd.set_last_reserved(i, ip)?;
            return Ok(ip);
        }
    }
    Err(HostLocalError::Exhausted {
        set: i,
        ranges: set.to_string(),
    })
}

/// SPEC: DEL releases by (container id, ifname), falling back to id-only
/// files like the reference; idempotent; needs no netns and no prevResult.
pub fn del(req: &Request) -> Result<()> {
    let cfg = IpamConfig::load_lenient(&req.conf)?;
    let dir = cfg.net_dir();
    if !dir.is_dir() {
        return Ok(());
    }
    let nd = NetDir::open(&dir)?;
    let mut idx = open_index(&cfg, &nd)?;
    let key = key_of(req);
    match idx.lookup(&key)? {
        Some(m) => release_marker(&nd, &mut idx, &m)?,
        None => {
            if let Some(m) = idx.lookup(&key.legacy())? {
                release_marker(&nd, &mut idx, &m)?;
            }
        }
    }
    idx.commit()
}

/// SPEC: CHECK verifies that the attachment holds a reservation.
pub fn check(req: &Request) -> Result<()> {
    let cfg = IpamConfig::load(&req.conf, &req.env.args)?;
    let nd = NetDir::open(&cfg.net_dir())?;
    let mut idx = open_index(&cfg, &nd)?;
    let key = key_of(req);
    let found = idx.lookup(&key)?.is_some() || idx.lookup(&key.legacy())?.is_some();
    idx.commit()?;
    if found {
        Ok(())
    } else {
        Err(HostLocalError::NotFound(key.id))
    }
}

/// SPEC (1.1): GC releases every reservation not held by a valid attachment.
/// A request without `cni.dev/valid-attachments` (or `cni.dev/attachments`)
/// names no valid attachment: everything is released, as libcni intends.
pub fn gc(req: &Request) -> Result<()> {
    let cfg = IpamConfig::load_lenient(&req.conf)?;
    let dir = cfg.net_dir();
    if !dir.is_dir() {
        return Ok(());
    }
    let valid = req.conf.valid_attachments.clone().unwrap_or_default();
    let keys: HashSet<Key> = valid
        .iter()
        .map(|a| Key::new(&a.container_id, &a.ifname))
        .collect();
    let ids: HashSet<&str> = valid.iter().map(|a| a.container_id.trim()).collect();
    let nd = NetDir::open(&dir)?;
    let mut idx = open_index(&cfg, &nd)?;
    let mut first_err = None;
    for m in idx.all()? {
        let keep = if m.key.ifname.is_empty() {
            ids.contains(m.key.id.as_str())
        } else {
            keys.contains(&m.key)
        };
        if !keep && let Err(e) = release_marker(&nd, &mut idx, &m) {
            first_err.get_or_insert(e);
        }
    }
    for ip in std::mem::take(&mut idx.corrupt) {
        if let Err(e) = nd.remove(ip) {
            first_err.get_or_insert(e);
        }
    }
    idx.mark_dirty();
    idx.commit()?;
    first_err.map_or(Ok(()), Err)
}

/// SPEC (1.1): STATUS is code 50 when the data directory is unusable or a
/// range set has no free address.
pub fn status(req: &Request) -> Result<()> {
    let cfg = IpamConfig::load(&req.conf, &req.env.args)?;
    let dir = cfg.net_dir();
    let unavailable = |e: HostLocalError| HostLocalError::Unavailable(e.to_string());
    let nd = NetDir::open(&dir).map_err(unavailable)?;
    writable(&dir).map_err(unavailable)?;
    let used = nd.list_ips().map_err(unavailable)?;
    for (i, set) in cfg.ranges.iter().enumerate() {
        let n = used
            .iter()
            .filter(|ip| set.range_for(**ip).is_some_and(|r| r.gateway != **ip))
            .count() as u128;
        if n >= set.capacity() {
            return Err(HostLocalError::Unavailable(format!(
                "range set {i} ({set}) is exhausted: {n} of {} addresses reserved",
                set.capacity()
            )));
        }
    }
    Ok(())
}

/// Whether files can be created in `dir` (read-only mounts, permissions).
fn writable(dir: &std::path::Path) -> Result<()> {
    let idx_dir = crate::index::ensure_dir(dir)?;
    let probe = idx_dir.join("status-probe");
    write_file(&probe, "")?;
    std::fs::remove_file(&probe).map_err(|e| HostLocalError::storage(&probe, "remove", e))
}
