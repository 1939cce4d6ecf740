//! Guarded deletes without a read: one `nft -f -` whose failures tell us
//! exactly what was not there.
//!
//! Each [`Group`] starts with a *guard* command, normally
//! `delete element <guard set> { <key> . <owner token> }`. The guard set
//! holds one element per element we own, keyed by the element's key and a
//! 128-bit token of the owner's identity, so the guard delete succeeds only
//! when the element is still ours. nft runs the whole batch as one kernel
//! transaction and reports **every** failing command with its line number
//! (`/dev/stdin:<line>:…`), so when the batch fails we drop the groups whose
//! guard failed (not ours any more, or already gone) and the single
//! commands that found nothing, and run the rest again. Nothing is read;
//! the common cases (everything there, or nothing there) cost one process.
//!
//! A *probe* group is a question answered by its guard failing with
//! `File exists` (for example `create table <reference table>`); it is only
//! sent in the first round and never keeps a round alive by itself.

use crate::exec::Batch;
use crate::{Error, Result};
use sha2::{Digest, Sha512};
use std::collections::HashSet;
use std::net::Ipv6Addr;

/// Rounds before the caller falls back to its read-based path.
const MAX_ROUNDS: usize = 4;

/// The owner token of an nft identity comment, as an `ipv6_addr` literal
/// (128 bits of sha512; the guard sets store it in an address field).
pub(crate) fn token(ident: &str) -> String {
    Ipv6Addr::from(token_bytes(ident)).to_string()
}

/// The owner token's 16 bytes (as written over netlink).
pub(crate) fn token_bytes(ident: &str) -> [u8; 16] {
    let d = Sha512::digest(ident.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b
}

/// One guard command and the commands it protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub guard: String,
    pub lines: Vec<String>,
    pub probe: bool,
}

impl Group {
    /// A guarded group.
    pub fn new(guard: String, lines: Vec<String>) -> Group {
        Group {
            guard,
            lines,
            probe: false,
        }
    }

    /// A probe: `guard` fails with EEXIST when the answer is "yes".
    pub fn probe(guard: String, lines: Vec<String>) -> Group {
        Group {
            guard,
            lines,
            probe: true,
        }
    }
}

/// One failing command of an `nft -f -` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub line: usize,
    /// The kernel saw the batch (`Could not process rule`), as opposed to
    /// nft's own evaluation refusing it before sending anything.
    pub kernel: bool,
    /// `File exists` (otherwise `No such file or directory`).
    pub exists: bool,
}

/// Parses nft's error report (`<file>:<line>:<columns>: Error: <what>`);
/// `None` when some failure is not a tolerated "not there" (ENOENT) /
/// "already there" (EEXIST) on a numbered line.
pub(crate) fn parse_failures(stderr: &str) -> Option<Vec<Failure>> {
    let mut out = Vec::new();
    for l in stderr.lines() {
        let Some((loc, msg)) = l.split_once(": Error: ") else {
            if l.starts_with("Error: ") {
                return None;
            }
            continue;
        };
        let mut parts = loc.rsplitn(3, ':');
        let (_cols, line) = (parts.next()?, parts.next()?.parse().ok()?);
        let tolerated = msg.contains("No such file or directory") || msg.contains("File exists");
        if !tolerated {
            return None;
        }
        let kernel = msg.starts_with("Could not process rule");
        let exists = msg.contains("File exists");
        out.push(Failure {
            line,
            kernel,
            exists,
        });
    }
    (!out.is_empty()).then_some(out)
}

/// Where a batch line came from: (group, `None` for the guard or the index
/// of the protected command).
type Origin = (usize, Option<usize>);

fn build(groups: &[Group], active: &[bool], first: bool) -> (Batch, Vec<Origin>) {
    let mut b = Batch::new();
    let mut origin = Vec::new();
    for (g, grp) in groups.iter().enumerate() {
        if !active[g] || (grp.probe && !first) {
            continue;
        }
        b.line(&grp.guard);
        origin.push((g, None));
        for (i, l) in grp.lines.iter().enumerate() {
            b.line(l);
            origin.push((g, Some(i)));
        }
    }
    (b, origin)
}

/// Runs the groups as one transaction, dropping what was not there, in at
/// most [`MAX_ROUNDS`] processes. Returns the indices of the groups whose
/// guard failed (for probes: "yes"); `Ok(None)` means "gave up" (the state
/// kept changing under us): the caller falls back to its read-based path.
pub(crate) fn run(mut groups: Vec<Group>) -> Result<Option<Vec<usize>>> {
    let mut active = vec![true; groups.len()];
    let mut out = Vec::new();
    let mut probes_sent = false;
    for round in 0..MAX_ROUNDS {
        let first = round == 0 || !probes_sent;
        let work = groups.iter().zip(&active).any(|(g, a)| *a && !g.probe);
        if !work && (probes_sent || !groups.iter().any(|g| g.probe)) {
            return Ok(Some(out));
        }
        let (batch, origin) = build(&groups, &active, first);
        let err = match batch.run(&["nft", "-f", "-"]) {
            Ok(()) => return Ok(Some(out)),
            Err(e) => e,
        };
        let Error::Command { stderr, .. } = &err else {
            return Err(err);
        };
        let Some(fails) = parse_failures(stderr) else {
            return Err(err);
        };
        let kernel_saw = fails.iter().all(|f| f.kernel);
        let mut dropped: HashSet<(usize, usize)> = HashSet::new();
        for f in &fails {
            let Some(&(g, what)) = origin.get(f.line.wrapping_sub(1)) else {
                return Err(err);
            };
            match what {
                None => {
                    active[g] = false;
                    out.push(g);
                }
                Some(i) => {
                    dropped.insert((g, i));
                }
            }
        }
        for (g, grp) in groups.iter_mut().enumerate() {
            let mut i = 0;
            grp.lines.retain(|_| {
                i += 1;
                !dropped.contains(&(g, i - 1))
            });
        }
        probes_sent |= first && kernel_saw;
        if first && kernel_saw {
            // Unanswered probes are "no": the kernel ran them without error.
            for (g, grp) in groups.iter().enumerate() {
                active[g] &= !grp.probe;
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_an_address_and_stable() {
        let t = token("c1 n");
        assert!(t.parse::<Ipv6Addr>().is_ok(), "{t}");
        assert_eq!(t, token("c1 n"));
        assert_ne!(t, token("c2 n"));
    }

    #[test]
    fn parses_numbered_failures_only_when_tolerated() {
        let e = "/dev/stdin:1:29-103: Error: Could not process rule: No such file or directory\n\
                 delete element inet t own { x }\n     ^^^\n\
                 /dev/stdin:4:1-3: Error: No such file or directory\nfoo\n";
        let f = parse_failures(e).unwrap();
        assert_eq!(
            f,
            vec![
                Failure {
                    line: 1,
                    kernel: true,
                    exists: false
                },
                Failure {
                    line: 4,
                    kernel: false,
                    exists: false
                }
            ]
        );
        assert!(
            parse_failures(
                "/dev/stdin:2:1-2: Error: Could not process rule: Device or resource busy"
            )
            .is_none()
        );
        // An error without a line number cannot be attributed.
        assert!(parse_failures("Error: Could not process rule: File exists").is_none());
        assert!(parse_failures("Error: syntax error").is_none());
        let other_name = "stdin:7:3-9: Error: Could not process rule: File exists";
        assert_eq!(parse_failures(other_name).unwrap()[0].line, 7);
    }

    #[test]
    fn build_skips_inactive_and_late_probes() {
        let g = vec![
            Group::new("g0".into(), vec!["a".into(), "b".into()]),
            Group::probe("p".into(), vec!["q".into()]),
            Group::new("g2".into(), vec![]),
        ];
        let (b, o) = build(&g, &[true, true, false], true);
        assert_eq!(b.text(), "g0\na\nb\np\nq\n");
        assert_eq!(o[2], (0, Some(1)));
        let (b, _) = build(&g, &[true, true, true], false);
        assert_eq!(b.text(), "g0\na\nb\ng2\n");
    }
}
