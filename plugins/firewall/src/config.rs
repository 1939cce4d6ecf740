//! The plugin's own configuration keys, decoded and validated before
//! anything is applied.
//!
//! SPEC (reference `firewall`): `backend` (`iptables` | `firewalld`),
//! `iptablesAdminChainName` (default `CNI-ADMIN`), `firewalldZone`,
//! `ingressPolicy` (`open` default | `same-bridge` | `isolated`).
//! Ours: `backend: "nftables"` (the default), `allow` rules and
//! `recordDir` (where the iptables backend keeps per-attachment records).

use crate::error::{FwError, Result};
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;

/// Where per-attachment records live unless `recordDir` says otherwise.
pub const DEFAULT_RECORD_DIR: &str = "/var/lib/cni/ferrocni/firewall";

/// Which netfilter layout to program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// Our own `inet ferrocni_firewall` table (default).
    Nftables,
    /// The reference layout in iptables' `filter` table.
    Iptables,
}

/// `ingressPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Open,
    SameBridge,
    Isolated,
}

impl Policy {
    /// The value as written in configs and reference comments.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Open => "open",
            Policy::SameBridge => "same-bridge",
            Policy::Isolated => "isolated",
        }
    }
}

/// A transport protocol an allow rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

/// One `"<proto>/<port>[-<port>]"` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub proto: Proto,
    pub first: u16,
    pub last: u16,
}

/// One `allow` entry: traffic from `from` to `ports` (empty = everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub from: IpNet,
    pub ports: Vec<PortSpec>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct FwConf {
    pub backend: BackendChoice,
    pub admin_chain: String,
    pub policy: Policy,
    pub allow: Vec<Allow>,
    /// Root of the per-attachment records (iptables backend only).
    pub record_dir: PathBuf,
}

#[derive(Deserialize)]
struct RawAllow {
    from: String,
    #[serde(default)]
    ports: Vec<String>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    backend: Option<String>,
    #[serde(rename = "iptablesAdminChainName", default)]
    admin_chain: Option<String>,
    #[serde(rename = "ingressPolicy", default)]
    policy: Option<String>,
    #[serde(default)]
    allow: Option<Vec<RawAllow>>,
    #[serde(rename = "recordDir", default)]
    record_dir: Option<String>,
}

/// Decodes (code 6 on wrong types) and validates (code 7/2) the config.
pub fn load(conf: &cni::NetConf) -> std::result::Result<FwConf, cni::CniError> {
    let raw: Raw = conf.decode()?;
    Ok(validate(raw)?)
}

fn validate(raw: Raw) -> Result<FwConf> {
    let backend = match raw.backend.as_deref() {
        None | Some("") | Some("nftables") => BackendChoice::Nftables,
        Some("iptables") => BackendChoice::Iptables,
        Some("firewalld") => {
            return Err(FwError::Unsupported(
                "backend \"firewalld\" is not supported; use \"nftables\" or \"iptables\"".into(),
            ));
        }
        Some(other) => {
            return Err(FwError::Config(format!(
                "backend {other:?} is invalid: expected \"nftables\" or \"iptables\""
            )));
        }
    };
    let policy = match raw.policy.as_deref() {
        None | Some("") | Some("open") => Policy::Open,
        Some("same-bridge") => Policy::SameBridge,
        Some("isolated") => Policy::Isolated,
        Some(other) => {
            return Err(FwError::Config(format!(
                "ingressPolicy {other:?} is invalid: expected \"open\", \"same-bridge\" or \"isolated\""
            )));
        }
    };
    let admin_chain = match raw.admin_chain.as_deref() {
        None | Some("") => "CNI-ADMIN".to_string(),
        Some(name) => validate_chain(name)?,
    };
    let allow = raw
        .allow
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, a)| parse_allow(i, a))
        .collect::<Result<Vec<_>>>()?;
    if backend == BackendChoice::Iptables && !allow.is_empty() {
        return Err(FwError::Unsupported(
            "allow rules need backend \"nftables\" (the reference iptables layout has none)".into(),
        ));
    }
    let record_dir = record_dir(raw.record_dir.as_deref())?;
    Ok(FwConf {
        backend,
        admin_chain,
        policy,
        allow,
        record_dir,
    })
}

/// `recordDir`: an absolute path (default [`DEFAULT_RECORD_DIR`]).
fn record_dir(raw: Option<&str>) -> Result<PathBuf> {
    let dir = PathBuf::from(raw.filter(|d| !d.is_empty()).unwrap_or(DEFAULT_RECORD_DIR));
    if !dir.is_absolute() {
        return Err(FwError::Config(format!(
            "recordDir {:?} is invalid: must be an absolute path",
            dir.display().to_string()
        )));
    }
    Ok(dir)
}

/// iptables chain names: 1–28 characters, no whitespace or quotes, not
/// starting with `-`, not a built-in target.
fn validate_chain(name: &str) -> Result<String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    let builtin = ["ACCEPT", "DROP", "RETURN", "REJECT", "QUEUE"];
    if name.is_empty()
        || name.len() > 28
        || name.starts_with('-')
        || !name.chars().all(ok_char)
        || builtin.contains(&name)
    {
        return Err(FwError::Config(format!(
            "iptablesAdminChainName {name:?} is invalid: 1-28 characters of [A-Za-z0-9_.-], \
             not starting with '-', not a built-in target"
        )));
    }
    Ok(name.to_string())
}

fn parse_allow(i: usize, raw: &RawAllow) -> Result<Allow> {
    let from = parse_cidr(&raw.from)
        .ok_or_else(|| FwError::Config(format!("allow[{i}].from {:?} is not a CIDR", raw.from)))?;
    let ports = raw
        .ports
        .iter()
        .enumerate()
        .map(|(j, p)| parse_port(p).map_err(|why| cfg_port(i, j, p, why)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Allow { from, ports })
}

fn cfg_port(i: usize, j: usize, p: &str, why: &str) -> FwError {
    FwError::Config(format!("allow[{i}].ports[{j}] {p:?} is invalid: {why}"))
}

/// `10.0.0.0/8`, `fd00::/64`, or a bare address (a host). Host bits are
/// cleared (`10.1.2.3/24` means `10.1.2.0/24`).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// `tcp/5432`, `udp/53`, `tcp/8000-8100`.
pub fn parse_port(s: &str) -> std::result::Result<PortSpec, &'static str> {
    let (proto, ports) = s
        .split_once('/')
        .ok_or("expected <tcp|udp|sctp>/<port>[-<port>]")?;
    let proto = match proto {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        _ => return Err("unknown protocol (expected tcp, udp or sctp)"),
    };
    let num = |t: &str| -> std::result::Result<u16, &'static str> {
        let digits = !t.is_empty() && t.len() <= 5 && t.bytes().all(|b| b.is_ascii_digit());
        match t.parse::<u32>() {
            Ok(n) if digits && (1..=65535).contains(&n) => Ok(n as u16),
            _ => Err("ports must be numbers from 1 to 65535"),
        }
    };
    let (first, last) = match ports.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let p = num(ports)?;
            (p, p)
        }
    };
    if first > last {
        return Err("port range is reversed");
    }
    Ok(PortSpec { proto, first, last })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
