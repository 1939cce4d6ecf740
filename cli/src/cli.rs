//! Entry point: parse the command line, run it, print the result or the
//! error, and pick the exit status (0 ok, 1 failure, 2 usage).

use std::path::PathBuf;

use crate::args::{self, Invocation, NetnsCmd, Options, Verb};
use crate::cache;
use crate::conf::NetList;
use crate::error::CliError;
use crate::netns;
use crate::ops::{self, Ctx};
use crate::runtime::{Getenv, RuntimeConf};

/// `ferrocni --help`.
pub const HELP: &str = "\
ferrocni: run CNI plugins the way cnitool and libcni do

USAGE:
    ferrocni [OPTIONS] add|check|del <net> <netns>
    ferrocni [OPTIONS] gc <net> (--valid <containerID>/<ifname>... | --all)
    ferrocni [OPTIONS] status <net>
    ferrocni netns add|del <name>
    ferrocni netns list
    ferrocni netns exec <name> <cmd> [args...]

COMMANDS:
    add       ADD every plugin of the list in order (prevResult chained);
              print the result; cache it (libcni cniCacheV1 format)
    check     CHECK every plugin with the cached result (cniVersion >= 0.4.0)
    del       DEL in reverse order with the cached result; remove the cache entry
    gc        DEL cached attachments of <net> not listed with --valid (all of
              them with --all), then send GC to every plugin (>= 1.1.0)
    status    send STATUS to every plugin (>= 1.1.0)
    netns     manage named network namespaces under /run/netns (like ip netns)

OPTIONS:
    --netconf <file>     use this .conf/.conflist instead of searching NETCONFPATH
                         (<net> may then be omitted)
    --cache-dir <dir>    result cache directory (default /var/lib/cni)
    -i, --ifname <name>  interface name (overrides CNI_IFNAME)
    -h, --help           this text
    -V, --version        ferrocni's version

ENVIRONMENT:
    NETCONFPATH      configuration directory (default /etc/cni/net.d): *.conflist,
                     then *.conf and *.json, matched by network name
    CNI_PATH         ':'-separated plugin directories
    CNI_IFNAME       interface name in the namespace (default eth0)
    CNI_ARGS         K=V;K=V pairs passed to plugins
    CAP_ARGS         JSON object of capability arguments, e.g.
                     '{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]}'
    CNI_CONTAINERID  container id; default cnitool's: cnitool-<20 hex of sha512(netns path)>

On a plugin failure its CNI error JSON is printed on stdout and the exit
status is 1. Plugins run in ferrocni's own network namespace: interfaces a
plugin creates on the \"host\" side (bridge, veth) appear there.
";

/// Runs the CLI with the process's arguments and environment.
pub fn main() -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let env = |k: &str| std::env::var(k).ok();
    match args::parse(argv).and_then(|inv| run(inv, &env)) {
        Ok(()) => 0,
        Err(e) => {
            for json in e.plugin_json() {
                crate::out!("{json}");
            }
            crate::note!("ferrocni: {e}");
            e.exit_code()
        }
    }
}

/// Runs one parsed invocation.
pub fn run(inv: Invocation, env: Getenv) -> Result<(), CliError> {
    match inv {
        Invocation::Help => {
            crate::out!("{}", HELP.trim_end());
            Ok(())
        }
        Invocation::Version => {
            crate::out!("ferrocni {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Invocation::Netns(cmd) => run_netns(cmd),
        Invocation::Net {
            verb,
            net,
            netns,
            opts,
        } => run_net(verb, net.as_deref(), netns.as_deref(), &opts, env),
    }
}

fn run_netns(cmd: NetnsCmd) -> Result<(), CliError> {
    match cmd {
        NetnsCmd::Add(name) => netns::add(&name).map(|_| ()),
        NetnsCmd::Del(name) => netns::del(&name),
        NetnsCmd::List => {
            for n in netns::list()? {
                crate::out!("{n}");
            }
            Ok(())
        }
        NetnsCmd::Exec(name, cmd) => Err(netns::exec(&name, &cmd)),
    }
}

fn load_list(net: Option<&str>, opts: &Options, env: Getenv) -> Result<NetList, CliError> {
    let list = match (&opts.netconf, net) {
        (Some(file), _) => NetList::load_file(file)?,
        (None, Some(net)) => {
            let dir = env("NETCONFPATH")
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "/etc/cni/net.d".into());
            NetList::load_dir(&PathBuf::from(dir), net)?
        }
        (None, None) => return Err(CliError::usage("missing network name")),
    };
    if let Some(net) = net.filter(|n| *n != list.name) {
        return Err(CliError::Config {
            path: list.source.clone(),
            msg: format!("network is named {:?}, not {net:?}", list.name),
        });
    }
    Ok(list)
}

fn run_net(
    verb: Verb,
    net: Option<&str>,
    netns: Option<&str>,
    opts: &Options,
    env: Getenv,
) -> Result<(), CliError> {
    let list = load_list(net, opts, env)?;
    let ctx = Ctx {
        cni_path: std::env::split_paths(&env("CNI_PATH").unwrap_or_default())
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        cache_dir: opts
            .cache_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(cache::DEFAULT_DIR)),
    };
    match verb {
        Verb::Gc => {
            let valid = ops::parse_attachments(&opts.valid)?;
            return ops::gc(&ctx, &list, &valid);
        }
        Verb::Status => return ops::status(&ctx, &list),
        _ => {}
    }
    let netns =
        netns.ok_or_else(|| CliError::usage(format!("{} needs <netns>", args::verb_name(verb))))?;
    let (rt, given) = RuntimeConf::from_env(netns, opts.ifname.as_deref(), env)?;
    match verb {
        Verb::Add => {
            let result = ops::add(&ctx, &list, &rt)?;
            let text = serde_json::to_string_pretty(&result).unwrap_or_else(|_| result.to_string());
            crate::out!("{text}");
            Ok(())
        }
        Verb::Check => ops::check(&ctx, &list, &rt, given),
        _ => ops::del(&ctx, &list, &rt, given),
    }
}
