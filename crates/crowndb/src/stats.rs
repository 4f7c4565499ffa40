//! A snapshot of a store's figures, returned by [`Db::stats`](crate::Db::stats).

/// Figures of one segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentStats {
    pub generation: u64,
    /// Bytes of header and records (the footer excluded).
    pub data_bytes: u64,
    /// Bytes of records that are the current version of their key.
    pub live_bytes: u64,
    /// Bytes compaction could reclaim: overwritten and deleted records, tombstones.
    pub dead_bytes: u64,
    pub sealed: bool,
}

/// Figures of a whole store.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Keys in the index (expired keys not yet reclaimed included; the chunks of
    /// streamed values are not keys and are not counted).
    pub keys: u64,
    pub live_bytes: u64,
    pub dead_bytes: u64,
    pub segments: Vec<SegmentStats>,
    /// Bytes of RAM held by the index.
    pub index_memory_bytes: u64,
    /// Key and value bytes given to writes by callers.
    pub user_bytes_written: u64,
    /// Bytes appended to segment files (headers, keys, values, tombstones).
    pub disk_bytes_written: u64,
    /// Group-commit syncs run since open; fewer than durable writes when writers share them.
    pub syncs: u64,
    /// Group commit: syncs, the writes that waited for them, and how long they waited.
    pub sync: crate::SyncStats,
    /// Records read since open for a lookup that found another key's record under the same
    /// 36 hash bits (each a possible disk read); over the lookups made, about keys / 2^36.
    pub false_candidate_reads: u64,
    /// Bytes copied forward by compaction (included in `disk_bytes_written`).
    pub bytes_compacted: u64,
    /// Segment files deleted by compaction.
    pub segments_deleted: u64,
    /// Keys dropped by cache-mode eviction (`Options::max_disk_bytes`).
    pub evictions: u64,
    /// Highest sequence number handed out.
    pub last_sequence: u64,
}

impl Stats {
    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Bytes on disk for every byte of live data (1.0 means no garbage at all).
    pub fn space_amplification(&self) -> f64 {
        let on_disk: u64 = self.segments.iter().map(|s| s.data_bytes).sum();
        if self.live_bytes == 0 {
            return if on_disk == 0 { 1.0 } else { on_disk as f64 };
        }
        on_disk as f64 / self.live_bytes as f64
    }

    /// Bytes written to disk for every byte callers wrote.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 1.0;
        }
        self.disk_bytes_written as f64 / self.user_bytes_written as f64
    }
}
