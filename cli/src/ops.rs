//! The network verbs over a configuration list, with libcni's semantics:
//! ADD in order with `prevResult` chaining and a cache entry afterwards; DEL
//! in reverse order with the cached result as `prevResult` (from 0.4.0) and
//! the entry removed afterwards; CHECK with the cached result; GC = a DEL for
//! every cached attachment not declared valid, then GC to every plugin (from
//! 1.1.0); STATUS to every plugin (from 1.1.0).

use std::path::PathBuf;

use cni::{Attachment, Command as Verb, Version};
use serde_json::Value;

use crate::cache::{self, Entry};
use crate::conf::NetList;
use crate::error::CliError;
use crate::invoke::{self, Call};
use crate::runtime::{Given, RuntimeConf};

/// Where plugins and the cache live.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub cni_path: Vec<PathBuf>,
    pub cache_dir: PathBuf,
}

impl Ctx {
    fn call(
        &self,
        list: &NetList,
        verb: Verb,
        i: usize,
        prev: Option<&Value>,
        rt: &RuntimeConf,
    ) -> Result<Vec<u8>, CliError> {
        let plugin = &list.plugins[i];
        let call = Call {
            verb,
            plugin_type: plugin_type(plugin),
            stdin: list.plugin_request(plugin, prev, Some(rt)),
            rt: Some(rt),
            version: list.version,
        };
        invoke::run(&call, &self.cni_path)
    }

    fn cache_file(&self, list: &NetList, rt: &RuntimeConf) -> PathBuf {
        cache::path(&self.cache_dir, &list.name, &rt.container_id, &rt.ifname)
    }
}

fn plugin_type(plugin: &serde_json::Map<String, Value>) -> &str {
    plugin
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// ADD: runs the chain and caches the final result, which it returns in the
/// list's version.
pub fn add(ctx: &Ctx, list: &NetList, rt: &RuntimeConf) -> Result<Value, CliError> {
    let mut prev: Option<Value> = None;
    for i in 0..list.plugins.len() {
        let out = ctx.call(list, Verb::Add, i, prev.as_ref(), rt)?;
        let result = invoke::parse_result(plugin_type(&list.plugins[i]), list.version, &out)?;
        prev = Some(result.to_value(list.version));
    }
    let result = prev.unwrap_or(Value::Null);
    let entry = Entry {
        kind: cache::KIND.into(),
        container_id: rt.container_id.clone(),
        config: list.bytes.clone(),
        if_name: rt.ifname.clone(),
        network_name: list.name.clone(),
        netns: rt.netns.clone(),
        cni_args: rt.args.clone(),
        capability_args: rt.cap_args.clone(),
        result: Some(result.clone()),
    };
    cache::write(&ctx.cache_dir, &entry)?;
    Ok(result)
}

/// The cached result converted to the list's version; `None` when there is
/// no entry. libcni's older format (the bare result) is read too. For DEL and CHECK, absent `CNI_ARGS` / `CAP_ARGS` are taken from
/// the entry (what libcni's `GetNetworkListCachedConfig` offers runtimes).
fn cached(
    ctx: &Ctx,
    list: &NetList,
    rt: &mut RuntimeConf,
    given: Given,
) -> Result<Option<Value>, CliError> {
    let file = ctx.cache_file(list, rt);
    let Some(entry) = cache::read(&file)? else {
        return Ok(None);
    };
    let current = entry.kind == cache::KIND;
    if current && !given.args {
        rt.args = entry.cni_args.clone();
    }
    if current && !given.cap_args {
        rt.cap_args = entry.capability_args.clone();
    }
    let Some(raw) = entry.result else {
        return Ok(None);
    };
    let result = cni::CniResult::from_value(&raw).map_err(|e| CliError::Cache {
        path: file,
        msg: e.msg,
    })?;
    Ok(Some(result.to_value(list.version)))
}

/// DEL: the chain in reverse order, then the cache entry is removed.
pub fn del(ctx: &Ctx, list: &NetList, rt: &RuntimeConf, given: Given) -> Result<(), CliError> {
    let mut rt = rt.clone();
    let prev = if list.version >= Version::V0_4_0 {
        // Like libcni: an unusable entry is dropped and DEL goes on without it.
        cached(ctx, list, &mut rt, given).unwrap_or_else(|e| {
            crate::note!("ferrocni: ignoring unusable cache entry: {e}");
            None
        })
    } else {
        None
    };
    for i in (0..list.plugins.len()).rev() {
        ctx.call(list, Verb::Del, i, prev.as_ref(), &rt)?;
    }
    cache::remove(&ctx.cache_file(list, &rt))
}

/// CHECK: every plugin in order with the cached result (0.4.0 and later;
/// nothing is sent when the list sets `disableCheck`).
pub fn check(ctx: &Ctx, list: &NetList, rt: &RuntimeConf, given: Given) -> Result<(), CliError> {
    if !list.version.supports_check() {
        return Err(CliError::Unsupported(format!(
            "network {:?} is at cniVersion {}: CHECK needs 0.4.0 or later",
            list.name, list.version
        )));
    }
    if list.disable_check {
        crate::note!(
            "ferrocni: network {:?} sets disableCheck: nothing checked",
            list.name
        );
        return Ok(());
    }
    let mut rt = rt.clone();
    let prev = cached(ctx, list, &mut rt, given)?;
    for i in 0..list.plugins.len() {
        ctx.call(list, Verb::Check, i, prev.as_ref(), &rt)?;
    }
    Ok(())
}

/// Parses `--valid` values: `containerID/ifname`.
pub fn parse_attachments(valid: &[String]) -> Result<Vec<Attachment>, CliError> {
    valid
        .iter()
        .map(|s| match s.split_once('/') {
            Some((id, ifname)) if !id.is_empty() && !ifname.is_empty() && !ifname.contains('/') => {
                Ok(Attachment {
                    container_id: id.into(),
                    ifname: ifname.into(),
                })
            }
            _ => Err(CliError::usage(format!(
                "--valid {s:?}: want <containerID>/<ifname>"
            ))),
        })
        .collect()
}

/// GC: DEL every cached attachment of the network outside `valid`, then send
/// GC (with `cni.dev/valid-attachments` and the older `cni.dev/attachments`)
/// to each plugin when the list is at 1.1.0 or later. Errors are collected;
/// every step is tried. `disableGC` skips everything.
pub fn gc(ctx: &Ctx, list: &NetList, valid: &[Attachment]) -> Result<(), CliError> {
    if list.disable_gc {
        crate::note!(
            "ferrocni: network {:?} sets disableGC: nothing collected",
            list.name
        );
        return Ok(());
    }
    let mut errs = del_stale(ctx, list, valid);
    if list.version.supports_status_gc() {
        errs.extend(send_gc(ctx, list, valid));
    } else {
        crate::note!(
            "ferrocni: network {:?} is at cniVersion {}: GC verb needs 1.1.0, not sent",
            list.name,
            list.version
        );
    }
    match errs.len() {
        0 => Ok(()),
        1 => Err(errs.remove(0)),
        _ => Err(CliError::Multiple(errs)),
    }
}

/// The DELs of GC: every cached attachment of the network not in `valid`,
/// with the netns, args and capability args recorded at its ADD.
fn del_stale(ctx: &Ctx, list: &NetList, valid: &[Attachment]) -> Vec<CliError> {
    let entries = match cache::list(&ctx.cache_dir, &list.name) {
        Ok(e) => e,
        Err(e) => return vec![e],
    };
    let all_given = Given {
        args: true,
        cap_args: true,
    };
    let mut errs = Vec::new();
    for entry in entries {
        let key = Attachment {
            container_id: entry.container_id.clone(),
            ifname: entry.if_name.clone(),
        };
        if valid.contains(&key) {
            continue;
        }
        let rt = RuntimeConf {
            container_id: entry.container_id,
            netns: entry.netns,
            ifname: entry.if_name,
            args: entry.cni_args,
            cap_args: entry.capability_args,
        };
        crate::note!(
            "ferrocni: gc: deleting stale attachment {}/{}",
            rt.container_id,
            rt.ifname
        );
        if let Err(e) = del(ctx, list, &rt, all_given) {
            errs.push(e);
        }
    }
    errs
}

fn send_gc(ctx: &Ctx, list: &NetList, valid: &[Attachment]) -> Vec<CliError> {
    let valid = serde_json::to_value(valid).unwrap_or(Value::Array(Vec::new()));
    let mut errs = Vec::new();
    for plugin in &list.plugins {
        let mut conf = plugin.clone();
        conf.insert("cni.dev/valid-attachments".into(), valid.clone());
        conf.insert("cni.dev/attachments".into(), valid.clone());
        let call = Call {
            verb: Verb::Gc,
            plugin_type: plugin_type(plugin),
            stdin: list.plugin_request(&conf, None, None),
            rt: None,
            version: list.version,
        };
        if let Err(e) = invoke::run(&call, &ctx.cni_path) {
            errs.push(e);
        }
    }
    errs
}

/// STATUS: each plugin in order, stopping at the first failure (1.1.0 and
/// later; older lists have no STATUS and report nothing, like libcni).
pub fn status(ctx: &Ctx, list: &NetList) -> Result<(), CliError> {
    if !list.version.supports_status_gc() {
        crate::note!(
            "ferrocni: network {:?} is at cniVersion {}: STATUS needs 1.1.0, not sent",
            list.name,
            list.version
        );
        return Ok(());
    }
    for plugin in &list.plugins {
        let call = Call {
            verb: Verb::Status,
            plugin_type: plugin_type(plugin),
            stdin: list.plugin_request(plugin, None, None),
            rt: None,
            version: list.version,
        };
        invoke::run(&call, &ctx.cni_path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_attachments_parse() {
        let a = parse_attachments(&["c1/eth0".into()]).unwrap();
        assert_eq!(a[0].container_id, "c1");
        assert_eq!(a[0].ifname, "eth0");
        for bad in ["c1", "/eth0", "c1/", "c1/a/b"] {
            assert_eq!(
                parse_attachments(&[bad.into()]).unwrap_err().exit_code(),
                2,
                "{bad}"
            );
        }
    }
}
