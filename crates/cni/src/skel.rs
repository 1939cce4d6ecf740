//! The plugin skeleton: read env and stdin, validate, gate verbs by version,
//! guard the netns, dispatch to a [`Plugin`], print the result or the error.
//!
//! [`dispatch`] is pure of process state (env comes through a closure, stdin
//! through a reader) so plugins are testable in-process; [`run`] is `main`.

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::{NetConf, parse_json};
use crate::delegate;
use crate::env::{self, Command, Env};
use crate::error::{CniError, code};
use crate::netns::{self, NetnsState};
use crate::result::CniResult;
use crate::version::{SUPPORTED, Version};

/// Stdin larger than this is refused (bounded memory on hostile input).
pub const MAX_STDIN: u64 = 4 << 20;

/// One validated call.
#[derive(Debug, Clone)]
pub struct Request {
    pub command: Command,
    pub env: Env,
    pub conf: NetConf,
    netns_state: Option<NetnsState>,
}

impl Request {
    /// A request built by hand (in-process tests, embedding); `netns_exists`
    /// says whether `env.netns` names a live namespace.
    pub fn new(command: Command, env: Env, conf: NetConf, netns_exists: bool) -> Request {
        let netns_state = env.netns.as_ref().map(|_| {
            if netns_exists {
                NetnsState::Usable
            } else {
                NetnsState::Gone
            }
        });
        Request {
            command,
            env,
            conf,
            netns_state,
        }
    }

    /// The sandbox's netns path when it exists (always on ADD/CHECK).
    pub fn netns(&self) -> Option<&Path> {
        match self.netns_state {
            Some(NetnsState::Usable) => self.env.netns.as_deref(),
            _ => None,
        }
    }

    /// DEL only: the runtime named a netns that no longer exists, or none.
    pub fn netns_gone(&self) -> bool {
        self.netns().is_none()
    }

    /// Delegated IPAM ADD with this call's config; `None` without `ipam`.
    pub fn ipam_add(&self) -> Result<Option<CniResult>, CniError> {
        match self.conf.ipam_type()? {
            Some(t) => delegate::add(t, &self.env.path, &self.conf.bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Delegated IPAM DEL/CHECK/STATUS/GC; a no-op without `ipam`.
    pub fn ipam_run(&self, verb: Command) -> Result<(), CniError> {
        match self.conf.ipam_type()? {
            Some(t) => delegate::run(t, verb, &self.env.path, &self.conf.bytes),
            None => Ok(()),
        }
    }
}

/// What a plugin implements. Defaults: STATUS and GC succeed (nothing to do).
pub trait Plugin {
    /// The binary's name, for logs and the "about" line.
    fn name(&self) -> &'static str;
    fn add(&self, req: &Request) -> Result<CniResult, CniError>;
    fn del(&self, req: &Request) -> Result<(), CniError>;
    fn check(&self, req: &Request) -> Result<(), CniError>;
    fn status(&self, _req: &Request) -> Result<(), CniError> {
        Ok(())
    }
    fn gc(&self, _req: &Request) -> Result<(), CniError> {
        Ok(())
    }
}

/// What the process prints on stdout and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub exit_code: i32,
}

static ERROR_VERSION: AtomicUsize = AtomicUsize::new(SUPPORTED.len() - 1);
static PROGRAM: OnceLock<&'static str> = OnceLock::new();

/// Writes one log line to stderr, prefixed with the plugin's name.
pub fn log(msg: &str) {
    eprintln!("{}: {msg}", PROGRAM.get().copied().unwrap_or("ferrocni"));
}

/// The VERSION reply.
pub fn version_json() -> String {
    let list: Vec<&str> = SUPPORTED.iter().map(|v| v.as_str()).collect();
    serde_json::json!({"cniVersion": Version::LATEST.as_str(), "supportedVersions": list})
        .to_string()
}

/// Runs one call of `plugin` with env from `get` and config from `stdin`.
pub fn dispatch(
    plugin: &dyn Plugin,
    get: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
) -> Outcome {
    let mut reply_version = Version::LATEST.as_str().to_string();
    match dispatch_inner(plugin, get, stdin, &mut reply_version) {
        Ok(stdout) => Outcome {
            stdout,
            exit_code: 0,
        },
        Err(e) => Outcome {
            stdout: e.to_json(&reply_version),
            exit_code: 1,
        },
    }
}

fn dispatch_inner(
    plugin: &dyn Plugin,
    get: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    reply_version: &mut String,
) -> Result<String, CniError> {
    let verb = match get("CNI_COMMAND") {
        Some(c) if !c.is_empty() => Command::parse(&c)?,
        _ => return Err(CniError::invalid_env("CNI_COMMAND is required")),
    };
    let bytes = read_bounded(stdin)?;
    if verb == Command::Version {
        return Ok(version_json());
    }
    let raw = parse_json(&bytes)?;
    if let Some(v) = raw.get("cniVersion").and_then(|v| v.as_str()) {
        v.clone_into(reply_version);
    }
    let env = env::load(verb, get)?;
    let conf = NetConf::parse(&bytes)?;
    if let Some(i) = SUPPORTED.iter().position(|v| *v == conf.cni_version) {
        ERROR_VERSION.store(i, Ordering::Relaxed);
    }
    gate(verb, conf.cni_version)?;
    let netns_state = inspect_netns(verb, &env, get)?;
    let req = Request {
        command: verb,
        env,
        conf,
        netns_state,
    };
    call(plugin, &req)
}

fn call(plugin: &dyn Plugin, req: &Request) -> Result<String, CniError> {
    match req.command {
        Command::Add => plugin.add(req).map(|r| r.to_json(req.conf.cni_version)),
        Command::Del => plugin.del(req).map(|_| String::new()),
        Command::Check => plugin.check(req).map(|_| String::new()),
        Command::Status => plugin.status(req).map(|_| String::new()),
        Command::Gc => plugin.gc(req).map(|_| String::new()),
        Command::Version => Ok(version_json()),
    }
}

/// SPEC: CHECK needs a config ≥ 0.4.0, STATUS and GC ≥ 1.1.0 (code 1).
fn gate(verb: Command, v: Version) -> Result<(), CniError> {
    let ok = match verb {
        Command::Check => v.supports_check(),
        Command::Status | Command::Gc => v.supports_status_gc(),
        _ => true,
    };
    if ok {
        return Ok(());
    }
    let need = if verb == Command::Check {
        "0.4.0"
    } else {
        "1.1.0"
    };
    Err(CniError::new(
        code::INCOMPATIBLE_VERSION,
        format!(
            "{} requires cniVersion {need} or later; config is {v}",
            verb.as_str()
        ),
    ))
}

/// ADD/CHECK need a live netns; DEL tolerates a gone one. Never our own netns.
fn inspect_netns(
    verb: Command,
    env: &Env,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<NetnsState>, CniError> {
    let Some(path) = &env.netns else {
        return Ok(None);
    };
    if !verb.is_attachment_verb() {
        return Ok(None);
    }
    let allow_own = get("CNI_NETNS_OVERRIDE").is_some_and(|v| !v.is_empty() && v != "0");
    let state = netns::inspect(path, allow_own)?;
    if state == NetnsState::Gone && verb != Command::Del {
        return Err(CniError::new(
            code::INVALID_NETNS,
            format!("CNI_NETNS={:?} does not exist", path.display().to_string()),
        ));
    }
    Ok(Some(state))
}

fn read_bounded(stdin: &mut dyn Read) -> Result<Vec<u8>, CniError> {
    let mut buf = Vec::new();
    stdin
        .take(MAX_STDIN + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CniError::new(code::IO_FAILURE, format!("reading stdin: {e}")))?;
    if buf.len() as u64 > MAX_STDIN {
        return Err(CniError::new(
            code::IO_FAILURE,
            format!("stdin is larger than {MAX_STDIN} bytes; refusing to read it"),
        ));
    }
    Ok(buf)
}

/// The plugin's `main`: dispatch with the process env and stdin, print, exit.
pub fn run(plugin: &dyn Plugin) -> ! {
    let _ = PROGRAM.set(plugin.name());
    install_panic_hook();
    let get = |k: &str| std::env::var(k).ok();
    if std::env::var_os("CNI_COMMAND").is_none() {
        log(&format!(
            "ferrocni {} plugin {} (CNI {})",
            plugin.name(),
            env!("CARGO_PKG_VERSION"),
            SUPPORTED.map(|v| v.as_str()).join(", ")
        ));
    }
    let outcome = dispatch(plugin, &get, &mut std::io::stdin().lock());
    if !outcome.stdout.is_empty() {
        println!("{}", outcome.stdout);
    }
    std::process::exit(outcome.exit_code)
}

/// Even a bug prints a CNI error (code 100) before the process dies.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let v = SUPPORTED[ERROR_VERSION.load(Ordering::Relaxed)];
        let e = CniError::internal(format!("internal error: {info}"));
        println!("{}", e.to_json(v.as_str()));
        log(&format!("panic: {info}"));
        std::process::exit(1);
    }));
}

#[cfg(test)]
#[path = "skel_tests.rs"]
mod tests;
