//! What keeps a fuzzing worker honest: a counting allocator (per-input peak
//! and a hard cap), the current input mirrored into a shared mapping (so a
//! worker that aborts or hangs leaves it behind for the supervisor), a
//! watchdog that ends a hung worker, and a panic hook that records messages.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Live heap bytes above which allocations fail (the worker aborts).
pub const HARD_CAP: usize = 2 << 30;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// A global allocator that counts live bytes and refuses to pass [`HARD_CAP`].
pub struct Counting;

// SAFETY: delegates to the system allocator; only counts around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        if live > HARD_CAP {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            set_reason(b'M');
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: p was allocated by System with l.
        unsafe { System.dealloc(p, l) }
    }
}

/// Resets the peak to the current live size; returns that baseline.
pub fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// Peak live bytes since [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Layout of the mirror file: reason byte, 7 pad, u64 length, then the input.
const HEADER: usize = 16;
/// The largest input a worker mirrors (and so the largest it runs).
pub const MAX_INPUT: usize = 1 << 20;
static MIRROR: AtomicUsize = AtomicUsize::new(0);

/// Maps `path` shared so the input survives the worker's death.
pub fn map_mirror(path: &Path) -> std::io::Result<()> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.set_len((HEADER + MAX_INPUT) as u64)?;
    // SAFETY: a fresh shared mapping of a file we sized; never unmapped.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            HEADER + MAX_INPUT,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    MIRROR.store(p as usize, Ordering::Release);
    Ok(())
}

fn set_reason(r: u8) {
    let p = MIRROR.load(Ordering::Acquire);
    if p != 0 {
        // SAFETY: p maps at least HEADER bytes.
        unsafe { *(p as *mut u8) = r };
    }
}

/// Copies the input about to run into the mirror (no allocation).
pub fn mirror(input: &[u8]) {
    let p = MIRROR.load(Ordering::Acquire);
    if p == 0 {
        return;
    }
    let n = input.len().min(MAX_INPUT);
    // SAFETY: the mapping holds HEADER + MAX_INPUT bytes; n <= MAX_INPUT.
    unsafe {
        *(p as *mut u8) = b'R';
        std::ptr::copy_nonoverlapping((n as u64).to_le_bytes().as_ptr(), (p + 8) as *mut u8, 8);
        std::ptr::copy_nonoverlapping(input.as_ptr(), (p + HEADER) as *mut u8, n);
    }
}

/// Reads a mirror file left by a dead worker: (reason byte, input).
pub fn read_mirror(path: &Path) -> Option<(u8, Vec<u8>)> {
    let b = std::fs::read(path).ok()?;
    if b.len() < HEADER {
        return None;
    }
    let n = u64::from_le_bytes(b[8..16].try_into().ok()?) as usize;
    let data = b.get(HEADER..HEADER + n.min(MAX_INPUT))?.to_vec();
    Some((b[0], data))
}

static STARTED_MS: AtomicU64 = AtomicU64::new(0);
static EPOCH: Mutex<Option<Instant>> = Mutex::new(None);

fn now_ms() -> u64 {
    let mut e = EPOCH.lock().unwrap_or_else(|p| p.into_inner());
    e.get_or_insert_with(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Marks the start (or, with `false`, the end) of one input's run.
pub fn running(on: bool) {
    STARTED_MS.store(if on { now_ms() } else { 0 }, Ordering::Release);
}

/// Exit status of a worker that the watchdog ended.
pub const HANG_EXIT: i32 = 86;

/// Starts a thread that ends the process when one input runs past `limit`.
pub fn start_watchdog(limit: Duration) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let s = STARTED_MS.load(Ordering::Acquire);
            if s != 0 && now_ms().saturating_sub(s) > limit.as_millis() as u64 {
                set_reason(b'H');
                eprintln!("watchdog: one input ran longer than {limit:?}");
                // SAFETY: ends the process without unwinding other threads.
                unsafe { libc::_exit(HANG_EXIT) };
            }
        }
    });
}

static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Records panic messages (with location) instead of printing them.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = format!("panic at {loc}: {msg}");
    }));
}

/// The last panic recorded by the hook.
pub fn last_panic() -> String {
    LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()).clone()
}
