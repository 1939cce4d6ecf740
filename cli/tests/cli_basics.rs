//! Help, version, usage errors and output robustness of the binary.

mod common;

use common::ferrocni;

#[test]
fn help_lists_every_command_and_variable() {
    let out = ferrocni(&["--help"], &[], None).ok();
    for word in [
        "add",
        "check",
        "del",
        "gc",
        "status",
        "netns",
        "--valid",
        "--all",
        "--netconf",
        "--cache-dir",
        "NETCONFPATH",
        "CNI_PATH",
        "CNI_ARGS",
        "CAP_ARGS",
        "CNI_IFNAME",
        "CNI_CONTAINERID",
    ] {
        assert!(out.stdout.contains(word), "help lacks {word}");
    }
    assert!(
        ferrocni(&["--version"], &[], None)
            .ok()
            .stdout
            .starts_with("ferrocni ")
    );
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    for args in [
        &[][..],
        &["add"],
        &["frob", "x", "y"],
        &["gc", "net"],
        &["add", "n", "/x", "--bogus"],
    ] {
        let out = ferrocni(args, &[], None);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("ferrocni: "), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
    }
}

#[test]
fn missing_config_dir_names_the_network() {
    let out = ferrocni(
        &["add", "ghostnet", "/run/netns/x"],
        &[("NETCONFPATH", "/nonexistent-ferrocni")],
        None,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("\"ghostnet\"") && out.stderr.contains("/nonexistent-ferrocni"),
        "{out:?}"
    );
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrocni"))
        .arg("--help")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0));
}
