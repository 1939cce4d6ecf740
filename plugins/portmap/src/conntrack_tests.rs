//! Unit tests of ctnetlink message parsing and building (no kernel).

use super::*;

fn tuple_attr(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut ip = Vec::new();
    nlattr::put(&mut ip, 1, &src);
    nlattr::put(&mut ip, 2, &dst);
    let mut p = Vec::new();
    nlattr::put(&mut p, CTA_PROTO_NUM, &[proto]);
    nlattr::put(&mut p, CTA_PROTO_SRC_PORT, &sport.to_be_bytes());
    nlattr::put(&mut p, CTA_PROTO_DST_PORT, &dport.to_be_bytes());
    let mut t = Vec::new();
    nlattr::put(&mut t, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
    nlattr::put(&mut t, CTA_TUPLE_PROTO | NLA_F_NESTED, &p);
    t
}

fn entry_attrs() -> Vec<u8> {
    let mut a = Vec::new();
    let orig = tuple_attr([192, 0, 2, 9], [198, 51, 100, 1], UDP, 5555, 8053);
    let reply = tuple_attr([10, 0, 0, 2], [192, 0, 2, 9], UDP, 53, 5555);
    nlattr::put(&mut a, CTA_TUPLE_ORIG | NLA_F_NESTED, &orig);
    nlattr::put(&mut a, CTA_TUPLE_REPLY | NLA_F_NESTED, &reply);
    nlattr::put(&mut a, CTA_ZONE, &3u16.to_be_bytes());
    a
}

#[test]
fn parses_a_dumped_entry() {
    let e = parse_entry(&entry_attrs()).unwrap();
    assert_eq!(e.orig.src, Some("192.0.2.9".parse().unwrap()));
    assert_eq!(e.orig.dport, Some(8053));
    assert_eq!(e.orig.proto, UDP);
    assert_eq!(e.reply.src, Some("10.0.0.2".parse().unwrap()));
    assert!(e.touches(&["10.0.0.2".parse().unwrap()]));
    assert!(!e.touches(&["10.0.0.3".parse().unwrap()]));
}

#[test]
fn delete_request_carries_the_original_tuple_and_zone() {
    let e = parse_entry(&entry_attrs()).unwrap();
    let msg = delete_request(libc::AF_INET as u8, 42, &e);
    let m = nlattr::messages(&msg).next().unwrap();
    assert_eq!(m.kind, (1 << 8) | 2);
    assert_eq!(m.flags, NLM_F_REQUEST | NLM_F_ACK);
    assert_eq!(m.seq, 42);
    assert_eq!(m.payload[0], libc::AF_INET as u8);
    let back = parse_entry(&m.payload[4..]).unwrap();
    assert_eq!((back.orig, back.zone_raw), (e.orig, e.zone_raw));
    assert!(nlattr::find(&m.payload[4..], CTA_TUPLE_REPLY).is_none());
}

#[test]
fn garbage_never_panics() {
    assert!(parse_entry(&[]).is_none());
    let mut a = entry_attrs();
    a.truncate(a.len() / 2);
    let _ = parse_entry(&a);
    for n in 0..a.len() {
        let _ = parse_entry(&a[n..]);
    }
    assert_eq!(errno_of(&[]), libc::EPROTO);
    assert_eq!(errno_of(&(-2i32).to_ne_bytes()), 2);
}
