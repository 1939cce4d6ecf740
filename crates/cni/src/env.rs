//! The plugin's environment: `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`,
//! `CNI_IFNAME`, `CNI_ARGS`, `CNI_PATH`, validated per verb.
//!
//! SPEC: every failure here is code 4 and names the variable and its value.

use std::path::PathBuf;

use crate::args::CniArgs;
use crate::error::CniError;

/// The verb in `CNI_COMMAND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Version,
    Status,
    Gc,
}

impl Command {
    pub fn parse(s: &str) -> Result<Command, CniError> {
        Ok(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "VERSION" => Command::Version,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            other => {
                return Err(CniError::invalid_env(format!(
                    "CNI_COMMAND={other:?} is not one of ADD, DEL, CHECK, VERSION, STATUS, GC"
                )));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Version => "VERSION",
            Command::Status => "STATUS",
            Command::Gc => "GC",
        }
    }

    /// ADD, DEL and CHECK act on one attachment (container id + ifname).
    pub fn is_attachment_verb(self) -> bool {
        matches!(self, Command::Add | Command::Del | Command::Check)
    }
}

/// The validated environment of one call.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub container_id: String,
    /// `CNI_NETNS` as given (empty on DEL is allowed).
    pub netns: Option<PathBuf>,
    pub ifname: String,
    pub args: CniArgs,
    /// `CNI_PATH` split on `:`.
    pub path: Vec<PathBuf>,
}

/// Reads the variables through `get` (the process env, or a test's map).
pub fn load(cmd: Command, get: &dyn Fn(&str) -> Option<String>) -> Result<Env, CniError> {
    let path = get("CNI_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect();
    let mut env = Env {
        path,
        args: CniArgs::parse(&get("CNI_ARGS").unwrap_or_default())?,
        ..Env::default()
    };
    if !cmd.is_attachment_verb() {
        return Ok(env);
    }
    env.container_id = required(get, "CNI_CONTAINERID")?;
    validate_container_id(&env.container_id)?;
    env.ifname = required(get, "CNI_IFNAME")?;
    validate_ifname(&env.ifname)?;
    let netns = get("CNI_NETNS").unwrap_or_default();
    if netns.is_empty() {
        // SPEC: CNI_NETNS is required for ADD and CHECK; DEL may get none.
        if cmd != Command::Del {
            return Err(CniError::invalid_env(format!(
                "CNI_NETNS is required for {}",
                cmd.as_str()
            )));
        }
    } else {
        env.netns = Some(PathBuf::from(netns));
    }
    Ok(env)
}

fn required(get: &dyn Fn(&str) -> Option<String>, key: &str) -> Result<String, CniError> {
    match get(key) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(CniError::invalid_env(format!("{key} is required"))),
    }
}

/// SPEC: container ids are `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_container_id(id: &str) -> Result<(), CniError> {
    if is_cni_identifier(id) {
        Ok(())
    } else {
        Err(CniError::invalid_env(format!(
            "CNI_CONTAINERID={id:?} is invalid: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        )))
    }
}

/// The charset shared by container ids and network names.
pub fn is_cni_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// SPEC: interface names are at most 15 bytes, not `.` or `..`, and contain no
/// `/`, `:` or whitespace.
pub fn validate_ifname(name: &str) -> Result<(), CniError> {
    let why = if name.len() > 15 {
        Some("longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are not interface names")
    } else if name.contains(['/', ':']) || name.chars().any(char::is_whitespace) {
        Some("contains '/', ':' or whitespace")
    } else {
        None
    };
    match why {
        Some(why) => Err(CniError::invalid_env(format!(
            "CNI_IFNAME={name:?} is invalid: {why}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn unknown_verb_is_code_4_naming_it() {
        let e = Command::parse("FROB").unwrap_err();
        assert_eq!(e.code, 4);
        assert!(e.msg.contains("FROB"));
    }

    #[test]
    fn ifname_rules() {
        for ok in ["eth0", "a", "net1-x_y", "123456789012345"] {
            validate_ifname(ok).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
            "1234567890123456",
        ] {
            if bad.is_empty() {
                continue;
            }
            let e = validate_ifname(bad).unwrap_err();
            assert_eq!(e.code, 4, "{bad}");
            assert!(e.msg.contains("CNI_IFNAME"));
        }
    }

    #[test]
    fn container_id_charset() {
        for ok in ["abc", "ABC123", "a.b-c_d", "0"] {
            validate_container_id(ok).unwrap();
        }
        for bad in ["", "-a", ".a", "a/b", "a b", "a\"b", "a\nb", "ä"] {
            assert_eq!(validate_container_id(bad).unwrap_err().code, 4, "{bad:?}");
        }
    }

    #[test]
    fn del_accepts_empty_netns_add_does_not() {
        let get = env_of(&[("CNI_CONTAINERID", "c1"), ("CNI_IFNAME", "eth0")]);
        let env = load(Command::Del, &get).unwrap();
        assert!(env.netns.is_none());
        let e = load(Command::Add, &get).unwrap_err();
        assert_eq!(e.code, 4);
        assert!(e.msg.contains("CNI_NETNS"));
    }

    #[test]
    fn missing_container_id_is_code_4() {
        let get = env_of(&[("CNI_IFNAME", "eth0"), ("CNI_NETNS", "/x")]);
        let e = load(Command::Add, &get).unwrap_err();
        assert_eq!(e.code, 4);
        assert!(e.msg.contains("CNI_CONTAINERID"));
    }

    #[test]
    fn cni_path_is_split() {
        let get = env_of(&[("CNI_PATH", "/a::/b")]);
        let env = load(Command::Status, &get).unwrap();
        assert_eq!(env.path, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
    }
}
