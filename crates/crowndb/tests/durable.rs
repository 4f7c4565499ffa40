//! `Db::durable`: the future an async server awaits instead of blocking in `fdatasync`. Many
//! writers waiting on futures share syncs with each other and with writers that wait on a
//! thread, and none completes before a sync covered its write.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use crowndb::{Db, Durability, Options, WriteOptions};

/// Runs a future to completion on this thread (a minimal executor: park until woken).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[test]
fn writers_awaiting_futures_share_syncs_and_each_is_covered_when_it_completes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { durability: Durability::Always, ..Options::default() }).unwrap();
    let deferred = WriteOptions { sync: Some(false), ..WriteOptions::default() };
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    db.put_opt(format!("t{t}-{i}").as_bytes(), b"value", &deferred).unwrap();
                    block_on(db.durable()).unwrap();
                }
            })
        })
        .collect();
    // Writers that wait on a thread at the same time.
    for i in 0..100 {
        db.put(format!("sync-{i}").as_bytes(), b"value").unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    let stats = db.stats();
    assert!(stats.sync.syncs < 900, "900 durable writes took {} syncs", stats.sync.syncs);
    assert!(stats.sync.waits >= stats.sync.syncs);
    // Everything acknowledged survives a crash that keeps only what was synced.
    let point = db.simulate_crash();
    assert_eq!(point.written_len, point.synced_len, "an acknowledged write was not synced");
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.stats().keys, 900);
}
