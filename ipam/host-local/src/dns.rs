//! `resolvConf`: a resolv.conf file turned into the result's `dns`.

use std::path::Path;

use cni::Dns;

use crate::error::{HostLocalError, Result};

/// SPEC (reference dns.go): `nameserver`, `domain`, `search`, `options`
/// lines; `#`/`;` comments and short lines are skipped.
/// Only a regular file is read (a symlink to one is fine, as on systemd
/// hosts), at most [`MAX_RESOLV_CONF`] bytes: a device or FIFO would never end
/// or block ADD for ever.
pub fn parse_resolv_conf(path: &Path) -> Result<Dns> {
    let b = crate::safefs::read_bounded(path, MAX_RESOLV_CONF, true)
        .map_err(|e| HostLocalError::Config(format!("resolvConf {}: {e}", path.display())))?;
    Ok(parse(&String::from_utf8_lossy(&b)))
}

/// The largest resolv.conf read (glibc's resolver uses far less of it).
pub const MAX_RESOLV_CONF: u64 = 64 * 1024;

/// Parses resolv.conf text.
pub fn parse(text: &str) -> Dns {
    let mut dns = Dns::default();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 2 {
            continue;
        }
        let rest = || f[1..].iter().map(|s| s.to_string());
        match f[0] {
            "nameserver" => dns.nameservers.push(f[1].to_string()),
            "domain" => dns.domain = Some(f[1].to_string()),
            "search" => dns.search.extend(rest()),
            "options" => dns.options.extend(rest()),
            _ => {}
        }
    }
    dns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_keyword() {
        let d = parse(
            "# c\n; c\nnameserver 1.1.1.1\nnameserver ::1\ndomain ex.com\n\
             search a.com b.com\noptions ndots:2 rotate\nbogus\n",
        );
        assert_eq!(d.nameservers, vec!["1.1.1.1", "::1"]);
        assert_eq!(d.domain.as_deref(), Some("ex.com"));
        assert_eq!(d.search, vec!["a.com", "b.com"]);
        assert_eq!(d.options, vec!["ndots:2", "rotate"]);
    }

    #[test]
    fn missing_file_is_a_config_error() {
        let e = parse_resolv_conf(Path::new("/nonexistent/resolv.conf")).unwrap_err();
        assert_eq!(cni::CniError::from(e).code, 7);
    }

    #[test]
    fn special_and_huge_files_are_config_errors() {
        let e = parse_resolv_conf(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("/dev/zero"), "{e}");
        assert_eq!(cni::CniError::from(e).code, 7);
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big");
        std::fs::write(&big, "#".repeat(MAX_RESOLV_CONF as usize + 1)).unwrap();
        let e = parse_resolv_conf(&big).unwrap_err();
        assert_eq!(cni::CniError::from(e).code, 7);
    }
}
