//! The spec rules every plugin must follow, each a case run against ours and
//! the reference, and the table they make.

use integration::CniOutput;
use serde_json::{Value, json};

use crate::ctx::{Ctx, PluginSpec, Target};

/// Outcome of one case for one target.
pub struct Verdict {
    pub pass: Option<bool>,
    pub observed: String,
}

fn na(why: &str) -> Verdict {
    Verdict {
        pass: None,
        observed: why.into(),
    }
}

fn observed(out: &CniOutput) -> String {
    match serde_json::from_str::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["code"].as_u64())
    {
        Some(c) => format!("exit {}, code {c}", out.code.unwrap_or(-1)),
        None => format!("exit {}", out.code.unwrap_or(-1)),
    }
}

/// Passes when the call failed with `code` in a JSON error on stdout.
fn expect_code(out: &CniOutput, code: u64) -> Verdict {
    let got = serde_json::from_str::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["code"].as_u64());
    Verdict {
        pass: Some(!out.success() && got == Some(code)),
        observed: observed(out),
    }
}

fn expect_ok(out: &CniOutput) -> Verdict {
    Verdict {
        pass: Some(out.success()),
        observed: observed(out),
    }
}

type CaseFn = fn(&Ctx) -> Verdict;

/// (name, rule, check)
const CASES: &[(&str, &str, CaseFn)] = &[
    (
        "VERSION, empty stdin",
        "answers {cniVersion, supportedVersions}",
        version_empty,
    ),
    (
        "VERSION, CNI_NETNS=dummy (podman)",
        "VERSION touches nothing",
        version_dummy,
    ),
    ("no CNI_COMMAND", "code 4", no_command),
    ("unknown CNI_COMMAND", "code 4", unknown_command),
    ("bad CNI_CONTAINERID", "code 4", bad_container_id),
    ("CNI_IFNAME longer than 15", "code 4", long_ifname),
    ("ADD without CNI_NETNS", "code 4", add_without_netns),
    ("CNI_NETNS not a netns", "code 8", netns_not_netns),
    (
        "CNI_NETNS is the plugin's own",
        "code 8, before any work",
        netns_own,
    ),
    ("malformed JSON", "code 6", malformed_json),
    ("cniVersion 0.2.0", "code 1", legacy_version),
    ("cniVersion missing", "code 1", missing_version),
    ("network name with '/'", "code 7", bad_name),
    ("CHECK at 0.3.1", "code 1", check_031),
    ("GC at 1.0.0", "code 1", gc_100),
    ("STATUS at 1.0.0", "code 1", status_100),
    (
        "ADD result per version",
        "result in the requested version",
        add_per_version,
    ),
    ("DEL twice", "DEL is idempotent", del_twice),
    (
        "DEL, empty CNI_NETNS, no prevResult",
        "DEL tolerates both",
        del_no_netns,
    ),
    ("CHECK after ADD (0.4.0+)", "succeeds", check_after_add),
    ("STATUS at 1.1.0", "succeeds when able to ADD", status_110),
    ("GC at 1.1.0, no valid attachments", "succeeds", gc_110),
];

fn version_empty(c: &Ctx) -> Verdict {
    let out = c
        .call("VERSION", "x")
        .unset("CNI_NETNS")
        .unset("CNI_CONTAINERID")
        .run();
    version_shape(&out)
}

fn version_dummy(c: &Ctx) -> Verdict {
    let out = c
        .call("VERSION", "x")
        .env("CNI_NETNS", "dummy")
        .env("CNI_IFNAME", "dummy")
        .stdin(r#"{"cniVersion":"1.0.0"}"#)
        .run();
    version_shape(&out)
}

fn version_shape(out: &CniOutput) -> Verdict {
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    let list = v["supportedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ok = out.success() && v["cniVersion"].is_string() && list.contains(&json!("1.0.0"));
    let shown: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    Verdict {
        pass: Some(ok),
        observed: format!("{}: {}", observed(out), shown.join(" ")),
    }
}

fn no_command(c: &Ctx) -> Verdict {
    expect_code(
        &c.call("ADD", &c.new_id())
            .unset("CNI_COMMAND")
            .config(&c.conf("1.0.0"))
            .run(),
        4,
    )
}
fn unknown_command(c: &Ctx) -> Verdict {
    expect_code(
        &c.call("FROB", &c.new_id()).config(&c.conf("1.0.0")).run(),
        4,
    )
}
fn bad_container_id(c: &Ctx) -> Verdict {
    expect_code(&c.call("ADD", "bad/id").config(&c.conf("1.0.0")).run(), 4)
}
fn long_ifname(c: &Ctx) -> Verdict {
    let call = c
        .call("ADD", &c.new_id())
        .env("CNI_IFNAME", "abcdefghijklmnop");
    expect_code(&call.config(&c.conf("1.0.0")).run(), 4)
}
fn add_without_netns(c: &Ctx) -> Verdict {
    expect_code(
        &c.call("ADD", &c.new_id())
            .unset("CNI_NETNS")
            .config(&c.conf("1.0.0"))
            .run(),
        4,
    )
}
fn netns_not_netns(c: &Ctx) -> Verdict {
    let call = c.call("ADD", &c.new_id()).env("CNI_NETNS", "/proc/version");
    expect_code(&call.config(&c.conf("1.0.0")).run(), 8)
}
fn netns_own(c: &Ctx) -> Verdict {
    let call = c
        .call("ADD", &c.new_id())
        .env("CNI_NETNS", "/proc/self/ns/net");
    expect_code(&call.config(&c.conf("1.0.0")).run(), 8)
}
fn malformed_json(c: &Ctx) -> Verdict {
    expect_code(
        &c.call("ADD", &c.new_id()).stdin("{\"cniVersion\":").run(),
        6,
    )
}
fn legacy_version(c: &Ctx) -> Verdict {
    let mut conf = c.conf("1.0.0");
    conf["cniVersion"] = json!("0.2.0");
    conf.as_object_mut().map(|o| o.remove("prevResult"));
    expect_code(&c.call("ADD", &c.new_id()).config(&conf).run(), 1)
}
fn missing_version(c: &Ctx) -> Verdict {
    let mut conf = c.conf("1.0.0");
    conf.as_object_mut().map(|o| {
        o.remove("cniVersion");
        o.remove("prevResult")
    });
    expect_code(&c.call("ADD", &c.new_id()).config(&conf).run(), 1)
}
fn bad_name(c: &Ctx) -> Verdict {
    let mut conf = c.conf("1.0.0");
    conf["name"] = json!("../escape/x");
    expect_code(&c.call("ADD", &c.new_id()).config(&conf).run(), 7)
}
fn check_031(c: &Ctx) -> Verdict {
    expect_code(
        &c.call("CHECK", &c.new_id()).config(&c.conf("0.3.1")).run(),
        1,
    )
}
fn gc_100(c: &Ctx) -> Verdict {
    expect_code(&c.call("GC", &c.new_id()).config(&c.conf("1.0.0")).run(), 1)
}
fn status_100(c: &Ctx) -> Verdict {
    expect_code(
        &c.call("STATUS", &c.new_id()).config(&c.conf("1.0.0")).run(),
        1,
    )
}

fn supported(c: &Ctx) -> Vec<String> {
    let out = c.call("VERSION", "x").run();
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    let all = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
    let list = v["supportedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    all.iter()
        .filter(|x| list.contains(&json!(x)))
        .map(|s| s.to_string())
        .collect()
}

fn add_per_version(c: &Ctx) -> Verdict {
    let mut seen = Vec::new();
    for v in supported(c) {
        let id = c.new_id();
        let out = c.call("ADD", &id).config(&c.conf(&v)).run();
        let _ = c.call("DEL", &id).config(&c.conf(&v)).run();
        let r: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
        let legacy = v.starts_with("0.");
        let ips = r["ips"].as_array().cloned().unwrap_or_default();
        let fields_ok = ips.iter().all(|ip| ip.get("version").is_some() == legacy);
        if !out.success() || r["cniVersion"] != json!(v) || !fields_ok {
            let why = if fields_ok {
                ""
            } else if legacy {
                ", ips[].version missing"
            } else {
                ", ips[].version present"
            };
            return Verdict {
                pass: Some(false),
                observed: format!("{v}: {}{why}", observed(&out)),
            };
        }
        seen.push(v);
    }
    Verdict {
        pass: Some(!seen.is_empty()),
        observed: seen.join(" "),
    }
}

fn del_twice(c: &Ctx) -> Verdict {
    let id = c.new_id();
    let conf = c.conf("1.0.0");
    let add = c.call("ADD", &id).config(&conf).run();
    if !add.success() {
        return Verdict {
            pass: Some(false),
            observed: format!("ADD {}", observed(&add)),
        };
    }
    let d1 = c.call("DEL", &id).config(&conf).run();
    let d2 = c.call("DEL", &id).config(&conf).run();
    Verdict {
        pass: Some(d1.success() && d2.success()),
        observed: format!("{} / {}", observed(&d1), observed(&d2)),
    }
}

fn del_no_netns(c: &Ctx) -> Verdict {
    let mut conf = c.conf("1.0.0");
    conf.as_object_mut().map(|o| o.remove("prevResult"));
    expect_ok(
        &c.call("DEL", &c.new_id())
            .env("CNI_NETNS", "")
            .config(&conf)
            .run(),
    )
}

fn check_after_add(c: &Ctx) -> Verdict {
    let id = c.new_id();
    let conf = c.conf("1.0.0");
    let add = c.call("ADD", &id).config(&conf).run();
    let Ok(prev) = serde_json::from_str::<Value>(&add.stdout) else {
        return Verdict {
            pass: Some(false),
            observed: format!("ADD {}", observed(&add)),
        };
    };
    let mut check_conf = conf.clone();
    check_conf["prevResult"] = prev;
    let out = c.call("CHECK", &id).config(&check_conf).run();
    let _ = c.call("DEL", &id).config(&check_conf).run();
    expect_ok(&out)
}

fn status_110(c: &Ctx) -> Verdict {
    if !supported(c).contains(&"1.1.0".to_string()) {
        return na("n/a (no 1.1.0)");
    }
    expect_ok(&c.call("STATUS", "x").config(&c.conf("1.1.0")).run())
}

fn gc_110(c: &Ctx) -> Verdict {
    if !supported(c).contains(&"1.1.0".to_string()) {
        return na("n/a (no 1.1.0)");
    }
    let mut conf = c.conf("1.1.0");
    conf["cni.dev/valid-attachments"] = json!([]);
    expect_ok(&c.call("GC", "x").config(&conf).run())
}

/// The table of one plugin, and how many of our cases failed.
pub struct Table {
    pub markdown: String,
    pub our_failures: usize,
}

fn cell(v: &Verdict) -> String {
    let mark = match v.pass {
        Some(true) => "pass",
        Some(false) => "FAIL",
        None => "—",
    };
    format!("{mark} ({})", v.observed)
}

pub fn run_plugin(spec: &PluginSpec, ours: &Target, reference: Option<&Target>) -> Table {
    let our_ctx = Ctx::new(spec, ours);
    let ref_ctx = reference.map(|r| Ctx::new(spec, r));
    let mut md = format!(
        "### {}\n\n| case | rule | ferrocni | reference |\n|---|---|---|---|\n",
        spec.name
    );
    let mut failures = 0;
    for (name, rule, f) in CASES {
        let o = f(&our_ctx);
        if o.pass == Some(false) {
            failures += 1;
        }
        let r = ref_ctx
            .as_ref()
            .map(|c| cell(&f(c)))
            .unwrap_or_else(|| "not run".into());
        md.push_str(&format!("| {name} | {rule} | {} | {r} |\n", cell(&o)));
    }
    Table {
        markdown: md,
        our_failures: failures,
    }
}
