//! The network configuration on stdin: the keys every plugin shares, decoded
//! and validated, plus the raw JSON for each plugin's own keys.
//!
//! SPEC: `cniVersion`, `name`, `type` are required; `args`, `ipMasq`, `ipam`,
//! `dns`, `runtimeConfig`, `capabilities`, `prevResult` are well known; GC adds
//! `cni.dev/valid-attachments` (older libcni: `cni.dev/attachments`).

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::env::is_cni_identifier;
use crate::error::CniError;
use crate::result::{CniResult, Dns};
use crate::version::{Version, missing_version};

/// One attachment named by a GC request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
pub struct Attachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

/// The decoded shared part of a network configuration.
#[derive(Debug, Clone)]
pub struct NetConf {
    pub cni_version: Version,
    pub name: String,
    pub plugin_type: String,
    pub ip_masq: bool,
    /// The `ipam` object (with its `type`), if any and not empty.
    pub ipam: Option<Map<String, Value>>,
    pub dns: Option<Dns>,
    pub runtime_config: Map<String, Value>,
    pub capabilities: Map<String, Value>,
    pub prev_result: Option<CniResult>,
    /// GC only: the attachments still in use. `None` when neither key is set.
    pub valid_attachments: Option<Vec<Attachment>>,
    /// The whole configuration, for the plugin's own keys.
    pub raw: Value,
    /// The exact stdin bytes (passed unchanged to delegated plugins).
    pub bytes: Vec<u8>,
}

#[derive(Deserialize)]
struct Shared {
    name: Option<String>,
    #[serde(rename = "type", default)]
    plugin_type: Option<String>,
    #[serde(rename = "ipMasq", default)]
    ip_masq: Option<bool>,
    #[serde(default)]
    ipam: Option<Map<String, Value>>,
    #[serde(default)]
    dns: Option<Dns>,
    #[serde(rename = "runtimeConfig", default)]
    runtime_config: Option<Map<String, Value>>,
    #[serde(default)]
    capabilities: Option<Map<String, Value>>,
    #[serde(rename = "prevResult", default)]
    prev_result: Option<Value>,
    #[serde(rename = "cni.dev/valid-attachments", default)]
    valid_attachments: Option<Vec<Attachment>>,
    #[serde(rename = "cni.dev/attachments", default)]
    attachments: Option<Vec<Attachment>>,
}

/// Parses stdin as JSON: code 6 when it is not a JSON object.
pub fn parse_json(bytes: &[u8]) -> Result<Value, CniError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| CniError::decode(format!("network configuration is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(CniError::decode(
            "network configuration must be a JSON object",
        ));
    }
    Ok(v)
}

/// The `cniVersion` of a config value (code 1 when missing or unsupported).
pub fn config_version(v: &Value) -> Result<Version, CniError> {
    match v.get("cniVersion") {
        None | Some(Value::Null) => Err(missing_version()),
        Some(Value::String(s)) => Version::parse(s),
        Some(other) => Err(CniError::decode(format!(
            "cniVersion: expected a string, got {other}"
        ))),
    }
}

impl NetConf {
    /// Decodes and validates the shared keys of a configuration.
    pub fn parse(bytes: &[u8]) -> Result<NetConf, CniError> {
        let raw = parse_json(bytes)?;
        let cni_version = config_version(&raw)?;
        let shared: Shared = decode_value(&raw)?;
        let name = shared
            .name
            .ok_or_else(|| CniError::invalid_config("name is required"))?;
        validate_network_name(&name)?;
        let prev_result = match shared.prev_result {
            Some(Value::Null) | None => None,
            Some(v) => Some(CniResult::from_value(&v).map_err(|mut e| {
                e.msg = format!("prevResult: {}", e.msg);
                e
            })?),
        };
        let ipam = shared.ipam.filter(|m| !m.is_empty());
        Ok(NetConf {
            cni_version,
            name,
            plugin_type: shared.plugin_type.unwrap_or_default(),
            ip_masq: shared.ip_masq.unwrap_or(false),
            ipam,
            dns: shared.dns,
            runtime_config: shared.runtime_config.unwrap_or_default(),
            capabilities: shared.capabilities.unwrap_or_default(),
            prev_result,
            valid_attachments: shared.valid_attachments.or(shared.attachments),
            raw,
            bytes: bytes.to_vec(),
        })
    }

    /// Decodes the plugin's own view of the configuration; a wrong-typed key is
    /// code 6 naming the key path and the problem.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, CniError> {
        decode_value(&self.raw)
    }

    /// The IPAM plugin's `type`, if an `ipam` section is present.
    pub fn ipam_type(&self) -> Result<Option<&str>, CniError> {
        let Some(ipam) = &self.ipam else {
            return Ok(None);
        };
        match ipam.get("type") {
            Some(Value::String(t)) if !t.is_empty() => Ok(Some(t)),
            _ => Err(CniError::invalid_config(
                "ipam.type is required when ipam is set",
            )),
        }
    }

    /// `args.cni.<key>` (structured args from the runtime).
    pub fn args_cni(&self, key: &str) -> Option<&Value> {
        self.raw.get("args")?.get("cni")?.get(key)
    }
}

/// Decodes `v` into `T`, naming the offending key path on failure (code 6).
pub fn decode_value<T: DeserializeOwned>(v: &Value) -> Result<T, CniError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        CniError::decode(format!("{path}: {}", e.inner()))
    })
}

/// SPEC: network names share the container id charset; anything else is code 7.
/// This also keeps names from escaping data directories (`/`, `..`, NUL).
pub fn validate_network_name(name: &str) -> Result<(), CniError> {
    if is_cni_identifier(name) {
        Ok(())
    } else {
        Err(CniError::invalid_config(format!(
            "network name {name:?} is invalid: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NetConf, CniError> {
        NetConf::parse(s.as_bytes())
    }

    #[test]
    fn decodes_shared_keys_and_keeps_the_rest() {
        let c = parse(
            r#"{"cniVersion":"1.0.0","name":"n1","type":"bridge","bridge":"br9",
            "ipMasq":true,"ipam":{"type":"host-local"},"runtimeConfig":{"mac":"x"}}"#,
        )
        .unwrap();
        assert_eq!(c.cni_version, Version::V1_0_0);
        assert!(c.ip_masq);
        assert_eq!(c.ipam_type().unwrap(), Some("host-local"));
        assert_eq!(c.raw["bridge"], "br9");
        assert_eq!(c.runtime_config["mac"], "x");
    }

    #[test]
    fn missing_version_is_code_1() {
        let e = parse(r#"{"name":"n","type":"x"}"#).unwrap_err();
        assert_eq!(e.code, 1);
        assert!(e.msg.contains("0.1.0"));
    }

    #[test]
    fn bad_names_are_code_7() {
        for bad in ["../etc", "a/b", "", ".hidden", "a\u{0}b", "with space"] {
            let json = serde_json::json!({"cniVersion":"1.0.0","name":bad,"type":"x"});
            let e = NetConf::parse(json.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.code, 7, "{bad:?}");
        }
    }

    #[test]
    fn wrong_typed_key_is_code_6_naming_the_key() {
        let e =
            parse(r#"{"cniVersion":"1.0.0","name":"n","type":"x","ipMasq":"yes"}"#).unwrap_err();
        assert_eq!(e.code, 6);
        assert!(e.msg.contains("ipMasq"), "{}", e.msg);
    }

    #[test]
    fn malformed_json_is_code_6() {
        assert_eq!(parse("{nope").unwrap_err().code, 6);
        assert_eq!(parse("[1]").unwrap_err().code, 6);
    }

    #[test]
    fn gc_accepts_both_attachment_keys() {
        let a = parse(
            r#"{"cniVersion":"1.1.0","name":"n","type":"x",
            "cni.dev/attachments":[{"containerID":"c","ifname":"eth0"}]}"#,
        )
        .unwrap();
        assert_eq!(a.valid_attachments.unwrap()[0].container_id, "c");
        let b = parse(
            r#"{"cniVersion":"1.1.0","name":"n","type":"x",
            "cni.dev/valid-attachments":[]}"#,
        )
        .unwrap();
        assert_eq!(b.valid_attachments.unwrap().len(), 0);
    }
}
