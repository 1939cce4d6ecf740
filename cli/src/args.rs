//! Hand-rolled command-line parsing: `ferrocni [OPTIONS] <verb> ...`.
//!
//! Options may appear anywhere before a `netns exec` command; everything after
//! `netns exec <name>` belongs to the command being run.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::CliError;

/// A network verb: what libcni's `*NetworkList` functions do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Add,
    Check,
    Del,
    Gc,
    Status,
}

/// Options shared by the network verbs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `--cache-dir DIR` (default `/var/lib/cni`).
    pub cache_dir: Option<PathBuf>,
    /// `--netconf FILE`: use this file instead of searching `NETCONFPATH`.
    pub netconf: Option<PathBuf>,
    /// `-i` / `--ifname IF` (overrides `CNI_IFNAME`).
    pub ifname: Option<String>,
    /// `gc --valid ID/IFNAME` (repeatable; several may follow one flag).
    pub valid: Vec<String>,
    /// `gc --all`: no attachment is valid.
    pub all: bool,
}

/// `ferrocni netns ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetnsCmd {
    Add(String),
    Del(String),
    List,
    Exec(String, Vec<OsString>),
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    Help,
    Version,
    Net {
        verb: Verb,
        /// Network name (may be omitted with `--netconf`).
        net: Option<String>,
        /// Network namespace path (not needed for gc / status).
        netns: Option<String>,
        opts: Options,
    },
    Netns(NetnsCmd),
}

/// Parses `argv` without the program name.
pub fn parse(argv: Vec<OsString>) -> Result<Invocation, CliError> {
    let mut q: VecDeque<OsString> = argv.into();
    let mut opts = Options::default();
    let mut words: Vec<String> = Vec::new();
    while let Some(arg) = q.pop_front() {
        let arg = utf8(arg)?;
        if words.len() == 2 && words[0] == "netns" && words[1] == "exec" {
            return netns_exec(arg, q.into());
        }
        match arg.as_str() {
            "-h" | "--help" | "help" if words.is_empty() => return Ok(Invocation::Help),
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "--all" => opts.all = true,
            "--valid" => opts.valid.push(value(&mut q, "--valid")?),
            "--cache-dir" => opts.cache_dir = Some(value(&mut q, "--cache-dir")?.into()),
            "--netconf" => opts.netconf = Some(value(&mut q, "--netconf")?.into()),
            "-i" | "--ifname" => opts.ifname = Some(value(&mut q, "--ifname")?),
            s if s.starts_with("--") && s.contains('=') => {
                let (k, v) = s.split_once('=').unwrap_or_default();
                q.push_front(v.into());
                q.push_front(k.into());
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(CliError::usage(format!("unknown option {s:?}")));
            }
            _ if !opts.valid.is_empty() && looks_like_attachment(&arg) && words.len() >= 2 => {
                opts.valid.push(arg)
            }
            _ => words.push(arg),
        }
    }
    build(words, opts)
}

fn looks_like_attachment(s: &str) -> bool {
    s.contains('/') && !s.starts_with('/') && !s.starts_with('.')
}

fn utf8(arg: OsString) -> Result<String, CliError> {
    arg.into_string()
        .map_err(|a| CliError::usage(format!("argument {a:?} is not valid UTF-8")))
}

fn value(q: &mut VecDeque<OsString>, flag: &str) -> Result<String, CliError> {
    match q.pop_front() {
        Some(v) => utf8(v),
        None => Err(CliError::usage(format!("{flag} needs a value"))),
    }
}

fn netns_exec(name: String, cmd: Vec<OsString>) -> Result<Invocation, CliError> {
    if cmd.is_empty() {
        return Err(CliError::usage("netns exec needs a command to run"));
    }
    Ok(Invocation::Netns(NetnsCmd::Exec(name, cmd)))
}

fn build(words: Vec<String>, opts: Options) -> Result<Invocation, CliError> {
    let Some((first, rest)) = words.split_first() else {
        return Err(CliError::usage("missing command"));
    };
    let verb = match first.as_str() {
        "add" => Verb::Add,
        "check" => Verb::Check,
        "del" => Verb::Del,
        "gc" => Verb::Gc,
        "status" => Verb::Status,
        "netns" => return build_netns(rest),
        other => return Err(CliError::usage(format!("unknown command {other:?}"))),
    };
    build_net(verb, rest, opts)
}

fn build_net(verb: Verb, rest: &[String], opts: Options) -> Result<Invocation, CliError> {
    let needs_netns = matches!(verb, Verb::Add | Verb::Check | Verb::Del);
    let (net, netns) = match (rest, opts.netconf.is_some(), needs_netns) {
        ([net, ns], _, _) => (Some(net.clone()), Some(ns.clone())),
        ([ns], true, true) => (None, Some(ns.clone())),
        ([net], _, false) => (Some(net.clone()), None),
        ([], true, false) => (None, None),
        ([], _, _) | ([_], _, _) => {
            let what = if needs_netns {
                "<net> <netns>"
            } else {
                "<net>"
            };
            return Err(CliError::usage(format!("{} needs {what}", verb_name(verb))));
        }
        _ => return Err(CliError::usage(format!("too many arguments: {rest:?}"))),
    };
    if verb == Verb::Gc && !opts.all && opts.valid.is_empty() {
        return Err(CliError::usage(
            "gc needs --valid <containerID/ifname>... or --all \
             (refusing to garbage-collect every attachment of the network by accident)",
        ));
    }
    if verb == Verb::Gc && opts.all && !opts.valid.is_empty() {
        return Err(CliError::usage("gc: --all and --valid exclude each other"));
    }
    if verb != Verb::Gc && (opts.all || !opts.valid.is_empty()) {
        return Err(CliError::usage("--valid and --all are options of gc only"));
    }
    Ok(Invocation::Net {
        verb,
        net,
        netns,
        opts,
    })
}

fn build_netns(rest: &[String]) -> Result<Invocation, CliError> {
    let cmd = match rest {
        [op, name] if op == "add" => NetnsCmd::Add(name.clone()),
        [op, name] if op == "del" || op == "delete" => NetnsCmd::Del(name.clone()),
        [op] if op == "list" || op == "ls" => NetnsCmd::List,
        [op, ..] if op == "exec" => {
            return Err(CliError::usage(
                "usage: ferrocni netns exec <name> <cmd> [args...]",
            ));
        }
        _ => {
            return Err(CliError::usage(
                "usage: ferrocni netns add|del <name> | list | exec <name> <cmd> [args...]",
            ));
        }
    };
    Ok(Invocation::Netns(cmd))
}

/// The lower-case name of a verb, as typed.
pub fn verb_name(v: Verb) -> &'static str {
    match v {
        Verb::Add => "add",
        Verb::Check => "check",
        Verb::Del => "del",
        Verb::Gc => "gc",
        Verb::Status => "status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Invocation, CliError> {
        parse(args.iter().map(OsString::from).collect())
    }

    fn opts_of(inv: Invocation) -> Options {
        match inv {
            Invocation::Net { opts, .. } => opts,
            other => panic!("not a net verb: {other:?}"),
        }
    }

    #[test]
    fn cnitool_form_parses() {
        let inv = p(&["add", "mynet", "/run/netns/x"]).unwrap();
        assert_eq!(
            inv,
            Invocation::Net {
                verb: Verb::Add,
                net: Some("mynet".into()),
                netns: Some("/run/netns/x".into()),
                opts: Options::default(),
            }
        );
    }

    #[test]
    fn options_anywhere_and_with_equals() {
        let o = opts_of(p(&["--cache-dir", "/tmp/c", "del", "n", "/x", "-i", "net1"]).unwrap());
        assert_eq!(o.cache_dir, Some(PathBuf::from("/tmp/c")));
        assert_eq!(o.ifname.as_deref(), Some("net1"));
        let o = opts_of(p(&["check", "--ifname=eth1", "n", "/x", "--cache-dir=/c"]).unwrap());
        assert_eq!(o.ifname.as_deref(), Some("eth1"));
        assert_eq!(o.cache_dir, Some(PathBuf::from("/c")));
    }

    #[test]
    fn bare_gc_is_refused() {
        let e = p(&["gc", "mynet"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--valid"), "{e}");
        let e = p(&["gc", "mynet", "/run/netns/x"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn gc_valid_takes_several_values() {
        let o = opts_of(
            p(&[
                "gc", "n", "--valid", "c1/eth0", "c2/eth1", "--valid", "c3/lo",
            ])
            .unwrap(),
        );
        assert_eq!(o.valid, ["c1/eth0", "c2/eth1", "c3/lo"]);
        assert!(opts_of(p(&["gc", "n", "--all"]).unwrap()).all);
        assert!(p(&["gc", "n", "--all", "--valid", "a/b"]).is_err());
        assert!(p(&["add", "n", "/x", "--all"]).is_err());
    }

    #[test]
    fn netconf_makes_the_name_optional() {
        let inv = p(&["--netconf", "/etc/x.conflist", "add", "/run/netns/p"]).unwrap();
        let Invocation::Net { net, netns, .. } = inv else {
            panic!()
        };
        assert_eq!((net, netns.as_deref()), (None, Some("/run/netns/p")));
        assert!(p(&["add", "/run/netns/p"]).is_err());
    }

    #[test]
    fn netns_exec_keeps_the_command_verbatim() {
        let inv = p(&["netns", "exec", "blue", "ip", "-br", "link", "--help"]).unwrap();
        let want: Vec<OsString> = ["ip", "-br", "link", "--help"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(inv, Invocation::Netns(NetnsCmd::Exec("blue".into(), want)));
        assert!(p(&["netns", "exec", "blue"]).is_err());
        assert_eq!(
            p(&["netns", "list"]).unwrap(),
            Invocation::Netns(NetnsCmd::List)
        );
    }

    #[test]
    fn unknown_things_are_usage_errors() {
        for bad in [
            &["frob"][..],
            &["add"],
            &["add", "n", "/x", "extra"],
            &["--bogus"],
            &[],
        ] {
            assert_eq!(p(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
        assert_eq!(p(&["--help"]).unwrap(), Invocation::Help);
        assert_eq!(p(&["add", "--help"]).unwrap(), Invocation::Help);
    }
}
