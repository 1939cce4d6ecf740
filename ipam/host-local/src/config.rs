//! The IPAM configuration host-local reads: `ipam.*` keys (matched without
//! regard to case, like the reference's Go decoder), legacy top-level range,
//! `runtimeConfig.ipRanges`/`ips`, `args.cni.ips` and `CNI_ARGS IP=`.

use std::net::IpAddr;
use std::path::PathBuf;

use cni::{CniArgs, CniError, NetConf, Route};
use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::error::{HostLocalError, Result};
use crate::range::{RangeSet, RangeSpec, canonical};

/// SPEC (reference): the default data directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// Everything an operation needs from the configuration.
#[derive(Debug, Clone)]
pub struct IpamConfig {
    /// Network name: the state directory is `<data_dir>/<name>`.
    pub name: String,
    pub data_dir: PathBuf,
    pub ranges: Vec<RangeSet>,
    pub routes: Vec<Route>,
    pub resolv_conf: Option<PathBuf>,
    /// Requested addresses, in the order given (CNI_ARGS, args, runtimeConfig).
    pub requested: Vec<IpAddr>,
    /// Ours: release reservations made before the current boot.
    pub reclaim_after_reboot: bool,
}

/// `m` with every object key lower-cased, recursively.
fn lower_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lower_keys).collect()),
        other => other.clone(),
    }
}

fn decode_err(path: &str, msg: impl std::fmt::Display) -> HostLocalError {
    HostLocalError::Cni(CniError::decode(format!("{path}: {msg}")))
}

fn opt_str<'a>(m: &'a Value, key: &str, path: &str) -> Result<Option<&'a str>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(o) => Err(decode_err(
            &format!("{path}.{key}"),
            format!("expected a string, got {o}"),
        )),
    }
}

fn opt_ip(m: &Value, key: &str, path: &str) -> Result<Option<IpAddr>> {
    opt_str(m, key, path)?
        .map(|s| {
            s.trim().parse::<IpAddr>().map_err(|_| {
                decode_err(&format!("{path}.{key}"), format!("invalid IP address: {s}"))
            })
        })
        .transpose()
}

/// One range object (keys already lower-cased).
fn range_spec(m: &Value, path: &str) -> Result<RangeSpec> {
    if !m.is_object() {
        return Err(decode_err(path, "expected an object"));
    }
    let subnet = opt_str(m, "subnet", path)?
        .map(|s| {
            s.parse::<IpNet>().map_err(|_| {
                decode_err(
                    &format!("{path}.subnet"),
                    format!("invalid CIDR address: {s}"),
                )
            })
        })
        .transpose()?;
    Ok(RangeSpec {
        subnet,
        range_start: opt_ip(m, "rangestart", path)?,
        range_end: opt_ip(m, "rangeend", path)?,
        gateway: opt_ip(m, "gateway", path)?,
    })
}

/// A list of range sets (`ranges`, `runtimeConfig.ipRanges`).
fn range_sets(v: Option<&Value>, path: &str) -> Result<Vec<Vec<RangeSpec>>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let sets = v
        .as_array()
        .ok_or_else(|| decode_err(path, "expected an array of range sets"))?;
    let mut out = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        let set = set
            .as_array()
            .ok_or_else(|| decode_err(&format!("{path}[{i}]"), "expected an array of ranges"))?;
        let specs = set
            .iter()
            .enumerate()
            .map(|(j, r)| range_spec(r, &format!("{path}[{i}][{j}]")))
            .collect::<Result<Vec<_>>>()?;
        out.push(specs);
    }
    Ok(out)
}

/// Parses `10.0.0.5` or `10.0.0.5/24` (the address part counts).
fn parse_requested(s: &str, from: &str) -> Result<IpAddr> {
    let t = s.trim();
    t.parse::<IpAddr>()
        .or_else(|_| t.parse::<IpNet>().map(|n| n.addr()))
        .map(canonical)
        .map_err(|_| HostLocalError::BadRequest(format!("{from}: invalid ip: {t:?}")))
}

fn requested_list(v: Option<&Value>, from: &str) -> Result<Vec<IpAddr>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => parse_requested(s, from),
                o => Err(decode_err(from, format!("expected an IP string, got {o}"))),
            })
            .collect(),
        Some(o) => Err(decode_err(from, format!("expected an array, got {o}"))),
    }
}

/// Requested IPs: `CNI_ARGS IP=` (comma-separated), `args.cni.ips`, `runtimeConfig.ips`.
fn requested_ips(conf: &NetConf, args: &CniArgs) -> Result<Vec<IpAddr>> {
    args.check_known(&["IP"])?;
    let mut out = Vec::new();
    if let Some(list) = args.get("IP") {
        for item in list.split(',').filter(|s| !s.trim().is_empty()) {
            out.push(parse_requested(item, "CNI_ARGS IP")?);
        }
    }
    out.extend(requested_list(conf.args_cni("ips"), "args.cni.ips")?);
    out.extend(requested_list(
        conf.runtime_config.get("ips"),
        "runtimeConfig.ips",
    )?);
    Ok(out)
}

impl IpamConfig {
    /// Loads and fully validates the configuration of `req`.
    pub fn load(conf: &NetConf, args: &CniArgs) -> Result<IpamConfig> {
        let ipam = conf
            .ipam
            .as_ref()
            .ok_or_else(|| HostLocalError::Config("IPAM config missing 'ipam' key".into()))?;
        let ipam = lower_keys(&Value::Object(ipam.clone()));
        let mut cfg = Self::load_lenient_from(conf, &ipam)?;
        let mut specs = range_sets(
            conf.runtime_config.get("ipRanges"),
            "runtimeConfig.ipRanges",
        )?;
        let legacy = range_spec(&ipam, "ipam")?;
        if legacy.subnet.is_some() {
            specs.push(vec![legacy]);
        }
        specs.extend(range_sets(ipam.get("ranges"), "ipam.ranges")?);
        cfg.ranges = validate_sets(&specs)?;
        cfg.routes = routes(ipam.get("routes"))?;
        cfg.resolv_conf = opt_str(&ipam, "resolvconf", "ipam")?.map(PathBuf::from);
        cfg.requested = requested_ips(conf, args)?;
        Ok(cfg)
    }

    /// DEL and GC only need the name and the data directory; a config whose
    /// ranges no longer validate must still release what it holds.
    pub fn load_lenient(conf: &NetConf) -> Result<IpamConfig> {
        let ipam = conf.ipam.clone().unwrap_or_default();
        Self::load_lenient_from(conf, &lower_keys(&Value::Object(ipam)))
    }

    fn load_lenient_from(conf: &NetConf, ipam: &Value) -> Result<IpamConfig> {
        let data_dir = opt_str(ipam, "datadir", "ipam")?.unwrap_or(DEFAULT_DATA_DIR);
        let reclaim = match ipam.get("reclaimafterreboot") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(o) => {
                return Err(decode_err(
                    "ipam.reclaimAfterReboot",
                    format!("expected a boolean, got {o}"),
                ));
            }
        };
        Ok(IpamConfig {
            name: conf.name.clone(),
            data_dir: PathBuf::from(data_dir),
            ranges: Vec::new(),
            routes: Vec::new(),
            resolv_conf: None,
            requested: Vec::new(),
            reclaim_after_reboot: reclaim,
        })
    }

    /// `<dataDir>/<name>` (the name's charset is checked by the protocol crate).
    pub fn net_dir(&self) -> PathBuf {
        self.data_dir.join(&self.name)
    }
}

/// SPEC (reference config.go): at least one set, each valid, no two sets overlapping.
fn validate_sets(specs: &[Vec<RangeSpec>]) -> Result<Vec<RangeSet>> {
    if specs.is_empty() {
        return Err(HostLocalError::Config("no IP ranges specified".into()));
    }
    let sets = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            RangeSet::canonicalize(s)
                .map_err(|e| HostLocalError::Config(format!("invalid range set {i}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    for (i, a) in sets.iter().enumerate() {
        for (j, b) in sets.iter().enumerate().skip(i + 1) {
            if a.overlaps(b) {
                return Err(HostLocalError::Config(format!(
                    "range set {i} overlaps with {j}"
                )));
            }
        }
    }
    Ok(sets)
}

fn routes(v: Option<&Value>) -> Result<Vec<Route>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => Ok(cni::config::decode_value::<Vec<Route>>(v).map_err(|mut e| {
            e.msg = format!("ipam.routes{}", e.msg.trim_start_matches('.'));
            e
        })?),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
