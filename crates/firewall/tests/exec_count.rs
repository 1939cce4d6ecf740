//! The one-process-per-call promise. The spawn counter is process-wide, so
//! this binary holds a single test.

mod common;

use common::{in_ns, net};
use fwkit::{Backend, Flavor, spawn_count};
use integration::TestNetns;

/// The only test in this binary that counts processes (the counter is
/// process-wide), so nothing else runs concurrently with it.
#[test]
fn masq_add_is_one_process_per_backend_family() {
    let ns = TestNetns::new("cnt");
    let ips = [net("10.7.0.2/24"), net("fd07::2/64")];
    let count = |f: &(dyn Fn() -> fwkit::Result<()> + Sync)| {
        let before = spawn_count();
        in_ns(&ns, f).unwrap();
        spawn_count() - before
    };
    // The network's first ADD on the node: the element-only batch finds no
    // table, then the full batch. Every later ADD: the element-only batch.
    assert_eq!(
        count(&|| fwkit::masq_add("n", "c", "eth0", &ips, Backend::Nftables)),
        2
    );
    let other = [net("10.7.0.3/24"), net("fd07::3/64")];
    assert_eq!(
        count(&|| fwkit::masq_add("n", "d", "eth0", &other, Backend::Nftables)),
        1
    );
    // DEL without IPs: one read of our table, one write (which also probes
    // for the reference table).
    assert_eq!(
        count(&|| fwkit::masq_del("n", "c", "eth0", None, Backend::Nftables)),
        2
    );
    let ipt = Backend::Iptables(Flavor::Nft);
    // iptables: save + restore per family.
    assert_eq!(count(&|| fwkit::masq_add("n", "c", "eth0", &ips, ipt)), 4);
}
