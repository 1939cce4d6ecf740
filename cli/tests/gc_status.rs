//! GC and STATUS against recorder plugins: libcni's semantics (stale cached
//! attachments get a full DEL, then GC with the valid set to every plugin).

mod common;

use common::Lab;
use serde_json::{Value, json};

fn lab(version: &str, extra: Value) -> Lab {
    let lab = Lab::new();
    let r = json!({"cniVersion":"1.0.0","ips":[{"address":"10.3.0.7/24"}]});
    lab.recorder("a", &r);
    lab.recorder("b", &r);
    let mut list = json!({"cniVersion":version,"name":"g","plugins":[{"type":"a"},{"type":"b"}]});
    for (k, v) in extra.as_object().unwrap() {
        list[k] = v.clone();
    }
    lab.conf("g.conflist", &list);
    lab
}

/// ADDs three attachments: x/eth0, y/eth0, x/net1.
fn add_three(lab: &Lab) {
    lab.run(&["add", "g", "/run/netns/gx"], &[("CNI_CONTAINERID", "x")])
        .ok();
    lab.run(
        &["add", "g", "/run/netns/gy"],
        &[("CNI_CONTAINERID", "y"), ("CNI_ARGS", "P=1")],
    )
    .ok();
    lab.run(
        &["add", "g", "/run/netns/gx", "-i", "net1"],
        &[("CNI_CONTAINERID", "x")],
    )
    .ok();
    lab.clear();
}

#[test]
fn bare_gc_is_refused() {
    let lab = lab("1.1.0", json!({}));
    add_three(&lab);
    for args in [&["gc", "g"][..], &["gc", "g", "/run/netns/gx"]] {
        let out = lab.run(args, &[]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("--valid"), "{}", out.stderr);
    }
    assert!(lab.calls().is_empty());
    assert!(lab.cache_file("g", "x", "eth0").exists());
}

#[test]
fn gc_valid_keeps_the_valid_and_deletes_the_rest() {
    let lab = lab("1.1.0", json!({}));
    add_three(&lab);
    lab.run(&["gc", "g", "--valid", "x/eth0"], &[]).ok();
    let calls = lab.calls();
    let dels: Vec<(&str, &str, &str)> = calls
        .iter()
        .filter(|c| c.verb == "DEL")
        .map(|c| {
            (
                c.plugin.as_str(),
                c.container_id.as_str(),
                c.ifname.as_str(),
            )
        })
        .collect();
    assert_eq!(
        dels,
        [
            ("b", "x", "net1"),
            ("a", "x", "net1"),
            ("b", "y", "eth0"),
            ("a", "y", "eth0")
        ]
    );
    let y_del = calls.iter().find(|c| c.container_id == "y").unwrap();
    assert_eq!(
        (y_del.netns.as_str(), y_del.args.as_str()),
        ("/run/netns/gy", "P=1")
    );
    assert_eq!(
        y_del.stdin["prevResult"]["ips"][0]["address"],
        "10.3.0.7/24"
    );
    assert!(lab.cache_file("g", "x", "eth0").exists());
    assert!(!lab.cache_file("g", "y", "eth0").exists());
    assert!(!lab.cache_file("g", "x", "net1").exists());
    let gcs: Vec<_> = calls.iter().filter(|c| c.verb == "GC").collect();
    assert_eq!(
        gcs.iter().map(|c| c.plugin.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    for c in gcs {
        let want = json!([{"containerID":"x","ifname":"eth0"}]);
        assert_eq!(c.stdin["cni.dev/valid-attachments"], want);
        assert_eq!(c.stdin["cni.dev/attachments"], want);
        assert_eq!(
            (c.container_id.as_str(), c.netns.as_str(), c.ifname.as_str()),
            ("", "", "")
        );
        assert_eq!(c.stdin["cniVersion"], "1.1.0");
    }
}

#[test]
fn gc_all_deletes_everything_of_the_network_only() {
    let lab = lab("1.1.0", json!({}));
    add_three(&lab);
    let other = common::read_json(&lab.cache_file("g", "x", "eth0"));
    let mut foreign = other.clone();
    foreign["networkName"] = json!("other");
    let foreign_file = lab.cache().join("results/other-z-eth0");
    std::fs::write(&foreign_file, foreign.to_string()).unwrap();
    lab.run(&["gc", "g", "--all"], &[]).ok();
    assert_eq!(lab.calls().iter().filter(|c| c.verb == "DEL").count(), 6);
    let gc = lab.calls().into_iter().find(|c| c.verb == "GC").unwrap();
    assert_eq!(gc.stdin["cni.dev/valid-attachments"], json!([]));
    assert!(
        foreign_file.exists(),
        "another network's entry is not touched"
    );
}

#[test]
fn gc_below_1_1_0_only_deletes() {
    let lab = lab("1.0.0", json!({}));
    add_three(&lab);
    lab.run(&["gc", "g", "--valid", "x/eth0", "y/eth0"], &[])
        .ok();
    let verbs: Vec<String> = lab.calls().into_iter().map(|c| c.verb).collect();
    assert_eq!(verbs, ["DEL", "DEL"]);
}

#[test]
fn disable_gc_sends_nothing() {
    let lab = lab("1.1.0", json!({"disableGC": true}));
    add_three(&lab);
    lab.run(&["gc", "g", "--all"], &[]).ok();
    assert!(lab.calls().is_empty());
    assert!(lab.cache_file("g", "y", "eth0").exists());
}

#[test]
fn gc_goes_on_after_a_failure_and_reports_it() {
    let lab = lab("1.1.0", json!({}));
    add_three(&lab);
    lab.fail("a", "GC", &json!({"code":100,"msg":"gc broke"}));
    let out = lab.run(&["gc", "g", "--all"], &[]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("gc broke"), "{out:?}");
    let gcs: Vec<String> = lab
        .calls()
        .into_iter()
        .filter(|c| c.verb == "GC")
        .map(|c| c.plugin)
        .collect();
    assert_eq!(gcs, ["a", "b"], "b still gets GC after a failed");
}

#[test]
fn status_goes_to_every_plugin_from_1_1_0() {
    let lab = lab("1.1.0", json!({}));
    lab.run(&["status", "g"], &[]).ok();
    let calls = lab.calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.plugin.as_str(), c.verb.as_str()))
            .collect::<Vec<_>>(),
        [("a", "STATUS"), ("b", "STATUS")]
    );
    assert_eq!(calls[0].stdin["name"], "g");
    lab.clear();
    lab.fail("a", "STATUS", &json!({"code":50,"msg":"not ready"}));
    let out = lab.run(&["status", "g"], &[]);
    assert_eq!(out.code, 1);
    assert_eq!(out.json()["code"], 50);
    assert_eq!(lab.calls().len(), 1, "stops at the first failure");

    let old = self::lab("1.0.0", json!({}));
    old.run(&["status", "g"], &[]).ok();
    assert!(old.calls().is_empty());
}
