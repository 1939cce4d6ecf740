//! Names, hashes and comments shared with the reference plugins, and the
//! validation that keeps untrusted strings out of rule text.

use crate::{Error, Result};
use sha2::{Digest, Sha512};

/// Longest iptables chain name the reference plugins generate.
const MAX_CHAIN: usize = 28;
/// nft comment limit (bytes, without the terminating NUL).
pub(crate) const NFT_COMMENT_MAX: usize = 127;

pub(crate) fn sha512_hex(input: &str) -> String {
    let digest = Sha512::digest(input.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The reference `MustFormatHashWithPrefix(28, prefix, name+id)`.
fn hashed_chain(prefix: &str, net: &str, cid: &str) -> String {
    let mut s = format!("{prefix}{}", sha512_hex(&format!("{net}{cid}")));
    s.truncate(MAX_CHAIN);
    s
}

/// ipMasq chain of the reference bridge plugin: `CNI-` + 24 hex of
/// sha512(network + containerID).
pub fn ipmasq_chain(net: &str, cid: &str) -> String {
    hashed_chain("CNI-", net, cid)
}

/// Per-attachment portmap chain: `CNI-DN-` + 21 hex of sha512(network + id).
pub fn portmap_dn_chain(net: &str, cid: &str) -> String {
    hashed_chain("CNI-DN-", net, cid)
}

/// Legacy portmap SNAT chain (`CNI-SN-…`), only ever deleted.
pub(crate) fn portmap_sn_chain(net: &str, cid: &str) -> String {
    hashed_chain("CNI-SN-", net, cid)
}

/// The reference rule comment `name: "<net>" id: "<cid>"` (Go `%q`).
pub fn reference_comment(net: &str, cid: &str) -> String {
    format!("name: {} id: {}", go_quote(net), go_quote(cid))
}

/// The reference portmap entry comment `dnat name: "<net>" id: "<cid>"`.
pub fn dnat_comment(net: &str, cid: &str) -> String {
    format!("dnat {}", reference_comment(net, cid))
}

/// Go's `%q` for the printable ASCII subset we accept.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes a string for an `iptables-restore` line (`"…"` with `\"`).
pub(crate) fn ipt_quote(s: &str) -> String {
    go_quote(s)
}

/// Checks a network name or container id against the CNI grammar
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, which also keeps it out of rule syntax.
pub fn validate_token(what: &'static str, value: &str) -> Result<()> {
    let invalid = |why| Error::Invalid {
        what,
        value: value.to_string(),
        why,
    };
    let mut chars = value.chars();
    match chars.next() {
        None => return Err(invalid("empty")),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err(invalid("must start with [a-zA-Z0-9]"));
        }
        _ => {}
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(c))) {
        return Err(invalid("only [a-zA-Z0-9_.-] allowed"));
    }
    Ok(())
}

/// Checks an interface name: 1..=15 bytes, no whitespace, quotes, `/`, `:`.
pub(crate) fn validate_ifname(value: &str) -> Result<()> {
    let bad = value.is_empty()
        || value.len() > 15
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'\\/:;{}#".contains(c));
    if bad {
        return Err(Error::Invalid {
            what: "interface name",
            value: value.to_string(),
            why: "1-15 characters, no whitespace, quotes or separators",
        });
    }
    Ok(())
}

/// Identity comment for one of our nft elements: the parts joined by a
/// space (container id first), or `#` + 40 hex of their hash when that would
/// not fit in an nft comment. Matching always recomputes it, so truncation
/// can never make two containers look alike.
pub fn nft_ident(parts: &[&str]) -> String {
    let joined = parts.join(" ");
    if joined.len() <= NFT_COMMENT_MAX {
        joined
    } else {
        let mut h = sha512_hex(&joined);
        h.truncate(40);
        format!("#{h}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_match_reference() {
        // Observed from /usr/lib/cni/bridge and portmap (1.1.1) with
        // network "mynet", container id "abc123".
        assert_eq!(
            ipmasq_chain("mynet", "abc123"),
            "CNI-70a29d9dc18bc4d652ea5d59"
        );
        assert_eq!(
            portmap_dn_chain("mynet", "abc123"),
            "CNI-DN-70a29d9dc18bc4d652ea5"
        );
        assert_eq!(portmap_sn_chain("mynet", "abc123").len(), 28);
    }

    #[test]
    fn comments_match_reference() {
        assert_eq!(
            reference_comment("mynet", "abc123"),
            r#"name: "mynet" id: "abc123""#
        );
        assert_eq!(dnat_comment("n", "c"), r#"dnat name: "n" id: "c""#);
        assert_eq!(ipt_quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn injection_is_rejected() {
        for bad in ["", "a\"b", "a\nb", "a b", "-x", "a;b", "a}b", "a\\b", "é"] {
            assert!(validate_token("container id", bad).is_err(), "{bad:?}");
        }
        for good in ["a", "abc_1.2-3", "0deadbeef"] {
            validate_token("container id", good).unwrap();
        }
        for bad in ["", "eth 0", "a\"", "a\n", "1234567890123456", "a/b"] {
            assert!(validate_ifname(bad).is_err(), "{bad:?}");
        }
        validate_ifname("eth0").unwrap();
    }

    #[test]
    fn ident_hashes_when_too_long() {
        assert_eq!(nft_ident(&["cid", "eth0", "net"]), "cid eth0 net");
        let long = "x".repeat(200);
        let id = nft_ident(&[&long, "eth0"]);
        assert!(id.starts_with('#') && id.len() == 41);
        assert_ne!(id, nft_ident(&[&long, "eth1"]));
    }
}
