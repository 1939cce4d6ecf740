//! OCI hook mode: state on stdin -> container -> requests -> cgroup located
//! through `/proc/<pid>/cgroup` -> plan -> (dry-run | apply + verify).
//! In `reject` mode the first problem fails the container with one line;
//! in `warn` mode problems are warnings and the rest is applied.

use std::io::Write as _;
use std::path::PathBuf;

use crate::cgfs::{CgroupDir, CgroupFiles};
use crate::error::{Error, Result};
use crate::iodev::Resolver;
use crate::locate;
use crate::plan::{self, Request};
use crate::policy::{Mode, OnError, Policy};
use crate::requests;
use crate::state::{self, Container};

/// Options shared by the subcommands.
#[derive(Debug, Clone)]
pub struct Opts {
    pub policy: Option<PathBuf>,
    pub dry_run: bool,
    pub verbose: bool,
    pub log: Option<PathBuf>,
    /// Test hooks: alternative /proc, cgroup2 root (skips the fs check), /sys.
    pub proc_root: PathBuf,
    pub cgroup_root: Option<PathBuf>,
    pub sys_root: PathBuf,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            policy: None,
            dry_run: false,
            verbose: false,
            log: None,
            proc_root: "/proc".into(),
            cgroup_root: None,
            sys_root: "/sys".into(),
        }
    }
}

/// Where messages go: stderr (warnings always, info when verbose) and a log file.
pub struct Reporter<'a> {
    pub opts: &'a Opts,
    pub ctx: String,
}

impl Reporter<'_> {
    fn emit(&self, level: &str, msg: &str, to_stderr: bool) {
        // the one path to stderr and --log: outside text cannot end the line
        let line = crate::text::line(&format!(
            "cgroup-hook: {level}{}{msg}",
            if self.ctx.is_empty() {
                String::new()
            } else {
                format!("{}: ", self.ctx)
            }
        ));
        if to_stderr {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        if let Some(p) = &self.opts.log
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
        {
            let _ = writeln!(f, "{line}");
        }
    }
    pub fn info(&self, msg: &str) {
        self.emit("", msg, self.opts.verbose);
    }
    pub fn warn(&self, msg: &str) {
        self.emit("warning: ", msg, true);
    }
}

/// Locates the container's cgroup: (mount root, relative path, check fs).
pub fn locate_pid(opts: &Opts, pid: i32) -> std::result::Result<(PathBuf, PathBuf, bool), String> {
    let (mount, check_fs) = match &opts.cgroup_root {
        Some(r) => (
            locate::Mount {
                root: "/".into(),
                point: r.clone(),
                fstype: "cgroup2".into(),
                options: String::new(),
            },
            false,
        ),
        None => {
            let mi = opts.proc_root.join("self/mountinfo");
            let text =
                std::fs::read_to_string(&mi).map_err(|e| format!("{}: {e}", mi.display()))?;
            (locate::find_unified(&locate::parse_mountinfo(&text))?, true)
        }
    };
    let pc = opts.proc_root.join(format!("{pid}/cgroup"));
    let text = std::fs::read_to_string(&pc).map_err(|e| format!("{}: {e}", pc.display()))?;
    let path = locate::unified_path(&text).ok_or_else(|| {
        format!(
            "{}: no 0:: line (process not in the unified hierarchy)",
            pc.display()
        )
    })?;
    let rel = locate::relative_to_mount(&mount, path).ok_or_else(|| {
        format!(
            "cgroup {path} is outside the cgroup2 mount {}",
            mount.point.display()
        )
    })?;
    if rel.as_os_str().is_empty() {
        return Err(format!(
            "pid {pid} is in the root cgroup: refusing to set limits there"
        ));
    }
    Ok((mount.point, rel, check_fs))
}

/// Fails (reject) or warns (warn) about `lines`; `Ok(false)` to stop quietly.
fn handle(rep: &Reporter, policy: &Policy, lines: &[String]) -> Result<bool> {
    if lines.is_empty() {
        return Ok(true);
    }
    if policy.on_error == OnError::Reject {
        let extra = if lines.len() > 1 {
            format!(" (and {} more)", lines.len() - 1)
        } else {
            String::new()
        };
        let ctx = if rep.ctx.is_empty() {
            String::new()
        } else {
            format!("{}: ", rep.ctx)
        };
        return Err(Error::Rejected(format!("{ctx}{}{extra}", lines[0])));
    }
    lines.iter().for_each(|l| rep.warn(l));
    Ok(false)
}

/// Runs the hook for the state JSON `input`.
pub fn run(opts: &Opts, input: &str) -> Result<()> {
    let policy = Policy::load(opts.policy.as_deref())?;
    let ctr = state::load(input)?;
    let rep = Reporter {
        opts,
        ctx: ctr.context(),
    };
    if ctr.is_sandbox() {
        return Ok(());
    }
    let node_mode = if opts.dry_run {
        Mode::DryRun
    } else {
        policy.mode
    };
    let built = requests::build(&ctr.annotations, ctr.name(), &policy, node_mode);
    if !built.any {
        return Ok(());
    }
    built.notes.iter().for_each(|n| rep.info(n));
    handle(&rep, &policy, &built.problems)?;
    if built.requests.is_empty() {
        rep.info("no limits to apply");
        return Ok(());
    }
    let dry = built.mode == Some(Mode::DryRun);
    apply_to_container(&rep, &policy, &ctr, &built.requests, dry)
}

fn apply_to_container(
    rep: &Reporter,
    policy: &Policy,
    ctr: &Container,
    reqs: &[Request],
    dry: bool,
) -> Result<()> {
    let Some(dir) = open_cgroup(rep, policy, ctr)? else {
        return Ok(());
    };
    let resolver = Resolver {
        sys_root: rep.opts.sys_root.clone(),
    };
    let p = plan::plan(reqs, &dir, &resolver, policy.tighten_only);
    p.notes.iter().for_each(|n| rep.info(n));
    let lines: Vec<String> = p.problems.iter().map(plan::Problem::line).collect();
    handle(rep, policy, &lines)?;
    if dry {
        for w in p.writes.iter().filter(|w| !w.change.lines.is_empty()) {
            let msg = format!(
                "would write {}/{}: {:?} (now {:?})",
                dir.path().display(),
                w.knob.file(),
                w.change.lines.join("; "),
                w.old.trim()
            );
            rep.emit("dry-run: ", &msg, true);
        }
        return Ok(());
    }
    match crate::apply::apply(&dir, &p.writes) {
        Ok(done) => done.iter().for_each(|d| rep.info(&format!("set {d}"))),
        Err(e) => {
            handle(rep, policy, &[format!("{}: {e}", dir.path().display())])?;
        }
    }
    Ok(())
}

/// Locates and opens the container's cgroup; `None` when skipped (warn mode).
fn open_cgroup(rep: &Reporter, policy: &Policy, ctr: &Container) -> Result<Option<CgroupDir>> {
    let located = ctr
        .pid
        .ok_or_else(|| "container state has no pid".to_string())
        .and_then(|pid| locate_pid(rep.opts, pid));
    let (root, rel, check_fs) = match located {
        Ok(l) => l,
        Err(e) => return handle(rep, policy, &[e]).map(|_| None),
    };
    if let Some(mismatch) = ctr
        .cgroups_path
        .as_deref()
        .and_then(|cp| locate::cross_check(&rel, cp))
    {
        rep.info(&format!("{mismatch}; using /proc"));
    }
    match CgroupDir::open(&root, &rel, check_fs) {
        Ok(d) => Ok(Some(d)),
        Err(e) => {
            let line = format!("{}: {e}", root.join(&rel).display());
            handle(rep, policy, &[line]).map(|_| None)
        }
    }
}
