//! `crowndb-faultfs`: a file-layer fault injector, loaded with `LD_PRELOAD` into a test
//! process (a CrownDB writer, `crowndb serve`). It exports the libc functions through which
//! file data reaches the disk and forwards each call to the real one (found with
//! `dlsym(RTLD_NEXT)`), except when the control file arms a fault for it.
//!
//! Intercepted: `fsync`, `fdatasync`, `sync_file_range`, `msync`, `write`, `pwrite`,
//! `pwrite64`, `writev`, `pwritev`, `pwritev64`, `fallocate`, `fallocate64`,
//! `posix_fallocate`, `posix_fallocate64`. (Rust's std calls these through the dynamic
//! linker: `File::sync_data` is `fdatasync`, `sync_all` is `fsync`, `write_all_at` is
//! `pwrite64`.)
//!
//! Environment:
//! - `CROWNDB_FAULTFS_CONTROL=<file>`: the control file. Without it, or while the file is
//!   missing or names no `under`, every call passes straight through.
//! - `CROWNDB_FAULTFS_STATS=<file>`: where to keep counters (rewritten, atomically, after
//!   each call on a watched file), so a test can prove calls were intercepted.
//!
//! The control file (re-read whenever its inode, size or modification time changes; a new
//! version restarts the counting, so write it to a temporary name and rename it over):
//!
//! ```text
//! under=/path/to/store        only calls on files under this directory are watched
//! calls=fdatasync,fsync       which calls fail: fsync fdatasync sync_file_range msync
//!                             write pwrite writev fallocate (empty: count only)
//! after=3                     let this many matching calls pass first
//! errno=EIO                   EIO, ENOSPC, EDQUOT, EROFS or a number
//! times=0                     how many calls fail (0: every one from then on)
//! short=100                   write kinds: the first failing call writes this many bytes
//!                             and returns that count; the following ones fail with errno
//! ```
//!
//! A call on a descriptor is watched if `/proc/self/fd/<fd>` links under `under`; an
//! `msync` if `/proc/self/maps` says its address maps such a file. The library's own file
//! access (reading the control file, writing the stats) never reaches its own hooks.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

type SizeT = usize;
type SsizeT = isize;
type OffT = i64;

#[repr(C)]
pub struct IoVec {
    base: *mut c_void,
    len: SizeT,
}

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn __errno_location() -> *mut c_int;
}

/// `RTLD_NEXT`: the next object after this one in the lookup order (glibc's value).
const RTLD_NEXT: *mut c_void = -1isize as *mut c_void;
const EIO: c_int = 5;
const ENOSYS: c_int = 38;

/// The intercepted calls, as named in the control file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fsync,
    Fdatasync,
    SyncFileRange,
    Msync,
    Write,
    Pwrite,
    Writev,
    Fallocate,
}

const KINDS: [Kind; 8] =
    [Kind::Fsync, Kind::Fdatasync, Kind::SyncFileRange, Kind::Msync, Kind::Write, Kind::Pwrite, Kind::Writev, Kind::Fallocate];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Fsync => "fsync",
            Kind::Fdatasync => "fdatasync",
            Kind::SyncFileRange => "sync_file_range",
            Kind::Msync => "msync",
            Kind::Write => "write",
            Kind::Pwrite => "pwrite",
            Kind::Writev => "writev",
            Kind::Fallocate => "fallocate",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    fn writes_data(self) -> bool {
        matches!(self, Kind::Write | Kind::Pwrite | Kind::Writev)
    }
}

/// What the control file asks for.
#[derive(Debug, Clone, Default)]
struct Config {
    under: Option<PathBuf>,
    calls: u32,
    after: u64,
    errno: c_int,
    times: u64,
    short: Option<usize>,
}

fn parse_errno(s: &str) -> Option<c_int> {
    match s {
        "EIO" => Some(EIO),
        "ENOSPC" => Some(28),
        "EROFS" => Some(30),
        "EDQUOT" => Some(122),
        n => n.parse().ok(),
    }
}

fn parse_config(text: &str) -> Config {
    let mut c = Config { errno: EIO, ..Config::default() };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        match key.trim() {
            "under" if !value.is_empty() => c.under = Some(PathBuf::from(value)),
            "calls" => {
                for name in value.split(',').map(str::trim) {
                    if let Some(kind) = KINDS.iter().find(|k| k.name() == name) {
                        c.calls |= kind.bit();
                    }
                }
            }
            "after" => c.after = value.parse().unwrap_or(0),
            "times" => c.times = value.parse().unwrap_or(0),
            "errno" => c.errno = parse_errno(value).unwrap_or(EIO),
            "short" => c.short = value.parse().ok(),
            _ => {}
        }
    }
    c
}

/// Identity of one version of the control file.
type Version = (u64, i64, i64, u64);

#[derive(Default)]
struct State {
    version: Option<Version>,
    config: Config,
    /// Versions of the control file loaded so far.
    generation: u64,
    /// Calls on watched files, per kind, since the library loaded.
    seen: [u64; KINDS.len()],
    /// Calls of a failing kind since this version of the control file was loaded.
    matched: u64,
    /// Faults injected since this version was loaded, and in all.
    injected: u64,
    injected_total: u64,
    last: String,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

thread_local! {
    /// Set while this thread is inside the injector: its own file access passes through.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// What to do with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass,
    Fail(c_int),
    Short(usize),
}

fn refresh(state: &mut State) {
    let Some(path) = std::env::var_os("CROWNDB_FAULTFS_CONTROL") else {
        state.version = None;
        state.config = Config::default();
        return;
    };
    use std::os::unix::fs::MetadataExt;
    let version = std::fs::metadata(&path).ok().map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.size()));
    if version == state.version {
        return;
    }
    state.version = version;
    state.config = match version.and_then(|_| std::fs::read_to_string(&path).ok()) {
        Some(text) => parse_config(&text),
        None => Config::default(),
    };
    state.generation += 1;
    state.matched = 0;
    state.injected = 0;
}

fn fd_path(fd: c_int) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

/// The file mapped at `addr`, from `/proc/self/maps`.
fn mapped_path(addr: usize) -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let range = fields.next()?;
        let (lo, hi) = range.split_once('-')?;
        let (lo, hi) = (usize::from_str_radix(lo, 16).ok()?, usize::from_str_radix(hi, 16).ok()?);
        if (lo..hi).contains(&addr) {
            let path = fields.nth(4)?;
            return path.starts_with('/').then(|| PathBuf::from(path));
        }
    }
    None
}

fn write_stats(state: &State) {
    let Some(path) = std::env::var_os("CROWNDB_FAULTFS_STATS") else { return };
    let mut text = format!("pid {}\ngeneration {}\n", std::process::id(), state.generation);
    for (kind, n) in KINDS.iter().zip(state.seen) {
        text.push_str(&format!("{} {n}\n", kind.name()));
    }
    text.push_str(&format!(
        "matched {}\ninjected {}\ninjected_total {}\nlast {}\n",
        state.matched, state.injected, state.injected_total, state.last
    ));
    let path = PathBuf::from(path);
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
}

/// Decides the fate of one call on descriptor `fd` (or, for `msync`, at address `addr`).
fn decide(kind: Kind, fd: Option<c_int>, addr: Option<usize>) -> Action {
    if BUSY.with(|b| b.replace(true)) {
        return Action::Pass;
    }
    let action = decide_inner(kind, fd, addr);
    BUSY.with(|b| b.set(false));
    action
}

fn decide_inner(kind: Kind, fd: Option<c_int>, addr: Option<usize>) -> Action {
    if std::env::var_os("CROWNDB_FAULTFS_CONTROL").is_none() {
        return Action::Pass;
    }
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let state = guard.get_or_insert_with(State::default);
    refresh(state);
    let Some(under) = state.config.under.clone() else { return Action::Pass };
    let path = match (fd, addr) {
        (Some(fd), _) => fd_path(fd),
        (None, Some(addr)) => mapped_path(addr),
        _ => None,
    };
    let Some(path) = path.filter(|p| p.starts_with(&under)) else { return Action::Pass };
    state.seen[KINDS.iter().position(|k| *k == kind).unwrap_or(0)] += 1;
    let mut action = Action::Pass;
    let c = &state.config;
    if c.calls & kind.bit() != 0 {
        state.matched += 1;
        if state.matched > c.after && (c.times == 0 || state.injected < c.times) {
            action = match c.short {
                Some(n) if kind.writes_data() && state.injected == 0 => Action::Short(n),
                _ => Action::Fail(c.errno),
            };
            state.injected += 1;
            state.injected_total += 1;
            state.last = format!("{} {} {:?}", kind.name(), path_text(&path), action);
        }
    }
    write_stats(state);
    action
}

fn path_text(p: &Path) -> String {
    p.display().to_string().replace(['\n', ' '], "_")
}

fn set_errno(e: c_int) {
    // SAFETY: glibc's thread-local errno.
    unsafe { *__errno_location() = e };
}

/// Resolves the next definition of a libc function, once.
macro_rules! real {
    ($name:literal, $ty:ty) => {{
        static PTR: AtomicUsize = AtomicUsize::new(0);
        let mut p = PTR.load(Ordering::Relaxed);
        if p == 0 {
            // SAFETY: dlsym with a NUL-terminated name.
            p = unsafe { dlsym(RTLD_NEXT, concat!($name, "\0").as_ptr().cast()) } as usize;
            PTR.store(p, Ordering::Relaxed);
        }
        if p == 0 {
            None
        } else {
            // SAFETY: the symbol has this C signature in glibc.
            Some(unsafe { std::mem::transmute::<usize, $ty>(p) })
        }
    }};
}

/// `-1` with `errno` set: the failure convention of most of these calls.
fn fail(e: c_int) -> c_int {
    set_errno(e);
    -1
}

macro_rules! sync_hook {
    ($name:ident, $sym:literal, $kind:expr) => {
        #[no_mangle]
        pub extern "C" fn $name(fd: c_int) -> c_int {
            match decide($kind, Some(fd), None) {
                Action::Fail(e) => fail(e),
                _ => match real!($sym, extern "C" fn(c_int) -> c_int) {
                    Some(f) => f(fd),
                    None => fail(ENOSYS),
                },
            }
        }
    };
}

sync_hook!(fsync, "fsync", Kind::Fsync);
sync_hook!(fdatasync, "fdatasync", Kind::Fdatasync);

#[no_mangle]
pub extern "C" fn sync_file_range(fd: c_int, offset: OffT, nbytes: OffT, flags: c_uint) -> c_int {
    match decide(Kind::SyncFileRange, Some(fd), None) {
        Action::Fail(e) => fail(e),
        _ => match real!("sync_file_range", extern "C" fn(c_int, OffT, OffT, c_uint) -> c_int) {
            Some(f) => f(fd, offset, nbytes, flags),
            None => fail(ENOSYS),
        },
    }
}

#[no_mangle]
pub extern "C" fn msync(addr: *mut c_void, len: SizeT, flags: c_int) -> c_int {
    match decide(Kind::Msync, None, Some(addr as usize)) {
        Action::Fail(e) => fail(e),
        _ => match real!("msync", extern "C" fn(*mut c_void, SizeT, c_int) -> c_int) {
            Some(f) => f(addr, len, flags),
            None => fail(ENOSYS),
        },
    }
}

#[no_mangle]
pub extern "C" fn write(fd: c_int, buf: *const c_void, count: SizeT) -> SsizeT {
    let Some(f) = real!("write", extern "C" fn(c_int, *const c_void, SizeT) -> SsizeT) else { return fail(ENOSYS) as SsizeT };
    match decide(Kind::Write, Some(fd), None) {
        Action::Pass => f(fd, buf, count),
        Action::Fail(e) => fail(e) as SsizeT,
        Action::Short(n) => f(fd, buf, count.min(n)),
    }
}

macro_rules! pwrite_hook {
    ($name:ident, $sym:literal) => {
        #[no_mangle]
        pub extern "C" fn $name(fd: c_int, buf: *const c_void, count: SizeT, offset: OffT) -> SsizeT {
            let Some(f) = real!($sym, extern "C" fn(c_int, *const c_void, SizeT, OffT) -> SsizeT) else {
                return fail(ENOSYS) as SsizeT;
            };
            match decide(Kind::Pwrite, Some(fd), None) {
                Action::Pass => f(fd, buf, count, offset),
                Action::Fail(e) => fail(e) as SsizeT,
                Action::Short(n) => f(fd, buf, count.min(n), offset),
            }
        }
    };
}

pwrite_hook!(pwrite, "pwrite");
pwrite_hook!(pwrite64, "pwrite64");

/// The first `n` bytes of an iovec array, as a new array.
///
/// # Safety
/// `iov` must point at `cnt` valid iovecs.
unsafe fn truncate_iov(iov: *const IoVec, cnt: c_int, n: usize) -> Vec<IoVec> {
    let mut out = Vec::new();
    let mut left = n;
    for i in 0..cnt.max(0) as usize {
        if left == 0 {
            break;
        }
        let v = &*iov.add(i);
        let len = v.len.min(left);
        out.push(IoVec { base: v.base, len });
        left -= len;
    }
    out
}

/// # Safety
/// `iov` must point at `cnt` valid iovecs, as for libc's `writev`.
#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const IoVec, cnt: c_int) -> SsizeT {
    let Some(f) = real!("writev", extern "C" fn(c_int, *const IoVec, c_int) -> SsizeT) else { return fail(ENOSYS) as SsizeT };
    match decide(Kind::Writev, Some(fd), None) {
        Action::Pass => f(fd, iov, cnt),
        Action::Fail(e) => fail(e) as SsizeT,
        Action::Short(n) => {
            // SAFETY: the caller passed `cnt` valid iovecs.
            let cut = unsafe { truncate_iov(iov, cnt, n) };
            f(fd, cut.as_ptr(), cut.len() as c_int)
        }
    }
}

macro_rules! pwritev_hook {
    ($name:ident, $sym:literal) => {
        /// # Safety
        /// `iov` must point at `cnt` valid iovecs, as for libc's `pwritev`.
        #[no_mangle]
        pub unsafe extern "C" fn $name(fd: c_int, iov: *const IoVec, cnt: c_int, offset: OffT) -> SsizeT {
            let Some(f) = real!($sym, extern "C" fn(c_int, *const IoVec, c_int, OffT) -> SsizeT) else {
                return fail(ENOSYS) as SsizeT;
            };
            match decide(Kind::Writev, Some(fd), None) {
                Action::Pass => f(fd, iov, cnt, offset),
                Action::Fail(e) => fail(e) as SsizeT,
                Action::Short(n) => {
                    // SAFETY: the caller passed `cnt` valid iovecs.
                    let cut = unsafe { truncate_iov(iov, cnt, n) };
                    f(fd, cut.as_ptr(), cut.len() as c_int, offset)
                }
            }
        }
    };
}

pwritev_hook!(pwritev, "pwritev");
pwritev_hook!(pwritev64, "pwritev64");

macro_rules! fallocate_hook {
    ($name:ident, $sym:literal) => {
        #[no_mangle]
        pub extern "C" fn $name(fd: c_int, mode: c_int, offset: OffT, len: OffT) -> c_int {
            match decide(Kind::Fallocate, Some(fd), None) {
                Action::Pass | Action::Short(_) => match real!($sym, extern "C" fn(c_int, c_int, OffT, OffT) -> c_int) {
                    Some(f) => f(fd, mode, offset, len),
                    None => fail(ENOSYS),
                },
                Action::Fail(e) => fail(e),
            }
        }
    };
}

fallocate_hook!(fallocate, "fallocate");
fallocate_hook!(fallocate64, "fallocate64");

// posix_fallocate returns the error number instead of setting errno.
macro_rules! posix_fallocate_hook {
    ($name:ident, $sym:literal) => {
        #[no_mangle]
        pub extern "C" fn $name(fd: c_int, offset: OffT, len: OffT) -> c_int {
            match decide(Kind::Fallocate, Some(fd), None) {
                Action::Pass | Action::Short(_) => match real!($sym, extern "C" fn(c_int, OffT, OffT) -> c_int) {
                    Some(f) => f(fd, offset, len),
                    None => ENOSYS,
                },
                Action::Fail(e) => e,
            }
        }
    };
}

posix_fallocate_hook!(posix_fallocate, "posix_fallocate");
posix_fallocate_hook!(posix_fallocate64, "posix_fallocate64");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_files_parse() {
        let c = parse_config("under=/tmp/x\ncalls=fdatasync, pwrite,bogus\nafter=3 # comment\nerrno=ENOSPC\ntimes=2\nshort=10\n");
        assert_eq!(c.under.as_deref(), Some(Path::new("/tmp/x")));
        assert_eq!(c.calls, Kind::Fdatasync.bit() | Kind::Pwrite.bit());
        assert_eq!((c.after, c.errno, c.times, c.short), (3, 28, 2, Some(10)));
        let empty = parse_config("");
        assert!(empty.under.is_none());
        assert_eq!(empty.errno, EIO);
    }
}
