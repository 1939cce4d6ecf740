//! Black-box CNI conformance: runs every plugin found in `--bin-dir` (ours)
//! and, when given, `--ref-dir` (the reference binaries) through the spec
//! rules that apply to any plugin, inside namespaces it creates, and prints a
//! pass/fail table per plugin. Exits non-zero when one of *ours* fails.

mod cases;
mod ctx;

use std::path::PathBuf;

use ctx::{PluginSpec, Target};

const PLUGINS: [&str; 5] = ["loopback", "host-local", "bridge", "portmap", "firewall"];

struct Args {
    bin_dir: PathBuf,
    ref_dir: Option<PathBuf>,
    only: Vec<String>,
    markdown: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        bin_dir: PathBuf::from("target/debug"),
        ref_dir: None,
        only: Vec::new(),
        markdown: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--bin-dir" => args.bin_dir = PathBuf::from(val()?),
            "--ref-dir" => args.ref_dir = Some(PathBuf::from(val()?)),
            "--plugins" => args.only = val()?.split(',').map(String::from).collect(),
            "--markdown" => args.markdown = Some(PathBuf::from(val()?)),
            "-h" | "--help" => {
                return Err("usage: conformance --bin-dir DIR [--ref-dir DIR] [--plugins a,b] [--markdown FILE]".into());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let spec_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins");
    let mut report = String::new();
    let mut our_failures = 0;
    for name in PLUGINS {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
            continue;
        }
        let Some(spec) = PluginSpec::load(&spec_dir, name) else {
            continue;
        };
        let ours = Target::new("ferrocni", &args.bin_dir, name);
        let reference = args
            .ref_dir
            .as_ref()
            .map(|d| Target::new("reference", d, name));
        if !ours.present() {
            eprintln!(
                "conformance: {name}: not built in {}, skipped",
                args.bin_dir.display()
            );
            continue;
        }
        let table = cases::run_plugin(&spec, &ours, reference.as_ref().filter(|r| r.present()));
        our_failures += table.our_failures;
        report.push_str(&table.markdown);
        report.push('\n');
    }
    print!("{report}");
    if let Some(path) = &args.markdown {
        let _ = std::fs::write(path, &report);
    }
    if our_failures > 0 {
        eprintln!("conformance: {our_failures} case(s) failed for ferrocni");
        std::process::exit(1);
    }
}
