//! Shared helpers for netkit's kernel tests: every test gets its own
//! namespaces (`integration::TestNetns`), opens sockets with `open_in`, and
//! never touches the test process's own netns.

#![allow(dead_code)]

use integration::TestNetns;
use netkit::{Netlink, NetnsFile};

/// A fresh namespace, a handle on it and a socket inside it.
pub struct Ns {
    pub netns: TestNetns,
    pub file: NetnsFile,
    pub nl: Netlink,
}

impl Ns {
    pub fn new(tag: &str) -> Ns {
        let netns = TestNetns::new(tag);
        let file = NetnsFile::open(netns.path()).expect("open test netns");
        let nl = Netlink::open_in(&file).expect("netlink socket in test netns");
        Ns { netns, file, nl }
    }

    /// `ip ...` run inside the namespace; panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut argv = vec!["ip"];
        argv.extend_from_slice(args);
        self.netns.exec_ok(&argv)
    }
}

/// The test process's own netns id, to check it never changes.
pub fn own_netns_id() -> (u64, u64) {
    NetnsFile::open("/proc/self/ns/net").unwrap().id().unwrap()
}
