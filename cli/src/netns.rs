//! `ferrocni netns`: named network namespaces in iproute2's layout, so a
//! person can try plugins without `ip netns`.
//!
//! * `add NAME`: makes `/run/netns` a shared mount point (bind-mounting it on
//!   itself first when it is not a mount point, like iproute2), creates the
//!   file `/run/netns/NAME` and bind-mounts a new network namespace on it.
//!   Like `ip netns add`, `lo` stays down.
//! * `del NAME`: lazy unmount, then unlink.
//! * `list`: the names under `/run/netns`.
//! * `exec NAME CMD...`: setns into it, then exec `CMD` (looked up on
//!   `PATH`). Unlike `ip netns exec` it does not remount `/sys` or bind
//!   `/etc/netns/NAME/*`; `/sys/class/net` therefore still shows the caller's
//!   namespace.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

use crate::error::CliError;

/// iproute2's directory of named namespaces.
pub const RUN_DIR: &str = "/run/netns";

fn err(name: &str, msg: impl std::fmt::Display) -> CliError {
    CliError::Netns {
        name: name.into(),
        msg: msg.to_string(),
    }
}

/// The path of a named namespace; the name must be a plain file name.
pub fn path_of(name: &str) -> Result<PathBuf, CliError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(err(name, "not a valid name (no '/', not '.' or '..')"));
    }
    Ok(Path::new(RUN_DIR).join(name))
}

/// `netns add`.
pub fn add(name: &str) -> Result<PathBuf, CliError> {
    let path = path_of(name)?;
    std::fs::create_dir_all(RUN_DIR).map_err(|e| err(name, format!("creating {RUN_DIR}: {e}")))?;
    make_shared(name)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| err(name, format!("creating {}: {e}", path.display())))?;
    let target = path.clone();
    // A fresh thread: unshare moves only that thread into the new namespace.
    let bound = std::thread::spawn(move || -> nix::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    })
    .join();
    match bound {
        Ok(Ok(())) => Ok(path),
        Ok(Err(e)) => {
            let _ = std::fs::remove_file(&path);
            Err(err(name, format!("creating the namespace: {e}")))
        }
        Err(_) => {
            let _ = std::fs::remove_file(&path);
            Err(err(name, "creating the namespace: worker thread panicked"))
        }
    }
}

/// Makes `/run/netns` a shared mount so namespaces mounted there propagate to
/// other mount namespaces (iproute2 does the same).
fn make_shared(name: &str) -> Result<(), CliError> {
    let shared = || {
        mount(
            None::<&str>,
            RUN_DIR,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) => {
            mount(
                Some(RUN_DIR),
                RUN_DIR,
                Some("none"),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| err(name, format!("bind-mounting {RUN_DIR} on itself: {e}")))?;
            shared().map_err(|e| err(name, format!("making {RUN_DIR} shared: {e}")))
        }
        Err(e) => Err(err(name, format!("making {RUN_DIR} shared: {e}"))),
    }
}

/// `netns del`.
pub fn del(name: &str) -> Result<(), CliError> {
    let path = path_of(name)?;
    if !path.exists() {
        return Err(err(name, format!("{} does not exist", path.display())));
    }
    // EINVAL: not a mount point (a stale file); remove it anyway.
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
        Err(e) => return Err(err(name, format!("unmounting {}: {e}", path.display()))),
    }
    std::fs::remove_file(&path).map_err(|e| err(name, format!("removing {}: {e}", path.display())))
}

/// `netns list`: names, sorted.
pub fn list() -> Result<Vec<String>, CliError> {
    let rd = match std::fs::read_dir(RUN_DIR) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CliError::io(format!("reading {RUN_DIR}"), e)),
    };
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// `netns exec`: only returns on failure.
pub fn exec(name: &str, cmd: &[OsString]) -> CliError {
    let path = match path_of(name) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => return err(name, format!("opening {}: {e}", path.display())),
    };
    if let Err(e) = cni::netns::inspect(&path, true) {
        return err(name, e.msg);
    }
    // The CLI is single-threaded here, so the whole process moves.
    if let Err(e) = setns(&file, CloneFlags::CLONE_NEWNET) {
        return err(name, format!("entering {}: {e}", path.display()));
    }
    let Some((prog, args)) = cmd.split_first() else {
        return CliError::usage("netns exec needs a command to run");
    };
    let e = std::process::Command::new(prog).args(args).exec();
    err(name, format!("running {}: {e}", prog.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_run_dir() {
        for bad in ["", ".", "..", "a/b", "../etc"] {
            assert!(path_of(bad).is_err(), "{bad:?}");
        }
        assert_eq!(path_of("blue").unwrap(), Path::new("/run/netns/blue"));
    }
}
