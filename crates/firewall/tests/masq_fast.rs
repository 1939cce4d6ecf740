//! ipMasq fast paths on nftables (element-only ADD, guarded DEL with known
//! addresses) and the reference iptables sweep.

mod common;

use common::{in_ns, nat, net, ruleset};
use fwkit::{Backend, Flavor, masq_add, masq_check, masq_del, masq_del_reference_iptables};
use integration::TestNetns;

const NFT: Backend = Backend::Nftables;

fn elems(ns: &TestNetns, map: &str) -> String {
    ns.exec_ok(&["nft", "list", "set", "inet", "ferrocni", map])
        .replace("map ", "set ")
}

fn map(ns: &TestNetns, m: &str) -> String {
    ns.exec_ok(&["nft", "list", "map", "inet", "ferrocni", m])
}

#[test]
fn later_adds_do_not_rewrite_base_chains() {
    let ns = TestNetns::new("mfa");
    let a = [net("10.4.0.2/24"), net("fd04::2/64")];
    in_ns(&ns, || masq_add("n", "a", "eth0", &a, NFT)).unwrap();
    let handles = |ns: &TestNetns| ns.exec_ok(&["nft", "-a", "list", "table", "inet", "ferrocni"]);
    let before = handles(&ns);
    let b = [net("10.4.0.3/24"), net("fd04::3/64")];
    in_ns(&ns, || masq_add("n", "b", "eth0", &b, NFT)).unwrap();
    let after = handles(&ns);
    // Same rules with the same handles: nothing was flushed and re-added.
    let rule_lines = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.contains("# handle") && !l.contains("chain ") && !l.contains("set "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(rule_lines(&before), rule_lines(&after));
    in_ns(&ns, || masq_check("n", "b", "eth0", &b, NFT)).unwrap();
    // A retried ADD and an address handed over before the old DEL: one
    // element per address, carrying the latest owner.
    in_ns(&ns, || masq_add("n", "b", "eth0", &b, NFT)).unwrap();
    in_ns(&ns, || masq_add("n", "c", "eth0", &a[..1], NFT)).unwrap();
    let m = map(&ns, "masq4");
    assert_eq!(m.matches("10.4.0.3 comment").count(), 1, "{m}");
    assert!(m.contains("10.4.0.2 comment \"c eth0 n\""), "{m}");
    let g = elems(&ns, "own4");
    assert_eq!(g.matches("10.4.0.2 . ").count(), 1, "{g}");
    in_ns(&ns, || masq_check("n", "c", "eth0", &a[..1], NFT)).unwrap();
    // A retried ADD with another prefix moves the element to that subnet's chain.
    let wider = [net("10.4.0.3/16")];
    in_ns(&ns, || masq_add("n", "b", "eth0", &wider, NFT)).unwrap();
    in_ns(&ns, || masq_check("n", "b", "eth0", &wider, NFT)).unwrap();
    assert_eq!(map(&ns, "masq4").matches("10.4.0.3 comment").count(), 1);
    // A new subnet of the network on a node that has the table: full batch.
    in_ns(&ns, || {
        masq_add("n", "d", "eth0", &[net("10.5.0.2/24")], NFT)
    })
    .unwrap();
    assert!(ruleset(&ns).contains("ip daddr 10.5.0.0/24 return"));
}

#[test]
fn known_del_leaves_reused_addresses_and_is_idempotent() {
    let ns = TestNetns::new("mfd");
    let a = [net("10.6.0.2/24"), net("fd06::2/64")];
    in_ns(&ns, || {
        masq_add("n", "a", "eth0", &a, NFT)?;
        masq_add("n", "b", "eth0", &[net("10.6.0.3/24")], NFT)?;
        // a's v4 address handed to c before a's DEL ran.
        masq_add("n", "c", "eth0", &a[..1], NFT)?;
        masq_del("n", "a", "eth0", Some(&a), NFT)
    })
    .unwrap();
    let (m4, m6) = (map(&ns, "masq4"), map(&ns, "masq6"));
    assert!(m4.contains("10.6.0.2 comment \"c eth0 n\""), "{m4}");
    assert!(m4.contains("10.6.0.3 comment \"b eth0 n\""), "{m4}");
    assert!(!m6.contains("fd06::2"), "{m6}");
    in_ns(&ns, || masq_check("n", "c", "eth0", &a[..1], NFT)).unwrap();
    let before = ruleset(&ns);
    in_ns(&ns, || masq_del("n", "a", "eth0", Some(&a), NFT)).unwrap();
    assert_eq!(ruleset(&ns), before);
    // Partially gone: b's element removed behind our back, guard left.
    ns.exec_ok(&["nft", "delete element inet ferrocni masq4 { 10.6.0.3 }"]);
    in_ns(&ns, || {
        masq_del("n", "b", "eth0", Some(&[net("10.6.0.3/24")]), NFT)
    })
    .unwrap();
    let g = elems(&ns, "own4");
    assert!(!g.contains("10.6.0.3"), "{g}");
    assert!(g.contains("10.6.0.2"), "{g}");
    // On a namespace that never saw us: nothing is created.
    let empty = TestNetns::new("mfd0");
    in_ns(&empty, || masq_del("n", "a", "eth0", Some(&a), NFT)).unwrap();
    assert_eq!(ruleset(&empty).trim(), "");
}

#[test]
fn known_del_also_removes_the_reference_nft_rule() {
    let ns = TestNetns::new("mfr");
    let a = [net("10.9.0.2/16")];
    in_ns(&ns, || masq_add("mynet", "dead", "eth0", &a, NFT)).unwrap();
    // The reference v1.6+ nftables layout with this attachment's comment prefix.
    let h = |s: &str| {
        let out = ns.exec_ok(&["sh", "-c", &format!("printf %s '{s}' | sha512sum")]);
        out[..16].to_string()
    };
    let comment = format!("{}-{}, net: mynet", h("mynet"), h("eth0:dead"));
    let script = format!(
        "add table inet cni_plugins_masquerade
add chain inet cni_plugins_masquerade masq_checks
add rule inet cni_plugins_masquerade masq_checks ip saddr 10.9.0.2 masquerade comment \"{comment}\"
add rule inet cni_plugins_masquerade masq_checks ip saddr 10.9.0.3 masquerade comment \"other\"
"
    );
    let file = std::env::temp_dir().join(format!("{}.nft", ns.name()));
    std::fs::write(&file, &script).unwrap();
    ns.exec_ok(&["nft", "-f", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    in_ns(&ns, || masq_del("mynet", "dead", "eth0", Some(&a), NFT)).unwrap();
    let rs = ruleset(&ns);
    assert!(!rs.contains(&comment), "{rs}");
    assert!(rs.contains("\"other\""), "{rs}");
    assert!(!map(&ns, "masq4").contains("10.9.0.2"));
}

#[test]
fn reference_iptables_sweep_both_flavours() {
    let ns = TestNetns::new("mfi");
    let ips = [net("10.88.0.2/16"), net("fd88::2/64")];
    // Nothing there: succeeds, writes nothing.
    in_ns(&ns, || masq_del_reference_iptables("mynet", "abc123")).unwrap();
    assert_eq!(ruleset(&ns).trim(), "");
    // The reference layout (fwkit's iptables backend writes it exactly),
    // in both flavours, for two containers.
    for f in [Flavor::Nft, Flavor::Legacy] {
        in_ns(&ns, || {
            masq_add("mynet", "abc123", "eth0", &ips, Backend::Iptables(f))?;
            masq_add(
                "mynet",
                "keep",
                "eth0",
                &[net("10.88.0.3/16")],
                Backend::Iptables(f),
            )
        })
        .unwrap();
    }
    in_ns(&ns, || masq_del_reference_iptables("mynet", "abc123")).unwrap();
    let chain = fwkit::ipmasq_chain("mynet", "abc123");
    let kept = fwkit::ipmasq_chain("mynet", "keep");
    for tool in [
        "iptables-nft",
        "ip6tables-nft",
        "iptables-legacy",
        "ip6tables-legacy",
    ] {
        let t = nat(&ns, tool);
        assert!(!t.contains(&chain), "{tool}: {t}");
        if tool.starts_with("iptables") {
            assert!(t.contains(&format!("-j {kept}")), "{tool}: {t}");
        }
    }
    in_ns(&ns, || masq_del_reference_iptables("mynet", "abc123")).unwrap();
}

#[test]
fn unknown_del_also_removes_unguarded_elements_of_ours() {
    let ns = TestNetns::new("mfu");
    in_ns(&ns, || {
        masq_add("n", "a", "eth0", &[net("10.8.0.2/24")], NFT)
    })
    .unwrap();
    // An element of ours written without a guard (a layout before guards).
    let chain = ruleset(&ns)
        .split("goto ")
        .nth(1)
        .and_then(|r| r.split([' ', ',', '\n']).next())
        .unwrap()
        .to_string();
    let add = format!(
        "add element inet ferrocni masq4 {{ 10.8.0.9 comment \"a eth0 n\" : goto {chain} }}"
    );
    ns.exec_ok(&["nft", &add]);
    in_ns(&ns, || masq_del("n", "a", "eth0", None, NFT)).unwrap();
    let m = map(&ns, "masq4");
    assert!(!m.contains("10.8.0.9") && !m.contains("10.8.0.2"), "{m}");
    assert!(!elems(&ns, "own4").contains("10.8.0.2"));
}

#[test]
fn concurrent_first_adds_and_known_dels() {
    let ns = TestNetns::new("mfc");
    let ip = |i: usize| [net(&format!("10.10.0.{}/24", i + 2))];
    let nsr = &ns;
    let all = |f: &(dyn Fn(usize) -> fwkit::Result<()> + Sync)| {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..16)
                .map(|i| s.spawn(move || in_ns(nsr, || f(i))))
                .collect();
            for h in hs {
                h.join().unwrap().unwrap();
            }
        })
    };
    all(&|i| masq_add("n", &format!("c{i}"), "eth0", &ip(i), NFT));
    let rs = ruleset(&ns);
    assert_eq!(rs.matches("saddr vmap @masq4").count(), 1, "{rs}");
    assert_eq!(rs.matches("masquerade").count(), 1, "{rs}");
    for i in 0..16 {
        in_ns(&ns, || {
            masq_check("n", &format!("c{i}"), "eth0", &ip(i), NFT)
        })
        .unwrap();
    }
    all(&|i| masq_del("n", &format!("c{i}"), "eth0", Some(&ip(i)), NFT));
    assert!(!map(&ns, "masq4").contains("10.10.0."));
    assert!(!elems(&ns, "own4").contains("10.10.0."));
}
