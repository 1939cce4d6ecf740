//! `macspoofchk`: drop frames from the pod's port whose source MAC is not
//! the pod's, with the reference plugin's nftables layout so either plugin
//! can remove the other's rules:
//!
//! ```text
//! table bridge nat {
//!   chain PREROUTING { type filter hook prerouting priority -300; policy accept;
//!     iifname "<host veth>" jump cni-br-iface-<cid>-<ifname> comment "macspoofchk-<cid>-<ifname>" }
//!   chain cni-br-iface-<cid>-<ifname> { jump cni-br-iface-<cid>-<ifname>-mac }
//!   chain cni-br-iface-<cid>-<ifname>-mac { ether saddr <mac> return; drop }
//! }
//! ```
//! ADD is one `nft -f -`; DEL is one read of `PREROUTING` plus one batch.
//! (Belongs in fwkit; kept here until it moves.)

use fwkit::Batch;

use crate::error::{BridgeError, Result};

const TABLE: &str = "bridge nat";
const BASE: &str = "PREROUTING";

fn ref_id(cid: &str, ifname: &str) -> String {
    format!("{cid}-{ifname}")
}

fn iface_chain(id: &str) -> String {
    format!("cni-br-iface-{id}")
}

fn comment(id: &str) -> String {
    format!("macspoofchk-{id}")
}

/// The ADD batch (exposed for unit tests).
pub fn add_batch(cid: &str, ifname: &str, host_veth: &str, mac: &str) -> Batch {
    let id = ref_id(cid, ifname);
    let (chain, c) = (iface_chain(&id), comment(&id));
    let mac_chain = format!("{chain}-mac");
    let mut b = Batch::new();
    b.line(format!("add table {TABLE}"));
    b.line(format!(
        "add chain {TABLE} {BASE} {{ type filter hook prerouting priority -300 ; policy accept ; }}"
    ));
    for ch in [&chain, &mac_chain] {
        b.line(format!("add chain {TABLE} {ch}"));
        b.line(format!("flush chain {TABLE} {ch}"));
    }
    b.line(format!(
        "add rule {TABLE} {BASE} iifname \"{host_veth}\" jump {chain} comment \"{c}\""
    ));
    b.line(format!(
        "add rule {TABLE} {chain} jump {mac_chain} comment \"{c}\""
    ));
    b.line(format!(
        "add rule {TABLE} {mac_chain} ether saddr {mac} return comment \"{c}\""
    ));
    b.line(format!("add rule {TABLE} {mac_chain} drop comment \"{c}\""));
    b
}

fn fw(what: &str) -> impl FnOnce(fwkit::Error) -> BridgeError + '_ {
    move |e| BridgeError::firewall(format!("macspoofchk {what}"), e)
}

/// Installs the spoof check for the pod's port.
pub fn add(cid: &str, ifname: &str, host_veth: &str, mac: &str) -> Result<()> {
    add_batch(cid, ifname, host_veth, mac)
        .run(&["nft", "-f", "-"])
        .map_err(fw("setup"))
}

/// Handles of the `PREROUTING` jump rules of this attachment (`iifname …
/// jump cni-br-iface-<id> comment "macspoofchk-<id>"`), from `nft -a list`
/// output (the attachment's own chains carry the same comment).
pub fn handles(listing: &str, cid: &str, ifname: &str) -> Vec<u64> {
    let id = ref_id(cid, ifname);
    let needle = format!("jump {} comment \"{}\"", iface_chain(&id), comment(&id));
    listing
        .lines()
        .filter(|l| l.contains("iifname ") && l.contains(&needle))
        .filter_map(|l| {
            l.rsplit_once("# handle ")
                .and_then(|(_, h)| h.trim().parse().ok())
        })
        .collect()
}

fn list(argv: &[&str]) -> Option<String> {
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Removes the attachment's spoof check (ours or the reference's).
/// Nothing there is success.
pub fn del(cid: &str, ifname: &str) -> Result<()> {
    let Some(listing) = list(&["nft", "-a", "list", "table", "bridge", "nat"]) else {
        return Ok(());
    };
    let id = ref_id(cid, ifname);
    let chain = iface_chain(&id);
    let mac_chain = format!("{chain}-mac");
    let mut b = Batch::new();
    for h in handles(&listing, cid, ifname) {
        b.line(format!("delete rule {TABLE} {BASE} handle {h}"));
    }
    for ch in [&chain, &mac_chain] {
        if listing.contains(&format!("chain {ch} {{")) {
            b.line(format!("flush chain {TABLE} {ch}"));
            b.line(format!("delete chain {TABLE} {ch}"));
        }
    }
    if b.is_empty() {
        return Ok(());
    }
    b.run(&["nft", "-f", "-"]).map_err(fw("teardown"))
}

/// CHECK: the spoof-check chain for this attachment still filters `mac`.
pub fn check(cid: &str, ifname: &str, mac: &str) -> Result<()> {
    let chain = format!("{}-mac", iface_chain(&ref_id(cid, ifname)));
    let found = list(&["nft", "list", "chain", "bridge", "nat", &chain])
        .is_some_and(|l| l.contains(&format!("ether saddr {mac} return")));
    if found {
        Ok(())
    } else {
        Err(BridgeError::Check(format!(
            "macspoofchk chain {chain} for {mac} is missing"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_uses_reference_names() {
        let b = add_batch("c1", "eth0", "veth01234567", "0a:58:00:00:00:01");
        let t = b.text();
        assert!(
            t.contains("add chain bridge nat cni-br-iface-c1-eth0-mac"),
            "{t}"
        );
        assert!(t.contains(
            "iifname \"veth01234567\" jump cni-br-iface-c1-eth0 comment \"macspoofchk-c1-eth0\""
        ));
        assert!(t.contains("ether saddr 0a:58:00:00:00:01 return"));
        assert!(
            t.trim_end()
                .ends_with("drop comment \"macspoofchk-c1-eth0\"")
        );
    }

    #[test]
    fn handles_are_found_by_comment() {
        let listing = "table bridge nat {\n chain PREROUTING {\n  \
            iifname \"vethA\" jump cni-br-iface-c1-eth0 comment \"macspoofchk-c1-eth0\" # handle 7\n  \
            iifname \"vethB\" jump cni-br-iface-c2-eth0 comment \"macspoofchk-c2-eth0\" # handle 9\n }\n \
            chain cni-br-iface-c1-eth0 {\n  \
            jump cni-br-iface-c1-eth0-mac comment \"macspoofchk-c1-eth0\" # handle 11\n }\n}\n";
        assert_eq!(handles(listing, "c1", "eth0"), vec![7]);
        assert!(handles(listing, "c3", "eth0").is_empty());
    }
}
