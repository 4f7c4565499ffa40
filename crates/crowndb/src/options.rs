//! Store-wide and per-write settings. Every field states its default and trade-off.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

/// When an acknowledged write reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every write returns only after an `fdatasync` covering it. Concurrent writers share
    /// one `fdatasync` (group commit). Nothing acknowledged is lost, even on power failure.
    Always,
    /// A background thread syncs at this interval: a power failure loses at most that much.
    /// A crash of the process alone loses nothing (the data is in the OS page cache).
    Periodic(Duration),
    /// The operating system decides when data reaches the disk. A process crash loses
    /// nothing; a power failure can lose any unsynced suffix.
    Never,
}

impl Durability {
    /// Parses `always`, `everysec`, `never` or `every <N>ms` style names (`100ms`, `2s`).
    pub fn parse(text: &str) -> Option<Durability> {
        match text.trim().to_ascii_lowercase().as_str() {
            "always" => Some(Durability::Always),
            "never" => Some(Durability::Never),
            "everysec" => Some(Durability::Periodic(Duration::from_secs(1))),
            other => {
                let other = other.strip_prefix("every").unwrap_or(other).trim();
                if let Some(ms) = other.strip_suffix("ms") {
                    ms.trim().parse().ok().filter(|&n: &u64| n > 0).map(|n| Durability::Periodic(Duration::from_millis(n)))
                } else if let Some(s) = other.strip_suffix('s') {
                    s.trim().parse().ok().filter(|&n: &u64| n > 0).map(|n| Durability::Periodic(Duration::from_secs(n)))
                } else {
                    None
                }
            }
        }
    }
}

/// Whether values are stored LZ4-compressed. The codec is recorded per record, so a
/// store may hold both and this can change between opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Store values as given.
    Off,
    /// Compress every value of 64 bytes or more.
    Lz4,
    /// Compress values of 64 bytes or more, keeping the result only if it saves at
    /// least 10% (so incompressible data costs one attempt, not space).
    Auto,
}

/// Settings of a store, given to [`Db::open`](crate::Db::open).
#[derive(Debug, Clone)]
pub struct Options {
    /// Create the directory if it does not exist. Default: `true`.
    pub create_if_missing: bool,
    /// Default durability of writes that do not choose their own. Default: `Periodic(1s)`,
    /// like Redis's `appendfsync everysec`: fast, and a power failure loses at most a second.
    pub durability: Durability,
    /// Maximum size of a segment's data region, in bytes; the active segment reserves this
    /// much disk space up front so a full disk is reported when a segment starts, never in
    /// the middle of a write. Segments are also the unit of compaction: smaller ones keep
    /// space amplification low on small stores (a segment being filled, or waiting to be
    /// compacted, is all overhead); bigger ones mean fewer files. Range 64 KiB ..= 16 GiB.
    /// Default: 32 MiB.
    pub segment_size: u64,
    /// Largest key accepted, in bytes (at most 65535). Default: 65535.
    pub max_key_size: usize,
    /// Largest value accepted, in bytes, by every write path alike (`put`, `put_if`,
    /// `update`, batches, `write_if`). A value over 1 MiB is stored as a stream of 1 MiB
    /// chunks, so it may exceed `segment_size`. Default: 64 MiB.
    pub max_value_size: usize,
    /// Source of "now" for expiry deadlines. Default: the system clock.
    pub clock: Arc<dyn Clock>,
    /// At open, read and verify every record of every segment instead of trusting the
    /// footers: finds damage before it is read, at the cost of reading all the data.
    /// Default: `false`.
    pub paranoid_open: bool,
    /// Value compression. Default: `Off` (values are often compressed already, and
    /// the fastest path copies them as they are).
    pub compression: Compression,
    /// Cache mode: a budget for the bytes of the store's segments. When they outgrow it,
    /// the oldest sealed segments are dropped whole and their keys evicted (counted in
    /// `Stats::evictions`), so the store behaves as a cache bigger than RAM. The check
    /// runs in the background thread every 100 ms, so writes can overshoot by what they
    /// write meanwhile. Default: `None`: a store never loses data unless asked to.
    pub max_disk_bytes: Option<u64>,
    /// Run compaction in a background thread. Default: `true`.
    pub background_compaction: bool,
    /// A sealed segment is a compaction candidate once this share of its bytes is dead
    /// (overwritten, deleted, expired). Lower reclaims space sooner, at more copying.
    /// Default: 0.25.
    pub compaction_min_dead_ratio: f64,
    /// Background compaction runs while the store's space amplification (bytes on disk /
    /// live bytes) is above this, or a segment is at least half dead. Default: 1.3.
    pub compaction_space_amp_trigger: f64,
    /// Most bytes per second background compaction copies, so foreground latency holds.
    /// 0 means unlimited. Default: 256 MiB/s.
    pub compaction_bytes_per_sec: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            create_if_missing: true,
            durability: Durability::Periodic(Duration::from_secs(1)),
            segment_size: 32 << 20,
            max_key_size: u16::MAX as usize,
            max_value_size: 64 << 20,
            clock: Arc::new(SystemClock),
            paranoid_open: false,
            compression: Compression::Off,
            max_disk_bytes: None,
            background_compaction: true,
            compaction_min_dead_ratio: 0.25,
            compaction_space_amp_trigger: 1.3,
            compaction_bytes_per_sec: 256 << 20,
        }
    }
}

/// Settings of one write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// `Some(true)`: return only once the write is on disk; `Some(false)`: do not wait;
    /// `None` (default): as the store's [`Options::durability`] says.
    pub sync: Option<bool>,
    /// 32-bit value stored with the record and returned with it (memcached's flags). Default 0.
    pub flags: u32,
    /// Absolute deadline in Unix milliseconds after which the key is invisible. Default: none.
    pub expires_at_ms: Option<u64>,
}

impl WriteOptions {
    /// Options for a write that returns only once it is on disk.
    pub fn synced() -> WriteOptions {
        WriteOptions { sync: Some(true), ..WriteOptions::default() }
    }
}
