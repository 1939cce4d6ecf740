//! The verbs against a fake [`Host`] that records every side effect (no
//! kernel is touched), driven through the real CNI skeleton.

use std::cell::RefCell;
use std::net::Ipv4Addr;

use cni::{CniError, Plugin};
use fwkit::Flavor;
use serde_json::{Value, json};

use super::*;
use crate::config::BackendChoice;
use crate::mapping::Mapping;
use crate::refcheck::ReferenceRules;

#[derive(Default)]
struct Fake {
    log: RefCell<Vec<String>>,
    reference: Option<ReferenceRules>,
    fail_add: bool,
    held_by_reference: Option<u16>,
}

impl Fake {
    fn push(&self, s: String) {
        self.log.borrow_mut().push(s);
    }
    fn calls(&self) -> Vec<String> {
        self.log.borrow_mut().drain(..).collect()
    }
}

impl Host for Fake {
    fn resolve(&self, c: BackendChoice) -> Result<Backend, PortmapError> {
        Ok(match c {
            BackendChoice::Nftables => Backend::Nftables,
            BackendChoice::Iptables => Backend::Iptables(Flavor::Nft),
        })
    }
    fn probe(&self, c: BackendChoice) -> Result<(), PortmapError> {
        match c {
            BackendChoice::Iptables => Err(PortmapError::Unavailable("no iptables".into())),
            BackendChoice::Nftables => Ok(()),
        }
    }
    fn add_rules(&self, a: &RuleArgs) -> Result<(), PortmapError> {
        self.push(format!(
            "add {} {} {:?} {}",
            a.container_id,
            a.backend.name(),
            a.ips,
            a.mappings.len()
        ));
        if self.fail_add {
            return Err(fwkit::Error::PortConflict {
                mapping: "tcp/*:80".into(),
                holder: "other".into(),
                held: "x".into(),
            }
            .into());
        }
        Ok(())
    }
    fn del_rules(&self, _n: &str, cid: &str, b: Backend) -> Result<(), PortmapError> {
        self.push(format!("del {cid} {}", b.name()));
        Ok(())
    }
    fn del_known(&self, a: &RuleArgs) -> Result<(), PortmapError> {
        let n = a.mappings.len();
        let (cid, b) = (a.container_id, a.backend.name());
        self.push(format!("del-known {cid} {b} {n} {:?}", a.ips));
        Ok(())
    }
    fn check_rules(&self, a: &RuleArgs) -> Result<(), PortmapError> {
        self.push(format!("check {} {:?}", a.backend.name(), a.ips));
        Ok(())
    }
    fn gc_rules(&self, _n: &str, valid: &[&str], b: Backend) -> Result<(), PortmapError> {
        self.push(format!("gc {} {valid:?}", b.name()));
        Ok(())
    }
    fn reference_chain(&self, _n: &str, cid: &str) -> Option<ReferenceRules> {
        self.push(format!("look {cid}"));
        self.reference.clone()
    }
    fn iptables_holder(&self, maps: &[Mapping], cid: &str) -> Option<(Mapping, String)> {
        self.push(format!("holders {cid}"));
        let held = self.held_by_reference?;
        maps.iter()
            .find(|m| m.host_port == held)
            .map(|m| (*m, "refpod".to_string()))
    }
    fn route_localnet(&self, ip: Ipv4Addr) -> Result<(), PortmapError> {
        self.push(format!("localnet {ip}"));
        Ok(())
    }
    fn flush_udp_ports(&self, ports: &[u16]) {
        self.push(format!("ct-udp {ports:?}"));
    }
    fn flush_addresses(&self, ips: &[IpAddr]) {
        self.push(format!("ct-ips {ips:?}"));
    }
}

struct Under<'a>(&'a Fake);

impl Plugin for Under<'_> {
    fn name(&self) -> &'static str {
        "portmap"
    }
    fn add(&self, r: &Request) -> Result<CniResult, CniError> {
        Ok(add(self.0, r)?)
    }
    fn del(&self, r: &Request) -> Result<(), CniError> {
        Ok(del(self.0, r)?)
    }
    fn check(&self, r: &Request) -> Result<(), CniError> {
        Ok(check(self.0, r)?)
    }
    fn status(&self, r: &Request) -> Result<(), CniError> {
        Ok(status(self.0, r)?)
    }
    fn gc(&self, r: &Request) -> Result<(), CniError> {
        Ok(gc(self.0, r)?)
    }
}

fn call(h: &Fake, verb: &str, cid: &str, conf: &Value) -> cni::Outcome {
    let netns = if verb == "DEL" {
        ""
    } else {
        "/proc/self/ns/net"
    };
    let get = |k: &str| -> Option<String> {
        Some(match k {
            "CNI_COMMAND" => verb.into(),
            "CNI_CONTAINERID" => cid.into(),
            "CNI_NETNS" => netns.into(),
            "CNI_NETNS_OVERRIDE" => "1".into(),
            "CNI_IFNAME" => "eth0".into(),
            _ => return None,
        })
    };
    cni::dispatch(&Under(h), &get, &mut conf.to_string().as_bytes())
}

fn conf(dir: &std::path::Path, version: &str, maps: Value) -> Value {
    json!({"cniVersion": version, "name": "n1", "type": "portmap",
           "recordDir": dir, "runtimeConfig": {"portMappings": maps},
           "prevResult": {"cniVersion": version,
              "interfaces": [{"name": "eth0", "sandbox": "/run/netns/p"}],
              "ips": [{"address": "10.0.0.2/24", "interface": 0, "version": "4"}]}})
}

fn one() -> Value {
    json!([{"HostPort": 5353, "ContainerPort": 53, "Protocol": "udp", "HostIP": ""}])
}

#[test]
fn add_then_del_without_mappings_uses_the_record() {
    let d = tempfile::tempdir().unwrap();
    let h = Fake::default();
    let out = call(&h, "ADD", "c1", &conf(d.path(), "0.4.0", one()));
    assert_eq!(out.exit_code, 0, "{}", out.stdout);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["cniVersion"], "0.4.0");
    assert_eq!(v["ips"][0]["version"], "4");
    let calls = h.calls();
    assert_eq!(calls[0], "holders c1");
    assert_eq!(calls[1], "localnet 10.0.0.2");
    assert!(calls[2].starts_with("add c1 nftables"));
    assert_eq!(calls[3], "ct-udp [5353]");
    let mut bare = conf(d.path(), "1.0.0", Value::Null);
    bare.as_object_mut().unwrap().remove("prevResult");
    bare.as_object_mut().unwrap().remove("runtimeConfig");
    assert_eq!(call(&h, "DEL", "c1", &bare).exit_code, 0);
    assert_eq!(
        h.calls(),
        vec!["del-known c1 nftables 1 [10.0.0.2/24]", "ct-ips [10.0.0.2]"]
    );
    // Second DEL: no record, no mappings: one look, nothing changed.
    assert_eq!(call(&h, "DEL", "c1", &bare).exit_code, 0);
    assert_eq!(h.calls(), vec!["look c1"]);
}

#[test]
fn del_finds_reference_rules_without_a_record() {
    let d = tempfile::tempdir().unwrap();
    let found = ReferenceRules {
        flavor: Flavor::Legacy,
        pod_ips: vec!["10.0.0.7".parse().unwrap()],
    };
    let h = Fake {
        reference: Some(found),
        ..Fake::default()
    };
    let c = conf(d.path(), "1.0.0", Value::Null);
    assert_eq!(call(&h, "DEL", "ref1", &c).exit_code, 0);
    assert_eq!(
        h.calls(),
        vec!["look ref1", "del ref1 iptables-legacy", "ct-ips [10.0.0.7]"]
    );
}

#[test]
fn del_without_record_but_with_mappings_reads_nothing() {
    let d = tempfile::tempdir().unwrap();
    let h = Fake::default();
    // containerd's second round: mappings, no prevResult, no netns.
    let mut c = conf(d.path(), "1.0.0", one());
    c.as_object_mut().unwrap().remove("prevResult");
    assert_eq!(call(&h, "DEL", "c9", &c).exit_code, 0);
    assert_eq!(
        h.calls(),
        vec!["del-known c9 nftables 1 [0.0.0.0/32, ::/128]", "look c9"]
    );
    c["backend"] = json!("iptables");
    assert_eq!(call(&h, "DEL", "c9", &c).exit_code, 0);
    assert_eq!(h.calls(), vec!["look c9", "del c9 iptables-nft"]);
}

#[test]
fn failed_add_leaves_no_record() {
    let d = tempfile::tempdir().unwrap();
    let h = Fake {
        fail_add: true,
        ..Fake::default()
    };
    let out = call(&h, "ADD", "c2", &conf(d.path(), "1.0.0", one()));
    assert_eq!(out.exit_code, 1);
    assert!(
        out.stdout.contains("\"code\":105") && out.stdout.contains("other"),
        "{}",
        out.stdout
    );
    assert!(!d.path().join("n1").join("c2:eth0").exists());
    // A port the reference's iptables rules hold: 105 before anything.
    let h = Fake {
        held_by_reference: Some(5353),
        ..Fake::default()
    };
    let out = call(&h, "ADD", "c2", &conf(d.path(), "1.0.0", one()));
    assert!(out.stdout.contains("\"code\":105") && out.stdout.contains("refpod"));
    assert_eq!(h.calls(), vec!["holders c2"]);
    assert!(!d.path().join("n1").join("c2:eth0").exists());
}

#[test]
fn failed_re_add_keeps_the_previous_record() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(
        call(
            &Fake::default(),
            "ADD",
            "c6",
            &conf(d.path(), "1.0.0", one())
        )
        .exit_code,
        0
    );
    let path = d.path().join("n1").join("c6:eth0");
    let before = std::fs::read(&path).unwrap();
    let h = Fake {
        fail_add: true,
        ..Fake::default()
    };
    let other = json!([{"hostPort": 99, "containerPort": 9}]);
    assert_eq!(
        call(&h, "ADD", "c6", &conf(d.path(), "1.0.0", other)).exit_code,
        1
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn add_without_mappings_or_prev_result() {
    let d = tempfile::tempdir().unwrap();
    let h = Fake::default();
    let out = call(&h, "ADD", "c3", &conf(d.path(), "1.0.0", json!([])));
    assert_eq!(out.exit_code, 0);
    assert!(h.calls().is_empty());
    let mut c = conf(d.path(), "1.0.0", one());
    c.as_object_mut().unwrap().remove("prevResult");
    let out = call(&h, "ADD", "c3", &c);
    assert!(out.stdout.contains("\"code\":7"), "{}", out.stdout);
}

#[test]
fn check_only_the_configured_families() {
    let d = tempfile::tempdir().unwrap();
    let h = Fake::default();
    assert_eq!(
        call(&h, "CHECK", "c4", &conf(d.path(), "1.0.0", one())).exit_code,
        0
    );
    assert_eq!(h.calls(), vec!["look c4", "check nftables [10.0.0.2/24]"]);
    let found = ReferenceRules {
        flavor: Flavor::Nft,
        pod_ips: Vec::new(),
    };
    let h = Fake {
        reference: Some(found),
        ..Fake::default()
    };
    let c = conf(d.path(), "1.0.0", one());
    assert_eq!(call(&h, "CHECK", "c4", &c).exit_code, 0);
    assert_eq!(
        h.calls(),
        vec!["look c4", "check iptables-nft [10.0.0.2/24]"]
    );
}

#[test]
fn gc_removes_attachments_not_in_the_valid_list() {
    let d = tempfile::tempdir().unwrap();
    let h = Fake::default();
    for cid in ["keep", "gone"] {
        assert_eq!(
            call(&h, "ADD", cid, &conf(d.path(), "1.1.0", one())).exit_code,
            0
        );
    }
    h.calls();
    let mut g = conf(d.path(), "1.1.0", Value::Null);
    assert_eq!(call(&h, "GC", "", &g).exit_code, 0);
    assert!(
        h.calls().is_empty(),
        "GC without a valid list removed something"
    );
    g["cni.dev/valid-attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    assert_eq!(call(&h, "GC", "", &g).exit_code, 0);
    let calls = h.calls();
    assert!(
        calls.contains(&"del-known gone nftables 1 [10.0.0.2/24]".to_string()),
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.contains("keep nftables")),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"gc nftables [\"keep\"]".to_string()),
        "{calls:?}"
    );
    assert!(d.path().join("n1/keep:eth0").exists());
    assert!(!d.path().join("n1/gone:eth0").exists());
}

#[test]
fn status_reports_an_unusable_backend_as_50() {
    let d = tempfile::tempdir().unwrap();
    let h = Fake::default();
    let mut c = conf(d.path(), "1.1.0", Value::Null);
    assert_eq!(call(&h, "STATUS", "", &c).exit_code, 0);
    c["backend"] = json!("iptables");
    assert!(call(&h, "STATUS", "", &c).stdout.contains("\"code\":50"));
}
