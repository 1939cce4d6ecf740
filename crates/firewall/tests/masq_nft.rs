//! ipMasq on the nftables backend, inside throwaway network namespaces.

mod common;

use common::{in_ns, net, ruleset};
use fwkit::{Backend, masq_add, masq_check, masq_del, masq_gc};
use integration::TestNetns;

const NFT: Backend = Backend::Nftables;

fn elems(ns: &TestNetns, map: &str) -> String {
    ns.exec_ok(&["nft", "list", "map", "inet", "ferrocni", map])
}

#[test]
fn add_check_del_round_trip_with_unknown_ips() {
    let ns = TestNetns::new("mnft");
    let ips = [net("10.88.0.2/16"), net("fd00:88::2/64")];
    in_ns(&ns, || masq_add("mynet", "c1", "eth0", &ips, NFT)).unwrap();
    let rs = ruleset(&ns);
    assert!(rs.contains("ip saddr vmap @masq4"), "{rs}");
    assert!(
        rs.contains("10.88.0.2 comment \"c1 eth0 mynet\" : goto masq-"),
        "{rs}"
    );
    assert!(
        rs.contains("fd00:88::2 comment \"c1 eth0 mynet\" : goto masq-"),
        "{rs}"
    );
    assert!(rs.contains("ip daddr 10.88.0.0/16 return"), "{rs}");
    assert!(rs.contains("ip6 daddr ff00::/8 return"), "{rs}");
    in_ns(&ns, || masq_check("mynet", "c1", "eth0", &ips, NFT)).unwrap();
    // Idempotent: a second ADD leaves exactly one element per address.
    in_ns(&ns, || masq_add("mynet", "c1", "eth0", &ips, NFT)).unwrap();
    assert_eq!(ruleset(&ns).matches("10.88.0.2 comment").count(), 1);
    assert_eq!(ruleset(&ns).matches("masquerade").count(), 2);
    // DEL without IPs (netns gone).
    in_ns(&ns, || masq_del("mynet", "c1", "eth0", None, NFT)).unwrap();
    assert!(!elems(&ns, "masq4").contains("10.88.0.2"));
    assert!(!elems(&ns, "masq6").contains("fd00:88::2"));
    assert!(in_ns(&ns, || masq_check("mynet", "c1", "eth0", &ips, NFT)).is_err());
    // DEL again, and DEL on a namespace that never saw us: no error.
    in_ns(&ns, || masq_del("mynet", "c1", "eth0", None, NFT)).unwrap();
    let empty = TestNetns::new("mnft0");
    in_ns(&empty, || masq_del("mynet", "c1", "eth0", None, NFT)).unwrap();
    assert_eq!(ruleset(&empty).trim(), "");
}

#[test]
fn del_leaves_other_containers_and_reused_addresses_alone() {
    let ns = TestNetns::new("mnft");
    in_ns(&ns, || {
        masq_add("n", "a", "eth0", &[net("10.1.0.2/24")], NFT)?;
        masq_add("n", "b", "eth0", &[net("10.1.0.3/24")], NFT)?;
        // Address of "a" handed to "c" before "a"'s DEL ran.
        masq_add("n", "c", "eth0", &[net("10.1.0.2/24")], NFT)?;
        // ...and a stale element of another network on the same address.
        masq_add("other", "d", "eth0", &[net("10.1.0.3/16")], NFT)?;
        masq_del("n", "a", "eth0", None, NFT)
    })
    .unwrap();
    let m = elems(&ns, "masq4");
    assert!(m.contains("10.1.0.2 comment \"c eth0 n\""), "{m}");
    assert!(m.contains("10.1.0.3 comment \"d eth0 other\""), "{m}");
    assert!(!m.contains("\"b eth0 n\""), "{m}");
}

#[test]
fn gc_keeps_only_valid_attachments_of_the_network() {
    let ns = TestNetns::new("mnft");
    in_ns(&ns, || {
        for (i, cid) in ["a", "b", "c"].iter().enumerate() {
            masq_add(
                "n",
                cid,
                "eth0",
                &[net(&format!("10.2.0.{}/24", i + 2))],
                NFT,
            )?;
        }
        masq_add("m", "z", "eth0", &[net("10.3.0.2/24")], NFT)?;
        masq_gc("n", &[("b", "eth0")], NFT)
    })
    .unwrap();
    let m = elems(&ns, "masq4");
    assert!(
        m.contains("\"b eth0 n\"") && m.contains("\"z eth0 m\""),
        "{m}"
    );
    assert!(
        !m.contains("\"a eth0 n\"") && !m.contains("\"c eth0 n\""),
        "{m}"
    );
}

#[test]
fn reference_nft_rules_of_the_container_are_removed() {
    let ns = TestNetns::new("mref");
    // What the reference (v1.6+) nftables ipMasq writes, per its source.
    let p = |cid: &str| {
        let h = |s: &str| fwkit_test_hash(s);
        format!("{}-{}", h("mynet"), h(&format!("eth0:{cid}")))
    };
    let script = format!(
        "add table inet cni_plugins_masquerade
add chain inet cni_plugins_masquerade masq_checks
add chain inet cni_plugins_masquerade postrouting {{ type nat hook postrouting priority srcnat; }}
add rule inet cni_plugins_masquerade postrouting goto masq_checks
add rule inet cni_plugins_masquerade masq_checks ip saddr 10.9.0.2 ip daddr != 10.9.0.0/16 masquerade comment \"{}, net: mynet, if: eth0, id: dead\"
add rule inet cni_plugins_masquerade masq_checks ip saddr 10.9.0.3 ip daddr != 10.9.0.0/16 masquerade comment \"{}, net: mynet, if: eth0, id: beef\"
",
        p("dead"),
        p("beef")
    );
    let file = std::env::temp_dir().join(format!("{}.nft", ns.name()));
    std::fs::write(&file, &script).unwrap();
    let loaded = ns.exec(&["nft", "-f", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert!(loaded.status.success(), "{loaded:?}");
    in_ns(&ns, || masq_del("mynet", "dead", "eth0", None, NFT)).unwrap();
    let rs = ruleset(&ns);
    assert!(!rs.contains("id: dead"), "{rs}");
    assert!(rs.contains("id: beef"), "{rs}");
    in_ns(&ns, || masq_gc("mynet", &[], NFT)).unwrap();
    assert!(!ruleset(&ns).contains("id: beef"));
}

/// 16 hex of sha512 (the reference `MustFormatHashWithPrefix(16, "", s)`).
fn fwkit_test_hash(s: &str) -> String {
    let out = std::process::Command::new("sha512sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..16].to_string()
}

#[test]
fn invalid_names_never_reach_nft() {
    let ns = TestNetns::new("minj");
    let bad = "x\" ; flush ruleset ; #";
    let r = in_ns(&ns, || {
        masq_add(bad, "c", "eth0", &[net("10.0.0.2/24")], NFT)
    });
    assert!(matches!(r, Err(fwkit::Error::Invalid { .. })), "{r:?}");
    let r = in_ns(&ns, || {
        masq_add("n", "c", "eth0\"", &[net("10.0.0.2/24")], NFT)
    });
    assert!(r.is_err());
    assert_eq!(ruleset(&ns).trim(), "");
}
