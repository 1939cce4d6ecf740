//! Bridges, veth pairs and link changes against the real kernel.

mod common;

use std::sync::{Arc, Barrier};

use common::Ns;
use netkit::{BridgeSpec, Error, LinkKind, MacAddr, Netlink, NetnsFile, VethSpec};

fn bridge(name: &str, mtu: Option<u32>, promisc: bool) -> BridgeSpec {
    let mut s = BridgeSpec::new(name);
    s.mtu = mtu;
    s.promisc = promisc;
    s
}

#[test]
fn ensure_bridge_creates_an_up_bridge_with_mtu_and_promisc() {
    let mut n = Ns::new("brnew");
    let mac: MacAddr = "02:11:22:33:44:55".parse().unwrap();
    let mut spec = bridge("cni0", Some(1400), true);
    spec.mac = Some(mac);
    let br = n.nl.ensure_bridge(&spec).unwrap();
    assert_eq!(br.kind, Some(LinkKind::Bridge));
    assert_eq!(
        (br.mtu, br.up, br.promisc, br.mac),
        (1400, true, true, Some(mac))
    );
    let shown = n.ip(&["-d", "link", "show", "cni0"]);
    assert!(
        shown.contains("mtu 1400") && shown.contains("PROMISC") && shown.contains("bridge"),
        "{shown}"
    );
}

#[test]
fn ensure_bridge_on_an_existing_bridge_keeps_its_mtu_and_brings_it_up() {
    let mut n = Ns::new("bridem");
    let first =
        n.nl.ensure_bridge(&bridge("br0", Some(1300), false))
            .unwrap();
    n.nl.set_down(first.index).unwrap();
    let again =
        n.nl.ensure_bridge(&bridge("br0", Some(9000), true))
            .unwrap();
    assert_eq!(again.index, first.index);
    assert_eq!(again.mtu, 1300, "mtu is only applied at creation");
    assert!(again.up && again.promisc);
}

#[test]
fn concurrent_ensure_bridge_callers_all_succeed_on_one_bridge() {
    let n = Ns::new("brrace");
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let ns = NetnsFile::open(n.netns.path()).unwrap();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut nl = Netlink::open_in(&ns).unwrap();
                barrier.wait();
                nl.ensure_bridge(&bridge("race0", Some(1450), true))
                    .map(|l| l.index)
            })
        })
        .collect();
    let indexes: Vec<u32> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert!(indexes.iter().all(|i| *i == indexes[0]), "{indexes:?}");
    let bridges = n
        .netns
        .exec_ok(&["ip", "-o", "link", "show", "type", "bridge"]);
    assert_eq!(bridges.lines().count(), 1, "{bridges}");
}

#[test]
fn ensure_bridge_refuses_an_existing_link_that_is_not_a_bridge() {
    let mut n = Ns::new("notbr");
    let mut v = VethSpec::new("notbrp", &n.file);
    v.host_name = Some("notbr".into());
    n.nl.create_veth(&v).unwrap();
    let err = n.nl.ensure_bridge(&BridgeSpec::new("notbr")).unwrap_err();
    match err {
        Error::NotABridge { name, kind } => {
            assert_eq!((name.as_str(), kind.as_str()), ("notbr", "veth"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn veth_peer_is_born_in_the_pod_netns_with_master_mtu_and_mac() {
    let mut host = Ns::new("vhost");
    let mut pod = Ns::new("vpod");
    let br = host
        .nl
        .ensure_bridge(&bridge("cni0", Some(1450), false))
        .unwrap();
    let mac: MacAddr = "0a:58:0a:58:00:02".parse().unwrap();
    let mut spec = VethSpec::new("eth0", &pod.file);
    spec.master = Some(br.index);
    spec.mtu = Some(1450);
    spec.peer_mac = Some(mac);
    let pair = host.nl.create_veth(&spec).unwrap();

    // Host side: random name, enslaved, up, MTU, peer elsewhere.
    let h = &pair.host;
    assert!(
        h.name.starts_with("veth") && h.name.len() == 12,
        "{}",
        h.name
    );
    assert!(h.name[4..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        (h.kind.clone(), h.master, h.mtu, h.up),
        (Some(LinkKind::Veth), Some(br.index), 1450, true)
    );
    assert!(h.link_netnsid.is_some(), "peer should be in another netns");
    assert!(host.nl.find_link("eth0").unwrap().is_none());

    // Pod side, via the pod's own socket and via iproute2.
    let p = pod.nl.link_by_name("eth0").unwrap();
    assert_eq!(
        (p.index, p.mtu, p.mac, p.up),
        (pair.peer_index, 1450, Some(mac), false)
    );
    assert_eq!(p.link, Some(h.index));
    let shown = pod.ip(&["link", "show", "eth0"]);
    assert!(
        shown.contains("0a:58:0a:58:00:02") && shown.contains("mtu 1450"),
        "{shown}"
    );
    let port = host.ip(&["link", "show", &h.name]);
    assert!(
        port.contains("master cni0") && port.contains("state"),
        "{port}"
    );
}

#[test]
fn veth_with_a_taken_container_name_reports_the_container_interface() {
    let mut host = Ns::new("vtkh");
    let pod = Ns::new("vtkp");
    host.nl
        .create_veth(&VethSpec::new("eth0", &pod.file))
        .unwrap();
    let err = host
        .nl
        .create_veth(&VethSpec::new("eth0", &pod.file))
        .unwrap_err();
    assert!(err.is_exists(), "{err:?}");
    assert!(
        err.to_string()
            .contains("container interface eth0 already exists"),
        "{err}"
    );
    let links = host.nl.list_links().unwrap();
    assert_eq!(
        links.iter().filter(|l| l.name.starts_with("veth")).count(),
        1,
        "{links:?}"
    );
}

#[test]
fn veth_with_a_taken_fixed_host_name_is_an_exists_error() {
    let mut host = Ns::new("vfix");
    let pod = Ns::new("vfixp");
    let mut spec = VethSpec::new("eth0", &pod.file);
    spec.host_name = Some("vethfixed".into());
    host.nl.create_veth(&spec).unwrap();
    spec.peer_name = "eth1".into();
    let err = host.nl.create_veth(&spec).unwrap_err();
    assert!(
        err.is_exists() && err.to_string().contains("host interface vethfixed"),
        "{err}"
    );
}

#[test]
fn deleting_a_veth_removes_both_ends_and_is_idempotent() {
    let mut host = Ns::new("vdel");
    let mut pod = Ns::new("vdelp");
    let pair = host
        .nl
        .create_veth(&VethSpec::new("eth0", &pod.file))
        .unwrap();
    assert!(pod.nl.delete_link(pair.peer_index).unwrap());
    assert!(host.nl.find_link(&pair.host.name).unwrap().is_none());
    assert!(!pod.nl.delete_link(pair.peer_index).unwrap());
    assert!(!host.nl.delete_link_by_name(&pair.host.name).unwrap());
    assert!(matches!(
        host.nl.link_by_index(pair.host.index),
        Err(Error::LinkNotFound(_))
    ));
}

#[test]
fn hairpin_and_isolation_flags_are_set_and_read_back() {
    let mut n = Ns::new("hair");
    let pod = Ns::new("hairp");
    let br = n.nl.ensure_bridge(&BridgeSpec::new("br0")).unwrap();
    let mut spec = VethSpec::new("eth0", &pod.file);
    spec.master = Some(br.index);
    let pair = n.nl.create_veth(&spec).unwrap();
    let before =
        n.nl.link_by_index(pair.host.index)
            .unwrap()
            .bridge_port
            .unwrap();
    assert!(!before.hairpin && !before.isolated);
    n.nl.set_hairpin(pair.host.index, true).unwrap();
    n.nl.set_isolated(pair.host.index, true).unwrap();
    let after =
        n.nl.link_by_index(pair.host.index)
            .unwrap()
            .bridge_port
            .unwrap();
    assert!(after.hairpin && after.isolated, "{after:?}");
    let shown = n
        .netns
        .exec_ok(&["bridge", "-d", "link", "show", "dev", &pair.host.name]);
    assert!(
        shown.contains("hairpin on") && shown.contains("isolated on"),
        "{shown}"
    );
}

#[test]
fn link_attributes_can_be_changed_and_read_back() {
    let mut n = Ns::new("lset");
    let pod = Ns::new("lsetp");
    let br = n.nl.ensure_bridge(&BridgeSpec::new("br0")).unwrap();
    let pair = n.nl.create_veth(&VethSpec::new("eth0", &pod.file)).unwrap();
    let i = pair.host.index;
    let mac: MacAddr = "02:aa:bb:cc:dd:ee".parse().unwrap();
    n.nl.set_mtu(i, 1280).unwrap();
    n.nl.set_mac(i, mac).unwrap();
    n.nl.set_master(i, Some(br.index)).unwrap();
    n.nl.set_promisc(i, true).unwrap();
    let l = n.nl.link_by_index(i).unwrap();
    assert_eq!(
        (l.mtu, l.mac, l.master, l.promisc, l.up),
        (1280, Some(mac), Some(br.index), true, true)
    );
    n.nl.set_master(i, None).unwrap();
    n.nl.set_promisc(i, false).unwrap();
    n.nl.set_down(i).unwrap();
    let l = n.nl.link_by_index(i).unwrap();
    assert_eq!((l.master, l.promisc, l.up), (None, false, false));
    let names: Vec<String> =
        n.nl.list_links()
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
    assert!(
        names.contains(&"br0".to_string()) && names.contains(&pair.host.name),
        "{names:?}"
    );
}

#[test]
fn host_veth_oper_up_wait_ends_when_the_container_side_comes_up() {
    let mut host = Ns::new("oper");
    let mut pod = Ns::new("operp");
    let pair = host
        .nl
        .create_veth(&VethSpec::new("eth0", &pod.file))
        .unwrap();
    let short = std::time::Duration::from_millis(200);
    let err = host.nl.wait_oper_up(pair.host.index, short).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "peer down: {err:?}");
    // The waiter gets its own socket, so the namespaces stay owned (and
    // cleaned up) by this thread even if an assertion fails.
    let mut waiter_nl = Netlink::open_in(&host.file).unwrap();
    let host_index = pair.host.index;
    let waiter = std::thread::spawn(move || {
        let r = waiter_nl.wait_oper_up(host_index, std::time::Duration::from_secs(10));
        (r, waiter_nl.requests_sent())
    });
    pod.nl.set_up(pair.peer_index).unwrap();
    let (r, gets) = waiter.join().unwrap();
    let link = r.unwrap();
    assert_eq!(link.oper_state, netkit::OperState::Up);
    assert!(gets <= 6, "{gets} reads: should be event-driven");
}
