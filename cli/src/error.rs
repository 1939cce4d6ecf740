//! The CLI's errors: each names what failed and the input that caused it.
//!
//! A plugin's own error is kept whole ([`CliError::Plugin`]) so `main` can
//! print its CNI error JSON on stdout, as cnitool's callers expect.

use std::path::PathBuf;

use cni::CniError;

/// Everything that can make a `ferrocni` invocation fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad command line: exit status 2.
    #[error("{0}\nRun `ferrocni --help` for usage.")]
    Usage(String),
    /// A network configuration file that cannot be used.
    #[error("{}: {msg}", path.display())]
    Config { path: PathBuf, msg: String },
    /// No configuration in the directory has that network name.
    #[error("no network configuration named {name:?} in {}", dir.display())]
    NetworkNotFound { name: String, dir: PathBuf },
    /// An environment variable (or the flag standing in for it) is invalid.
    #[error("{var}: {msg}")]
    Env { var: &'static str, msg: String },
    /// A plugin ran and failed; `err` is what it printed.
    #[error("plugin {plugin} failed ({verb}): {err}")]
    Plugin {
        plugin: String,
        verb: &'static str,
        version: String,
        err: CniError,
    },
    /// The requested verb does not exist at the network's `cniVersion`.
    #[error("{0}")]
    Unsupported(String),
    /// An I/O operation of the CLI itself failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The libcni-compatible result cache is unreadable or unwritable.
    #[error("result cache {}: {msg}", path.display())]
    Cache { path: PathBuf, msg: String },
    /// A `ferrocni netns` operation failed.
    #[error("netns {name:?}: {msg}")]
    Netns { name: String, msg: String },
    /// Several independent steps failed (GC goes on after errors).
    #[error("{} error(s):\n  {}", .0.len(), join(.0))]
    Multiple(Vec<CliError>),
}

fn join(errs: &[CliError]) -> String {
    let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    lines.join("\n  ")
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// The CNI error JSON lines to print on stdout (plugin failures only).
    pub fn plugin_json(&self) -> Vec<String> {
        match self {
            CliError::Plugin { version, err, .. } => vec![err.to_json(version)],
            CliError::Multiple(all) => all.iter().flat_map(CliError::plugin_json).collect(),
            _ => Vec::new(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> CliError {
        CliError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn usage(msg: impl Into<String>) -> CliError {
        CliError::Usage(msg.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_errors_print_their_cni_json() {
        let e = CliError::Plugin {
            plugin: "bridge".into(),
            verb: "ADD",
            version: "1.0.0".into(),
            err: CniError::new(7, "bad config"),
        };
        let json: serde_json::Value = serde_json::from_str(&e.plugin_json()[0]).unwrap();
        assert_eq!(json["code"], 7);
        assert_eq!(json["cniVersion"], "1.0.0");
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().contains("bridge"));
    }

    #[test]
    fn usage_errors_exit_2_and_point_at_help() {
        let e = CliError::usage("missing network name");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--help"));
        assert!(e.plugin_json().is_empty());
    }
}
