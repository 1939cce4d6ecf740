//! The network directory's mtime as a change detector.
//!
//! Any entry created or removed in a directory sets its mtime to the current
//! (coarse) clock. After our own changes we set it to "now − 2 s", a value no
//! later change can produce unless the clock is stepped back, so comparing
//! the recorded value with a fresh `stat` detects every foreign change even
//! within one clock tick.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far in the past the marker mtime lies.
const BACKDATE: Duration = Duration::from_secs(2);

/// Sets `dir`'s mtime to the marker value; returns the mtime as stored
/// (the filesystem may round it), or `None` when it cannot be set.
pub fn set_marker(dir: &Path) -> Option<(i64, i64)> {
    let t = SystemTime::now().checked_sub(BACKDATE)?;
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        },
    ];
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `times` points to two
    // initialised timespecs, as utimensat(2) requires.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
    if rc != 0 {
        cni::skel::log(&format!(
            "cannot set mtime of {}: {}; the index will be rebuilt on every call",
            dir.display(),
            std::io::Error::last_os_error()
        ));
        return None;
    }
    let md = std::fs::metadata(dir).ok()?;
    Some((md.mtime(), md.mtime_nsec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_detected_as_changed_by_a_new_entry() {
        let d = tempfile::tempdir().unwrap();
        let m = set_marker(d.path()).expect("settable");
        let now = std::fs::metadata(d.path()).unwrap();
        assert_eq!((now.mtime(), now.mtime_nsec()), m);
        std::fs::write(d.path().join("x"), "y").unwrap();
        let after = std::fs::metadata(d.path()).unwrap();
        assert_ne!((after.mtime(), after.mtime_nsec()), m);
    }
}
