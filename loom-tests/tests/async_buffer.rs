//! loom models of `AsyncBuffer`'s protocol: writers, the flusher thread's
//! sleep and wake-up, `flush`, `close` and `try_write`.
#![cfg(loom)]

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use mwsr::{AsyncBuffer, Error, TryWriteError};
use mwsr_loom_tests::{assert_interleaving, recording, stream};

/// A writer races the flusher thread's swaps; close delivers the rest.
#[test]
fn writes_race_the_flushers_swap() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(AsyncBuffer::new(2, sink));
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || {
                buf.write(1).unwrap();
                buf.write(2).unwrap();
            })
        };
        buf.write(3).unwrap();
        writer.join().unwrap();
        buf.close().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1], &[2]], &[&[3]]]);
    });
}

/// `flush()` must not return before the caller's earlier writes are through
/// the sink, whatever another writer and the flusher thread are doing.
#[test]
fn flush_waits_for_earlier_writes() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(AsyncBuffer::new(4, sink));
        let other = {
            let buf = buf.clone();
            thread::spawn(move || buf.write(2).unwrap())
        };
        buf.write(1).unwrap();
        buf.flush().unwrap();
        assert!(
            stream(&seen).contains(&1),
            "flush returned before its write was delivered"
        );
        other.join().unwrap();
        buf.close().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1]], &[&[2]]]);
    });
}

/// Writes racing `close` either land in the last batch or get `Closed`.
#[test]
fn close_loses_no_accepted_write() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(AsyncBuffer::new(2, sink));
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || {
                let mut accepted = Vec::new();
                for i in [1, 2] {
                    match buf.write(i) {
                        Ok(()) => accepted.push(i),
                        Err(Error::Closed) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                accepted
            })
        };
        buf.close().unwrap();
        let accepted = writer.join().unwrap();
        assert_eq!(
            stream(&seen),
            accepted,
            "accepted writes and delivered items differ"
        );
    });
}

/// No lost wake-up: a write that comes as the flusher decides to sleep is
/// still delivered, with nobody calling `flush`. A lost wake-up would leave
/// every thread blocked, which loom reports as a deadlock.
#[test]
fn a_write_wakes_the_sleeping_flusher() {
    loom::model(|| {
        let delivered = Arc::new((Mutex::new(0usize), Condvar::new()));
        let buf = {
            let delivered = delivered.clone();
            AsyncBuffer::new(2, move |batch: &[u32]| {
                *delivered.0.lock().unwrap() += batch.len();
                delivered.1.notify_all();
                Ok::<(), &str>(())
            })
        };
        buf.write(1).unwrap();
        let (count, cv) = &*delivered;
        let mut n = count.lock().unwrap();
        while *n < 1 {
            n = cv.wait(n).unwrap();
        }
        drop(n);
        buf.close().unwrap();
    });
}

/// `try_write` never blocks: on a full buffer it hands the item back, and
/// every item it accepted is delivered, in order, while the flusher thread
/// races it (and the swaps it leaves pending for that thread).
#[test]
fn try_write_on_full_hands_the_item_back() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = AsyncBuffer::new(1, sink);
        let mut accepted = Vec::new();
        for i in [1, 2, 3] {
            match buf.try_write(i) {
                Ok(()) => accepted.push(i),
                Err(TryWriteError::Full(item)) => assert_eq!(item, i),
                Err(e) => panic!("{e}"),
            }
        }
        buf.close().unwrap();
        assert_eq!(stream(&seen), accepted);
    });
}

/// A `try_write` that finds one half full and the flusher role free swaps
/// that half out itself and leaves it pending for the flusher thread, which
/// races it (and another writer): every accepted item is delivered once, in
/// each writer's order, the pending batch before the next one.
///
/// Three threads taking three locks each on this path: at the project's
/// bound of 2 preemptions the model runs for many minutes, so it is bounded
/// at 1 (the single-writer race is checked at 2 by the model above).
#[test]
fn try_write_swaps_a_full_half_for_the_flusher_thread() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(AsyncBuffer::new(1, sink));
        let other = {
            let buf = buf.clone();
            thread::spawn(move || buf.try_write(10).is_ok())
        };
        let mut mine = Vec::new();
        for i in [1, 2] {
            match buf.try_write(i) {
                Ok(()) => mine.push(i),
                Err(e) => assert!(e.is_full(), "{e}"),
            }
        }
        let theirs: &[&[u32]] = if other.join().unwrap() { &[&[10]] } else { &[] };
        buf.close().unwrap();
        let mine: Vec<&[u32]> = mine.iter().map(std::slice::from_ref).collect();
        assert_interleaving(&stream(&seen), &[&mine, theirs]);
    });
}

/// Dropping the last handle closes the buffer, on whichever thread it
/// happens: everything written through any clone is delivered, and the
/// flusher thread is joined (loom reports a thread left running).
#[test]
fn the_last_handle_to_drop_closes() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = AsyncBuffer::new(2, sink);
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || buf.write(1).unwrap()) // drops its handle
        };
        buf.write(2).unwrap();
        drop(buf);
        writer.join().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1]], &[&[2]]]);
    });
}

/// `try_write_slice` against the flusher thread: an accepted slice is
/// delivered whole and in order, a refused one is handed back untouched
/// and never appears.
#[test]
fn try_write_slice_is_all_or_nothing() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = AsyncBuffer::new(3, sink);
        let mut accepted: Vec<&[u32]> = Vec::new();
        for run in [&[1, 2][..], &[3, 4], &[5, 6]] {
            match buf.try_write_slice(run) {
                Ok(2) => accepted.push(run),
                Err(TryWriteError::Full(back)) => assert_eq!(back, run),
                other => panic!("{other:?}"),
            }
        }
        buf.close().unwrap();
        assert_eq!(stream(&seen), accepted.concat());
    });
}

/// Writes that find both halves full while the flusher thread has not run
/// yet make room themselves: swap the full half out, or deliver the batch
/// waiting for the thread (under the role, racing the thread for it).
/// Nothing is lost or duplicated, batches keep their order, and a `flush`
/// racing the writer still waits for everything written before it.
#[test]
fn a_blocked_writer_delivers_for_the_flusher_thread() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(AsyncBuffer::new(1, sink));
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || {
                for i in [1, 2, 3] {
                    buf.write(i).unwrap();
                }
            })
        };
        buf.write(10).unwrap();
        buf.flush().unwrap();
        assert!(
            stream(&seen).contains(&10),
            "flush returned before its write was delivered"
        );
        writer.join().unwrap();
        buf.close().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1], &[2], &[3]], &[&[10]]]);
    });
}

/// A sink that fails while a writer delivers for the flusher thread: the
/// failure is sticky for every later call, the flusher thread still exits
/// on `close`, and nothing hangs.
#[test]
fn a_failure_in_a_writers_delivery_is_sticky() {
    loom::model(|| {
        let buf = AsyncBuffer::new(1, |_: &[u32]| Err::<(), _>("disk full"));
        let results: Vec<_> = [1, 2, 3]
            .map(|i| buf.write(i).map_err(|e| e.to_string()))
            .into();
        let first_failure = results.iter().position(Result::is_err).unwrap_or(3);
        assert!(
            results[first_failure..].iter().all(Result::is_err),
            "a write succeeded after one failed: {results:?} {:?}",
            buf.stats()
        );
        assert!(matches!(buf.close(), Err(Error::Sink(_))));
        assert!(matches!(buf.write(4), Err(Error::Sink(_))));
    });
}
