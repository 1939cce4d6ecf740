//! `reclaimAfterReboot`: reservations recorded in an earlier boot are
//! released by the first call after a reboot; without the key they stay.
//! A reboot is simulated by rewriting the boot ids our index recorded.

mod common;

use common::*;
use integration::TestNetns;
use serde_json::json;

/// Pretends everything in the index was written during another boot.
fn age_index(dir: &std::path::Path) {
    const OLD: &str = "00000000-0000-0000-0000-000000000000";
    let idx = net_dir(dir).join(".ferrocni-index");
    for e in std::fs::read_dir(idx).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let aged: String = text
            .lines()
            .map(|l| {
                let toks: Vec<String> = l
                    .split(' ')
                    .enumerate()
                    .map(|(i, t)| match t {
                        _ if t.starts_with("boot=") => format!("boot={OLD}"),
                        _ if i == 1 && l.starts_with("boot ") => OLD.to_string(),
                        _ => t.to_string(),
                    })
                    .collect();
                format!("{}\n", toks.join(" "))
            })
            .collect();
        std::fs::write(e.path(), aged).unwrap();
    }
}

fn setup(reclaim: bool) -> (TestNetns, tempfile::TempDir, serde_json::Value) {
    let ns = TestNetns::new("hlrb");
    let dir = tmpdir();
    let mut c = conf(dir.path(), json!([[{"subnet": "10.60.0.0/24"}]]));
    c["ipam"]["reclaimAfterReboot"] = json!(reclaim);
    ips_of(&add(OURS, "old-1", &ns.path(), &c));
    ips_of(&add(OURS, "old-2", &ns.path(), &c));
    age_index(dir.path());
    (ns, dir, c)
}

#[test]
fn reservations_from_an_earlier_boot_are_reclaimed_when_enabled() {
    let (ns, dir, c) = setup(true);
    if have_ref() {
        // Made after the "reboot" by the reference: this boot, must stay.
        ips_of(&add(REF, "fresh-ref", &ns.path(), &c));
    }
    ips_of(&add(OURS, "new", &ns.path(), &c));
    let mut owners: Vec<String> = reservations(dir.path()).into_values().collect();
    owners.sort();
    let mut want = vec!["new\r\neth0".to_string()];
    if have_ref() {
        want.insert(0, "fresh-ref\r\neth0".into());
    }
    assert_eq!(owners, want);
    // Only once per boot: a later call keeps everything.
    ips_of(&add(OURS, "new-2", &ns.path(), &c));
    assert_eq!(reservations(dir.path()).len(), want.len() + 1);
}

#[test]
fn reservations_are_kept_without_the_key() {
    let (ns, dir, mut c) = setup(false);
    c["ipam"]
        .as_object_mut()
        .unwrap()
        .remove("reclaimAfterReboot");
    ips_of(&add(OURS, "new", &ns.path(), &c));
    assert_eq!(reservations(dir.path()).len(), 3);
    assert!(check(OURS, "old-1", &ns.path(), &c).success());
}
