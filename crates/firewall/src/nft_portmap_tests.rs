//! Golden tests of the nft portmap batch text.
use super::*;
use crate::Protocol;

#[test]
fn element_commands_golden() {
    let m = PortMapping {
        host_ip: Some("10.0.0.1".parse().unwrap()),
        host_port: 8443,
        container_port: 443,
        protocol: Protocol::Tcp,
    };
    let ip: IpNet = "10.88.0.2/16".parse().unwrap();
    let mut b = Batch::new();
    mapping_ops(&mut b, "c n", &ip, &m, Some("hair-x"));
    let t = "inet ferrocni_hostport";
    let want = format!(
        "create element {t} hp4_ip {{ tcp . 10.0.0.1 . 8443 comment \"c n\" : 10.88.0.2 . 443 }}
add element {t} hold4 {{ tcp . 8443 : 0x2 }}
add element {t} hair4_ip {{ tcp . 10.0.0.1 . 8443 comment \"c n\" : jump hair-x }}
add element {t} own4 {{ tcp . 10.0.0.1 . 8443 . {tok} comment \"c n\" }}
",
        tok = crate::nft_guard::token("c n")
    );
    assert_eq!(b.text(), want);
}

#[test]
fn hair_chains() {
    let ip: IpNet = "10.88.0.2/16".parse().unwrap();
    let mut b = Batch::new();
    let chain = hair_chain(&mut b, &ip, &PortmapOpts::default());
    let text = b.text();
    assert!(text.contains(&format!("add rule inet ferrocni_hostport {chain} ip saddr 10.88.0.0/16 meta mark set meta mark | 0x2000")), "{text}");
    assert!(
        text.contains("ip saddr 127.0.0.0/8 meta mark set"),
        "{text}"
    );
    let all = PortmapOpts {
        masq_all: true,
        ..PortmapOpts::default()
    };
    let mut b = Batch::new();
    let chain_all = hair_chain(&mut b, &ip, &all);
    assert_ne!(chain, chain_all);
    assert!(!b.text().contains("saddr"), "{}", b.text());
}

#[test]
fn add_batch_v6_any() {
    let m = PortMapping {
        host_ip: None,
        host_port: 80,
        container_port: 8080,
        protocol: Protocol::Udp,
    };
    let ip: IpNet = "fd00::2/64".parse().unwrap();
    let b = add_batch(
        "n",
        "c",
        &[ip],
        &[m],
        &PortmapOpts::default(),
        &Batch::new(),
    );
    let text = b.text();
    assert!(text.contains("create element inet ferrocni_hostport hp6_any { udp . 80 comment \"c n\" : fd00::2 . 8080 }"), "{text}");
    assert!(
        text.contains("add element inet ferrocni_hostport hold6 { udp . 80 : 0x1 }"),
        "{text}"
    );
    assert!(!text.contains("delete"), "{text}");
    // The fast batch: the same element commands, nothing else.
    let fast = fast_batch("n", "c", &[ip], &[m], &PortmapOpts::default());
    let fast = fast.text();
    assert_eq!(fast.lines().count(), 4, "{fast}");
    assert!(fast.lines().all(|l| text.contains(l)), "{fast}");
    assert!(fast.lines().all(|l| l.contains(" element ")), "{fast}");
    assert!(text.contains("ip6 saddr fd00::/64 meta mark"), "{text}");
    assert!(!text.contains("127.0.0.0/8"), "{text}");
}

#[test]
fn markers_of_an_older_layout() {
    let e = |key: &str| crate::nft_json::Elem {
        key: key.into(),
        value: None,
        comment: None,
    };
    let table = Table {
        sets: vec![
            (
                "hp4_ip".into(),
                vec![
                    e("tcp . 10.0.0.1 . 80"),
                    e("tcp . 10.0.0.2 . 80"),
                    e("udp . 10.0.0.1 . 53"),
                ],
            ),
            ("hp4_any".into(), vec![e("tcp . 81"), e("udp . 53")]),
        ],
        ..Table::default()
    };
    let t = "inet ferrocni_hostport";
    assert_eq!(
        markers(&table, "").text(),
        format!(
            "add element {t} hold4 {{ tcp . 80 : 0x2 }}\nadd element {t} hold4 {{ tcp . 81 : 0x1 }}\n"
        )
    );
}
