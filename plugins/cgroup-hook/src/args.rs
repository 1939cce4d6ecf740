//! Hand-rolled argument parsing: a subcommand, `--flag value` /
//! `--flag=value` options, boolean switches and positionals.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Options that take a value.
const VALUED: [&str; 13] = [
    "--policy",
    "--log",
    "--proc-root",
    "--cgroup-root",
    "--sys-root",
    "--stage",
    "--annotation",
    "--file",
    "--container",
    "--timeout",
    "--path",
    "--format",
    "-a",
];
/// Boolean switches.
const SWITCHES: [&str; 6] = ["--dry-run", "--verbose", "-v", "--json", "--help", "-h"];
/// Subcommands.
pub const COMMANDS: [&str; 7] = [
    "hook",
    "validate",
    "report",
    "freeze",
    "thaw",
    "hooks-config",
    "help",
];

/// Parsed command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub command: String,
    pub positional: Vec<String>,
    pub values: BTreeMap<String, Vec<String>>,
    pub switches: Vec<String>,
}

impl Args {
    /// Parses argv without the program name.
    pub fn parse(argv: &[String]) -> Result<Args> {
        let mut a = Args::default();
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            if VALUED.contains(&name) {
                let v = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| Error::Usage(format!("{name} needs a value")))?,
                };
                let key = if name == "-a" { "--annotation" } else { name };
                a.values.entry(key.to_string()).or_default().push(v);
            } else if SWITCHES.contains(&name) && inline.is_none() {
                let key = match name {
                    "-v" => "--verbose",
                    "-h" => "--help",
                    n => n,
                };
                a.switches.push(key.to_string());
            } else if arg == "--version" || arg == "-V" {
                a.command = "version".into();
            } else if arg.starts_with('-') && arg.len() > 1 {
                return Err(Error::Usage(format!(
                    "unknown option {arg} (see cgroup-hook --help)"
                )));
            } else if a.command.is_empty()
                && a.positional.is_empty()
                && COMMANDS.contains(&arg.as_str())
            {
                a.command = arg.clone();
            } else {
                a.positional.push(arg.clone());
            }
        }
        if a.command.is_empty() {
            a.command = "hook".into();
        }
        Ok(a)
    }

    pub fn has(&self, switch: &str) -> bool {
        self.switches.iter().any(|s| s == switch)
    }

    /// The last value of an option.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// Fails on options the command does not take.
    pub fn only(&self, allowed: &[&str]) -> Result<()> {
        let global = [
            "--policy",
            "--verbose",
            "--help",
            "--proc-root",
            "--cgroup-root",
            "--sys-root",
            "--log",
        ];
        let bad = self
            .values
            .keys()
            .chain(self.switches.iter())
            .find(|k| !allowed.contains(&k.as_str()) && !global.contains(&k.as_str()));
        match bad {
            Some(k) => Err(Error::Usage(format!("{} does not take {k}", self.command))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Args> {
        Args::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn parses() {
        let a = p("").unwrap();
        assert_eq!(a.command, "hook");
        let a = p("--policy /p.json --dry-run").unwrap();
        assert_eq!(
            (a.command.as_str(), a.value("--policy"), a.has("--dry-run")),
            ("hook", Some("/p.json"), true)
        );
        let a = p("validate -a x=1 --annotation=y=2 --container web").unwrap();
        assert_eq!(a.all("--annotation"), ["x=1", "y=2"]);
        let a = p("report 1234 --json").unwrap();
        assert_eq!(
            (a.command.as_str(), a.positional.as_slice(), a.has("--json")),
            ("report", &["1234".to_string()][..], true)
        );
        assert_eq!(p("--version").unwrap().command, "version");
        assert!(
            p("--bogus")
                .unwrap_err()
                .to_string()
                .contains("unknown option --bogus")
        );
        assert!(
            p("--policy")
                .unwrap_err()
                .to_string()
                .contains("needs a value")
        );
        assert!(
            p("report x --timeout 1")
                .unwrap()
                .only(&["--json"])
                .is_err()
        );
        assert!(p("report x --json -v").unwrap().only(&["--json"]).is_ok());
        // a second command word is a positional
        assert_eq!(p("freeze report").unwrap().positional, ["report"]);
    }
}
