//! Phase two: write the planned lines (one write(2) each), re-read and
//! verify; on any failure undo what was written, in reverse order, so a
//! rejected container is never left half-configured.

use crate::assess::assess;
use crate::cgfs::CgroupFiles;
use crate::plan::Write;

/// What was changed, as `file: old -> new` lines.
pub type Applied = Vec<String>;

fn undo(fs: &dyn CgroupFiles, done: &[(&Write, usize)]) -> Vec<String> {
    let mut failed = Vec::new();
    for (w, n) in done.iter().rev() {
        for line in w.change.undo.iter().take(*n).rev() {
            if let Err(e) = fs.write(w.knob.file(), line) {
                failed.push(format!("{} {line:?}: {e}", w.knob.file()));
            }
        }
    }
    failed
}

fn fail(fs: &dyn CgroupFiles, done: &[(&Write, usize)], msg: String) -> String {
    let failed = undo(fs, done);
    if failed.is_empty() {
        format!("{msg}; earlier writes undone")
    } else {
        format!("{msg}; undo failed too: {}", failed.join(", "))
    }
}

/// Writes and verifies every planned change.
pub fn apply(fs: &dyn CgroupFiles, writes: &[Write]) -> Result<Applied, String> {
    let mut done: Vec<(&Write, usize)> = Vec::new();
    for w in writes {
        let file = w.knob.file();
        for (i, line) in w.change.lines.iter().enumerate() {
            if let Err(e) = fs.write(file, line) {
                if i > 0 {
                    done.push((w, i));
                }
                return Err(fail(fs, &done, format!("writing {file} {line:?}: {e}")));
            }
        }
        if !w.change.lines.is_empty() {
            done.push((w, w.change.lines.len()));
        }
    }
    let mut applied = Vec::new();
    for w in writes.iter().filter(|w| !w.change.lines.is_empty()) {
        let file = w.knob.file();
        let now = match fs.read(file) {
            Ok(s) => s,
            Err(e) => return Err(fail(fs, &done, format!("re-reading {file}: {e}"))),
        };
        let ok = assess(w.knob, &w.value, &now, None).is_ok_and(|a| a.lines.is_empty());
        if !ok {
            let msg = format!(
                "verify: {file} reads {:?} after writing {:?}",
                now.trim(),
                w.change.lines.join("; ")
            );
            return Err(fail(fs, &done, msg));
        }
        let old = w.old.trim().replace('\n', "; ");
        let old = if old.is_empty() {
            "(none)".to_string()
        } else {
            old
        };
        applied.push(format!("{file}: {old} -> {}", w.value.describe()));
    }
    Ok(applied)
}
