//! IPv6 duplicate address detection waits, driven by netlink events.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::Ns;
use ipnet::IpNet;
use netkit::{AddrOpts, Error, IpFamily, NetnsFile, VethSpec, sysctl};

const DAD_ON: [(&str, &str); 3] = [
    ("net/ipv6/conf/default/accept_dad", "1"),
    ("net/ipv6/conf/default/dad_transmits", "1"),
    ("net/ipv6/conf/default/enhanced_dad", "1"),
];

/// Veth `a` in `n` with its peer `b` in `peer_ns`; DAD enabled on both
/// (set through `default` before creation).
fn dad_pair(n: &mut Ns, peer_ns: &NetnsFile, a: &str, b: &str) -> (u32, u32) {
    sysctl::write_many_in(&n.file, &DAD_ON).unwrap();
    sysctl::write_many_in(peer_ns, &DAD_ON).unwrap();
    let mut spec = VethSpec::new(b, peer_ns);
    spec.host_name = Some(a.into());
    let p = n.nl.create_veth(&spec).unwrap();
    (p.host.index, p.peer_index)
}

fn addr(s: &str) -> (IpNet, IpAddr) {
    let n: IpNet = s.parse().unwrap();
    (n, n.addr())
}

#[test]
fn dad_wait_returns_once_the_address_is_no_longer_tentative() {
    let mut n = Ns::new("dadok");
    let peer = n.file.try_clone().unwrap();
    let (a, b) = dad_pair(&mut n, &peer, "dada", "dadb");
    n.nl.set_up(b).unwrap();
    let (net, ip) = addr("fd00:40::1/64");
    n.nl.add_address(a, net, AddrOpts::default()).unwrap();
    let before = n.nl.list_addresses(Some(a), Some(IpFamily::V6)).unwrap();
    assert!(
        before.iter().any(|x| x.addr == net && x.tentative),
        "{before:?}"
    );
    n.nl.set_up(a).unwrap();
    let started = Instant::now();
    let sent = n.nl.requests_sent();
    let took = n.nl.wait_dad(a, &[ip], Duration::from_secs(10)).unwrap();
    let dumps = n.nl.requests_sent() - sent;
    eprintln!("DAD finished after {took:?} with {dumps} address dumps");
    assert!(took <= started.elapsed() && took < Duration::from_secs(10));
    // One dump up front plus one per address event (ours and the link-local
    // one); polling every 50 ms for ~1 s would be ~20.
    assert!(dumps <= 10, "{dumps} dumps in {took:?}");
    let after = n.nl.list_addresses(Some(a), Some(IpFamily::V6)).unwrap();
    let ours = after.iter().find(|x| x.addr == net).unwrap();
    assert!(!ours.tentative && !ours.dadfailed, "{ours:?}");
}

#[test]
fn dad_wait_on_a_finished_address_returns_at_once() {
    let mut n = Ns::new("daddone");
    let peer = n.file.try_clone().unwrap();
    let (a, b) = dad_pair(&mut n, &peer, "ddna", "ddnb");
    n.nl.set_up(b).unwrap();
    n.nl.set_up(a).unwrap();
    let (net, ip) = addr("fd00:41::1/64");
    n.nl.add_address(
        a,
        net,
        AddrOpts {
            nodad: true,
            ..AddrOpts::default()
        },
    )
    .unwrap();
    let took = n.nl.wait_dad(a, &[ip], Duration::from_secs(5)).unwrap();
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[test]
fn dad_wait_reports_a_duplicate_address() {
    let mut n = Ns::new("dadfail");
    let other = Ns::new("dadfailp");
    let (a, b) = dad_pair(&mut n, &other.file, "dfa", "dfb");
    let mut other_nl = netkit::Netlink::open_in(&other.file).unwrap();
    let (net, ip) = addr("fd00:42::1/64");
    other_nl
        .add_address(
            b,
            net,
            AddrOpts {
                nodad: true,
                ..AddrOpts::default()
            },
        )
        .unwrap();
    other_nl.set_up(b).unwrap();
    n.nl.add_address(a, net, AddrOpts::default()).unwrap();
    n.nl.set_up(a).unwrap();
    let err =
        n.nl.wait_dad(a, &[ip], Duration::from_secs(10))
            .unwrap_err();
    assert!(
        matches!(err, Error::DadFailed { index, .. } if index == a),
        "{err:?}"
    );
}

#[test]
fn dad_wait_times_out_while_the_link_stays_down() {
    let mut n = Ns::new("dadto");
    let peer = n.file.try_clone().unwrap();
    let (a, _) = dad_pair(&mut n, &peer, "dtoa", "dtob");
    let (net, ip) = addr("fd00:43::1/64");
    n.nl.add_address(a, net, AddrOpts::default()).unwrap();
    let started = Instant::now();
    let err =
        n.nl.wait_dad(a, &[ip], Duration::from_millis(300))
            .unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(err, Error::DadTimeout { .. }), "{err:?}");
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[test]
fn dad_wait_for_an_address_not_on_the_link_is_an_error() {
    let mut n = Ns::new("dadnone");
    let peer = n.file.try_clone().unwrap();
    let (a, _) = dad_pair(&mut n, &peer, "dnna", "dnnb");
    let (_, ip) = addr("fd00:44::1/64");
    let err = n.nl.wait_dad(a, &[ip], Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}
