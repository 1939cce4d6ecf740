//! Golden tests of the reference iptables layout.

use super::*;
use crate::iptsave::parse;

const REFERENCE_SAVE: &str = r#"*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:CNI-ADMIN - [0:0]
:CNI-FORWARD - [0:0]
:CNI-ISOLATION-STAGE-1 - [0:0]
:CNI-ISOLATION-STAGE-2 - [0:0]
-A FORWARD -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-1
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
-A CNI-FORWARD -d 10.1.0.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A CNI-FORWARD -s 10.1.0.2/32 -j ACCEPT
-A CNI-ISOLATION-STAGE-1 -i br1 ! -o br1 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-2
-A CNI-ISOLATION-STAGE-1 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j RETURN
-A CNI-ISOLATION-STAGE-2 -o br1 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j DROP
-A CNI-ISOLATION-STAGE-2 -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j RETURN
COMMIT
"#;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn reference_dump_is_complete_for_us() {
    // Captured from /usr/lib/cni/firewall (1.1.1), same-bridge, br1, 10.1.0.2.
    let f = parse(REFERENCE_SAVE);
    let iso = Some(("br1", Policy::SameBridge));
    let b = add_lines(&f, "CNI-ADMIN", &[ip("10.1.0.2")], iso);
    assert!(b.is_empty(), "{}", b.text());
    for (c, s) in expected("CNI-ADMIN", &[ip("10.1.0.2")], iso) {
        assert!(f.has(c, &s), "{c} {s}");
    }
}

#[test]
fn fresh_table_batch() {
    let f = parse("*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n");
    let b = add_lines(&f, "CNI-ADMIN", &[ip("fd00::2")], None);
    let want = "\
:CNI-FORWARD - [0:0]
:CNI-ADMIN - [0:0]
-I FORWARD 1 -m comment --comment \"CNI firewall plugin rules\" -j CNI-FORWARD
-I CNI-FORWARD 1 -m comment --comment \"CNI firewall plugin admin overrides\" -j CNI-ADMIN
-A CNI-FORWARD -d fd00::2/128 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A CNI-FORWARD -s fd00::2/128 -j ACCEPT
";
    assert_eq!(b.text(), want);
}

#[test]
fn isolated_adds_intra_bridge_drop_and_del_removes_addresses_only() {
    let f = parse(REFERENCE_SAVE);
    let b = add_lines(
        &f,
        "CNI-ADMIN",
        &[ip("10.1.0.2")],
        Some(("br1", Policy::Isolated)),
    );
    let t = b.text();
    assert!(t.contains("-I CNI-ISOLATION-STAGE-1 1 -i br1 -o br1 -m comment --comment \"CNI firewall plugin rules (ingressPolicy: isolated)\" -j DROP"), "{t}");
    let d = del_lines(&f, &[ip("10.1.0.2"), ip("10.1.0.9")]);
    assert_eq!(d.text().lines().count(), 2, "{}", d.text());
    assert!(d.text().starts_with("-D CNI-FORWARD -d 10.1.0.2/32"));
}
