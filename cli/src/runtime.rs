//! The per-call runtime values, taken from the environment like cnitool does:
//! container id, netns path, interface name, `CNI_ARGS` and `CAP_ARGS`.
//!
//! cnitool derives the container id from the netns path: `cnitool-` followed
//! by the hex of the first 10 bytes of sha512 over Go's `filepath.Abs(netns)`
//! (made absolute against the working directory and lexically cleaned;
//! symlinks are not resolved). ferrocni does the same unless
//! `CNI_CONTAINERID` is set.

use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

use crate::error::CliError;

/// Looks up an environment variable (the process env, or a test's map).
pub type Getenv<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What libcni calls a `RuntimeConf`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConf {
    pub container_id: String,
    pub netns: String,
    pub ifname: String,
    /// `CNI_ARGS` as ordered pairs.
    pub args: Vec<[String; 2]>,
    /// `CAP_ARGS`: capability name -> value.
    pub cap_args: Map<String, Value>,
}

/// Which of `CNI_ARGS` / `CAP_ARGS` were present in the environment (DEL and
/// CHECK fall back to the values cached at ADD for the absent ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given {
    pub args: bool,
    pub cap_args: bool,
}

impl RuntimeConf {
    /// Builds the runtime values for `netns` (as typed) from the environment.
    pub fn from_env(
        netns: &str,
        ifname_flag: Option<&str>,
        get: Getenv,
    ) -> Result<(RuntimeConf, Given), CliError> {
        let netns = go_abs(netns)?;
        let container_id = match get("CNI_CONTAINERID").filter(|s| !s.is_empty()) {
            Some(id) => id,
            None => cnitool_container_id(&netns),
        };
        cni::env::validate_container_id(&container_id).map_err(|e| CliError::Env {
            var: "CNI_CONTAINERID",
            msg: e.msg,
        })?;
        let ifname = ifname_flag
            .map(str::to_string)
            .or_else(|| get("CNI_IFNAME").filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "eth0".into());
        cni::env::validate_ifname(&ifname).map_err(|e| CliError::Env {
            var: "CNI_IFNAME",
            msg: e.msg,
        })?;
        let args_env = get("CNI_ARGS");
        let caps_env = get("CAP_ARGS");
        let given = Given {
            args: args_env.is_some(),
            cap_args: caps_env.is_some(),
        };
        let rt = RuntimeConf {
            container_id,
            netns,
            ifname,
            args: parse_cni_args(args_env.as_deref().unwrap_or(""))?,
            cap_args: parse_cap_args(caps_env.as_deref().unwrap_or(""))?,
        };
        Ok((rt, given))
    }

    /// `CNI_ARGS` as passed to plugins: `K=V;K=V`.
    pub fn args_string(&self) -> String {
        let pairs: Vec<String> = self.args.iter().map(|[k, v]| format!("{k}={v}")).collect();
        pairs.join(";")
    }
}

/// cnitool's container id for an absolute, cleaned netns path.
pub fn cnitool_container_id(abs_netns: &str) -> String {
    let digest = Sha512::digest(abs_netns.as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("cnitool-{hex}")
}

/// Go's `filepath.Abs`: join a relative path to the working directory, then clean.
pub fn go_abs(path: &str) -> Result<String, CliError> {
    if path.starts_with('/') {
        return Ok(go_clean(path));
    }
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::io("cannot make the netns path absolute", e))?;
    let cwd = cwd.to_str().ok_or_else(|| CliError::Env {
        var: "PWD",
        msg: "the working directory is not valid UTF-8".into(),
    })?;
    Ok(go_clean(&format!("{cwd}/{path}")))
}

/// Go's `filepath.Clean`: collapse `//`, drop `.`, resolve `..` lexically.
pub fn go_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|p| *p != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// cnitool's `CNI_ARGS` rules: `K=V` pairs split on `;`, each with exactly one
/// `=` and both sides non-empty. (Empty segments, e.g. a trailing `;`, are
/// skipped here; cnitool rejects them.)
pub fn parse_cni_args(s: &str) -> Result<Vec<[String; 2]>, CliError> {
    let mut out = Vec::new();
    for pair in s.split(';').filter(|p| !p.is_empty()) {
        let kv: Vec<&str> = pair.split('=').collect();
        match kv.as_slice() {
            [k, v] if !k.is_empty() && !v.is_empty() => out.push([k.to_string(), v.to_string()]),
            _ => {
                return Err(CliError::Env {
                    var: "CNI_ARGS",
                    msg: format!("invalid pair {pair:?} (want KEY=VALUE)"),
                });
            }
        }
    }
    Ok(out)
}

/// `CAP_ARGS`: a JSON object of capability arguments (empty = none).
pub fn parse_cap_args(s: &str) -> Result<Map<String, Value>, CliError> {
    if s.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(CliError::Env {
            var: "CAP_ARGS",
            msg: format!("must be a JSON object, got {other}"),
        }),
        Err(e) => Err(CliError::Env {
            var: "CAP_ARGS",
            msg: format!("not valid JSON: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_id_matches_cnitool_formula() {
        // printf %s /run/netns/test | sha512sum | cut -c1-20
        assert_eq!(
            cnitool_container_id("/run/netns/test"),
            "cnitool-8ae22670664f2caaa6b3"
        );
    }

    #[test]
    fn netns_path_is_cleaned_not_resolved() {
        assert_eq!(go_clean("/var/run/netns//x/"), "/var/run/netns/x");
        assert_eq!(go_clean("/run/./netns/../netns/x"), "/run/netns/x");
        assert_eq!(go_clean("/../x"), "/x");
        assert_eq!(go_clean("a/../../b"), "../b");
        assert_eq!(go_clean(""), ".");
        let env = |_: &str| None;
        let (a, _) = RuntimeConf::from_env("/var/run/netns/x", None, &env).unwrap();
        let (b, _) = RuntimeConf::from_env("/run/netns/x", None, &env).unwrap();
        assert_ne!(a.container_id, b.container_id);
        let (c, _) = RuntimeConf::from_env("/run//netns/./x", None, &env).unwrap();
        assert_eq!(b.container_id, c.container_id);
        assert_eq!(c.netns, "/run/netns/x");
    }

    #[test]
    fn env_overrides_and_defaults() {
        let env = |k: &str| match k {
            "CNI_CONTAINERID" => Some("abc".to_string()),
            "CNI_ARGS" => Some("IgnoreUnknown=1;K8S_POD_NAME=p".to_string()),
            "CAP_ARGS" => Some(r#"{"portMappings":[]}"#.to_string()),
            _ => None,
        };
        let (rt, given) = RuntimeConf::from_env("/run/netns/x", None, &env).unwrap();
        assert_eq!(rt.container_id, "abc");
        assert_eq!(rt.ifname, "eth0");
        assert_eq!(rt.args_string(), "IgnoreUnknown=1;K8S_POD_NAME=p");
        assert!(rt.cap_args.contains_key("portMappings"));
        assert!(given.args && given.cap_args);
        let (rt, _) = RuntimeConf::from_env("/x", Some("net1"), &env).unwrap();
        assert_eq!(rt.ifname, "net1");
    }

    #[test]
    fn bad_env_is_named() {
        for (var, val) in [
            ("CNI_ARGS", "novalue"),
            ("CNI_ARGS", "a=b=c"),
            ("CAP_ARGS", "[1]"),
            ("CAP_ARGS", "{nope"),
            ("CNI_IFNAME", "much-too-long-name0"),
            ("CNI_CONTAINERID", "bad id"),
        ] {
            let env = |k: &str| (k == var).then(|| val.to_string());
            let e = RuntimeConf::from_env("/x", None, &env).unwrap_err();
            assert!(e.to_string().contains(var), "{e}");
        }
    }
}
