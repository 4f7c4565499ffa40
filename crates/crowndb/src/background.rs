//! Background threads of an open store: the sealer (writes footers of full segments), the
//! flusher (syncs at the `Periodic` durability interval) and the compactor.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::options::Durability;
use crate::segment::Segment;
use crate::store::Store;

/// Handles to the running threads; dropping the senders asks them to stop.
pub(crate) struct Background {
    stop_flusher: Option<Sender<()>>,
    stop_compactor: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Background {
    pub fn start(inner: &Arc<Store>) -> Background {
        let mut threads = Vec::new();
        let (seal_tx, seal_rx) = mpsc::channel::<Arc<Segment>>();
        *inner.sealer.lock() = Some(seal_tx);
        threads.push(
            std::thread::Builder::new()
                .name("crowndb-sealer".into())
                .spawn({
                    let inner = inner.clone();
                    move || {
                        for segment in seal_rx {
                            // An I/O error (not a full disk) means the disk failed a write or
                            // a sync of the file, whose records the sync was to cover too:
                            // the store stops accepting writes.
                            if let Err(e) = seal(&segment) {
                                if e.kind() == crate::ErrorKind::Io {
                                    inner.writer.lock().poison(&e);
                                }
                            }
                            inner.seals_pending.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                        }
                    }
                })
                .expect("spawning the sealer thread"),
        );
        // Leads syncs for the writers that wait on a future (`Db::durable`).
        threads.push(
            std::thread::Builder::new()
                .name("crowndb-syncer".into())
                .spawn({
                    let inner = inner.clone();
                    move || inner.commit.run_syncer(&inner)
                })
                .expect("spawning the syncer thread"),
        );
        let mut stop_flusher = None;
        let mut stop_compactor = None;
        if let Durability::Periodic(every) = inner.options.durability {
            let (stop_tx, stop_rx) = mpsc::channel::<()>();
            stop_flusher = Some(stop_tx);
            let inner = inner.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("crowndb-flusher".into())
                    .spawn(move || loop {
                        match stop_rx.recv_timeout(every) {
                            Err(RecvTimeoutError::Timeout) => {
                                if let Err(e) = inner.sync_all() {
                                    tracing::error!("periodic sync failed: {e}");
                                }
                            }
                            _ => return,
                        }
                    })
                    .expect("spawning the flusher thread"),
            );
        }
        if inner.options.background_compaction || inner.options.max_disk_bytes.is_some() {
            let (stop_tx, stop_rx) = mpsc::channel::<()>();
            stop_compactor = Some(stop_tx);
            let inner = inner.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("crowndb-compactor".into())
                    .spawn(move || loop {
                        match stop_rx.recv_timeout(COMPACTION_TICK) {
                            Err(RecvTimeoutError::Timeout) => inner.compact_in_background(),
                            _ => return,
                        }
                    })
                    .expect("spawning the compaction thread"),
            );
        }
        Background { stop_flusher, stop_compactor, threads }
    }

    /// Stops the threads, letting the sealer finish the segments it was given.
    pub fn stop(mut self, inner: &Store) {
        inner.sealer.lock().take();
        inner.stopping.store(true, std::sync::atomic::Ordering::Release);
        inner.commit.stop_syncer();
        self.stop_flusher.take();
        self.stop_compactor.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// How often the compaction thread looks for work.
const COMPACTION_TICK: std::time::Duration = std::time::Duration::from_millis(100);

impl Store {
    /// Deletes compacted segments whose superseding writes are durable by now: synced by
    /// the durability setting or by the seal of the segment they are in. While compaction
    /// is busy that is enough (with `Durability::Never` they wait at most one segment's
    /// worth of writes; a sync on every pass would cost more than it saves); once it is
    /// idle, sync so an idle store does not keep garbage indefinitely.
    fn delete_compacted(&self, idle: bool) {
        if idle && self.has_retired_waiting_for_sync() {
            if let Err(e) = self.sync_all() {
                tracing::error!("sync before deleting compacted segments failed: {e}");
            }
        }
        self.delete_retired_segments();
    }

    /// Background compaction: the most worthwhile segments, rate-limited, round after
    /// round while there is work (each round re-reads the figures).
    fn compact_in_background(&self) {
        if self.poisoned().is_some() {
            return; // nothing may be deleted or rewritten until the store is reopened
        }
        // Pages of collections deleted since the last tick leave the index.
        if !self.dead_epochs.lock().is_empty() {
            let _one_at_a_time = self.compaction_lock.lock();
            self.free_dead_epochs();
        }
        match self.evict_over_budget() {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!("evicted {n} segment(s) to stay within the disk budget");
                // Evicted keys are gone whatever happens next: no need to wait for a sync.
                self.delete_compacted(true);
            }
            Err(e) => tracing::error!("eviction failed: {e}"),
        }
        if !self.options.background_compaction {
            return;
        }
        for _ in 0..64 {
            if self.stopping.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            let victims = self.pick_victims(2);
            if victims.is_empty() {
                break;
            }
            let rate = Some(self.options.compaction_bytes_per_sec).filter(|r| *r > 0);
            if let Err(e) = self.compact_segments(victims, rate, false) {
                tracing::error!("background compaction failed: {e}");
                break;
            }
            self.delete_compacted(false);
        }
        self.delete_compacted(true);
    }
}

/// Writes the footer of a full segment. A failure is not a loss: the next open scans it.
pub(crate) fn seal(segment: &Segment) -> crate::Result<()> {
    if segment.is_sealed() {
        return Ok(());
    }
    let sealed = segment.write_footer(segment.data_len());
    if let Err(e) = &sealed {
        tracing::error!("could not seal {}: {e}; it will be scanned at the next open", segment.path.display());
    }
    // Building the footer took a transient buffer of 24 bytes per record; glibc keeps
    // freed memory of that size in its heap, which would show as RAM held per key.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes an integer and touches only the allocator's own free
    // lists, which it locks; no pointer of ours is involved.
    unsafe {
        libc::malloc_trim(0);
    }
    sealed
}

impl Store {
    /// Waits (up to 10 s) until the sealer thread has sealed every segment handed to it, so
    /// that a compaction the caller asks for sees every full segment.
    pub fn wait_for_seals(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.seals_pending.load(std::sync::atomic::Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Hands a full segment to the sealer thread (or seals it here if there is none).
    pub fn seal_later(&self, segment: Arc<Segment>) {
        let sender = self.sealer.lock().clone();
        match sender {
            Some(tx) => {
                self.seals_pending.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                // No sealer thread (stopping): seal here. The caller holds the writer lock, so
                // a failure is only logged; the next open scans the segment.
                if let Err(unsent) = tx.send(segment) {
                    let _ = seal(&unsent.0);
                    self.seals_pending.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                }
            }
            None => {
                let _ = seal(&segment);
            }
        }
    }
}
