//! `ferrocni netns add|list|exec|del`, compared with what iproute2 sees.

mod common;

use common::ferrocni;

/// Deletes the namespace on drop if a test failed half-way.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .output();
    }
}

#[test]
fn netns_add_exec_list_del() {
    // The harness's prefix and pid let its sweep remove leftovers.
    let name = format!("fcni-{}-clins", std::process::id());
    let _guard = Cleanup(name.clone());
    ferrocni(&["netns", "add", &name], &[], None).ok();
    let path = format!("/run/netns/{name}");
    assert!(
        cni::netns::inspect(std::path::Path::new(&path), false).is_ok(),
        "not a netns other than ours"
    );

    // iproute2 sees it, and inside there is only lo, down (ip netns add does not raise it).
    let ip_list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&ip_list.stdout).contains(&name));
    let links = ferrocni(&["netns", "exec", &name, "ip", "-o", "link"], &[], None)
        .ok()
        .stdout;
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && !links.contains(",UP"), "{links}");

    // exec really switched namespaces.
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    let theirs = ferrocni(
        &["netns", "exec", &name, "readlink", "/proc/self/ns/net"],
        &[],
        None,
    )
    .ok()
    .stdout;
    assert_ne!(theirs.trim(), ours.to_string_lossy());

    assert!(
        ferrocni(&["netns", "list"], &[], None)
            .ok()
            .stdout
            .lines()
            .any(|l| l == name)
    );
    let again = ferrocni(&["netns", "add", &name], &[], None);
    assert_eq!(again.code, 1, "adding twice must fail: {again:?}");

    ferrocni(&["netns", "del", &name], &[], None).ok();
    assert!(!std::path::Path::new(&path).exists());
    let missing = ferrocni(&["netns", "del", &name], &[], None);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains(&name), "{}", missing.stderr);
}

#[test]
fn netns_exec_reports_a_missing_namespace_and_command() {
    let out = ferrocni(&["netns", "exec", "fcni-no-such-ns", "true"], &[], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("fcni-no-such-ns"), "{}", out.stderr);
    let name = format!("fcni-{}-clix", std::process::id());
    let _guard = Cleanup(name.clone());
    ferrocni(&["netns", "add", &name], &[], None).ok();
    let out = ferrocni(&["netns", "exec", &name, "/no/such/cmd"], &[], None);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("/no/such/cmd"), "{}", out.stderr);
    ferrocni(&["netns", "del", &name], &[], None).ok();
}
