//! CNI results: one model (the 1.1 superset) read from any supported version
//! and written in exactly the version the caller asked for.
//!
//! SPEC: 0.3.x/0.4.0 results carry `ips[].version`; 1.0.0 removed it; 1.1.0
//! adds interface `mtu`/`socketPath`/`pciID` and route
//! `mtu`/`advmss`/`priority`/`table`/`scope`. Conversions between these are
//! lossless except that fields newer than the target version are dropped.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::CniError;
use crate::version::Version;

/// A result (or an IPAM result: no interfaces, no `ips[].interface`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CniResult {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    #[serde(default, alias = "ip", skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub dns: Dns,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// 1.1.0
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// 1.1.0
    #[serde(
        default,
        rename = "socketPath",
        skip_serializing_if = "Option::is_none"
    )]
    pub socket_path: Option<String>,
    /// 1.1.0
    #[serde(default, rename = "pciID", skip_serializing_if = "Option::is_none")]
    pub pci_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpConfig {
    /// 0.3.x/0.4.0 only: "4" or "6". Ignored on input, derived on output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
    pub address: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

impl IpConfig {
    pub fn new(address: IpNet, gateway: Option<IpAddr>) -> IpConfig {
        IpConfig {
            version: None,
            interface: None,
            address,
            gateway,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub dst: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
    /// 1.1.0
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// 1.1.0
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advmss: Option<u32>,
    /// 1.1.0
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    /// 1.1.0
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// 1.1.0
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
}

impl Route {
    pub fn new(dst: IpNet, gw: Option<IpAddr>) -> Route {
        Route {
            dst,
            gw,
            mtu: None,
            advmss: None,
            priority: None,
            table: None,
            scope: None,
        }
    }
}

/// DNS settings; also the shape of the network config's `dns` key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    pub fn is_empty(&self) -> bool {
        self == &Dns::default()
    }
}

/// The printed form: `cniVersion` first and the reference's key order.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "cniVersion")]
    cni_version: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    interfaces: Vec<Interface>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ips: Vec<IpConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<Route>,
    dns: Dns,
}

impl CniResult {
    /// Parses a result (or `prevResult`) of any supported version.
    pub fn from_value(v: &serde_json::Value) -> Result<CniResult, CniError> {
        serde_path_to_error::deserialize(v)
            .map_err(|e| CniError::decode(format!("result: {}: {}", e.path(), e.inner())))
    }

    /// This result converted to `version`'s layout (fields the version lacks dropped).
    pub fn converted(&self, version: Version) -> CniResult {
        let mut r = self.clone();
        let legacy = version.has_ip_version_field();
        for ip in &mut r.ips {
            ip.version = legacy.then(|| {
                if ip.address.addr().is_ipv4() {
                    "4"
                } else {
                    "6"
                }
                .into()
            });
        }
        if version < Version::V1_1_0 {
            for i in &mut r.interfaces {
                (i.mtu, i.socket_path, i.pci_id) = (None, None, None);
            }
            for rt in &mut r.routes {
                (rt.mtu, rt.advmss, rt.priority, rt.table, rt.scope) =
                    (None, None, None, None, None);
            }
        }
        r
    }

    /// The JSON value in `version`'s layout, with `cniVersion`.
    pub fn to_value(&self, version: Version) -> serde_json::Value {
        serde_json::from_str(&self.to_json(version)).unwrap_or_default()
    }

    /// The JSON text in `version`'s layout (keys in the reference's order).
    pub fn to_json(&self, version: Version) -> String {
        let r = self.converted(version);
        let wire = Wire {
            cni_version: version.as_str(),
            interfaces: r.interfaces,
            ips: r.ips,
            routes: r.routes,
            dns: r.dns,
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn podman_prev() -> serde_json::Value {
        json!({"cniVersion":"0.4.0","interfaces":[{"name":"cni-podman0","mac":"aa:bb:cc:dd:ee:ff"},
            {"name":"veth1","mac":"aa:bb:cc:dd:ee:01"},{"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/run/netns/x"}],
            "ips":[{"version":"4","interface":2,"address":"10.88.0.5/16","gateway":"10.88.0.1"}],
            "routes":[{"dst":"0.0.0.0/0"}],"dns":{}})
    }

    #[test]
    fn reads_0_4_0_and_writes_1_0_0_without_version_field() {
        let r = CniResult::from_value(&podman_prev()).unwrap();
        let out = r.to_value(Version::V1_0_0);
        assert_eq!(out["cniVersion"], "1.0.0");
        assert!(out["ips"][0].get("version").is_none());
        assert_eq!(out["ips"][0]["interface"], 2);
        assert_eq!(out["dns"], json!({}));
    }

    #[test]
    fn writes_0_3_1_with_version_field_per_family() {
        let mut r = CniResult::from_value(&podman_prev()).unwrap();
        r.ips
            .push(IpConfig::new("fd00::5/64".parse().unwrap(), None));
        let out = r.to_value(Version::V0_3_1);
        assert_eq!(out["ips"][0]["version"], "4");
        assert_eq!(out["ips"][1]["version"], "6");
    }

    #[test]
    fn fields_of_1_1_are_dropped_below_1_1_and_kept_at_1_1() {
        let mut r = CniResult::default();
        r.interfaces.push(Interface {
            name: "eth0".into(),
            mtu: Some(1400),
            ..Interface::default()
        });
        let mut rt = Route::new("0.0.0.0/0".parse().unwrap(), None);
        rt.table = Some(100);
        r.routes.push(rt);
        let old = r.to_value(Version::V1_0_0);
        assert!(old["interfaces"][0].get("mtu").is_none());
        assert!(old["routes"][0].get("table").is_none());
        let new = r.to_value(Version::V1_1_0);
        assert_eq!(new["interfaces"][0]["mtu"], 1400);
        assert_eq!(new["routes"][0]["table"], 100);
    }

    #[test]
    fn round_trips_losslessly_between_versions() {
        let r = CniResult::from_value(&podman_prev()).unwrap();
        for v in crate::version::SUPPORTED {
            let back = CniResult::from_value(&r.to_value(v)).unwrap();
            assert_eq!(
                back.converted(Version::V1_0_0),
                r.converted(Version::V1_0_0),
                "{v}"
            );
        }
    }

    #[test]
    fn text_keeps_the_reference_key_order() {
        let r = CniResult::from_value(&podman_prev()).unwrap();
        let text = r.to_json(Version::V1_0_0);
        let pos = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(pos("cniVersion") < pos("interfaces"));
        assert!(pos("interfaces") < pos("ips") && pos("ips") < pos("routes"));
        assert!(pos("routes") < pos("dns"), "{text}");
    }

    #[test]
    fn bad_address_names_the_path() {
        let e = CniResult::from_value(&json!({"ips":[{"address":"nope"}]})).unwrap_err();
        assert_eq!(e.code, 6);
        assert!(e.msg.contains("ips[0].address"), "{}", e.msg);
    }
}
