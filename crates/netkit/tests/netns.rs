//! Namespace handles, `run_in`, and sockets bound to another namespace.

mod common;

use common::{Ns, own_netns_id};
use netkit::{Error, Netlink, NetnsFile, VethSpec, netns};

#[test]
fn opening_a_missing_path_reports_netns_not_found() {
    let err = NetnsFile::open("/run/netns/fcni-does-not-exist-xyz").unwrap_err();
    assert!(matches!(err, Error::NetnsNotFound { .. }), "{err:?}");
}

#[test]
fn opening_a_regular_file_reports_not_a_netns() {
    let path = std::env::temp_dir().join(format!("netkit-notns-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();
    let err = NetnsFile::open(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(err, Error::NotANetns { .. }), "{err:?}");
}

#[test]
fn opening_another_namespace_type_reports_not_a_netns() {
    let err = NetnsFile::open("/proc/self/ns/mnt").unwrap_err();
    assert!(matches!(err, Error::NotANetns { .. }), "{err:?}");
}

#[test]
fn handles_on_one_namespace_compare_equal_and_differ_from_others() {
    let a = Ns::new("ida");
    let b = Ns::new("idb");
    let a2 = NetnsFile::open(a.netns.path()).unwrap();
    assert!(a.file.same_as(&a2).unwrap());
    assert!(!a.file.same_as(&b.file).unwrap());
    assert!(!a.file.same_as(&NetnsFile::current().unwrap()).unwrap());
}

#[test]
fn run_in_executes_inside_the_target_and_leaves_the_caller_thread_alone() {
    let before = own_netns_id();
    let ns = Ns::new("runin");
    let inside = netns::run_in(&ns.file, || NetnsFile::current().unwrap().id().unwrap()).unwrap();
    assert_eq!(inside, ns.file.id().unwrap());
    assert_eq!(NetnsFile::current().unwrap().id().unwrap(), before);
}

#[test]
fn run_in_propagates_a_panic_of_the_closure() {
    let ns = Ns::new("panic");
    let r = std::panic::catch_unwind(|| netns::run_in(&ns.file, || panic!("boom")));
    assert!(r.is_err());
}

#[test]
fn with_thread_in_switches_back_to_the_original_namespace() {
    let before = own_netns_id();
    let ns = Ns::new("within");
    let inside = netns::with_thread_in(&ns.file, || NetnsFile::current().unwrap().id().unwrap());
    assert_eq!(inside.unwrap(), ns.file.id().unwrap());
    assert_eq!(NetnsFile::current().unwrap().id().unwrap(), before);
}

#[test]
fn a_socket_opened_in_a_namespace_acts_only_there() {
    let before = own_netns_id();
    let ns = Ns::new("sock");
    let mut nl = Netlink::open_in(&ns.file).unwrap();
    assert_eq!(NetnsFile::current().unwrap().id().unwrap(), before);
    let mut spec = VethSpec::new("fcnisockp", &ns.file);
    spec.host_name = Some("fcnisockh".into());
    nl.create_veth(&spec).unwrap();
    assert!(ns.ip(&["link", "show", "fcnisockh"]).contains("fcnisockh"));
    assert!(ns.ip(&["link", "show", "fcnisockp"]).contains("fcnisockp"));
    // The test's own namespace did not get them.
    let mut own = Netlink::open().unwrap();
    assert!(own.find_link("fcnisockh").unwrap().is_none());
    let lo = nl.link_by_name("lo").unwrap();
    assert_eq!(lo.index, 1);
}
