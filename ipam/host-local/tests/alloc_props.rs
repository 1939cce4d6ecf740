//! Property test of the allocator through the real plugin (in-process
//! dispatch): random ADD/DEL/CHECK sequences with retries, requested
//! addresses and foreign releases (as the reference would do) keep the data
//! directory equal to a simple model and never give one address to two
//! attachments.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use cni::skel::dispatch;
use common::*;
use host_local::HostLocal;
use integration::TestNetns;
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Op {
    Add(u8, u8, Option<u8>),
    Del(u8, u8),
    Check(u8, u8),
    /// Remove an attachment's files behind our back (a reference DEL).
    Foreign(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 0u8..2, proptest::option::weighted(0.2, 0u8..20)).prop_map(|(i, f, r)| Op::Add(i, f, r)),
        2 => (0u8..6, 0u8..2).prop_map(|(i, f)| Op::Del(i, f)),
        1 => (0u8..6, 0u8..2).prop_map(|(i, f)| Op::Check(i, f)),
        1 => (0u8..6, 0u8..2).prop_map(|(i, f)| Op::Foreign(i, f)),
    ]
}

fn netns() -> &'static TestNetns {
    static NS: OnceLock<TestNetns> = OnceLock::new();
    NS.get_or_init(|| TestNetns::new("hlprop"))
}

fn run(verb: &str, id: &str, ifname: &str, args: &str, conf: &Value) -> (i32, Value) {
    let ns = netns().path().display().to_string();
    let env = [
        ("CNI_COMMAND", verb.to_string()),
        ("CNI_CONTAINERID", id.to_string()),
        ("CNI_IFNAME", ifname.to_string()),
        ("CNI_NETNS", ns),
        ("CNI_PATH", "/nonexistent".to_string()),
        ("CNI_ARGS", args.to_string()),
    ];
    let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let out = dispatch(&HostLocal, &get, &mut conf.to_string().as_bytes());
    let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (out.exit_code, v)
}

type Model = BTreeMap<Key, Vec<String>>;

fn expected_files(m: &Model) -> BTreeMap<String, String> {
    m.iter()
        .flat_map(|((id, f), ips)| {
            ips.iter()
                .map(move |ip| (ip.clone(), format!("{id}\r\n{f}")))
        })
        .collect()
}

/// v4 set of two 3-address ranges (gateways skipped), v6 set of 6 addresses.
fn small_dual(dir: &std::path::Path) -> Value {
    conf(
        dir,
        json!([
            [{"subnet": "10.70.0.0/29", "rangeStart": "10.70.0.2", "rangeEnd": "10.70.0.4"},
             {"subnet": "10.70.1.0/29", "rangeEnd": "10.70.1.4"}],
            [{"subnet": "fd70::/125"}]
        ]),
    )
}

type Key = (String, String);

fn key(i: u8, f: u8) -> Key {
    (format!("c{i}"), format!("eth{f}"))
}

/// ADD: success must agree with the model (retry-stable, no sharing);
/// failure is exhaustion, or a conflict/invalid request when one was made.
fn apply_add(
    k: Key,
    req: Option<u8>,
    conf: &Value,
    model: &mut Model,
) -> Result<(), TestCaseError> {
    let args = req
        .map(|r| format!("IP=10.70.0.{}", r % 8))
        .unwrap_or_default();
    let (code, v) = run("ADD", &k.0, &k.1, &args, conf);
    if code != 0 {
        let c = v["code"].as_u64().unwrap();
        prop_assert!([105, 106, 7].contains(&c), "unexpected failure {}", v);
        if req.is_none() {
            prop_assert_eq!(c, 106, "only exhaustion: {}", v);
        }
        return Ok(());
    }
    let mut ips: Vec<String> = v["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x["address"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    prop_assert_eq!(ips.len(), 2);
    ips.sort();
    if let Some(old) = model.get(&k) {
        prop_assert_eq!(&ips, old, "retry returns the same addresses");
    }
    let others: BTreeSet<&String> = model
        .iter()
        .filter(|(kk, _)| **kk != k)
        .flat_map(|(_, v)| v)
        .collect();
    for ip in &ips {
        prop_assert!(!others.contains(ip), "{} given twice", ip);
    }
    model.insert(k, ips);
    Ok(())
}

fn apply(
    op: &Op,
    conf: &Value,
    dir: &std::path::Path,
    model: &mut Model,
) -> Result<(), TestCaseError> {
    match op {
        Op::Add(i, f, req) => apply_add(key(*i, *f), *req, conf, model)?,
        Op::Del(i, f) => {
            let k = key(*i, *f);
            prop_assert_eq!(run("DEL", &k.0, &k.1, "", conf).0, 0);
            model.remove(&k);
        }
        Op::Check(i, f) => {
            let k = key(*i, *f);
            prop_assert_eq!(
                run("CHECK", &k.0, &k.1, "", conf).0 == 0,
                model.contains_key(&k)
            );
        }
        Op::Foreign(i, f) => {
            for ip in model.remove(&key(*i, *f)).unwrap_or_default() {
                std::fs::remove_file(net_dir(dir).join(ip)).unwrap();
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn directory_always_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tmpdir();
        let conf = small_dual(dir.path());
        let mut model = Model::new();
        for op in &ops {
            apply(op, &conf, dir.path(), &mut model)?;
            prop_assert_eq!(reservations(dir.path()), expected_files(&model), "after {:?}", op);
        }
    }
}
