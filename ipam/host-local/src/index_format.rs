//! The text formats of our index files: buckets of attachment entries and
//! the stamp. Every file starts with a header line containing spaces, so no
//! file of ours can ever equal a container id or `id\r\nifname`.

use std::net::IpAddr;

use crate::store::Key;

const BUCKET_HEADER: &str = "ferrocni host-local index bucket v1";
const STAMP_HEADER: &str = "ferrocni host-local index v1";
/// Number of bucket files (`b.00` … `b.ff`).
pub const BUCKETS: usize = 256;

/// What the index knows about one attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub key: Key,
    /// The boot id the reservation was made in (or `before-boot`).
    pub boot: String,
    pub ips: Vec<IpAddr>,
}

/// FNV-1a, 128 bits: stable across builds (unlike std's hasher).
fn fnv128(data: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    data.iter()
        .fold(OFFSET, |h, b| (h ^ u128::from(*b)).wrapping_mul(PRIME))
}

/// The bucket of `key`.
pub fn bucket_of(key: &Key) -> usize {
    let data = format!("{}\0{}", key.id, key.ifname);
    (fnv128(data.as_bytes()) % BUCKETS as u128) as usize
}

/// The file name of bucket `b` (never IP-shaped).
pub fn bucket_name(b: usize) -> String {
    format!("b.{b:02x}")
}

/// Serialises one bucket.
pub fn bucket_text(entries: &[Marker]) -> String {
    let mut s = format!("{BUCKET_HEADER}\n");
    for m in entries {
        let ips: Vec<String> = m.ips.iter().map(IpAddr::to_string).collect();
        s.push_str(&format!(
            "id={} ifname={} boot={} ips={}\n",
            m.key.id,
            m.key.ifname,
            m.boot,
            ips.join(",")
        ));
    }
    s
}

fn parse_entry(line: &str) -> Option<Marker> {
    let mut f = line.split(' ');
    let mut field = |name: &str| f.next()?.strip_prefix(name)?.strip_prefix('=');
    let (id, ifname, boot, ips) = (
        field("id")?,
        field("ifname")?,
        field("boot")?,
        field("ips")?,
    );
    let ips = ips
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<Vec<IpAddr>>>()?;
    (!id.is_empty() && !boot.is_empty() && f.next().is_none()).then(|| Marker {
        key: Key::new(id, ifname),
        boot: boot.to_string(),
        ips,
    })
}

/// Parses bucket `b`; `None` when damaged or holding a key of another bucket.
pub fn parse_bucket(text: &str, b: usize) -> Option<Vec<Marker>> {
    let mut lines = text.lines();
    if lines.next()? != BUCKET_HEADER {
        return None;
    }
    lines
        .map(|l| parse_entry(l).filter(|m| bucket_of(&m.key) == b))
        .collect()
}

/// The recorded state of the network directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The directory's mtime after our last change (`None`: could not be set).
    pub mtime: Option<(i64, i64)>,
    pub boot: String,
}

pub fn stamp_text(s: &Stamp) -> String {
    let m = match s.mtime {
        Some((sec, ns)) => format!("{sec} {ns}"),
        None => "none".into(),
    };
    format!("{STAMP_HEADER}\nmtime {m}\nboot {}\n", s.boot)
}

pub fn parse_stamp(text: &str) -> Option<Stamp> {
    let mut lines = text.lines();
    if lines.next()? != STAMP_HEADER {
        return None;
    }
    let m = lines.next()?.strip_prefix("mtime ")?;
    let mtime = match m.split_once(' ') {
        Some((s, ns)) => Some((s.parse().ok()?, ns.parse().ok()?)),
        None if m == "none" => None,
        None => return None,
    };
    let boot = lines.next()?.strip_prefix("boot ")?.to_string();
    // A boot id is the kernel's UUID (or our "before-boot" marker): anything
    // else (control characters, spaces) is a damaged stamp, rebuilt.
    if boot.is_empty() || !boot.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return None;
    }
    Some(Stamp { mtime, boot })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_with_a_control_character_in_its_boot_id_is_damaged() {
        let text = format!("{STAMP_HEADER}\nmtime none\nboot \r");
        assert_eq!(parse_stamp(&text), None);
        let ok = Stamp {
            mtime: Some((1, 2)),
            boot: "0b1c-2d".into(),
        };
        assert_eq!(parse_stamp(&stamp_text(&ok)), Some(ok));
    }

    fn marker(id: &str, ifname: &str, ips: &[&str]) -> Marker {
        Marker {
            key: Key::new(id, ifname),
            boot: "b1".into(),
            ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn buckets_round_trip_and_reject_damage() {
        let m = marker("c1", "eth0", &["10.0.0.2", "fd00::2"]);
        let b = bucket_of(&m.key);
        let legacy = Marker {
            key: Key::new("c1", ""),
            ..m.clone()
        };
        let lb = bucket_of(&legacy.key);
        assert_eq!(
            parse_bucket(&bucket_text(std::slice::from_ref(&m)), b),
            Some(vec![m.clone()])
        );
        assert_eq!(
            parse_bucket(&bucket_text(std::slice::from_ref(&legacy)), lb),
            Some(vec![legacy])
        );
        let text = bucket_text(std::slice::from_ref(&m));
        assert_eq!(parse_bucket(&text, (b + 1) % BUCKETS), None, "wrong bucket");
        assert_eq!(parse_bucket(&text[..text.len() - 5], b), None, "torn");
        assert_eq!(parse_bucket("c1\r\neth0", b), None);
        assert_eq!(parse_bucket(&text.replace("10.0.0.2", "nope"), b), None);
    }

    #[test]
    fn no_index_file_can_match_the_reference_delete() {
        let m = marker("c1", "eth0", &["10.0.0.2"]);
        let stamp = stamp_text(&Stamp {
            mtime: Some((1, 2)),
            boot: "b".into(),
        });
        for text in [
            bucket_text(std::slice::from_ref(&m)),
            bucket_text(&[]),
            stamp,
        ] {
            let t = text.trim();
            assert_ne!(t, "c1\r\neth0");
            assert_ne!(t, "c1");
            assert!(t.contains(' '), "a header with spaces");
        }
        assert!(bucket_name(7).parse::<IpAddr>().is_err());
    }

    #[test]
    fn stamps_round_trip() {
        for mtime in [Some((1_796_000_000, 123)), None] {
            let s = Stamp {
                mtime,
                boot: "x-y".into(),
            };
            assert_eq!(parse_stamp(&stamp_text(&s)), Some(s));
        }
        assert_eq!(parse_stamp("nonsense"), None);
    }
}
