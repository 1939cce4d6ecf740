//! Outside text in messages. Annotation keys and values, container and pod
//! names, paths and file contents reach every kind of output line (errors,
//! warnings, `-v` info, `--log`, `validate` and `report`); none of them may
//! start a line of its own. [`Esc`] wraps anything `Display` and writes it
//! with control characters escaped (`\n`, `\r`, `\t`, `\xNN`, `\u{NNNN}`,
//! also the Unicode line separators and bidi overrides); every output path
//! ([`crate::hook::Reporter`], [`crate::cli::main`], `validate`, `report`,
//! [`crate::error::Error`]'s `Display`) passes its whole line through it, and
//! the library's message strings wrap outside text in it where they embed it.
//!
//! Only characters that would be escaped change (a backslash stays one), so
//! escaping is idempotent: text escaped where a message is built passes the
//! output paths unchanged, and ordinary text stays readable.

use std::fmt::{self, Write as _};

/// `Display` of `T` with control characters escaped: always one line.
#[derive(Debug, Clone, Copy)]
pub struct Esc<T>(pub T);

impl<T: fmt::Display> fmt::Display for Esc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(Escaper(f), "{}", self.0)
    }
}

/// `s` as one line with control characters escaped.
pub fn line(s: &str) -> String {
    Esc(s).to_string()
}

/// Characters that can break, hide or reorder a line.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

struct Escaper<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(needs_escape) {
            self.0.write_str(&rest[..i])?;
            let c = rest[i..].chars().next().unwrap_or_default();
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c if u32::from(c) < 0x100 => write!(self.0, "\\x{:02x}", u32::from(c))?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(line("web\nFORGED\r\tx"), "web\\nFORGED\\r\\tx");
        assert_eq!(line("a\u{1b}[31mb\u{7f}\u{85}"), "a\\x1b[31mb\\x7f\\x85");
        assert_eq!(
            line("a\u{2028}b\u{202e}c\u{feff}"),
            "a\\u{2028}b\\u{202e}c\\u{feff}"
        );
        assert_eq!(Esc(format_args!("{}:{}", "x\n", 1)).to_string(), "x\\n:1");
    }

    #[test]
    fn normal_text_is_unchanged_and_escaping_is_idempotent() {
        for s in [
            "memory.max.ferrocni.dev/web=\"512Mi\"",
            "naïve café ü",
            "a\\nb",
            "",
        ] {
            assert_eq!(line(s), s);
        }
        let once = line("x\ny\u{0}z\u{2029}");
        assert_eq!(line(&once), once);
        assert!(!once.contains(['\n', '\r']));
    }

    #[test]
    fn library_messages_escape_outside_text() {
        let e = crate::annotations::parse_key("cpu\r.weigh.ferrocni.dev").unwrap_err();
        assert!(e.starts_with("unknown knob cpu\\r.weigh"), "{e}");
        let ann = [(
            "memory.max.ferrocni.dev/x\ny".to_string(),
            "1\n".to_string(),
        )];
        let mode = crate::policy::Mode::Enforce;
        let b = crate::requests::build(&ann.into(), None, &Default::default(), mode);
        assert!(!b.problems.is_empty());
        assert!(
            b.problems.iter().all(|p| !p.contains('\n')),
            "{:?}",
            b.problems
        );
        let st = r#"{"id":"c\r1","annotations":{"io.kubernetes.cri.container-name":"web\nX"}}"#;
        let c = crate::state::load(st).unwrap();
        assert_eq!(c.context(), "container web\\nX");
    }
}
