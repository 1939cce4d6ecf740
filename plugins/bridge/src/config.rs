//! The bridge plugin's own configuration keys, decoded and validated before
//! anything touches the kernel.
//!
//! Keys and defaults follow the reference plugin (containernetworking/plugins
//! v1.9.x `plugins/main/bridge`). Every rejection names the key and the value.

use cni::{CniError, NetConf, Request};
use serde::Deserialize;
use serde_json::Value;

use crate::error::BridgeError;

/// Bridge name used when `bridge` is absent (reference default).
pub const DEFAULT_BRIDGE: &str = "cni0";
/// Highest usable 802.1Q id (4095 is reserved).
pub const MAX_VLAN: i64 = 4094;

/// Which netfilter backend programs `ipMasq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasqBackend {
    Nftables,
    Iptables,
}

impl MasqBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            MasqBackend::Nftables => "nftables",
            MasqBackend::Iptables => "iptables",
        }
    }
}

/// The validated configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConf {
    pub network: String,
    pub bridge: String,
    /// `isGateway`, or implied by `isDefaultGateway`.
    pub is_gateway: bool,
    pub is_default_gateway: bool,
    pub force_address: bool,
    pub ip_masq: bool,
    /// `ipMasqBackend`; ours defaults to nftables (see docs/bridge.md).
    pub masq_backend: MasqBackend,
    /// `mtu`; `None` leaves the kernel default.
    pub mtu: Option<u32>,
    pub hairpin: bool,
    pub promisc: bool,
    /// `vlan` (access port, untagged PVID); `None` for 0/absent.
    pub vlan: Option<u16>,
    /// `vlanTrunk`, expanded, sorted and de-duplicated.
    pub vlan_trunk: Vec<u16>,
    pub preserve_default_vlan: bool,
    pub macspoofchk: bool,
    pub enable_dad: bool,
    pub disable_container_interface: bool,
    pub port_isolation: bool,
    /// Container MAC: `runtimeConfig.mac` > `args.cni.mac` > `CNI_ARGS MAC=`.
    pub mac: Option<[u8; 6]>,
    /// An `ipam` section is present (layer 3); `{}` means layer 2 only.
    pub layer3: bool,
}

impl BridgeConf {
    /// True when the host port needs bridge VLAN filtering.
    pub fn uses_vlan(&self) -> bool {
        self.vlan.is_some() || !self.vlan_trunk.is_empty()
    }
}

/// One `vlanTrunk` entry: `{"id": n}` or `{"minID": a, "maxID": b}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrunkEntry {
    #[serde(default)]
    id: Option<i64>,
    #[serde(rename = "minID", default)]
    min_id: Option<i64>,
    #[serde(rename = "maxID", default)]
    max_id: Option<i64>,
}

/// The keys as they arrive on stdin (types checked by serde, code 6).
#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(default)]
    bridge: Option<String>,
    #[serde(rename = "isGateway", default)]
    is_gateway: bool,
    #[serde(rename = "isDefaultGateway", default)]
    is_default_gateway: bool,
    #[serde(rename = "forceAddress", default)]
    force_address: bool,
    #[serde(rename = "ipMasq", default)]
    ip_masq: bool,
    #[serde(rename = "ipMasqBackend", default)]
    ip_masq_backend: Option<String>,
    #[serde(default)]
    mtu: Option<i64>,
    #[serde(rename = "hairpinMode", default)]
    hairpin_mode: bool,
    #[serde(rename = "promiscMode", default)]
    promisc_mode: bool,
    #[serde(default)]
    vlan: Option<i64>,
    #[serde(rename = "vlanTrunk", default)]
    vlan_trunk: Option<Vec<TrunkEntry>>,
    #[serde(rename = "preserveDefaultVlan", default)]
    preserve_default_vlan: Option<bool>,
    #[serde(default)]
    macspoofchk: bool,
    #[serde(default)]
    enabledad: bool,
    #[serde(rename = "disableContainerInterface", default)]
    disable_container_interface: bool,
    #[serde(rename = "portIsolation", default)]
    port_isolation: bool,
}

fn invalid(key: &'static str, value: impl ToString, why: impl Into<String>) -> BridgeError {
    BridgeError::InvalidKey {
        key,
        value: value.to_string(),
        why: why.into(),
    }
}

/// Decodes and validates the configuration of `req` (every verb).
pub fn load(req: &Request) -> Result<BridgeConf, CniError> {
    from_parts(&req.conf, req.env.args.get("MAC"))
}

/// [`load`] from the decoded config and the `CNI_ARGS` `MAC` value.
pub fn from_parts(conf: &NetConf, env_mac: Option<&str>) -> Result<BridgeConf, CniError> {
    let raw: Raw = conf.decode()?;
    let mac = container_mac(conf, env_mac)?;
    build(conf, raw, mac).map_err(CniError::from)
}

fn build(conf: &NetConf, raw: Raw, mac: Option<[u8; 6]>) -> Result<BridgeConf, BridgeError> {
    let bridge = raw.bridge.unwrap_or_else(|| DEFAULT_BRIDGE.to_string());
    validate_link_name("bridge", &bridge)?;
    if raw.hairpin_mode && raw.promisc_mode {
        return Err(BridgeError::Conflict(
            "hairpinMode and promiscMode cannot both be true".into(),
        ));
    }
    let vlan = vlan_id(raw.vlan)?;
    let vlan_trunk = trunk_ids(raw.vlan_trunk.as_deref().unwrap_or_default())?;
    if vlan.is_some() && !vlan_trunk.is_empty() {
        return Err(BridgeError::Conflict(
            "vlan and vlanTrunk cannot be set at the same time".into(),
        ));
    }
    let layer3 = conf.ipam.is_some();
    if raw.disable_container_interface && layer3 {
        return Err(BridgeError::Conflict(
            "disableContainerInterface cannot be used with IPAM (the interface has no addresses while down)".into(),
        ));
    }
    Ok(BridgeConf {
        network: conf.name.clone(),
        bridge,
        is_gateway: raw.is_gateway || raw.is_default_gateway,
        is_default_gateway: raw.is_default_gateway,
        force_address: raw.force_address,
        ip_masq: raw.ip_masq,
        masq_backend: masq_backend(raw.ip_masq_backend.as_deref())?,
        mtu: mtu(raw.mtu)?,
        hairpin: raw.hairpin_mode,
        promisc: raw.promisc_mode,
        vlan,
        vlan_trunk,
        preserve_default_vlan: raw.preserve_default_vlan.unwrap_or(true),
        macspoofchk: raw.macspoofchk,
        enable_dad: raw.enabledad,
        disable_container_interface: raw.disable_container_interface,
        port_isolation: raw.port_isolation,
        mac,
        layer3,
    })
}

/// SPEC: interface names are 1–15 bytes without `/`, `:` or whitespace.
pub fn validate_link_name(key: &'static str, name: &str) -> Result<(), BridgeError> {
    let why = if name.is_empty() {
        Some("is empty")
    } else if name.len() > 15 {
        Some("is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("is not an interface name")
    } else if name.contains(['/', ':']) || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Some("contains '/', ':' or whitespace")
    } else {
        None
    };
    match why {
        Some(why) => Err(invalid(key, format!("{name:?}"), why)),
        None => Ok(()),
    }
}

fn masq_backend(v: Option<&str>) -> Result<MasqBackend, BridgeError> {
    match v {
        None | Some("") | Some("nftables") => Ok(MasqBackend::Nftables),
        Some("iptables") => Ok(MasqBackend::Iptables),
        Some(other) => Err(invalid(
            "ipMasqBackend",
            format!("{other:?}"),
            "must be \"nftables\" or \"iptables\"",
        )),
    }
}

fn mtu(v: Option<i64>) -> Result<Option<u32>, BridgeError> {
    match v {
        None | Some(0) => Ok(None),
        Some(m) if m < 0 || m > i64::from(u32::MAX) => {
            Err(invalid("mtu", m, "must be a positive integer"))
        }
        Some(m) => Ok(Some(m as u32)),
    }
}

fn vlan_id(v: Option<i64>) -> Result<Option<u16>, BridgeError> {
    match v {
        None | Some(0) => Ok(None),
        Some(id) if (1..=MAX_VLAN).contains(&id) => Ok(Some(id as u16)),
        Some(id) => Err(invalid("vlan", id, "must be between 0 and 4094")),
    }
}

fn trunk_id(key: &'static str, id: i64) -> Result<u16, BridgeError> {
    if (1..=MAX_VLAN).contains(&id) {
        Ok(id as u16)
    } else {
        Err(invalid(key, id, "must be between 1 and 4094"))
    }
}

fn trunk_ids(entries: &[TrunkEntry]) -> Result<Vec<u16>, BridgeError> {
    let mut ids = Vec::new();
    for e in entries {
        match (e.min_id, e.max_id) {
            (Some(lo), Some(hi)) => {
                let (lo, hi) = (
                    trunk_id("vlanTrunk.minID", lo)?,
                    trunk_id("vlanTrunk.maxID", hi)?,
                );
                if hi < lo {
                    return Err(invalid(
                        "vlanTrunk.minID",
                        lo,
                        format!("is greater than maxID {hi}"),
                    ));
                }
                ids.extend(lo..=hi);
            }
            (None, Some(hi)) => {
                return Err(invalid("vlanTrunk.maxID", hi, "needs minID as well"));
            }
            (Some(lo), None) => {
                return Err(invalid("vlanTrunk.minID", lo, "needs maxID as well"));
            }
            (None, None) => {}
        }
        if let Some(id) = e.id {
            ids.push(trunk_id("vlanTrunk.id", id)?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// SPEC (conventions): `runtimeConfig.mac` wins over `args.cni.mac`, which
/// wins over `CNI_ARGS MAC=`.
fn container_mac(conf: &NetConf, env_mac: Option<&str>) -> Result<Option<[u8; 6]>, CniError> {
    let pick = |key: &'static str,
                v: Option<&Value>|
     -> Result<Option<(String, &'static str)>, CniError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some((s.clone(), key))),
            Some(other) => Err(CniError::decode(format!(
                "{key}: expected a string, got {other}"
            ))),
        }
    };
    let chosen = match pick("runtimeConfig.mac", conf.runtime_config.get("mac"))? {
        Some(c) => Some(c),
        None => match pick("args.cni.mac", conf.args_cni("mac"))? {
            Some(c) => Some(c),
            None => env_mac
                .filter(|m| !m.is_empty())
                .map(|m| (m.to_string(), "CNI_ARGS MAC")),
        },
    };
    match chosen {
        None => Ok(None),
        Some((text, key)) => parse_mac(key, &text).map(Some).map_err(CniError::from),
    }
}

/// Parses `aa:bb:cc:dd:ee:ff` (or `-` separated); rejects multicast MACs,
/// which the kernel refuses on a veth.
pub fn parse_mac(key: &'static str, s: &str) -> Result<[u8; 6], BridgeError> {
    let bad = |why: &str| invalid(key, format!("{s:?}"), why);
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
        return Err(bad("is not a MAC address (want aa:bb:cc:dd:ee:ff)"));
    }
    let mut mac = [0u8; 6];
    for (slot, p) in mac.iter_mut().zip(parts) {
        *slot = u8::from_str_radix(p, 16)
            .map_err(|_| bad("is not a MAC address (want aa:bb:cc:dd:ee:ff)"))?;
    }
    if mac[0] & 1 == 1 {
        return Err(bad("is a multicast address"));
    }
    if mac == [0; 6] {
        return Err(bad("is the all-zero address"));
    }
    Ok(mac)
}

/// Formats a MAC the way results carry it (lowercase, `:`).
pub fn format_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
