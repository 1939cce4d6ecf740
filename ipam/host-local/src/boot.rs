//! The current boot: its id (changes at every boot) and its start time.

use std::fs;

/// Where the kernel publishes the boot id.
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The kernel's random boot id, or `"unknown"` when it cannot be read.
pub fn boot_id() -> String {
    fs::read_to_string(BOOT_ID)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        .unwrap_or_else(|| "unknown".into())
}

/// Seconds since the epoch at which this boot started (`btime` in /proc/stat).
pub fn boot_time() -> Option<i64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_id_is_stable_within_a_boot() {
        let a = boot_id();
        assert_eq!(a, boot_id());
        assert_ne!(a, "unknown", "this test machine publishes a boot id");
    }

    #[test]
    fn boot_time_is_in_the_past() {
        let bt = boot_time().expect("btime");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(bt > 0 && bt <= now);
    }
}
