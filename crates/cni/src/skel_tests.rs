//! In-process tests of the skeleton with a recording plugin.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Value, json};

use crate::skel::{Plugin, Request, dispatch};
use crate::{CniError, CniResult, IpConfig};

#[derive(Default)]
struct Recorder {
    calls: RefCell<Vec<(String, bool)>>,
}

impl Plugin for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        self.calls
            .borrow_mut()
            .push(("ADD".into(), req.netns_gone()));
        let mut r = CniResult::default();
        r.ips
            .push(IpConfig::new("10.0.0.2/24".parse().unwrap(), None));
        Ok(r)
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        self.calls
            .borrow_mut()
            .push(("DEL".into(), req.netns_gone()));
        Ok(())
    }
    fn check(&self, _req: &Request) -> Result<(), CniError> {
        self.calls.borrow_mut().push(("CHECK".into(), false));
        Err(CniError::new(107, "drifted"))
    }
}

fn run(p: &Recorder, env: &[(&str, &str)], stdin: &str) -> (i32, Value) {
    let map: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let get = move |k: &str| map.get(k).cloned();
    let out = dispatch(p, &get, &mut stdin.as_bytes());
    let v = if out.stdout.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&out.stdout).unwrap()
    };
    (out.exit_code, v)
}

const NS: &str = "/run/netns/ferrocni-unset";

fn attach(verb: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("CNI_COMMAND", verb),
        ("CNI_CONTAINERID", "c1"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_NETNS", NS),
    ]
}

#[test]
fn version_needs_no_stdin() {
    let (code, v) = run(&Recorder::default(), &[("CNI_COMMAND", "VERSION")], "");
    assert_eq!(code, 0);
    assert_eq!(
        v["supportedVersions"],
        json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
}

/// A thread parked in a fresh network namespace; its ns path is a valid
/// `CNI_NETNS` that is not ours. Needs root (CAP_SYS_ADMIN).
fn other_netns() -> (String, std::sync::mpsc::Sender<()>) {
    let (tx_path, rx_path) = std::sync::mpsc::channel();
    let (tx_done, rx_done) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        // SAFETY: unshare only affects this thread's namespaces.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "unshare(CLONE_NEWNET) needs root");
        let tid = unsafe { libc::gettid() };
        tx_path
            .send(format!("/proc/{}/task/{tid}/ns/net", std::process::id()))
            .unwrap();
        let _ = rx_done.recv();
    });
    (rx_path.recv().unwrap(), tx_done)
}

#[test]
fn add_result_is_printed_in_the_config_version() {
    let p = Recorder::default();
    let (ns, _keep) = other_netns();
    let mut env = attach("ADD");
    env[3] = ("CNI_NETNS", Box::leak(ns.into_boxed_str()));
    let (code, v) = run(&p, &env, r#"{"cniVersion":"0.4.0","name":"n","type":"x"}"#);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["cniVersion"], "0.4.0");
    assert_eq!(v["ips"][0]["version"], "4");
    assert_eq!(p.calls.borrow()[0], ("ADD".to_string(), false));
}

#[test]
fn del_with_a_missing_netns_reaches_the_plugin_as_gone() {
    let p = Recorder::default();
    let mut env = attach("DEL");
    env[3] = ("CNI_NETNS", "/run/netns/ferrocni-never-existed");
    let (code, v) = run(&p, &env, r#"{"cniVersion":"1.0.0","name":"n","type":"x"}"#);
    assert_eq!((code, v), (0, Value::Null));
    assert_eq!(p.calls.borrow()[0], ("DEL".to_string(), true));
}

#[test]
fn plugin_errors_carry_code_and_config_version() {
    let p = Recorder::default();
    let mut env = attach("CHECK");
    env[3] = ("CNI_NETNS", "/run/netns/ferrocni-never-existed");
    let (code, v) = run(&p, &env, r#"{"cniVersion":"1.0.0","name":"n","type":"x"}"#);
    assert_eq!(code, 1);
    assert_eq!(v["code"], 8, "CHECK needs an existing netns: {v}");
    assert_eq!(v["cniVersion"], "1.0.0");
    assert!(p.calls.borrow().is_empty(), "the plugin must not run");
}

#[test]
fn gc_and_status_are_gated_to_1_1_0() {
    let p = Recorder::default();
    for verb in ["GC", "STATUS"] {
        let (_, v) = run(
            &p,
            &[("CNI_COMMAND", verb)],
            r#"{"cniVersion":"1.0.0","name":"n","type":"x"}"#,
        );
        assert_eq!(v["code"], 1, "{verb}");
        let (code, _) = run(
            &p,
            &[("CNI_COMMAND", verb)],
            r#"{"cniVersion":"1.1.0","name":"n","type":"x"}"#,
        );
        assert_eq!(code, 0, "{verb}");
    }
}

#[test]
fn an_error_before_the_config_is_read_uses_the_latest_version() {
    let (_, v) = run(&Recorder::default(), &[("CNI_COMMAND", "NOPE")], "");
    assert_eq!(v["code"], 4);
    assert_eq!(v["cniVersion"], "1.1.0");
}
