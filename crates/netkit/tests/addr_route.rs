//! Addresses and routes against the real kernel, plus a full bridge ADD
//! sequence that ends in a ping across the veth.

mod common;

use std::net::IpAddr;

use common::Ns;
use ipnet::IpNet;
use netkit::{AddrOpts, BridgeSpec, IpFamily, Route, Scope, VethSpec, sysctl};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A veth pair inside one namespace, both ends up; returns (a, b) indexes.
fn pair(n: &mut Ns, a: &str, b: &str) -> (u32, u32) {
    let mut spec = VethSpec::new(b, &n.file);
    spec.host_name = Some(a.into());
    let p = n.nl.create_veth(&spec).unwrap();
    n.nl.set_up(p.peer_index).unwrap();
    (p.host.index, p.peer_index)
}

#[test]
fn ipv4_address_is_added_with_its_broadcast_and_listed() {
    let mut n = Ns::new("a4");
    let (a, _) = pair(&mut n, "a4a", "a4b");
    n.nl.add_address(a, net("10.22.0.5/24"), AddrOpts::default())
        .unwrap();
    let shown = n.ip(&["-4", "addr", "show", "dev", "a4a"]);
    assert!(
        shown.contains("inet 10.22.0.5/24 brd 10.22.0.255"),
        "{shown}"
    );
    let listed = n.nl.list_addresses(Some(a), Some(IpFamily::V4)).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].addr, listed[0].scope),
        (net("10.22.0.5/24"), Scope::Universe)
    );
}

#[test]
fn adding_an_address_twice_fails_but_ensure_address_tolerates_it() {
    let mut n = Ns::new("aex");
    let (a, _) = pair(&mut n, "aexa", "aexb");
    n.nl.add_address(a, net("10.23.0.1/16"), AddrOpts::default())
        .unwrap();
    let err =
        n.nl.add_address(a, net("10.23.0.1/16"), AddrOpts::default())
            .unwrap_err();
    assert!(err.is_exists(), "{err:?}");
    n.nl.ensure_address(a, net("10.23.0.1/16"), AddrOpts::default())
        .unwrap();
    assert_eq!(
        n.nl.list_addresses(Some(a), None)
            .unwrap()
            .iter()
            .filter(|x| x.addr.addr().is_ipv4())
            .count(),
        1
    );
}

#[test]
fn ipv6_address_with_nodad_is_usable_at_once() {
    let mut n = Ns::new("a6");
    let (a, _) = pair(&mut n, "a6a", "a6b");
    let opts = AddrOpts {
        nodad: true,
        ..AddrOpts::default()
    };
    n.nl.add_address(a, net("fd00:22::5/64"), opts).unwrap();
    let listed = n.nl.list_addresses(Some(a), Some(IpFamily::V6)).unwrap();
    let ours = listed
        .iter()
        .find(|x| x.addr == net("fd00:22::5/64"))
        .expect("listed");
    assert!(!ours.tentative && !ours.dadfailed, "{ours:?}");
    let shown = n.ip(&["-6", "addr", "show", "dev", "a6a"]);
    let line = shown
        .lines()
        .find(|l| l.contains("fd00:22::5/64"))
        .expect("shown");
    assert!(
        !line.contains("tentative") && line.contains("nodad"),
        "{shown}"
    );
}

#[test]
fn deleting_an_address_is_idempotent() {
    let mut n = Ns::new("adel");
    let (a, _) = pair(&mut n, "adela", "adelb");
    n.nl.add_address(a, net("10.24.0.1/24"), AddrOpts::default())
        .unwrap();
    assert!(n.nl.del_address(a, net("10.24.0.1/24")).unwrap());
    assert!(!n.nl.del_address(a, net("10.24.0.1/24")).unwrap());
    assert!(
        n.nl.list_addresses(Some(a), Some(IpFamily::V4))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn default_route_via_a_gateway_is_added_listed_and_deleted() {
    let mut n = Ns::new("rdef");
    let (a, _) = pair(&mut n, "rdefa", "rdefb");
    n.nl.add_address(a, net("10.25.0.2/24"), AddrOpts::default())
        .unwrap();
    n.nl.add_route(&Route::default_via(ip("10.25.0.1")).dev(a))
        .unwrap();
    let shown = n.ip(&["-4", "route", "show", "default"]);
    assert!(shown.contains("default via 10.25.0.1 dev rdefa"), "{shown}");
    let routes = n.nl.list_routes(Some(IpFamily::V4), Some(254)).unwrap();
    let d = routes
        .iter()
        .find(|r| r.is_default())
        .expect("default route listed");
    assert_eq!((d.gw, d.oif), (Some(ip("10.25.0.1")), Some(a)));
    assert!(
        n.nl.del_route(&Route::default_via(ip("10.25.0.1")))
            .unwrap()
    );
    assert!(
        !n.nl
            .del_route(&Route::default_via(ip("10.25.0.1")))
            .unwrap()
    );
    assert!(n.ip(&["-4", "route", "show", "default"]).trim().is_empty());
}

#[test]
fn route_attributes_table_metric_mtu_advmss_and_scope_are_kept() {
    let mut n = Ns::new("rattr");
    let (a, _) = pair(&mut n, "rattra", "rattrb");
    n.nl.add_address(a, net("10.26.0.2/24"), AddrOpts::default())
        .unwrap();
    let mut r = Route::new(net("192.168.77.0/24"))
        .via(ip("10.26.0.1"))
        .dev(a);
    r.table = Some(1000);
    r.priority = Some(42);
    r.mtu = Some(1300);
    r.advmss = Some(1200);
    n.nl.add_route(&r).unwrap();
    let shown = n.ip(&["-4", "route", "show", "table", "1000"]);
    assert!(
        shown.contains("192.168.77.0/24 via 10.26.0.1 dev rattra"),
        "{shown}"
    );
    assert!(
        shown.contains("metric 42") && shown.contains("mtu 1300") && shown.contains("advmss 1200"),
        "{shown}"
    );
    let got = n.nl.list_routes(Some(IpFamily::V4), Some(1000)).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    let g = &got[0];
    assert_eq!(
        (g.dst, g.priority, g.mtu, g.advmss, g.scope),
        (
            r.dst,
            Some(42),
            Some(1300),
            Some(1200),
            Some(Scope::Universe)
        )
    );
    let link_route = Route::new(net("10.99.0.0/16")).dev(a);
    n.nl.add_route(&link_route).unwrap();
    assert!(
        n.ip(&["-4", "route", "show", "10.99.0.0/16"])
            .contains("scope link")
    );
    assert!(n.nl.add_route(&link_route).unwrap_err().is_exists());
}

#[test]
fn appended_ipv6_routes_form_an_ecmp_route() {
    let mut n = Ns::new("recmp");
    let (a, b) = pair(&mut n, "recmpa", "recmpb");
    let nodad = AddrOpts {
        nodad: true,
        ..AddrOpts::default()
    };
    n.nl.add_address(a, net("fd00:30::2/64"), nodad).unwrap();
    n.nl.add_address(b, net("fd00:31::2/64"), nodad).unwrap();
    n.nl.append_route(&Route::new(net("fd00:99::/64")).via(ip("fd00:30::1")).dev(a))
        .unwrap();
    n.nl.append_route(&Route::new(net("fd00:99::/64")).via(ip("fd00:31::1")).dev(b))
        .unwrap();
    let shown = n.ip(&["-6", "route", "show", "fd00:99::/64"]);
    assert!(
        shown.contains("nexthop via fd00:30::1") && shown.contains("nexthop via fd00:31::1"),
        "{shown}"
    );
}

/// TCP across veth + bridge (a listener in the node, a connect from the
/// pod), and `ping` too when it is installed.
fn assert_pod_reaches_node(node: &Ns, pod: &Ns) {
    let listener = netkit::run_in(&node.file, || std::net::TcpListener::bind("10.88.0.1:0"))
        .unwrap()
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let timeout = std::time::Duration::from_secs(3);
    let target = std::net::SocketAddr::new(ip("10.88.0.1"), port);
    let conn = netkit::run_in(&pod.file, || {
        std::net::TcpStream::connect_timeout(&target, timeout)
    })
    .unwrap();
    let peer = conn
        .expect("connect from pod to node")
        .local_addr()
        .unwrap();
    assert_eq!(listener.accept().unwrap().1.ip(), ip("10.88.0.2"), "{peer}");
    if std::process::Command::new("ping")
        .arg("-V")
        .output()
        .is_ok()
    {
        let out = pod.netns.exec(&["ping", "-c1", "-W1", "10.88.0.1"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// The bridge ADD sequence from the CNI notes, end to end, then a ping.
#[test]
fn bridge_add_sequence_gives_a_pod_that_pings_its_gateway() {
    let mut node = Ns::new("pnode");
    let mut pod = Ns::new("ppod");
    let mut spec = BridgeSpec::new("cni0");
    spec.mtu = Some(1450);
    let br = node.nl.ensure_bridge(&spec).unwrap();
    let mut v = VethSpec::new("eth0", &pod.file);
    v.master = Some(br.index);
    v.mtu = Some(1450);
    let pair = node.nl.create_veth(&v).unwrap();
    node.nl.set_hairpin(pair.host.index, true).unwrap();
    sysctl::write_many_in(
        &pod.file,
        &[
            ("net/ipv4/conf/eth0/arp_notify", "1"),
            ("net/ipv6/conf/eth0/accept_dad", "0"),
        ],
    )
    .unwrap();
    pod.nl
        .add_address(pair.peer_index, net("10.88.0.2/16"), AddrOpts::default())
        .unwrap();
    pod.nl.set_up(pair.peer_index).unwrap();
    pod.nl
        .add_route(&Route::default_via(ip("10.88.0.1")).dev(pair.peer_index))
        .unwrap();
    node.nl
        .ensure_address(br.index, net("10.88.0.1/16"), AddrOpts::default())
        .unwrap();
    assert_pod_reaches_node(&node, &pod);
    assert_eq!(
        sysctl::read_in(&pod.file, "net/ipv4/conf/eth0/arp_notify").unwrap(),
        "1"
    );
}

#[test]
fn blackhole_routes_keep_their_type_and_need_no_device() {
    let mut n = Ns::new("rbh");
    let mut r = Route::new(net("203.0.113.0/24"));
    r.kind = netkit::RouteKind::Blackhole;
    n.nl.add_route(&r).unwrap();
    assert!(
        n.ip(&["-4", "route", "show"])
            .contains("blackhole 203.0.113.0/24")
    );
    let got = n.nl.list_routes(Some(IpFamily::V4), Some(254)).unwrap();
    let bh = got.iter().find(|x| x.dst == r.dst).expect("listed");
    assert_eq!((bh.kind, bh.oif), (netkit::RouteKind::Blackhole, None));
    assert!(n.nl.del_route(&r).unwrap());
}
