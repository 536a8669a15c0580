//! Behaviour of `AsyncBuffer`: one test per promise it makes.

mod common;

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, OnceLock, Weak};
use std::thread;
use std::time::Duration;

use common::{Counted, DropCounter, Gate, HANG};
use mwsr::{AsyncBuffer, Error, Sink, TryWriteError};

type Batches<T> = Arc<Mutex<Vec<Vec<T>>>>;

/// A buffer whose sink records every batch.
fn recording<T: Clone + Send + 'static>(
    builder: mwsr::Builder,
) -> (Batches<T>, AsyncBuffer<T, impl Sink<T, Error = Infallible>>) {
    let batches: Batches<T> = Arc::default();
    let seen = batches.clone();
    let buf = builder
        .build(move |batch: &[T]| {
            seen.lock().unwrap().push(batch.to_vec());
            Ok(())
        })
        .unwrap();
    (batches, buf)
}

/// A buffer whose sink waits at `gate` before recording each batch.
fn gated<T: Clone + Send + 'static>(
    builder: mwsr::Builder,
) -> (
    Arc<Gate>,
    Batches<T>,
    AsyncBuffer<T, impl Sink<T, Error = Infallible>>,
) {
    let gate = Arc::new(Gate::default());
    let batches: Batches<T> = Arc::default();
    let (g, seen) = (gate.clone(), batches.clone());
    let buf = builder
        .build(move |batch: &[T]| {
            g.pass();
            seen.lock().unwrap().push(batch.to_vec());
            Ok(())
        })
        .unwrap();
    (gate, batches, buf)
}

#[test]
fn items_reach_the_sink_without_a_flush_call() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let buf = AsyncBuffer::new(16, move |batch: &[u32]| {
        tx.lock().unwrap().send(batch.to_vec()).unwrap();
        Ok::<(), Infallible>(())
    });
    buf.write(7).unwrap();
    assert_eq!(
        rx.recv_timeout(HANG).unwrap(),
        vec![7],
        "the eager flusher sends it on its own"
    );
    buf.write(8).unwrap();
    assert_eq!(rx.recv_timeout(HANG).unwrap(), vec![8]);
}

#[test]
fn flush_returns_once_the_sink_has_everything_written_before() {
    let (batches, buf) = recording::<u32>(AsyncBuffer::builder().capacity(8));
    for i in 0..20 {
        buf.write(i).unwrap();
    }
    buf.write_slice(&[20, 21]).unwrap();
    buf.write_v(&[&[22][..], &[23, 24]]).unwrap();
    buf.flush().unwrap();
    let all: Vec<u32> = batches.lock().unwrap().concat();
    assert_eq!(all, (0..25).collect::<Vec<_>>());
    assert!(
        batches
            .lock()
            .unwrap()
            .iter()
            .all(|b| !b.is_empty() && b.len() <= 8)
    );
    let stats = buf.stats();
    assert_eq!(stats.items_flushed, 25);
    assert_eq!(stats.batches_flushed, batches.lock().unwrap().len() as u64);
    assert!(stats.largest_batch >= 1 && stats.largest_batch <= 8);
}

#[test]
fn linger_lets_a_batch_fill_and_flush_and_a_full_buffer_cut_it_short() {
    // A linger far longer than the test: only flush, close and a full buffer
    // can make the flusher deliver.
    let builder = AsyncBuffer::builder()
        .capacity(4)
        .linger(Duration::from_secs(3600));
    let (batches, buf) = recording::<u32>(builder);
    buf.write(1).unwrap();
    buf.write(2).unwrap();
    buf.write(3).unwrap();
    buf.flush().unwrap();
    assert_eq!(
        *batches.lock().unwrap(),
        vec![vec![1, 2, 3]],
        "one batch, delivered by flush"
    );
    for i in 4..=8 {
        buf.write(i).unwrap(); // the fifth finds it full: flush now, not in an hour
    }
    buf.close().unwrap();
    assert_eq!(
        *batches.lock().unwrap(),
        vec![vec![1, 2, 3], vec![4, 5, 6, 7], vec![8]]
    );
}

#[test]
fn a_batch_that_fills_its_half_does_not_wait_out_the_linger() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let buf = AsyncBuffer::builder()
        .capacity(100)
        .linger(Duration::from_secs(3600))
        .build(move |batch: &[u32]| {
            tx.lock().unwrap().send(batch.to_vec()).unwrap();
            Ok::<(), Infallible>(())
        })
        .unwrap();
    for i in 0..100 {
        buf.write(i).unwrap();
    }
    // No flush, no close, nobody waiting for room: the full batch goes.
    let batch = rx.recv_timeout(HANG).expect("a full batch is sent at once");
    assert_eq!(batch, (0..100).collect::<Vec<_>>());
    // A partly filled batch still lingers: only `flush` sends it now.
    buf.write(100).unwrap();
    assert!(rx.try_recv().is_err());
    buf.flush().unwrap();
    assert_eq!(rx.try_recv().unwrap(), vec![100]);
}

#[test]
fn writers_keep_writing_while_the_sink_runs() {
    let (gate, batches, buf) = gated::<u32>(AsyncBuffer::builder().capacity(4));
    buf.write(1).unwrap();
    gate.wait_entered(1); // the sink holds [1]
    for i in 2..=5 {
        buf.write(i).unwrap(); // the other half takes these
    }
    gate.open();
    buf.close().unwrap();
    assert_eq!(*batches.lock().unwrap(), vec![vec![1], vec![2, 3, 4, 5]]);
}

#[test]
fn a_slow_sink_makes_writers_wait_not_drop() {
    let (gate, batches, buf) = gated::<u32>(AsyncBuffer::builder().capacity(2));
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        buf.write(1).unwrap();
        gate.wait_entered(1); // [1] is in the sink
        buf.write(2).unwrap();
        buf.write(3).unwrap(); // the other half is full
        let blocked = s.spawn(|| {
            buf.write(4).unwrap();
            done.store(true, Ordering::SeqCst);
        });
        thread::sleep(Duration::from_millis(100));
        assert!(
            !done.load(Ordering::SeqCst),
            "a write went through with both halves full"
        );
        gate.open();
        blocked.join().unwrap();
    });
    buf.close().unwrap();
    assert_eq!(
        batches.lock().unwrap().concat(),
        vec![1, 2, 3, 4],
        "nothing dropped"
    );
    assert!(buf.stats().writer_waits >= 1);
}

#[test]
fn try_write_is_refused_only_when_both_halves_are_full() {
    // The flusher lingers, so it does not swap a half out on its own
    // before the half is full; the sink holds the first batch it gets.
    let builder = AsyncBuffer::builder()
        .capacity(4)
        .linger(Duration::from_secs(3600));
    let (gate, batches, buf) = gated::<u32>(builder);
    for i in 0..8 {
        // The fifth finds one half full and the other empty: it swaps (or
        // the flusher has) and goes on in the other half.
        buf.try_write(i)
            .unwrap_or_else(|e| panic!("try_write({i}) refused with a half free: {e}"));
    }
    gate.wait_entered(1); // the first half is in the sink, the second full
    assert!(buf.try_write(8).unwrap_err().is_full());
    assert_eq!(buf.stats().try_write_refusals, 1);
    gate.open();
    buf.close().unwrap();
    assert_eq!(batches.lock().unwrap().concat(), (0..8).collect::<Vec<_>>());
}

#[test]
fn try_write_hands_the_item_back_when_full_closed_or_failed() {
    let (gate, _batches, buf) = gated::<String>(AsyncBuffer::builder().capacity(1));
    buf.try_write("a".to_string()).unwrap();
    gate.wait_entered(1); // "a" is in the sink
    buf.try_write("b".to_string()).unwrap(); // the other half, now full
    match buf.try_write("c".to_string()) {
        Err(TryWriteError::Full(item)) => assert_eq!(item, "c"),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(buf.stats().try_write_refusals, 1);
    gate.open();
    buf.close().unwrap();
    let err = buf.try_write("d".to_string()).unwrap_err();
    assert!(matches!(&err, TryWriteError::Closed(_)) && !err.is_full());
    assert_eq!(err.into_inner(), "d");

    let failing = AsyncBuffer::new(4, |_: &[u8]| Err("nope"));
    failing.write(1).unwrap();
    assert!(failing.flush().is_err());
    match failing.try_write(2) {
        Err(TryWriteError::Failed(2, Error::Sink(e))) => assert_eq!(*e, "nope"),
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn close_flushes_is_idempotent_and_later_writes_are_refused() {
    let (batches, buf) = recording::<u32>(AsyncBuffer::builder().capacity(64));
    buf.write_slice(&[1, 2, 3]).unwrap();
    let buf = Arc::new(buf);
    let closers: Vec<_> = (0..4)
        .map(|_| {
            let buf = buf.clone();
            thread::spawn(move || buf.close())
        })
        .collect();
    for c in closers {
        c.join().unwrap().unwrap();
    }
    buf.close().unwrap();
    assert_eq!(batches.lock().unwrap().concat(), vec![1, 2, 3]);
    assert!(matches!(buf.write(4), Err(Error::Closed)));
    assert!(matches!(buf.write_slice(&[5, 6]), Err(Error::Closed)));
    assert!(matches!(buf.write_v(&[[7]]), Err(Error::Closed)));
    assert!(matches!(buf.write_slice(&[0; 100]), Err(Error::Closed)));
    assert!(matches!(buf.flush(), Err(Error::Closed)));
}

#[test]
fn dropping_closes_and_loses_nothing() {
    let (batches, buf) = recording::<String>(AsyncBuffer::builder().capacity(1000));
    for i in 0..100 {
        buf.write(i.to_string()).unwrap();
    }
    drop(buf);
    assert_eq!(batches.lock().unwrap().concat().len(), 100);
}

#[test]
fn writes_racing_close_land_or_are_refused_never_lost() {
    for round in 0..20 {
        let (batches, buf) = recording::<u64>(AsyncBuffer::builder().capacity(16));
        let accepted = AtomicUsize::new(0);
        let start = Barrier::new(5);
        thread::scope(|s| {
            for w in 0..4u64 {
                let (buf, accepted, start) = (&buf, &accepted, &start);
                s.spawn(move || {
                    start.wait();
                    for i in 0..2000 {
                        match buf.write(w << 32 | i) {
                            Ok(()) => accepted.fetch_add(1, Ordering::SeqCst),
                            Err(Error::Closed) => return,
                            Err(e) => panic!("{e}"),
                        };
                    }
                });
            }
            start.wait();
            thread::sleep(Duration::from_micros(50 * round));
            buf.close().unwrap();
        });
        let delivered = batches.lock().unwrap().concat().len();
        assert_eq!(delivered, accepted.load(Ordering::SeqCst), "round {round}");
    }
}

#[test]
fn a_sink_error_is_sticky_and_the_thread_exits() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let buf = AsyncBuffer::new(4, move |_: &[u8]| {
        c.fetch_add(1, Ordering::SeqCst);
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "peer gone"))
    });
    buf.write(1).unwrap();
    let err = buf.flush().unwrap_err();
    assert!(matches!(&err, Error::Sink(e) if e.kind() == io::ErrorKind::BrokenPipe));
    assert!(matches!(buf.write(2), Err(Error::Sink(_))));
    assert!(matches!(
        buf.write_slice(&[3, 4, 5, 6, 7]),
        Err(Error::Sink(_))
    ));
    assert!(matches!(buf.flush(), Err(Error::Sink(_))));
    assert!(matches!(buf.close(), Err(Error::Sink(_))));
    assert!(
        matches!(buf.close(), Err(Error::Sink(_))),
        "close keeps returning it"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_sink_is_reported_and_nobody_hangs() {
    let buf = AsyncBuffer::new(4, |_: &[u8]| -> Result<(), Infallible> { panic!("boom") });
    buf.write(1).unwrap();
    let err = buf.flush().unwrap_err();
    assert!(matches!(&err, Error::Panicked(m) if &**m == "boom"));
    assert!(matches!(buf.write(2), Err(Error::Panicked(_))));
    assert!(matches!(buf.close(), Err(Error::Panicked(_))));
}

/// A sink that calls back into its own buffer.
struct Reenter {
    buf: Arc<OnceLock<Weak<AsyncBuffer<u8, Reenter>>>>,
    results: Arc<Mutex<Vec<String>>>,
}

impl Sink<u8> for Reenter {
    type Error = Infallible;
    fn consume(&mut self, _: &[u8]) -> Result<(), Infallible> {
        let buf = self.buf.get().unwrap().upgrade().unwrap();
        let mut results = self.results.lock().unwrap();
        results.push(format!("{:?}", buf.flush()));
        results.push(format!("{:?}", buf.write_slice(&[9; 8])));
        results.push(format!("{:?}", buf.close()));
        Ok(())
    }
}

#[test]
fn a_sink_calling_back_into_its_buffer_gets_errors_not_a_deadlock() {
    let cell = Arc::new(OnceLock::new());
    let results = Arc::new(Mutex::new(Vec::new()));
    let buf = Arc::new(
        AsyncBuffer::builder()
            .capacity(4)
            .build(Reenter {
                buf: cell.clone(),
                results: results.clone(),
            })
            .unwrap(),
    );
    cell.set(Arc::downgrade(&buf)).unwrap();
    buf.write(1).unwrap();
    // The sink's `close()` started closing: ours waits for the same end.
    buf.close().unwrap();
    assert_eq!(
        *results.lock().unwrap(),
        ["Err(Reentrant)", "Err(Reentrant)", "Err(Reentrant)"]
    );
}

#[test]
fn every_item_is_dropped_exactly_once() {
    for fail in [None, Some(false), Some(true)] {
        let counter = DropCounter::default();
        {
            let buf = AsyncBuffer::new(8, move |_: &[Counted]| match fail {
                None => Ok(()),
                Some(false) => Err("fails"),
                Some(true) => panic!("panics"),
            });
            for i in 0..50 {
                let _ = buf.write(counter.item(i));
                if i % 7 == 0 {
                    let _ = buf.flush();
                }
                if let Err(e) = buf.try_write(counter.item(i)) {
                    drop(e.into_inner());
                }
            }
            let items: Vec<_> = (0..20).map(|i| counter.item(i)).collect();
            let _ = buf.write_slice(&items);
            let _ = buf.write_v(&[&items[..5], &items[5..]]);
        }
        assert_eq!(counter.live(), 0, "fail: {fail:?}");
    }
}

#[test]
fn io_write_through_shared_references() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let o = out.clone();
    let buf = AsyncBuffer::new(64, move |b: &[u8]| -> io::Result<()> {
        o.lock().unwrap().extend_from_slice(b);
        Ok(())
    });
    let mut w = &buf;
    writeln!(w, "line {}", 1).unwrap();
    let n = w
        .write_vectored(&[io::IoSlice::new(b"ab"), io::IoSlice::new(b"cd\n")])
        .unwrap();
    assert_eq!(n, 5);
    w.flush().unwrap();
    assert_eq!(&*out.lock().unwrap(), b"line 1\nabcd\n");
    drop(buf);
}

#[test]
fn builder_validates_and_names_the_thread() {
    let err = AsyncBuffer::builder()
        .capacity(0)
        .build(|_: &[u8]| Ok::<(), Infallible>(()))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("capacity must be at least 1"));
    let name = Arc::new(Mutex::new(None));
    let n = name.clone();
    let buf = AsyncBuffer::builder()
        .thread_name("log-flusher")
        .build(move |_: &[u8]| {
            *n.lock().unwrap() = thread::current().name().map(str::to_owned);
            Ok::<(), Infallible>(())
        })
        .unwrap();
    buf.write(1).unwrap();
    buf.close().unwrap();
    assert_eq!(name.lock().unwrap().as_deref(), Some("log-flusher"));
    fn assert_send_sync<X: Send + Sync>(_: &X) {}
    assert_send_sync(&buf);
    // Usable across `catch_unwind`: a panicking sink or `Clone` cannot
    // leave it broken (see the impl's comment).
    fn assert_unwind_safe<X: std::panic::UnwindSafe + std::panic::RefUnwindSafe>(_: &X) {}
    assert_unwind_safe(&buf);
}

#[test]
fn a_buffer_too_large_to_allocate_is_an_error_not_an_abort() {
    // 2 × 4G items of 1 MiB: no machine has that; `build` must say so
    // rather than abort the process.
    let err = AsyncBuffer::builder()
        .capacity(u32::MAX as usize)
        .build(|_: &[[u8; 1 << 20]]| Ok::<(), Infallible>(()))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{err}");
    assert!(err.to_string().contains("cannot allocate"), "{err}");
    let err = AsyncBuffer::builder()
        .capacity(u32::MAX as usize + 1)
        .build(|_: &[u8]| Ok::<(), Infallible>(()))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn new_panics_on_zero_capacity() {
    let _ = AsyncBuffer::new(0, |_: &[u8]| Ok::<(), Infallible>(()));
}
