//! The portmap configuration: the plugin's own keys, the `portMappings`
//! capability in both spellings, backend selection, and the container
//! addresses taken from `prevResult`.
//!
//! SPEC: `runtimeConfig.portMappings` is the `portMappings` capability of
//! CONVENTIONS.md. The reference decodes it with Go's case-insensitive JSON,
//! so containerd's `HostPort`/`ContainerPort`/`Protocol`/`HostIP` work there;
//! here every key of a mapping is matched case-insensitively too.

use std::net::IpAddr;
use std::path::PathBuf;

use cni::{CniResult, NetConf};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::Value;

use crate::error::PortmapError;
use crate::mapping::{Mapping, Protocol};

/// Where per-attachment records live unless `recordDir` says otherwise.
pub const DEFAULT_RECORD_DIR: &str = "/var/lib/cni/ferrocni/portmap";
/// The reference's default mark bit (Kubernetes uses 14 and 15).
pub const DEFAULT_MARK_BIT: u8 = 13;

/// Which rule layout the configuration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// Our own nftables table (maps keyed by protocol, host IP and port).
    Nftables,
    /// The reference's iptables layout (`CNI-HOSTPORT-*`, `CNI-DN-<hash>`).
    Iptables,
}

/// Options that shape the rules (the reference's keys); also stored in
/// the attachment record so DEL can remove exactly what ADD made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Opts {
    pub snat: bool,
    pub masq_all: bool,
    pub mark_masq_bit: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_set_mark_chain: Option<String>,
    #[serde(
        default,
        rename = "conditionsV4",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions_v4: Vec<String>,
    #[serde(
        default,
        rename = "conditionsV6",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions_v6: Vec<String>,
}

/// The decoded, validated configuration of one call.
#[derive(Debug, Clone)]
pub struct Config {
    pub network: String,
    pub mappings: Vec<Mapping>,
    pub opts: Opts,
    pub backend: BackendChoice,
    pub record_dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Keys {
    #[serde(default)]
    snat: Option<bool>,
    #[serde(default)]
    masq_all: Option<bool>,
    #[serde(default)]
    mark_masq_bit: Option<i64>,
    #[serde(default)]
    external_set_mark_chain: Option<String>,
    #[serde(default, rename = "conditionsV4")]
    conditions_v4: Option<Vec<String>>,
    #[serde(default, rename = "conditionsV6")]
    conditions_v6: Option<Vec<String>>,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    record_dir: Option<String>,
}

fn invalid(key: &str, msg: impl Into<String>) -> PortmapError {
    PortmapError::Config {
        key: key.to_string(),
        msg: msg.into(),
    }
}

impl Config {
    /// Decodes and validates everything the plugin reads from stdin.
    pub fn parse(conf: &NetConf) -> Result<Config, PortmapError> {
        let keys: Keys = conf.decode().map_err(PortmapError::Decode)?;
        let mark = match (keys.mark_masq_bit, &keys.external_set_mark_chain) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "markMasqBit",
                    "cannot be set together with externalSetMarkChain",
                ));
            }
            (Some(b), None) if !(0..=31).contains(&b) => {
                return Err(invalid("markMasqBit", format!("{b} is not in 0..=31")));
            }
            (Some(b), None) => b as u8,
            (None, _) => DEFAULT_MARK_BIT,
        };
        let opts = Opts {
            snat: keys.snat.unwrap_or(true),
            masq_all: keys.masq_all.unwrap_or(false),
            mark_masq_bit: mark,
            external_set_mark_chain: keys.external_set_mark_chain,
            conditions_v4: keys.conditions_v4.unwrap_or_default(),
            conditions_v6: keys.conditions_v6.unwrap_or_default(),
        };
        let backend = choose_backend(keys.backend.as_deref(), &opts)?;
        let record_dir = PathBuf::from(keys.record_dir.as_deref().unwrap_or(DEFAULT_RECORD_DIR));
        if !record_dir.is_absolute() {
            return Err(invalid("recordDir", "must be an absolute path"));
        }
        Ok(Config {
            network: conf.name.clone(),
            mappings: parse_mappings(conf.runtime_config.get("portMappings"))?,
            opts,
            backend,
            record_dir,
        })
    }
}

/// True when a condition is written in iptables syntax.
// SPEC (reference): iptables syntax when the first token starts with `-` or `!`.
pub fn is_iptables_syntax(cond: &str) -> bool {
    cond.trim_start().starts_with(['-', '!'])
}

/// `backend` when given; else nftables unless an iptables-only setting
/// (`externalSetMarkChain`, iptables-syntax conditions) is present.
fn choose_backend(requested: Option<&str>, o: &Opts) -> Result<BackendChoice, PortmapError> {
    let lists = [
        ("conditionsV4", &o.conditions_v4),
        ("conditionsV6", &o.conditions_v6),
    ];
    // SPEC (reference): a list's syntax is decided by its first token.
    let syntax = |l: &Vec<String>| l.first().map(|c| is_iptables_syntax(c));
    let wants_ipt =
        o.external_set_mark_chain.is_some() || lists.iter().any(|(_, l)| syntax(l) == Some(true));
    let choice = match requested {
        Some("nftables") => BackendChoice::Nftables,
        Some("iptables") => BackendChoice::Iptables,
        Some(other) => {
            return Err(invalid(
                "backend",
                format!("{other:?} is not \"nftables\" or \"iptables\""),
            ));
        }
        None if wants_ipt => BackendChoice::Iptables,
        None => BackendChoice::Nftables,
    };
    let ipt = choice == BackendChoice::Iptables;
    if !ipt && o.external_set_mark_chain.is_some() {
        return Err(invalid(
            "externalSetMarkChain",
            "is iptables-only; backend is nftables",
        ));
    }
    for (key, l) in lists {
        if let Some(c) = l
            .iter()
            .find(|c| c.trim().is_empty() || c.chars().any(char::is_control))
        {
            return Err(invalid(
                key,
                format!("{c:?} is empty or has control characters"),
            ));
        }
        if let Some(s) = syntax(l)
            && s != ipt
        {
            let (syn, be) = if ipt {
                ("nftables", "iptables")
            } else {
                ("iptables", "nftables")
            };
            return Err(invalid(
                key,
                format!("{:?} is {syn} syntax but the backend is {be}", l.join(" ")),
            ));
        }
    }
    Ok(choice)
}

/// `runtimeConfig.portMappings`: absent or null is no mappings.
pub fn parse_mappings(v: Option<&Value>) -> Result<Vec<Mapping>, PortmapError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(PortmapError::Shape {
                key: "runtimeConfig.portMappings".into(),
                msg: format!("expected an array, got {other}"),
            });
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, m)| parse_mapping(i, m))
        .collect()
}

fn parse_mapping(i: usize, v: &Value) -> Result<Mapping, PortmapError> {
    let here = format!("runtimeConfig.portMappings[{i}]");
    let shape = |k: &str, msg: String| PortmapError::Shape {
        key: format!("{here}.{k}"),
        msg,
    };
    let Some(obj) = v.as_object() else {
        return Err(shape("", format!("expected an object, got {v}")));
    };
    let (mut host, mut cont, mut proto, mut host_ip) = (None, None, None, None);
    for (k, val) in obj {
        match k.to_ascii_lowercase().as_str() {
            "hostport" => host = Some(port(&here, k, val)?),
            "containerport" => cont = Some(port(&here, k, val)?),
            "protocol" => proto = Some(text(&here, k, val)?),
            "hostip" => host_ip = Some(text(&here, k, val)?),
            _ => {}
        }
    }
    let host_port = host.ok_or_else(|| invalid(&format!("{here}.hostPort"), "is required"))?;
    let container_port =
        cont.ok_or_else(|| invalid(&format!("{here}.containerPort"), "is required"))?;
    let p = proto.unwrap_or_default();
    let protocol = Protocol::parse(&p).ok_or_else(|| {
        invalid(
            &format!("{here}.protocol"),
            format!("{p:?} is not tcp, udp or sctp"),
        )
    })?;
    let host_ip = match host_ip.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<IpAddr>().map_err(|_| {
            invalid(
                &format!("{here}.hostIP"),
                format!("{s:?} is not an IP address"),
            )
        })?),
    };
    Ok(Mapping {
        host_ip,
        host_port,
        container_port,
        protocol,
    })
}

fn port(here: &str, k: &str, v: &Value) -> Result<u16, PortmapError> {
    let Some(n) = v.as_i64() else {
        return Err(PortmapError::Shape {
            key: format!("{here}.{k}"),
            msg: format!("expected an integer, got {v}"),
        });
    };
    u16::try_from(n).ok().filter(|p| *p != 0).ok_or_else(|| {
        invalid(
            &format!("{here}.{k}"),
            format!("{n} is not a port (1..=65535)"),
        )
    })
}

fn text(here: &str, k: &str, v: &Value) -> Result<String, PortmapError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Err(PortmapError::Shape {
            key: format!("{here}.{k}"),
            msg: format!("expected a string, got {other}"),
        }),
    }
}

/// The container's addresses: the first IPv4 and the first IPv6 address of
/// `prevResult` not known to belong to another interface.
// SPEC (reference): an address is skipped only when its `interface` index
// names an interface that is not `CNI_IFNAME` or has no `sandbox`.
pub fn container_ips(prev: &CniResult, ifname: &str) -> Vec<IpNet> {
    let mut v4 = None;
    let mut v6 = None;
    for ip in &prev.ips {
        if let Some(i) = ip.interface
            && let Some(itf) = prev.interfaces.get(i)
            && (itf.name != ifname || itf.sandbox.as_deref().unwrap_or("").is_empty())
        {
            continue;
        }
        let slot = match ip.address {
            IpNet::V4(_) => &mut v4,
            IpNet::V6(_) => &mut v6,
        };
        slot.get_or_insert(ip.address);
    }
    v4.into_iter().chain(v6).collect()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
