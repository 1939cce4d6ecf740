//! The reference `firewall` layout in iptables' `filter` table, written with
//! one `iptables-restore --noflush` per family after one `iptables-save`.
//!
//! ```text
//! FORWARD      -m comment --comment "CNI firewall plugin rules (ingressPolicy: same-bridge)" -j CNI-ISOLATION-STAGE-1
//! FORWARD      -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
//! CNI-FORWARD  -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
//! CNI-FORWARD  -d <ip>/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//! CNI-FORWARD  -s <ip>/32 -j ACCEPT
//! CNI-ISOLATION-STAGE-1  -i <br> ! -o <br> … -j CNI-ISOLATION-STAGE-2
//! CNI-ISOLATION-STAGE-1  -i <br> -o <br> … -j DROP          (isolated)
//! CNI-ISOLATION-STAGE-1  … -j RETURN
//! CNI-ISOLATION-STAGE-2  -o <br> … -j DROP
//! CNI-ISOLATION-STAGE-2  … -j RETURN
//! ```
//! SPEC: names, comments, rule texts and order are the reference's (checked
//! against `/usr/lib/cni/firewall` side by side); its ADD writes the
//! CNI-FORWARD part first and then inserts the isolation jump above it; its
//! DEL removes only the per-address rules (per-bridge isolation rules stay,
//! since other pods may still use the bridge).

use crate::config::Policy;
use crate::error::Result;
use crate::iptsave::{self, Filter};
use fwkit::{Batch, Family, Flavor};
use std::net::IpAddr;

pub const FORWARD: &str = "FORWARD";
pub const PRIV: &str = "CNI-FORWARD";
pub const STAGE1: &str = "CNI-ISOLATION-STAGE-1";
pub const STAGE2: &str = "CNI-ISOLATION-STAGE-2";

/// `-m comment --comment "<text>"` as iptables-save prints it.
fn comment(text: &str) -> String {
    format!("-m comment --comment \"{text}\"")
}

/// FORWARD → CNI-FORWARD.
pub fn jump_priv() -> String {
    format!("{} -j {PRIV}", comment("CNI firewall plugin rules"))
}

/// CNI-FORWARD → admin chain.
pub fn jump_admin(admin: &str) -> String {
    format!(
        "{} -j {admin}",
        comment("CNI firewall plugin admin overrides")
    )
}

/// The two per-address rules, as in the reference's `getPrivChainRules`.
pub fn accept_rules(ip: IpAddr) -> [String; 2] {
    let len = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    [
        format!("-d {ip}/{len} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        format!("-s {ip}/{len} -j ACCEPT"),
    ]
}

fn policy_comment(p: &str) -> String {
    comment(&format!("CNI firewall plugin rules (ingressPolicy: {p})"))
}

/// The isolation rules for `bridge`: `(chain, spec, insert_at_top)`.
/// Shared rules (FORWARD jump, RETURNs) carry the `same-bridge` comment so
/// one copy serves both policies; the bridge's own rules carry its policy.
pub fn isolation_rules(bridge: &str, policy: Policy) -> Vec<(&'static str, String, bool)> {
    let shared = policy_comment(Policy::SameBridge.as_str());
    let own = policy_comment(policy.as_str());
    let mut v = vec![
        (FORWARD, format!("{shared} -j {STAGE1}"), true),
        (
            STAGE1,
            format!("-i {bridge} ! -o {bridge} {own} -j {STAGE2}"),
            true,
        ),
    ];
    if policy == Policy::Isolated {
        v.push((
            STAGE1,
            format!("-i {bridge} -o {bridge} {own} -j DROP"),
            true,
        ));
    }
    v.push((STAGE1, format!("{shared} -j RETURN"), false));
    v.push((STAGE2, format!("-o {bridge} {own} -j DROP"), true));
    v.push((STAGE2, format!("{shared} -j RETURN"), false));
    v
}

/// Restore lines declaring `chains` that do not exist yet (declaring an
/// existing chain would flush it under `--noflush`).
fn declare(b: &mut Batch, f: &Filter, chains: &[&str]) {
    for c in chains {
        if !f.has_chain(c) {
            b.line(format!(":{c} - [0:0]"));
        }
    }
}

fn ensure(b: &mut Batch, f: &Filter, chain: &str, spec: &str, top: bool) {
    if f.has(chain, spec) {
        return;
    }
    if top {
        b.line(format!("-I {chain} 1 {spec}"));
    } else {
        b.line(format!("-A {chain} {spec}"));
    }
}

/// The ADD lines for one family (empty batch when nothing is missing).
pub fn add_lines(
    f: &Filter,
    admin: &str,
    ips: &[IpAddr],
    isolation: Option<(&str, Policy)>,
) -> Batch {
    let mut b = Batch::new();
    declare(&mut b, f, &[PRIV, admin]);
    if isolation.is_some() {
        declare(&mut b, f, &[STAGE1, STAGE2]);
    }
    ensure(&mut b, f, FORWARD, &jump_priv(), true);
    ensure(&mut b, f, PRIV, &jump_admin(admin), true);
    for ip in ips {
        for r in accept_rules(*ip) {
            ensure(&mut b, f, PRIV, &r, false);
        }
    }
    if let Some((bridge, policy)) = isolation {
        for (chain, spec, top) in isolation_rules(bridge, policy) {
            ensure(&mut b, f, chain, &spec, top);
        }
    }
    b
}

/// The DEL lines: every copy of the per-address rules.
pub fn del_lines(f: &Filter, ips: &[IpAddr]) -> Batch {
    let mut b = Batch::new();
    for ip in ips {
        for r in accept_rules(*ip) {
            for _ in 0..f.count(PRIV, &r) {
                b.line(format!("-D {PRIV} {r}"));
            }
        }
    }
    b
}

/// What CHECK expects to find, as `(chain, spec)`.
pub fn expected(
    admin: &str,
    ips: &[IpAddr],
    isolation: Option<(&str, Policy)>,
) -> Vec<(&'static str, String)> {
    let mut v = vec![(FORWARD, jump_priv())];
    v.push((PRIV, jump_admin(admin)));
    for ip in ips {
        for r in accept_rules(*ip) {
            v.push((PRIV, r));
        }
    }
    if let Some((bridge, policy)) = isolation {
        v.extend(
            isolation_rules(bridge, policy)
                .into_iter()
                .map(|(c, s, _)| (c, s)),
        );
    }
    v
}

/// Runs `lines` as one `iptables-restore --noflush` of the filter table.
pub fn apply(flavor: Flavor, family: Family, lines: &Batch) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut b = Batch::new();
    b.line("*filter").extend(lines).line("COMMIT");
    let restore = iptsave::prog(flavor, family, "restore");
    match flavor {
        Flavor::Legacy => b.run(&[&restore, "--noflush", "-w", "5"])?,
        Flavor::Nft => b.run(&[&restore, "--noflush"])?,
    }
    Ok(())
}

/// Addresses of one family.
pub fn of_family(ips: &[IpAddr], family: Family) -> Vec<IpAddr> {
    ips.iter()
        .copied()
        .filter(|ip| Family::of(ip) == family)
        .collect()
}

#[cfg(test)]
#[path = "ipt_tests.rs"]
mod tests;
