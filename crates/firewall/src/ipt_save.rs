//! Parsing `iptables-save -t nat` output: chain declarations and rules,
//! with each rule's exact spec so it can be fed back as `-D <chain> <spec>`.

use crate::exec::{Batch, read};
use crate::{Family, Flavor, Result};

/// One `-A` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SaveRule {
    pub chain: String,
    /// Everything after `-A <chain> `, as printed (restore-compatible).
    pub spec: String,
    /// `spec` split into shell-like words, quotes removed.
    pub args: Vec<String>,
}

impl SaveRule {
    /// Value after the first occurrence of `flag` (e.g. `-j`, `--comment`).
    pub fn arg(&self, flag: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == flag)?;
        self.args.get(i + 1).map(String::as_str)
    }

    /// The jump target.
    pub fn target(&self) -> Option<&str> {
        self.arg("-j")
    }

    /// The comment match text.
    pub fn comment(&self) -> Option<&str> {
        self.arg("--comment")
    }

    /// `-D <chain> <spec>` for a restore batch.
    pub fn delete_line(&self) -> String {
        format!("-D {} {}", self.chain, self.spec)
    }
}

/// One table of a save dump.
#[derive(Debug, Default, Clone)]
pub(crate) struct SaveTable {
    pub chains: Vec<String>,
    pub rules: Vec<SaveRule>,
}

impl SaveTable {
    pub fn has_chain(&self, name: &str) -> bool {
        self.chains.iter().any(|c| c == name)
    }

    /// Rules of one chain, in order.
    pub fn chain_rules<'a>(&'a self, chain: &'a str) -> impl Iterator<Item = &'a SaveRule> {
        self.rules.iter().filter(move |r| r.chain == chain)
    }
}

/// Splits a save line into words: whitespace separated, `"…"` quoted with
/// backslash escapes.
pub(crate) fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut in_q, mut any) = (false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_q => cur.extend(chars.next()),
            '"' => {
                in_q = !in_q;
                any = true;
            }
            c if c.is_whitespace() && !in_q => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Parses the `*<table>` section of a save dump.
pub(crate) fn parse(text: &str, table: &str) -> SaveTable {
    let mut t = SaveTable::default();
    let mut inside = false;
    let header = format!("*{table}");
    for line in text.lines() {
        if line.starts_with('*') {
            inside = line == header;
        } else if !inside {
            continue;
        } else if let Some(decl) = line.strip_prefix(':') {
            t.chains
                .extend(decl.split_whitespace().next().map(str::to_string));
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let (chain, spec) = rest.split_once(' ').unwrap_or((rest, ""));
            t.rules.push(SaveRule {
                chain: chain.to_string(),
                spec: spec.to_string(),
                args: split_words(spec),
            });
        }
    }
    t
}

/// `iptables-save -t <table>` for one family (one read).
pub(crate) fn save_table(flavor: Flavor, family: Family, table: &str) -> Result<SaveTable> {
    let text = read(&[&flavor.save(family), "-t", table])?;
    Ok(parse(&text, table))
}

/// `iptables-save -t nat` for one family (one read).
pub(crate) fn save_nat(flavor: Flavor, family: Family) -> Result<SaveTable> {
    save_table(flavor, family, "nat")
}

/// Runs one `iptables-restore --noflush -w` with a `*<table>` batch
/// (nothing when the body is empty).
pub(crate) fn restore_table(
    flavor: Flavor,
    family: Family,
    table: &str,
    body: &Batch,
) -> Result<()> {
    if body.is_empty() {
        return Ok(());
    }
    let mut b = Batch::new();
    b.line(format!("*{table}")).extend(body).line("COMMIT");
    b.run(&[&flavor.restore(family), "--noflush", "-w"])
}

/// [`restore_table`] for `nat`.
pub(crate) fn restore_nat(flavor: Flavor, family: Family, body: &Batch) -> Result<()> {
    restore_table(flavor, family, "nat", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from the Debian reference bridge+portmap 1.1.1.
    const REF: &str = include_str!("../tests/data/ref-v4-nat.save");

    #[test]
    fn parses_reference_dump() {
        let t = parse(REF, "nat");
        assert!(t.has_chain("CNI-70a29d9dc18bc4d652ea5d59"));
        assert!(t.has_chain("CNI-HOSTPORT-DNAT"));
        let post: Vec<_> = t.chain_rules("POSTROUTING").collect();
        assert_eq!(post.len(), 2);
        assert_eq!(post[1].target(), Some("CNI-70a29d9dc18bc4d652ea5d59"));
        assert_eq!(post[1].comment(), Some(r#"name: "mynet" id: "abc123""#));
        assert_eq!(post[1].arg("-s"), Some("10.88.0.2/32"));
        assert!(
            post[1]
                .delete_line()
                .starts_with("-D POSTROUTING -s 10.88.0.2/32 -m comment")
        );
        assert!(parse(REF, "filter").rules.is_empty());
    }

    #[test]
    fn splits_quoted_words() {
        assert_eq!(
            split_words(r#"-m comment --comment "a \"b\" c" -j X"#),
            vec!["-m", "comment", "--comment", r#"a "b" c"#, "-j", "X"]
        );
        assert_eq!(split_words(r#"--comment """#), vec!["--comment", ""]);
    }
}
