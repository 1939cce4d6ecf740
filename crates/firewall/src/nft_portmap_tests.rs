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
create element {t} hp4_any {{ tcp . 8443 : 0.0.0.0 . 0 }}
delete element {t} hp4_any {{ tcp . 8443 }}
add element {t} spec4 {{ tcp . 8443 }}
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
    let b = add_batch("n", "c", &[ip], &[m], &PortmapOpts::default());
    let text = b.text();
    assert!(text.contains("create element inet ferrocni_hostport hp6_any { udp . 80 comment \"c n\" : fd00::2 . 8080 }"), "{text}");
    assert!(
        text.contains("create element inet ferrocni_hostport spec6 { udp . 80 }"),
        "{text}"
    );
    assert!(text.contains("ip6 saddr fd00::/64 meta mark"), "{text}");
    assert!(!text.contains("127.0.0.0/8"), "{text}");
}
