//! loom models of `Buffer`'s protocol: every interleaving (up to the
//! preemption bound) of writers, swaps and the sink.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use mwsr::{Buffer, Error};
use mwsr_loom_tests::{assert_interleaving, recording, stream};

#[test]
fn two_writers_race_a_flush() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(Buffer::new(4, sink));
        let a = {
            let buf = buf.clone();
            thread::spawn(move || buf.write(&[1, 2]).unwrap())
        };
        let b = {
            let buf = buf.clone();
            thread::spawn(move || buf.write(&[3]).unwrap())
        };
        buf.flush().unwrap();
        a.join().unwrap();
        b.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1, 2]], &[&[3]]]);
    });
}

#[test]
fn write_v_stays_whole_against_a_concurrent_writer() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(Buffer::new(3, sink));
        let a = {
            let buf = buf.clone();
            thread::spawn(move || buf.write_v(&[[1], [2]]).unwrap())
        };
        buf.write(&[3, 4]).unwrap(); // 2 + 2 > 3: one of the two must flush
        a.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1, 2]], &[&[3, 4]]]);
        assert!(
            seen.lock()
                .unwrap()
                .iter()
                .all(|b| !b.is_empty() && b.len() <= 3)
        );
    });
}

/// A group larger than the buffer goes through the spare half and straight
/// to the sink while another writer writes: still one contiguous run.
#[test]
fn a_large_write_v_stays_whole_against_a_concurrent_writer() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(Buffer::new(2, sink));
        let a = {
            let buf = buf.clone();
            thread::spawn(move || buf.write_v(&[&[1][..], &[2, 3], &[4]]).unwrap())
        };
        buf.write(&[5]).unwrap();
        a.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1, 2, 3, 4]], &[&[5]]]);
    });
}

/// While the sink holds batch `[1]` it waits for another writer to finish two
/// writes. If writers could not proceed during a flush, loom reports a
/// deadlock.
#[test]
fn writers_proceed_while_the_sink_runs_and_batches_stay_in_order() {
    loom::model(|| {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let seen = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let buf = {
            let (done, seen) = (done.clone(), seen.clone());
            Arc::new(Buffer::new(3, move |batch: &[u32]| {
                if batch == [1] {
                    let (lock, cv) = &*done;
                    let mut finished = lock.lock().unwrap();
                    while !*finished {
                        finished = cv.wait(finished).unwrap();
                    }
                }
                seen.lock().unwrap().push(batch.to_vec());
                Ok::<(), &str>(())
            }))
        };
        let other = {
            let (buf, done) = (buf.clone(), done.clone());
            thread::spawn(move || {
                buf.write(&[2]).unwrap();
                buf.write(&[3]).unwrap();
                *done.0.lock().unwrap() = true;
                done.1.notify_all();
            })
        };
        buf.write(&[1]).unwrap();
        buf.flush().unwrap();
        other.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1]], &[&[2], &[3]]]);
    });
}

/// Single-item writes into a two-slot buffer: writers find it full, swap,
/// and wait for each other's flushes.
#[test]
fn full_buffer_backpressure() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(Buffer::new(2, sink));
        let a = {
            let buf = buf.clone();
            thread::spawn(move || {
                for i in [1, 2, 3] {
                    buf.write(&[i]).unwrap();
                }
            })
        };
        for i in [4, 5] {
            buf.write(&[i]).unwrap();
        }
        a.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1], &[2], &[3]], &[&[4], &[5]]]);
        assert!(seen.lock().unwrap().iter().all(|b| b.len() <= 2));
    });
}

#[test]
fn a_sink_error_reaches_a_concurrent_writer() {
    loom::model(|| {
        let calls = Arc::new(Mutex::new(0));
        let buf = {
            let calls = calls.clone();
            Arc::new(Buffer::new(2, move |_: &[u32]| {
                *calls.lock().unwrap() += 1;
                Err("broken")
            }))
        };
        let a = {
            let buf = buf.clone();
            thread::spawn(move || {
                let _ = buf.write(&[1]); // Ok, or the error if it came first
                buf.flush()
            })
        };
        let _ = buf.write(&[2]);
        let mine = buf.flush();
        let theirs = a.join().unwrap();
        assert!(matches!(mine, Err(Error::Sink(_))), "{mine:?}");
        assert!(matches!(theirs, Err(Error::Sink(_))), "{theirs:?}");
        assert_eq!(
            *calls.lock().unwrap(),
            1,
            "a failed sink is not called again"
        );
    });
}

/// A writer whose `active` index went stale across a whole swap must not
/// write into the newly opened slab and then, with its next write, into the
/// old one (which is delivered first).
#[test]
fn a_stale_index_keeps_per_writer_order() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(Buffer::new(4, sink));
        let a = {
            let buf = buf.clone();
            thread::spawn(move || {
                buf.write(&[1]).unwrap();
                buf.write(&[2]).unwrap();
            })
        };
        buf.write(&[9]).unwrap();
        buf.flush().unwrap();
        buf.write(&[8]).unwrap();
        buf.flush().unwrap();
        a.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1], &[2]], &[&[9], &[8]]]);
    });
}

/// Main's sink holds `[1, 2]` until the other thread's write is in. That
/// write may find the first half full just before the swap; it must then
/// use the second half, not wait for the sink (loom would report a deadlock).
#[test]
fn a_writer_that_saw_the_old_half_full_does_not_wait_for_the_sink() {
    loom::model(|| {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let main_flushing = Arc::new(AtomicBool::new(false));
        let main_id = thread::current().id();
        let buf = {
            let (done, flushing) = (done.clone(), main_flushing.clone());
            Arc::new(Buffer::new(3, move |batch: &[u32]| {
                let main = thread::current().id() == main_id;
                if batch == [1, 2] && main && flushing.load(Ordering::SeqCst) {
                    let (lock, cv) = &*done;
                    let mut finished = lock.lock().unwrap();
                    while !*finished {
                        finished = cv.wait(finished).unwrap();
                    }
                }
                Ok::<(), &str>(())
            }))
        };
        buf.write(&[1, 2]).unwrap();
        let other = {
            let (buf, done) = (buf.clone(), done.clone());
            thread::spawn(move || {
                buf.write(&[3, 4]).unwrap();
                *done.0.lock().unwrap() = true;
                done.1.notify_all();
            })
        };
        main_flushing.store(true, Ordering::SeqCst);
        buf.flush().unwrap();
        other.join().unwrap();
    });
}

/// An item whose `Clone` panics when it holds `BOMB`.
#[derive(Debug, PartialEq)]
struct Item(u32);

const BOMB: u32 = 0;

/// Keeps the expected panic message out of the test output (every other
/// panic still reports).
fn silence_the_bomb() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|msg| msg.contains("clone of the bomb"));
        if !expected {
            report(info);
        }
    }));
}

impl Clone for Item {
    fn clone(&self) -> Self {
        assert_ne!(self.0, BOMB, "clone of the bomb");
        Item(self.0)
    }
}

#[test]
fn a_write_whose_clone_panics_leaves_no_trace_against_a_concurrent_flush() {
    // The panicking write records its reservation as a hole and commits it;
    // the flusher, racing it, must wait for that commit and close the hole
    // up, never delivering the reserved but unwritten slots.
    silence_the_bomb();
    loom::model(|| {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = seen.clone();
            move |batch: &[Item]| {
                let mut seen = seen.lock().unwrap();
                seen.extend(batch.iter().map(|item| item.0));
                Ok::<(), Error<()>>(())
            }
        };
        let buf = Arc::new(Buffer::new(4, sink));
        buf.write(&[Item(3)]).unwrap();
        let a = {
            let buf = buf.clone();
            thread::spawn(move || {
                let write = std::panic::AssertUnwindSafe(|| buf.write(&[Item(1), Item(BOMB)]));
                assert!(std::panic::catch_unwind(write).is_err());
            })
        };
        buf.flush().unwrap();
        a.join().unwrap();
        buf.flush().unwrap();
        assert_eq!(*seen.lock().unwrap(), [3]);
    });
}

/// Handles are clones of one buffer: whichever thread drops the last one
/// flushes, and nothing either wrote is lost.
#[test]
fn the_last_handle_to_drop_flushes() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Buffer::new(4, sink);
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || buf.write(&[1, 2]).unwrap()) // drops its handle
        };
        buf.write(&[3]).unwrap();
        drop(buf);
        writer.join().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1, 2]], &[&[3]]]);
    });
}

/// A write racing `close` on another handle lands in the last batch or gets
/// `Closed`: never accepted and lost.
#[test]
fn close_loses_no_accepted_write() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Buffer::new(2, sink);
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || match buf.write(&[1]) {
                Ok(_) => vec![1],
                Err(Error::Closed) => vec![],
                Err(e) => panic!("{e}"),
            })
        };
        buf.close().unwrap();
        let accepted = writer.join().unwrap();
        assert_eq!(stream(&seen), accepted);
        assert!(matches!(buf.write(&[2]), Err(Error::Closed)));
    });
}

/// `try_write` is all or nothing against a writer that flushes: an accepted
/// run is delivered whole, a refused one not at all, and nothing waits.
#[test]
fn try_write_is_all_or_nothing_against_a_flushing_writer() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Buffer::new(3, sink);
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || {
                buf.write(&[1, 2]).unwrap();
                buf.write(&[3, 4]).unwrap(); // 2 + 2 > 3: flushes
            })
        };
        let tried: &[u32] = &[5, 6];
        let accepted = match buf.try_write(tried) {
            Ok(2) => true,
            Err(e) if e.is_full() => {
                assert_eq!(e.into_inner(), tried);
                false
            }
            other => panic!("{other:?}"),
        };
        writer.join().unwrap();
        buf.close().unwrap();
        let mine: &[&[u32]] = if accepted { &[&[5, 6]] } else { &[] };
        assert_interleaving(&stream(&seen), &[&[&[1, 2], &[3, 4]], mine]);
    });
}

/// The model the README and the crate docs show users, kept here so that it
/// is known to pass.
#[test]
fn two_writers_and_a_close() {
    loom::model(|| {
        let buf = mwsr::Buffer::from_fn(2, |_: &[u32]| Ok::<_, std::convert::Infallible>(()));
        let other = buf.clone();
        let writer = loom::thread::spawn(move || other.write(&[1, 2]).unwrap());
        buf.write(&[3]).unwrap(); // races the other write, and the flush one of them runs
        writer.join().unwrap();
        buf.close().unwrap();
        assert_eq!(buf.stats().items_flushed, 3);
    });
}
