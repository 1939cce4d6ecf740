//! Bridge VLAN filtering, port VLAN entries and vlan sub-interfaces.
//! Kernels without 802.1Q must give a clear [`Error::VlanUnsupported`];
//! which outcome is expected is read from `/proc/config.gz` when present.

mod common;

use common::Ns;
use netkit::{BridgeSpec, BridgeVlan, Error, LinkKind, VethSpec};

/// `Some(true/false)` when the kernel config says whether 802.1Q and bridge
/// VLAN filtering are built in; `None` when it cannot be read.
fn kernel_has_vlan() -> Option<bool> {
    let out = std::process::Command::new("zcat")
        .arg("/proc/config.gz")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let cfg = String::from_utf8_lossy(&out.stdout);
    let on = |k: &str| {
        cfg.lines()
            .any(|l| l == format!("{k}=y") || l == format!("{k}=m"))
    };
    Some(on("CONFIG_VLAN_8021Q") && on("CONFIG_BRIDGE_VLAN_FILTERING"))
}

fn expect_outcome<T: std::fmt::Debug>(r: Result<T, Error>, what: &str) -> Option<T> {
    match (kernel_has_vlan(), r) {
        (Some(false), Err(e @ Error::VlanUnsupported { .. })) => {
            eprintln!("{what}: {e}");
            None
        }
        (Some(false), other) => {
            panic!("{what}: kernel lacks VLAN, expected VlanUnsupported, got {other:?}")
        }
        (None, Err(Error::VlanUnsupported { .. })) => None,
        (_, Ok(v)) => Some(v),
        (_, Err(e)) => panic!("{what}: {e:?}"),
    }
}

#[test]
fn vlan_filtering_is_enabled_or_reported_as_unsupported() {
    let mut n = Ns::new("vlf");
    let mut spec = BridgeSpec::new("brv");
    spec.vlan_filtering = true;
    if let Some(br) = expect_outcome(n.nl.ensure_bridge(&spec), "create with vlan_filtering") {
        assert_eq!(br.vlan_filtering, Some(true));
    } else {
        let msg = n.nl.ensure_bridge(&spec).unwrap_err().to_string();
        assert!(msg.contains("kernel lacks VLAN support"), "{msg}");
    }
}

#[test]
fn vlan_filtering_on_an_existing_bridge_is_enabled_or_reported_as_unsupported() {
    let mut n = Ns::new("vlfe");
    let br = n.nl.ensure_bridge(&BridgeSpec::new("brv")).unwrap();
    if expect_outcome(
        n.nl.set_vlan_filtering(br.index, true),
        "set vlan_filtering",
    )
    .is_some()
    {
        assert_eq!(
            n.nl.link_by_index(br.index).unwrap().vlan_filtering,
            Some(true)
        );
    }
}

#[test]
fn vlan_subinterface_is_created_or_reported_as_unsupported() {
    let mut n = Ns::new("vsub");
    let br = n.nl.ensure_bridge(&BridgeSpec::new("brs")).unwrap();
    if let Some(l) = expect_outcome(
        n.nl.create_vlan("brs.100", br.index, 100, None),
        "create vlan",
    ) {
        assert_eq!(
            (l.kind, l.vlan_id, l.link, l.up),
            (Some(LinkKind::Vlan), Some(100), Some(br.index), true)
        );
    } else {
        assert!(n.nl.find_link("brs.100").unwrap().is_none());
    }
}

#[test]
fn port_vlan_entries_are_added_listed_and_removed_or_reported_as_unsupported() {
    let mut n = Ns::new("vport");
    let pod = Ns::new("vportp");
    let br = n.nl.ensure_bridge(&BridgeSpec::new("brp")).unwrap();
    let mut v = VethSpec::new("eth0", &pod.file);
    v.master = Some(br.index);
    let port = n.nl.create_veth(&v).unwrap().host.index;
    let filtering = n.nl.set_vlan_filtering(br.index, true);
    if expect_outcome(filtering, "set vlan_filtering").is_none() {
        let r = n.nl.bridge_vlan_add(port, &BridgeVlan::access(100), false);
        assert!(matches!(r, Err(Error::VlanUnsupported { .. })), "{r:?}");
        return;
    }
    n.nl.bridge_vlan_add(port, &BridgeVlan::access(100), false)
        .unwrap();
    let trunk = BridgeVlan {
        vid: 200,
        vid_end: Some(202),
        ..Default::default()
    };
    n.nl.bridge_vlan_add(port, &trunk, false).unwrap();
    let got = n.nl.bridge_vlans(port).unwrap();
    assert!(got.contains(&BridgeVlan::access(100)), "{got:?}");
    for vid in 200..=202 {
        assert!(got.contains(&BridgeVlan::tagged(vid)), "{vid} in {got:?}");
    }
    assert!(n.nl.bridge_vlan_del(port, &trunk, false).unwrap());
    let got = n.nl.bridge_vlans(port).unwrap();
    assert!(!got.iter().any(|v| (200..=202).contains(&v.vid)), "{got:?}");
}
