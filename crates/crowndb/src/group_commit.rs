//! Group commit: one `fdatasync` for every durable write waiting at that moment.
//!
//! A writer that needs its bytes on disk calls [`GroupCommit::wait_for`] with the log
//! position its write ended at. If no sync is running it becomes the *leader*: it syncs
//! everything appended so far (more than its own write: every write appended before the
//! sync started) and then wakes every waiter at once. Writers that arrive while a sync runs
//! wait on one condition variable; when it is signalled, those whose writes the sync covered
//! return, and one of the others leads the next sync at once.
//!
//! The first version handed a mutex from waiter to waiter: after each sync, the waiters
//! woke one after another (one futex wake and one task switch each) before the next sync
//! could start, so more writers did not mean more writes per sync. Waking all waiters
//! together lets the next leader start while the others return.
//!
//! Nothing returns `Ok` before the sync that covers its position has returned: a waiter
//! returns only once `synced_to`, which a leader raises after its sync succeeded, is past
//! its position.
//!
//! Thread-safety: `leading` is held only to change who leads and to wait, never across the
//! sync itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::error::Result;
use crate::store::Store;

pub(crate) struct GroupCommit {
    /// Log position known to be on disk.
    synced_to: AtomicU64,
    /// True while a leader syncs.
    leading: Mutex<bool>,
    /// Signalled when a leader finishes (successfully or not).
    finished: Condvar,
    /// Syncs run.
    syncs: AtomicU64,
    /// Calls that had to wait for a sync (durable writes, and explicit syncs).
    waits: AtomicU64,
    /// Total time those calls waited, from the end of the append to the return.
    wait_nanos: AtomicU64,
    /// Writers waiting without a thread of their own ([`Durable`] futures): served by the
    /// syncer thread (`run_syncer`), which leads syncs for them.
    parked: Mutex<Parked>,
    parked_changed: Condvar,
}

#[derive(Default)]
struct Parked {
    /// (log position, waker) of each waiting future.
    waiters: Vec<(u64, Waker)>,
    stop: bool,
}

/// Figures of group commit since open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// `fdatasync` rounds run (each covers every write waiting at that moment).
    pub syncs: u64,
    /// Writes (and explicit syncs) that waited for a sync; `waits / syncs` is how many
    /// writes one sync covered on average.
    pub waits: u64,
    /// Total time those waited, append to acknowledgment, in microseconds.
    pub wait_micros: u64,
}

impl GroupCommit {
    pub fn new() -> GroupCommit {
        GroupCommit {
            synced_to: AtomicU64::new(0),
            leading: Mutex::new(false),
            finished: Condvar::new(),
            syncs: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
            parked: Mutex::new(Parked::default()),
            parked_changed: Condvar::new(),
        }
    }

    fn park(&self, end: u64, waker: &Waker) {
        let mut parked = self.parked.lock();
        match parked.waiters.iter_mut().find(|(_, w)| w.will_wake(waker)) {
            Some(slot) => slot.0 = slot.0.max(end),
            None => parked.waiters.push((end, waker.clone())),
        }
        self.parked_changed.notify_one();
    }

    /// The syncer thread: while futures wait, syncs as their leader (sharing syncs with the
    /// writers that wait on a thread) and wakes those it covered; every waiter on a failure.
    /// Returns when [`GroupCommit::stop_syncer`] is called.
    pub(crate) fn run_syncer(&self, store: &Store) {
        loop {
            let target = {
                let mut parked = self.parked.lock();
                while parked.waiters.is_empty() && !parked.stop {
                    self.parked_changed.wait(&mut parked);
                }
                if parked.stop {
                    break;
                }
                parked.waiters.iter().map(|(end, _)| *end).max().unwrap_or(0)
            };
            let failed = store.sync_to(target).is_err();
            let synced = self.synced_to();
            let ready: Vec<Waker> = {
                let mut parked = self.parked.lock();
                let (ready, rest) = std::mem::take(&mut parked.waiters).into_iter().partition(|(end, _)| failed || *end <= synced);
                parked.waiters = rest;
                ready.into_iter().map(|(_, w)| w).collect::<Vec<_>>()
            };
            // The round counted one wait (its own sync_to); each future it served is one.
            self.waits.fetch_add((ready.len() as u64).saturating_sub(1), Ordering::Relaxed);
            ready.into_iter().for_each(Waker::wake);
        }
        // Stopping (the store is closing, after its last sync): nobody is left waiting.
        let waiters = std::mem::take(&mut self.parked.lock().waiters);
        waiters.into_iter().for_each(|(_, w)| w.wake());
    }

    pub(crate) fn stop_syncer(&self) {
        self.parked.lock().stop = true;
        self.parked_changed.notify_all();
    }

    /// Log position known to be on disk.
    pub fn synced_to(&self) -> u64 {
        self.synced_to.load(Ordering::Acquire)
    }

    /// Returns once log position `end` is on disk. `sync` makes everything appended so far
    /// durable and returns the position it covered; it runs on the leader's thread.
    pub fn wait_for(&self, end: u64, sync: impl Fn() -> Result<u64>) -> Result<()> {
        if self.synced_to() >= end {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.wait(end, sync);
        self.waits.fetch_add(1, Ordering::Relaxed);
        self.wait_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        result
    }

    fn wait(&self, end: u64, sync: impl Fn() -> Result<u64>) -> Result<()> {
        let mut leading = self.leading.lock();
        loop {
            if self.synced_to() >= end {
                return Ok(());
            }
            if *leading {
                self.finished.wait(&mut leading);
                continue;
            }
            *leading = true;
            drop(leading);
            let result = sync();
            if let Ok(covered) = result {
                self.syncs.fetch_add(1, Ordering::Relaxed);
                self.synced_to.fetch_max(covered, Ordering::AcqRel);
            }
            leading = self.leading.lock();
            *leading = false;
            self.finished.notify_all();
            // A failed sync poisons the store: the waiters woken here lead in turn, and
            // each gets the refusal from `sync` without touching the disk.
            result?;
        }
    }

    pub fn stats(&self) -> SyncStats {
        SyncStats {
            syncs: self.syncs.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            wait_micros: self.wait_nanos.load(Ordering::Relaxed) / 1000,
        }
    }
}

/// A future that completes once a log position is on disk (`Db::durable`): what an async
/// server awaits before acknowledging writes, instead of blocking a thread in `fdatasync`.
/// The store's syncer thread leads the sync; concurrent waiters share it.
pub struct Durable {
    store: Arc<Store>,
    end: u64,
    /// Parked once: a later poll may follow a failed sync, so it checks for the refusal.
    parked: bool,
}

impl Durable {
    pub(crate) fn new(store: Arc<Store>, end: u64) -> Durable {
        Durable { store, end, parked: false }
    }
}

impl Future for Durable {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.store.commit.synced_to() >= self.end {
            return Poll::Ready(Ok(()));
        }
        // The refusal (which takes the writer lock to read) can only be new after a sync
        // failed, which wakes every parked future: the first poll goes straight to parking,
        // and the syncer's own sync reports a refusal already there.
        if self.parked {
            if let Some(refusal) = self.store.poisoned() {
                return Poll::Ready(Err(refusal));
            }
        }
        if self.store.stopping.load(Ordering::Acquire) {
            // Closing: the close syncs everything; a waiter left now would wait forever.
            return Poll::Ready(self.store.sync_to(self.end));
        }
        self.parked = true;
        let commit = &self.store.commit;
        commit.park(self.end, cx.waker());
        // The syncer may have covered it between the check and the parking.
        if commit.synced_to() >= self.end {
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }
}

impl crate::db::Db {
    /// A future that completes once every write made so far is on disk: [`Db::sync`] for an
    /// async caller (a server acknowledging a batch of writes), which must not block a thread
    /// in `fdatasync`. A store thread leads the sync; every writer waiting at that moment,
    /// on a thread or on a future, shares it (group commit).
    pub fn durable(&self) -> crate::Durable {
        let store = self.store_arc();
        let end = store.writer.lock().log_end;
        crate::Durable::new(store, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    #[test]
    fn concurrent_waiters_share_syncs_and_none_returns_before_its_position_is_covered() {
        let commit = Arc::new(GroupCommit::new());
        let appended = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (commit, appended, durable) = (commit.clone(), appended.clone(), durable.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let end = appended.fetch_add(1, Ordering::SeqCst) + 1;
                        commit
                            .wait_for(end, || {
                                let target = appended.load(Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_micros(200));
                                durable.fetch_max(target, Ordering::SeqCst);
                                Ok(target)
                            })
                            .unwrap();
                        assert!(durable.load(Ordering::SeqCst) >= end, "returned before its write was synced");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let stats = commit.stats();
        assert_eq!(stats.waits, 1600);
        assert!(stats.syncs < 1600, "8 writers never shared a sync: {stats:?}");
    }

    #[test]
    fn a_failed_sync_fails_every_waiter_it_would_have_covered() {
        let commit = GroupCommit::new();
        let err = commit.wait_for(10, || Err(crate::error::Error::Poisoned("disk said no".into())));
        assert!(err.is_err());
        assert_eq!(commit.synced_to(), 0);
        assert_eq!(commit.stats().syncs, 0);
    }
}
