//! Opening files without following planted symlinks and without blocking on
//! (or reading endlessly from) things that are not regular files.
//!
//! Everything under `<dataDir>/<name>/` is opened `O_NOFOLLOW|O_CLOEXEC`. A
//! symlink (or FIFO, socket, device) planted where we write one of our files
//! is unlinked — the link itself, never its target — and the file is created
//! afresh; where we only read, it reads as damaged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Whether `e` is what `O_NOFOLLOW` reports for a symlink.
pub fn is_symlink_err(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// The error for an open file that is not a regular file.
pub fn not_regular() -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, "not a regular file")
}

/// Whether reading `path` failed because of what it is (a symlink, a
/// non-regular file, too large) rather than because of the filesystem.
pub fn is_hostile(e: &io::Error) -> bool {
    is_symlink_err(e) || matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::InvalidData)
}

fn require_regular(f: File) -> io::Result<File> {
    if f.metadata()?.file_type().is_file() {
        Ok(f)
    } else {
        Err(not_regular())
    }
}

/// Reads at most `max` bytes of the regular file `path`; larger files,
/// non-regular files and (unless `follow`) symlinks are errors. Opened
/// `O_NONBLOCK`, so a FIFO never blocks.
pub fn read_bounded(path: &Path, max: u64, follow: bool) -> io::Result<Vec<u8>> {
    let mut flags = libc::O_CLOEXEC | libc::O_NONBLOCK;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    let mut buf = Vec::new();
    require_regular(f)?.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(buf)
}

/// Opens the regular file `path` for writing (created 0644 if missing,
/// never truncated, never through a symlink).
fn open_write(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    require_regular(f)
}

/// [`open_write`], replacing a planted symlink or special file at `path`
/// (unlinking the entry itself; its target is never touched) once.
/// Callers hold the network lock, so no other writer races the repair.
pub fn open_write_replacing(path: &Path) -> io::Result<File> {
    match open_write(path) {
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) || is_hostile(&e) => {
            if is_replaceable(path)? {
                fs::remove_file(path)?;
                open_write(path)
            } else {
                Err(e)
            }
        }
        r => r,
    }
}

/// A symlink or special file: something to unlink, not a directory or our file.
fn is_replaceable(path: &Path) -> io::Result<bool> {
    let t = fs::symlink_metadata(path)?.file_type();
    Ok(t.is_symlink() || t.is_fifo() || t.is_socket() || t.is_char_device() || t.is_block_device())
}

/// Writes `content` over `path` in place (see [`crate::store::write_file`]).
pub fn write_in_place(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut f = open_write_replacing(path)?;
    f.write_all(content)?;
    f.set_len(content.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn writes_replace_a_symlink_and_leave_its_target_alone() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target");
        fs::write(&target, "keep").unwrap();
        let link = d.path().join("link");
        symlink(&target, &link).unwrap();
        write_in_place(&link, b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
        assert_eq!(fs::read_to_string(&link).unwrap(), "new");
        // A dangling link is replaced without creating its target.
        symlink(d.path().join("ghost"), d.path().join("dangling")).unwrap();
        write_in_place(&d.path().join("dangling"), b"x").unwrap();
        assert!(!d.path().join("ghost").exists());
    }

    #[test]
    fn reads_are_bounded_regular_and_do_not_follow() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        fs::write(&f, "12345").unwrap();
        assert_eq!(read_bounded(&f, 5, false).unwrap(), b"12345");
        assert!(is_hostile(&read_bounded(&f, 4, false).unwrap_err()));
        symlink(&f, d.path().join("l")).unwrap();
        let e = read_bounded(&d.path().join("l"), 5, false).unwrap_err();
        assert!(is_symlink_err(&e));
        assert_eq!(
            read_bounded(&d.path().join("l"), 5, true).unwrap(),
            b"12345"
        );
        let e = read_bounded(Path::new("/dev/zero"), 5, true).unwrap_err();
        assert!(is_hostile(&e));
    }
}
