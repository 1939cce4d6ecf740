//! sysctls inside a namespace, never in the test's own one.

mod common;

use common::Ns;
use netkit::{Error, sysctl};

#[test]
fn writing_ip_forward_in_a_netns_leaves_the_own_netns_value_alone() {
    let n = Ns::new("sysfwd");
    let own_before = sysctl::read("net.ipv4.ip_forward").unwrap();
    // Write the opposite of the own value, so a leak would show.
    let want = if own_before == "1" { "0" } else { "1" };
    sysctl::write_in(&n.file, "net.ipv4.ip_forward", want).unwrap();
    assert_eq!(
        sysctl::read_in(&n.file, "net.ipv4.ip_forward").unwrap(),
        want
    );
    assert_eq!(
        n.netns
            .exec_ok(&["cat", "/proc/sys/net/ipv4/ip_forward"])
            .trim(),
        want
    );
    assert_eq!(sysctl::read("net.ipv4.ip_forward").unwrap(), own_before);
}

#[test]
fn per_interface_keys_are_written_in_one_batch() {
    let n = Ns::new("sysif");
    let own_before = sysctl::read("net.ipv4.conf.lo.route_localnet").unwrap();
    let localnet = if own_before == "1" { "0" } else { "1" };
    let keys = [
        (sysctl::iface_key(true, "lo", "accept_dad"), "0"),
        (sysctl::iface_key(true, "lo", "keep_addr_on_down"), "1"),
        (sysctl::iface_key(false, "lo", "route_localnet"), localnet),
        (sysctl::iface_key(false, "lo", "arp_notify"), "1"),
        (sysctl::iface_key(true, "lo", "accept_ra"), "0"),
        (sysctl::iface_key(true, "lo", "disable_ipv6"), "0"),
    ];
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    sysctl::write_many_in(&n.file, &pairs).unwrap();
    for (k, v) in &pairs {
        assert_eq!(sysctl::read_in(&n.file, k).unwrap(), *v, "{k}");
    }
    let inside = sysctl::read_in(&n.file, "net.ipv4.conf.lo.route_localnet").unwrap();
    assert_eq!(inside, localnet);
    assert_eq!(
        sysctl::read("net.ipv4.conf.lo.route_localnet").unwrap(),
        own_before
    );
}

#[test]
fn writing_a_missing_key_fails_without_creating_it() {
    let n = Ns::new("sysmiss");
    let err = sysctl::write_in(&n.file, "net.ipv4.conf.nosuchif0.arp_notify", "1").unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.errno() == Some(libc_enoent()),
        "{err:?}"
    );
}

fn libc_enoent() -> i32 {
    2
}
