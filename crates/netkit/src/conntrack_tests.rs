//! Unit tests of the ctnetlink codec (no kernel): dumped entries decode,
//! deletes carry the original tuple and zone, dump filters encode the
//! kernel's `CTA_FILTER` layout, garbage never panics.

use super::*;

fn tuple_attr(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut ip = Vec::new();
    nfnl::put(&mut ip, CTA_IP_V4_SRC, &src);
    nfnl::put(&mut ip, CTA_IP_V4_DST, &dst);
    let mut p = Vec::new();
    nfnl::put(&mut p, CTA_PROTO_NUM, &[proto]);
    nfnl::put(&mut p, CTA_PROTO_SRC_PORT, &sport.to_be_bytes());
    nfnl::put(&mut p, CTA_PROTO_DST_PORT, &dport.to_be_bytes());
    let mut t = Vec::new();
    nfnl::put(&mut t, CTA_TUPLE_IP | NLA_F_NESTED, &ip);
    nfnl::put(&mut t, CTA_TUPLE_PROTO | NLA_F_NESTED, &p);
    t
}

/// A DNAT'ed UDP entry: 192.0.2.9 → 198.51.100.1:8053, served by 10.0.0.2:53.
fn entry_payload() -> Vec<u8> {
    let mut a = vec![AF_INET, 0, 0, 0];
    let orig = tuple_attr([192, 0, 2, 9], [198, 51, 100, 1], UDP, 5555, 8053);
    let reply = tuple_attr([10, 0, 0, 2], [192, 0, 2, 9], UDP, 53, 5555);
    nfnl::put(&mut a, CTA_TUPLE_ORIG | NLA_F_NESTED, &orig);
    nfnl::put(&mut a, CTA_TUPLE_REPLY | NLA_F_NESTED, &reply);
    nfnl::put(&mut a, CTA_ZONE, &3u16.to_be_bytes());
    a
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn parses_a_dumped_entry() {
    let e = parse_entry(&entry_payload()).unwrap();
    assert_eq!(e.family, AF_INET);
    assert_eq!(e.orig.src, Some(ip("192.0.2.9")));
    assert_eq!(e.orig.dport, Some(8053));
    assert_eq!(e.orig.proto, UDP);
    assert_eq!(e.reply.src, Some(ip("10.0.0.2")));
    assert_eq!(e.zone, Some(3));
    assert!(e.touches(&[ip("10.0.0.2")]));
    assert!(!e.touches(&[ip("10.0.0.3")]));
}

#[test]
fn selectors_match_exactly_one_field_of_one_tuple() {
    let e = parse_entry(&entry_payload()).unwrap();
    let hits = |a: &str| {
        Selector::touching(ip(a))
            .iter()
            .map(|s| s.matches(&e))
            .collect::<Vec<_>>()
    };
    // [orig src, orig dst, reply src, reply dst]
    assert_eq!(hits("192.0.2.9"), [true, false, false, true]);
    assert_eq!(hits("198.51.100.1"), [false, true, false, false]);
    assert_eq!(hits("10.0.0.2"), [false, false, true, false]);
    assert_eq!(hits("::ffff:10.0.0.2"), [false; 4]);
    assert!(Selector::dport(AF_INET, UDP, 8053).matches(&e));
    assert!(!Selector::dport(AF_INET, UDP, 53).matches(&e));
    assert!(!Selector::dport(AF_INET6, UDP, 8053).matches(&e));
    assert!(!Selector::dport(AF_INET, TCP, 8053).matches(&e));
}

#[test]
fn delete_request_carries_the_original_tuple_and_zone() {
    let e = parse_entry(&entry_payload()).unwrap();
    let msg = delete_request(42, &e);
    let m = nfnl::messages(&msg).next().unwrap();
    assert_eq!(m.kind, (1 << 8) | 2);
    assert_eq!(m.flags, NLM_F_REQUEST | NLM_F_ACK);
    assert_eq!(m.seq, 42);
    let back = parse_entry(m.payload).unwrap();
    assert_eq!(
        (back.family, back.orig, back.zone),
        (e.family, e.orig, e.zone)
    );
    assert!(nfnl::find(&m.payload[4..], CTA_TUPLE_REPLY).is_none());
}

fn filter_of(sel: &Selector) -> (Vec<u8>, u16, u32) {
    let msg = dump_request(sel.family, 7, Some(sel));
    let m = nfnl::messages(&msg).next().unwrap();
    assert_eq!(m.kind, (1 << 8) | 1);
    assert_eq!(m.flags, NLM_F_REQUEST | NLM_F_DUMP);
    assert_eq!(m.payload[0], sel.family);
    let attrs = &m.payload[4..];
    let filter = nfnl::find(attrs, CTA_FILTER).unwrap();
    let f = nfnl::attrs(filter).next().unwrap();
    let flags = u32::from_ne_bytes(f.payload.try_into().unwrap());
    let tuple_kind = if sel.reply {
        CTA_TUPLE_REPLY
    } else {
        CTA_TUPLE_ORIG
    };
    (
        nfnl::find(attrs, tuple_kind).unwrap().to_vec(),
        f.kind,
        flags,
    )
}

#[test]
fn filtered_dumps_encode_cta_filter() {
    let [osrc, _, _, rdst] = Selector::touching(ip("fd00::5"));
    let (tuple, kind, flags) = filter_of(&osrc);
    assert_eq!((kind, flags), (CTA_FILTER_ORIG_FLAGS, F_IP_SRC));
    let ipattr = nfnl::find(&tuple, CTA_TUPLE_IP).unwrap();
    let v6 = ip("fd00::5");
    let IpAddr::V6(v6) = v6 else { unreachable!() };
    assert_eq!(nfnl::find(ipattr, CTA_IP_V6_SRC), Some(&v6.octets()[..]));
    assert_eq!(parse_tuple(&tuple).src, Some(ip("fd00::5")));
    let (tuple, kind, flags) = filter_of(&rdst);
    assert_eq!((kind, flags), (CTA_FILTER_REPLY_FLAGS, F_IP_DST));
    assert_eq!(parse_tuple(&tuple).dst, Some(ip("fd00::5")));
    let (tuple, kind, flags) = filter_of(&Selector::dport(AF_INET, UDP, 8053));
    assert_eq!(
        (kind, flags),
        (CTA_FILTER_ORIG_FLAGS, F_PROTO_NUM | F_PROTO_DST_PORT)
    );
    let t = parse_tuple(&tuple);
    assert_eq!((t.proto, t.dport, t.src), (UDP, Some(8053), None));
    assert!(nfnl::find(&tuple, CTA_TUPLE_IP).is_none());
}

#[test]
fn unfiltered_dump_has_no_attributes() {
    let msg = dump_request(AF_INET6, 1, None);
    let m = nfnl::messages(&msg).next().unwrap();
    assert_eq!(m.payload, &[AF_INET6, 0, 0, 0]);
}

#[test]
fn garbage_never_panics() {
    assert!(parse_entry(&[]).is_none());
    assert!(parse_entry(&[AF_INET, 0, 0, 0]).is_none());
    let mut a = entry_payload();
    a.truncate(a.len() / 2);
    let _ = parse_entry(&a);
    for n in 0..a.len() {
        let _ = parse_entry(&a[n..]);
    }
}

#[test]
fn stats_reply_gives_the_entry_count() {
    let msg = stats_request(9);
    let m = nfnl::messages(&msg).next().unwrap();
    assert_eq!((m.kind, m.flags, m.seq), ((1 << 8) | 5, NLM_F_REQUEST, 9));
    let mut reply = vec![0, 0, 0, 0];
    nfnl::put(&mut reply, 2, &262_144u32.to_be_bytes());
    nfnl::put(
        &mut reply,
        CTA_STATS_GLOBAL_ENTRIES,
        &10_007u32.to_be_bytes(),
    );
    assert_eq!(parse_stats_entries(&reply), Some(10_007));
    assert_eq!(parse_stats_entries(&reply[..8]), None);
}
